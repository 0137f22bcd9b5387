"""Corrections: `kiosk events correct` teaches the gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kiosk.enrollment.labels import SAME_FACE
from kiosk.store import Store
from kiosk.vision.matcher import MatchRule

from conftest import REPO, require_data, run_kiosk


def capturing_faces(tmp_path) -> dict[str, str]:
    """The environment of a kiosk whose config keeps each event's face (recognition.capture_faces)."""
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text().replace("capture_faces: false", "capture_faces: true"))
    return {"KIOSK_CONFIG": str(config), "RUNTIME_DIRECTORY": str(tmp_path)}


def clip_events(data_dir, env: dict[str, str]) -> list[dict]:
    """The sample clip run through `kiosk run`, then every event `kiosk events` lists."""
    clip = require_data("video", "short_hamilton_clip.mp4")
    result = run_kiosk("run", "--source", f"file:{clip}", "--display", "headless", "--fast", data_dir=data_dir, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(run_kiosk("events", "--json", data_dir=data_dir, env=env).stdout)


@pytest.mark.slow
def test_an_event_corrected_by_the_admin_is_named_right_next_time(enrolled_copy, tmp_path):
    """capture_faces keeps each event's face; correcting it teaches the gallery (real clip, twice)."""
    env = capturing_faces(tmp_path)

    first = clip_events(enrolled_copy, env)
    assert first and all(e["face_kept"] for e in first)
    assert len(list((enrolled_copy / "event_faces").iterdir())) == len(first)
    lin = next(e for e in first if e["name"] == "lin_manuel_miranda")
    result = run_kiosk("events", "correct", str(lin["id"]), "stage_double", "--new", data_dir=enrolled_copy, env=env)
    assert result.returncode == 0, result.stderr
    assert "recorded as not lin_manuel_miranda" in result.stdout
    corrected = {e["id"]: e for e in json.loads(run_kiosk("events", "--json", data_dir=enrolled_copy).stdout)}
    assert (corrected[lin["id"]]["name"], corrected[lin["id"]]["corrected_from"]) == ("stage_double",
                                                                                      "lin_manuel_miranda")
    shown = json.loads(run_kiosk("people", "show", "stage_double", "--json", data_dir=enrolled_copy).stdout)
    assert [s["status"] for s in shown["samples"]] == ["accepted"]

    bad = run_kiosk("events", "correct", "999999", "someone", "--new", data_dir=enrolled_copy)
    assert bad.returncode == 2 and "no such event" in bad.stderr

    second = [e for e in clip_events(enrolled_copy, env) if e["id"] not in corrected]
    assert "stage_double" in {e["name"] for e in second}  # faces like the corrected one take the new name

    # The clip may give the very face already corrected again (the same frame, the same encoding):
    # the one taken to say "not stage_double" is the one least like stage_double's own photo.
    rule = MatchRule()
    with Store(enrolled_copy) as store:
        gallery = store.people.load_gallery()
        faces = {e["id"]: store.events.face(e["id"]).embedding for e in second if e["name"] == "stage_double"}
        scored = {event: gallery.match(face, rule)[0] for event, face in faces.items()}
        later = max(scored, key=lambda event: scored[event].distance)
        face, named = faces[later], scored[later]
        assert named.name == "stage_double", scored
    result = run_kiosk("events", "correct", str(later), "--not", "stage_double", data_dir=enrolled_copy)
    if named.distance <= SAME_FACE:  # the corrected face itself again: "not stage_double" contradicts its sample
        assert result.returncode == 2 and "its face is one of stage_double's own samples" in result.stderr
        return
    assert result.returncode == 0 and "not stage_double" in result.stdout, result.stderr
    with Store(enrolled_copy) as store:
        assert store.events.get(later).name == "unknown" and store.events.confusions_of("stage_double") == 1
        # Moved a fifth of its score in any direction, the face stays nearer the negative than stage_double's
        # samples (triangle inequality), whatever frame the clip gave.
        noise = np.random.default_rng(1).normal(0, 1, face.shape)
        near = (face + noise / np.linalg.norm(noise) * named.distance / 5).astype(np.float32)
        assert "stage_double" not in {m.name for m in store.people.load_gallery().match(np.vstack([face, near]), rule)}


@pytest.mark.slow
def test_not_a_person_is_refused_for_a_face_that_is_their_own_sample(enrolled_copy, tmp_path):
    """An event corrected to NAME gave NAME its face; "not NAME" for that same face is refused."""
    env = capturing_faces(tmp_path)
    event = clip_events(enrolled_copy, env)[0]
    assert run_kiosk("events", "correct", str(event["id"]), "stage_double", "--new", data_dir=enrolled_copy,
                     env=env).returncode == 0
    refused = run_kiosk("events", "correct", str(event["id"]), "--not", "stage_double", data_dir=enrolled_copy, env=env)
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.strip() == (f"kiosk: event {event['id']}: its face is one of stage_double's own samples (an "
                                      "earlier correction or import made it so); take that back first (kiosk people "
                                      "show stage_double)")
    with Store(enrolled_copy) as store:
        assert store.events.confusions_of("stage_double") == 0 and store.events.get(event["id"]).name == "stage_double"
