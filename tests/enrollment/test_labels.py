"""Learning from kept faces: `kiosk unknowns label`."""

from __future__ import annotations

import dataclasses
import json
import stat

import numpy as np
from PIL import Image

from kiosk.config import Config, RecognitionConfig
from kiosk.store import Store

from conftest import run_kiosk


def test_unknown_crops_are_bounded_labelled_and_purged(enrolled_copy, people_dir):
    from kiosk.store.faces import save_unknown_face
    config = dataclasses.replace(Config(data_dir=str(enrolled_copy)),
                                 recognition=RecognitionConfig(unknown_max_count=2))
    crop = np.asarray(Image.open(people_dir / "obama" / "obama.jpg").convert("RGB"))[50:200, 50:200]
    with Store(enrolled_copy) as store:
        embedding = store.people.load_gallery().encodings[0]
        ids = [save_unknown_face(store, config.recognition, crop, embedding + i * 0.001, track_id=i) for i in range(3)]
        kept = store.unknowns.all()
    assert [f.id for f in kept] == ids[1:]
    crops = sorted((enrolled_copy / "unknowns").iterdir())
    assert len(crops) == 2 and all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in crops)
    listed = json.loads(run_kiosk("unknowns", "list", "--json", data_dir=enrolled_copy).stdout)
    assert [row["id"] for row in listed] == ids[1:]
    labelled = run_kiosk("unknowns", "label", str(ids[1]), "visitor", "--new", data_dir=enrolled_copy)
    assert labelled.returncode == 0, labelled.stderr
    with Store(enrolled_copy) as store:
        sample = store.people.samples_of("visitor")[0]
        assert store.photo_path(sample.photo_sha256).is_file() and [f.id for f in store.unknowns.all()] == ids[2:]
    assert run_kiosk("unknowns", "label", "9999", "x", data_dir=enrolled_copy).returncode == 2
    purged = run_kiosk("unknowns", "purge", data_dir=enrolled_copy)
    assert purged.returncode == 0 and not any((enrolled_copy / "unknowns").iterdir())
    with Store(enrolled_copy) as store:
        assert store.unknowns.all() == []
