"""A photo is not a person: the liveness check on the real clip and on pictures held up to the camera."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from kiosk.config import Config, RecognitionConfig
from kiosk.live.recognition import search_region
from kiosk.measure import scenes
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.images import load_image
from kiosk.vision.liveness import LivenessCheck

from conftest import REPO, require_data, run_kiosk

SECONDS = RecognitionConfig().liveness_seconds


@pytest.fixture(scope="module")
def engine():
    engine = FaceEngine(EngineSettings.live(Config().detection, "dlib"))
    engine.warm_up()
    return engine


def landmarks_over(engine: FaceEngine, frames) -> list[tuple[float, np.ndarray]]:
    """(time, 68 landmarks of the largest face) for each frame in which a face is found, searched
    as the live kiosk searches: the whole frame every full_scan_seconds, else around the face."""
    found: list[tuple[float, np.ndarray]] = []
    box, last_full = None, float("-inf")
    for index, frame in enumerate(frames):
        t = index / scenes.FPS
        if box is None or t - last_full >= Config().detection.full_scan_seconds:
            boxes, last_full = engine.detect(frame), t
        else:
            boxes = engine.detect(frame, search_region(box, frame.shape[1], frame.shape[0]))
        box = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0])) if boxes else None
        if box is not None:
            found.append((t, engine.landmarks68(frame, box)))
    return found


def outcome(mode: str, points: list[tuple[float, np.ndarray]]) -> tuple[str, float | None]:
    """The check's end state, and after how long it passed, for landmarks fed as the kiosk does."""
    check = LivenessCheck(mode, points[0][0] + SECONDS)
    for t, landmarks in points:
        if check.feed(landmarks, t) != "checking":
            return check.state, t - points[0][0] if check.passed else None
    return check.expire(points[-1][0] + SECONDS), None


def clip_frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(require_data("video", "short_hamilton_clip.mp4")))
    frames = []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
    return frames


@pytest.fixture(scope="module")
def clip():
    return clip_frames()


def test_the_person_talking_in_the_clip_passes(engine, clip):
    points = landmarks_over(engine, clip)
    for mode in ("motion", "both"):
        state, after = outcome(mode, points)
        print(f"clip, {mode}: {state} after {after} s")
        assert state == "passed" and after is not None and after <= SECONDS


@pytest.mark.slow
@pytest.mark.parametrize("picture", ["probe", "clip frame"])
def test_a_picture_held_up_is_never_live(engine, clip, picture):
    image = (load_image(require_data("probes", "obama1.jpg").read_bytes()).pixels if picture == "probe"
             else clip[200])
    for attack in scenes.ATTACKS:
        points = landmarks_over(engine, scenes.held_picture(image, attack, SECONDS + 1, seed=7))
        assert len(points) > 0.8 * (SECONDS + 1) * scenes.FPS, f"the face in the {attack} picture is followed"
        for mode in ("blink", "motion", "both"):
            state, _ = outcome(mode, points)
            assert state == "failed", f"{picture}, {attack}, {mode}: {state}"


@pytest.mark.slow
def test_kiosk_run_confirms_the_clip_and_not_a_moved_photo(enrolled_copy, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text().replace("liveness: auto", "liveness: both"))
    env = {"KIOSK_CONFIG": str(config), "RUNTIME_DIRECTORY": str(tmp_path)}
    clip = require_data("video", "short_hamilton_clip.mp4")
    result = run_kiosk("run", "--source", f"file:{clip}", "--display", "headless", data_dir=enrolled_copy, env=env)
    assert result.returncode == 0, result.stderr
    events = json.loads(run_kiosk("events", "--json", data_dir=enrolled_copy, env=env).stdout)
    assert [e["liveness"] for e in events if e["name"] == "lin_manuel_miranda"] == ["passed"]

    attack = tmp_path / "held.mp4"
    photo = load_image(require_data("probes", "obama1.jpg").read_bytes()).pixels
    scenes.write_clip(attack, scenes.held_picture(photo, "moved", SECONDS + 2))
    result = run_kiosk("run", "--source", f"file:{attack}", "--display", "headless", data_dir=enrolled_copy,
                       env=env)
    assert result.returncode == 0, result.stderr
    held = [e for e in json.loads(run_kiosk("events", "--json", data_dir=enrolled_copy, env=env).stdout)
            if e["name"] == "obama"]
    assert held and all(e["liveness"] == "failed" for e in held), held
    daily = json.loads(run_kiosk("events", "--json", "--daily", data_dir=enrolled_copy, env=env).stdout)
    assert "obama" not in {d["name"] for d in daily["people"]}, "a picture is no visit"


def test_liveness_setting_is_checked():
    from kiosk.config import parse_config
    from kiosk.errors import ConfigError
    with pytest.raises(ConfigError, match=r"recognition\.liveness: 'blinks' is not allowed, allowed values: auto, "
                                          r"off, blink, motion, both"):
        parse_config("recognition:\n  liveness: blinks\n")
    assert dataclasses.replace(RecognitionConfig(), liveness="both").liveness == "both"
    assert parse_config("recognition:\n  liveness: off\n").recognition.liveness == "off"  # YAML's false
