"""Unknown visitors through the command line: `kiosk unknowns groups`, `label gID`, `dismiss gID`."""

from __future__ import annotations

import json

import pytest

from kiosk.config import Config
from kiosk.store import Store
from kiosk.store.faces import save_unknown_face
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.images import kept_face, load_image

from conftest import require_data, run_kiosk


@pytest.fixture
def visited(enrolled_copy):
    """people/ enrolled, and kept unknown faces as the daemon keeps them: three photos of Ben
    Affleck, then four of Jerry Seinfeld (faces_dev probes)."""
    root = require_data("faces_dev", "probes")
    engine = FaceEngine(EngineSettings.identification(Config()))
    with Store(enrolled_copy) as store:
        for person, numbers in (("ben_afflek", (1, 2, 3)), ("jerry_seinfeld", (1, 2, 3, 4))):
            for number in numbers:
                image = load_image((root / person / f"{number}.jpg").read_bytes()).pixels
                boxes, encodings = engine.detect_and_encode(image)
                save_unknown_face(store, Config().recognition, kept_face(image, boxes[0]), encodings[0], None)
    return enrolled_copy


def groups(data_dir) -> list[dict]:
    result = run_kiosk("unknowns", "groups", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_visitors_are_listed_named_and_dismissed_by_group(visited):
    found = groups(visited)
    assert [(g["group"], g["faces"]) for g in found] == [("g4", 4), ("g1", 3)]
    text = run_kiosk("unknowns", "groups", data_dir=visited).stdout
    assert text.startswith("g4\t4 face(s), 4 visit(s)") and "kiosk unknowns label gID NAME" in text

    typo = run_kiosk("unknowns", "label", "g4", "jerry", data_dir=visited)
    assert typo.returncode == 2 and "nobody of that name" in typo.stderr and "--new" in typo.stderr
    for wrong, says in (("g9", "no such group"), ("g5", "face 5 is now in group g4"), ("x1", "not a face id")):
        result = run_kiosk("unknowns", "label", wrong, "ben", "--new", data_dir=visited)
        assert result.returncode == 2 and says in result.stderr, (wrong, result.stderr)

    named = run_kiosk("unknowns", "label", "g4", "Jerry Seinfeld", "--new", data_dir=visited)
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith("group g4: 4 face(s) enrolled as Jerry Seinfeld")
    shown = json.loads(run_kiosk("people", "show", "jerry seinfeld", "--json", data_dir=visited).stdout)
    assert len(shown["samples"]) == 4 and {s["source"].split("/")[0] for s in shown["samples"]} == {"unknowns"}
    assert [g["group"] for g in groups(visited)] == ["g1"]

    dismissed = run_kiosk("unknowns", "dismiss", "g1", data_dir=visited)
    assert dismissed.returncode == 0 and dismissed.stdout.strip() == "group g1: 3 face(s) deleted"
    assert groups(visited) == []
    assert not list((visited / "unknowns").iterdir())
