"""The same photos imported twice at once (enrollment/enroll.py, store/people.py): one
consistent store, no traceback, each photo a sample once, whoever got there first."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from kiosk.store import SampleSettings, Store

from conftest import REPO, require_data

MODEL = "dlib_face_recognition_resnet_model_v1"


def test_a_photo_stored_meanwhile_is_not_added_twice(tmp_path):
    settings = SampleSettings(MODEL, "hog", 5, 1)
    with Store(tmp_path) as store:
        assert store.people.add_sample("ada", np.zeros(128, np.float32), settings, "a" * 64, "ada.jpg")
        assert not store.people.add_sample("grace", np.ones(128, np.float32), settings, "a" * 64, "same.jpg")
        assert store.people.counts() == (1, 1) and store.people.owner_of_photo("a" * 64) == "ada"


@pytest.mark.slow
def test_two_imports_of_the_same_folder_at_once_end_in_one_store(tmp_path):
    people = require_data("people")
    data = tmp_path / "data"
    command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(data), "enroll", "--json", str(people)]
    first, second = (subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2))
    outcomes = [process.communicate(timeout=600) + (process.returncode,) for process in (first, second)]
    for _, err, code in outcomes:
        assert code == 0 and "Traceback" not in err and "IntegrityError" not in err, err
    added = sum(json.loads(out)["added"] for out, _, _ in outcomes)
    with Store(data) as store:
        enrolled, samples = store.people.counts()
    photos = folder_files(people)
    assert enrolled == len([d for d in people.iterdir() if d.is_dir()])
    assert added == samples <= len(photos)


def folder_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_photos_uploaded_for_somebody_removed_meanwhile_do_not_bring_them_back(enrolled_copy, tmp_path):
    """The page resolved "obama", then `kiosk people remove obama` ran before the photos were
    stored: the upload (import with create=False) stops with one line, obama stays removed, and
    no photo of the upload is left on disk."""
    from kiosk.config import Config
    from kiosk.enrollment.enroll import import_folder
    from kiosk.errors import NotFound

    upload = tmp_path / "upload" / "obama"
    upload.mkdir(parents=True)
    for photo in sorted((require_data("people") / "obama").iterdir())[:1]:
        (upload / photo.name).write_bytes(photo.read_bytes())
    config = Config(data_dir=str(enrolled_copy))
    with Store(enrolled_copy) as store:
        store.people.remove("obama", events=False)
        kept_before = set((enrolled_copy / "photos").iterdir())
        with pytest.raises(NotFound, match="obama: removed while the photos were being imported"):
            import_folder(store, tmp_path / "upload", config.enrollment, encoder=config.recognition.encoder,
                          show_bar=False, create=False)
        assert "obama" not in store.people.names()
    assert set((enrolled_copy / "photos").iterdir()) == kept_before
