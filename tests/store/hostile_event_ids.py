"""An event id names one event for ever (store/events.py): not given again after `kiosk events
delete`, nor after a restore brings an older store back; and a restore leaves no face crop of an
event it did not bring back (admin/backup.py)."""

from __future__ import annotations

import numpy as np

from kiosk.admin.backup import backup, restore
from kiosk.config import Config
from kiosk.paths import EVENT_FACES_DIR
from kiosk.store import Store

MODEL = "dlib_face_recognition_resnet_model_v1"


def test_a_deleted_events_id_is_not_given_again(tmp_path):
    with Store(tmp_path) as store:
        first = [store.events.add("ada", 0.4, 1) for _ in range(3)]
        assert store.events.delete([first[-1]], str(first[-1])) == 1
        assert store.events.add("ada", 0.4, 2) == first[-1] + 1
        store.events.delete([e.id for e in store.events.query()], "all")
        assert store.events.add("ada", 0.4, 3) == first[-1] + 2


def test_a_restore_keeps_counting_up_and_leaves_no_orphan_crops(tmp_path):
    data = tmp_path / "data"
    config = Config(data_dir=str(data))
    crops = data / EVENT_FACES_DIR
    with Store(data) as store:
        store.events.add("ada", 0.4, 1)
        backup(store, tmp_path / "before.tar")
        crops.mkdir(exist_ok=True)
        for index in range(3):
            (crops / f"e{index}.jpg").write_bytes(b"\xff\xd8 not read")
            newest = store.events.add("ada", 0.4, 2, face=(np.zeros(128, np.float32), f"e{index}.jpg", MODEL))
    assert restore(config, tmp_path / "before.tar") is not None
    with Store(data) as store:
        assert [e.id for e in store.events.query()] == [1]
        assert store.events.add("grace", 0.4, 3) == newest + 1
    assert sorted(p.name for p in crops.iterdir()) == []
