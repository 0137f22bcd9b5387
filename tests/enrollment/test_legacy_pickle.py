"""Migrating an older face script's encodings.pickle."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np

from kiosk.store import Store

from conftest import require_data, run_kiosk


def test_import_pickle_adds_encodings_once(tmp_path):
    rng = np.random.default_rng(1)
    encodings = [rng.normal(0, 0.1, 128) for _ in range(3)]
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": ["ada", "grace", "ada"]}, protocol=4))
    first = run_kiosk("import-pickle", str(path), "--json", data_dir=tmp_path / "data")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"people": 2, "added": 3, "duplicates": 0}
    again = run_kiosk("import-pickle", str(path), "--json", data_dir=tmp_path / "data")
    assert json.loads(again.stdout)["added"] == 0
    with Store(tmp_path / "data") as store:
        gallery = store.people.load_gallery()
        assert gallery.names == ["ada", "grace"]
        assert np.allclose(gallery.encodings[2], encodings[1], atol=1e-6)
        assert store.people.samples_of("ada")[0].source == "import-pickle:encodings.pickle#0"


def test_import_pickle_of_real_encodings_recognizes_a_probe(enrolled_store_dir, tmp_path):
    """The tutorials' file: a list of float64 arrays from face_recognition and a list of names."""
    with Store(enrolled_store_dir) as store:
        gallery = store.people.load_gallery()
    ends = [*gallery.starts[1:], len(gallery)]
    names = [name for name, start, end in zip(gallery.names, gallery.starts, ends, strict=True)
             for _ in range(end - start)]
    encodings = [row.astype(np.float64) for row in gallery.encodings]
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": names}))
    data_dir = tmp_path / "data"
    imported = run_kiosk("import-pickle", str(path), "--json", data_dir=data_dir)
    assert json.loads(imported.stdout) == {"people": 6, "added": 11, "duplicates": 0}, imported.stderr
    with Store(data_dir) as store:
        settings = store.people.samples_of("obama")[0].settings
    assert (settings.detector, settings.landmarks, settings.jitters) == ("unknown", 68, 1)
    probe = require_data("probes", "obama1.jpg")
    identified = json.loads(run_kiosk("identify", "--json", str(probe), data_dir=data_dir).stdout)
    assert [face["name"] for face in identified[0]["faces"]] == ["obama"]


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_import_pickle_refuses_code_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"encodings": [RunsACommand(marker)], "names": ["x"]}))
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"refusing to load {path}: it references" in result.stderr and "system" in result.stderr
    assert not marker.exists() and not (tmp_path / "data" / "kiosk.db").exists()
    wrong = tmp_path / "wrong.pickle"
    wrong.write_bytes(pickle.dumps({"encodings": [np.zeros(64)], "names": ["x"]}))
    refused = run_kiosk("import-pickle", str(wrong), data_dir=tmp_path / "data")
    assert refused.returncode == 2 and "128" in refused.stderr


def test_import_pickle_accepts_protocol_5(tmp_path):
    """Python 3.14 writes protocol 5 by default; numpy rebuilds arrays from raw buffers there."""
    import pickle

    from kiosk.enrollment.legacy_pickle import load_legacy_pickle
    path = tmp_path / "encodings.pickle"
    encodings = [np.random.default_rng(1).random(128) for _ in range(2)]
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": ["ada", "ada"]}, protocol=5))
    names, matrix = load_legacy_pickle(path)
    assert names == ["ada", "ada"] and matrix.shape == (2, 128)
    assert np.allclose(matrix, np.vstack(encodings))
