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


def status_tolerance(data_dir) -> float:
    result = run_kiosk("status", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["recognition"]["tolerance"]


@pytest.mark.slow(minutes=1)
def test_faces_kept_before_a_person_was_enrolled_leave_the_tolerance_and_the_name(people_dir, tmp_path):
    """A newcomer's sequence: the kiosk keeps unknown faces of somebody not enrolled yet (the
    sample clip's person, seven frames) and of a visitor (three photos of Ben Affleck); then the
    person is enrolled and the visitor's group is named in part. The tolerance stays within 0.02
    of the one without kept faces, and the clip's person is named."""
    import shutil

    import cv2
    clip = require_data("video", "short_hamilton_clip.mp4")
    first, later = tmp_path / "first", tmp_path / "later"
    for person in sorted(people_dir.iterdir()):
        shutil.copytree(person, (later if person.name == "lin_manuel_miranda" else first) / person.name)
    data_dir = tmp_path / "data"
    assert run_kiosk("enroll", str(first), data_dir=data_dir).returncode == 0
    engine = FaceEngine(EngineSettings.identification(Config()))
    video = cv2.VideoCapture(str(clip))
    kept = 0
    with Store(data_dir) as store:
        while kept < 7:
            ok, frame = video.read()
            assert ok, "the clip ended before seven faces were kept"
            if int(video.get(cv2.CAP_PROP_POS_FRAMES)) % 20:
                continue
            image = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            boxes, encodings = engine.detect_and_encode(image)
            if len(encodings) == 1:
                save_unknown_face(store, Config().recognition, kept_face(image, boxes[0]), encodings[0], kept)
                kept += 1
        for number in (1, 2, 3):
            photo = require_data("faces_dev", "probes", "ben_afflek") / f"{number}.jpg"
            image = load_image(photo.read_bytes()).pixels
            boxes, encodings = engine.detect_and_encode(image)
            save_unknown_face(store, Config().recognition, kept_face(image, boxes[0]), encodings[0], None)
    video.release()

    assert run_kiosk("enroll", str(later), data_dir=data_dir).returncode == 0
    ben = next(group for group in groups(data_dir) if group["faces"] == 3)
    named = run_kiosk("unknowns", "label", str(ben["face_ids"][0]), "Ben Affleck", "--new", data_dir=data_dir)
    assert named.returncode == 0, named.stderr

    without = tmp_path / "without"
    shutil.copytree(data_dir, without)
    assert run_kiosk("unknowns", "purge", data_dir=without).returncode == 0
    with_kept, plain = status_tolerance(data_dir), status_tolerance(without)
    assert abs(with_kept - plain) <= 0.02, (with_kept, plain)
    status = run_kiosk("status", data_dir=data_dir).stdout
    assert "kept unknown faces: 9" in status, status

    run = run_kiosk("run", "--source", f"file:{clip}", "--display", "headless", "--fast", "--max-frames", "150",
                    data_dir=data_dir, env={"SDL_VIDEODRIVER": "dummy"})
    assert run.returncode == 0, run.stderr
    events = json.loads(run_kiosk("events", "--json", data_dir=data_dir).stdout)
    assert "lin_manuel_miranda" in {event["name"] for event in events}, events


def test_a_group_with_identical_crops_is_named_whole_in_one_step(enrolled_copy):
    """A looping slideshow keeps the same picture once per loop: byte-identical crops make one
    sample, every face of the group leaves the kept faces, and the photo check has run."""
    root = require_data("faces_dev", "probes", "jerry_seinfeld")
    engine = FaceEngine(EngineSettings.identification(Config()))
    with Store(enrolled_copy) as store:
        for number in (1, 2, 3, 1, 2):  # two loops of the slideshow
            image = load_image((root / f"{number}.jpg").read_bytes()).pixels
            boxes, encodings = engine.detect_and_encode(image)
            save_unknown_face(store, Config().recognition, kept_face(image, boxes[0]), encodings[0], None)
    (group,) = groups(enrolled_copy)
    assert group["faces"] == 5
    named = run_kiosk("unknowns", "label", group["group"], "Jerry Seinfeld", "--new", data_dir=enrolled_copy)
    assert named.returncode == 0, named.stderr
    shown = json.loads(run_kiosk("people", "show", "Jerry Seinfeld", "--json", data_dir=enrolled_copy).stdout)
    assert len(shown["samples"]) == 3 and {s["status"] for s in shown["samples"]} <= {"ok", "suspect"}
    assert groups(enrolled_copy) == [] and not list((enrolled_copy / "unknowns").iterdir())


def test_a_group_that_cannot_be_named_whole_is_not_named_at_all(visited):
    """One face of the group is already enrolled as somebody else: one line, nothing changed."""
    (jerry,) = [g for g in groups(visited) if g["faces"] == 4]
    with Store(visited) as store:
        face = store.unknowns.get(jerry["face_ids"][-1])
        assert face is not None
        crop = (visited / "unknowns" / face.crop_file).read_bytes()
        from kiosk.store import sha256_hex
        store.people.add_sample("obama", face.embedding, store.people.samples_of("obama")[0].settings,
                                sha256_hex(crop), "elsewhere.jpg")
    result = run_kiosk("unknowns", "label", jerry["group"], "Jerry Seinfeld", "--new", data_dir=visited)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "is enrolled as obama" in result.stderr and "Traceback" not in result.stderr
    assert [g["faces"] for g in groups(visited)] == [4, 3]
    assert run_kiosk("people", "show", "Jerry Seinfeld", data_dir=visited).returncode != 0
