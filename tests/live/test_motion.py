"""An empty scene costs almost nothing: the motion gate, and the recognizer's idle schedule."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from kiosk.config import Config, RecognitionConfig
from kiosk.frame import Frame
from kiosk.live.motion import MotionGate
from kiosk.live.recognition import Recognizer
from kiosk.measure import scenes
from kiosk.vision.engine import EngineSettings, FaceEngine

from conftest import require_data, run_kiosk

FPS = scenes.FPS


@pytest.fixture(scope="module")
def hall():
    return scenes.hall(require_data("detection", "dogs.jpg"))


@pytest.fixture(scope="module")
def walk_in(hall):
    """Frames of the noisy hall with obama walking in (a probe photo, not an enrolled one)."""
    layers, (arrival,), _ = scenes.arrivals(hall, [("obama", require_data("probes", "obama1.jpg"))])
    frames = list(scenes.noisy(hall, len(layers) / FPS, seed=3, layers=layers))
    return frames, arrival


def test_noise_and_drifting_light_are_not_motion(hall):
    gate = MotionGate(0.005)
    moved = [gate.moved(frame) for frame in scenes.noisy(hall, 5.0)]
    assert moved[0] and not any(moved[1:])  # the first frame is new; 5 s of noise and drift are not


def test_a_person_walking_in_is_motion_from_their_first_frames(walk_in):
    frames, arrival = walk_in
    gate = MotionGate(0.005)
    moved = [gate.moved(frame) for frame in frames]
    assert not any(moved[1:arrival.frame])
    assert moved[arrival.frame] or moved[arrival.frame + 1]  # a slice of a head at the edge


def test_a_change_smaller_than_the_area_threshold_is_not_motion(hall):
    """What the area threshold means: a change over less of the picture than it stays unseen."""
    gate = MotionGate(0.05)
    gate.moved(hall)
    changed = hall.copy()
    changed[200:240, 300:340] = 255  # a white square over about 0.5 % of the picture
    assert not gate.moved(changed) and 0.001 < gate.last_area < 0.05


def test_a_picture_learnt_by_the_gate_still_differs_from_the_one_found_empty(hall):
    """The idle scan's own test: the scene average follows a change that stays, so the gate stops
    calling it motion, but it is not the picture that was searched and found empty."""
    gate = MotionGate(0.005)
    gate.moved(hall)
    gate.remember_empty(gate.latest)
    assert not gate.changed_since_empty()
    changed = hall.copy()
    changed[100:260, 200:360] = 255 - changed[100:260, 200:360]
    moved = [gate.moved(changed) for _ in range(200)]
    assert moved[0] and not moved[-1]  # learnt
    assert gate.changed_since_empty()
    gate.remember_empty(gate.latest)
    assert not gate.changed_since_empty()
    brighter = np.clip(changed.astype(int) + 30, 0, 255).astype(np.uint8)  # the whole room, not a thing in it
    gate.moved(brighter)
    assert not gate.changed_since_empty()


def recognize_all(recognizer: Recognizer, frames: list[np.ndarray]) -> None:
    recognizer.start()
    try:
        for index, image in enumerate(frames):
            recognizer.submit(Frame(image, index / FPS, index), wait=True)
            while recognizer.frames_recognized <= index:
                time.sleep(0.0005)
    finally:
        recognizer.stop()


def make_recognizer(enrolled_store_dir, motion_area: float) -> Recognizer:
    from kiosk.store import Store
    with Store(enrolled_store_dir) as store:
        gallery = store.people.load_gallery()
    detection = Config().detection
    return Recognizer(FaceEngine(EngineSettings.live(detection, "dlib")), gallery, RecognitionConfig(), workers=1,
                      full_scan_seconds=detection.full_scan_seconds, motion_area=motion_area,
                      idle_scan_seconds=2.0, record_tracks=True)


def test_an_empty_hall_is_searched_once_while_it_stays_the_picture_found_empty(enrolled_store_dir, hall):
    """5 s of a noisy, drifting empty hall: searched on its first frame only, since every idle
    scan after it would look at the picture already found empty; the camera may rest."""
    frames = list(scenes.noisy(hall, 5.0))
    gated = make_recognizer(enrolled_store_dir, 0.005)
    recognize_all(gated, frames)
    assert gated.frames_recognized == len(frames)
    assert gated.detector_runs == 1 and gated.still
    ungated = make_recognizer(enrolled_store_dir, 0.0)
    recognize_all(ungated, frames)
    assert ungated.detector_runs == len(frames)


def test_a_change_that_stays_is_searched_while_it_is_motion_and_not_after(enrolled_store_dir, hall):
    """Something put down in the hall is motion until the gate has learnt it, and searched on
    those frames; each search finds it empty, so the idle scans after do not search it again."""
    changed = hall.copy()
    changed[100:260, 200:360] = 255 - changed[100:260, 200:360]  # 8 % of the picture, then still
    frames = [hall] * 30 + [changed] * 210  # 1 s, then 7 s
    recognizer = make_recognizer(enrolled_store_dir, 0.005)
    recognize_all(recognizer, frames)
    # The first frame; the change (motion) until the gate has learnt it; one idle scan after that
    # would already find it the picture searched empty, so none is added at 2 s intervals.
    moved_searches = recognizer.detector_runs - 1
    assert 1 <= moved_searches <= 90, recognizer.detector_runs
    again = make_recognizer(enrolled_store_dir, 0.005)
    recognize_all(again, frames + [changed] * 120)
    assert again.detector_runs == recognizer.detector_runs  # 4 s more of the same picture: no search


def test_a_person_walking_in_is_found_and_named_as_without_the_gate(enrolled_store_dir, walk_in):
    frames, arrival = walk_in
    first_named = {}
    for area in (0.005, 0.0):
        recognizer = make_recognizer(enrolled_store_dir, area)
        recognize_all(recognizer, frames)
        named = [t for t in recognizer.track_log.values() if t["name"] == "obama"]
        assert named, recognizer.track_log
        first_named[area] = min(t["first_seen_index"] for t in named)
        assert not [t for t in recognizer.track_log.values() if t["name"] not in (None, "obama", "unknown")]
    # Found within a quarter of a second of appearing, and no later than searching every frame.
    assert first_named[0.005] <= max(first_named[0.0], arrival.frame + round(0.25 * FPS))


def test_an_empty_scene_is_redrawn_at_the_idle_rate_and_motion_at_every_frame(enrolled_copy, walk_in, tmp_path):
    """`kiosk run` in real time on the walk-in clip: before anybody arrives the unchanged hall is
    drawn about display.idle_fps (5) times a second; from the first frames of the person walking
    in, every frame is drawn, and the name comes up."""
    frames, arrival = walk_in
    clip, stats_path = tmp_path / "walk-in.mp4", tmp_path / "stats.json"
    scenes.write_clip(clip, iter(frames))
    result = run_kiosk("run", "--source", f"file:{clip}", "--display", "headless", "--stats-json", str(stats_path),
                       data_dir=enrolled_copy, env={"RUNTIME_DIRECTORY": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    stats = json.loads(stats_path.read_text())
    drawn = {frame["index"] for frame in stats["frames"]}
    taken = sorted(int(index) for index in stats["taken_at"])
    # At rest the camera gives camera.rest_fps (5) frames a second, the skipped ones unconverted.
    before = [index for index in taken if 0 < index < arrival.frame]  # 1.5 s of empty hall
    assert 3 <= len(before) <= 12, taken
    assert set(before[1:]) <= drawn  # each frame at rest is drawn (the first came before the rest began)
    # The first frame taken after the arrival sees motion: from there, every frame is taken and drawn.
    back = next(index for index in taken if index >= arrival.frame)
    assert back <= arrival.frame + round(FPS / 5) + 1
    in_view = range(back + 2, arrival.frame + round(2 * FPS))  # sliding in, then standing
    assert all(index in drawn for index in in_view), sorted(set(in_view) - drawn)
    assert any("obama" in frame["names"] for frame in stats["frames"])


def test_a_cut_to_another_picture_is_noticed_once(hall, walk_in):
    """The next photo of a slideshow (or a cut) changes most of the picture at once: the recognizer
    then re-encodes every face instead of waiting for its recheck. A face walking in is no cut."""
    gate = MotionGate(0.005)
    frames, _ = walk_in
    assert not any(gate.cut for frame in frames if gate.moved(frame) or True)
    other = np.ascontiguousarray(255 - hall)
    cuts = []
    for frame in [hall] * 3 + [other] * 5 + [hall[: hall.shape[0] // 2]] * 2:
        gate.moved(frame)
        cuts.append(gate.cut)
    assert cuts == [False, False, False, True, False, False, False, False, True, False]


def test_the_cuts_of_a_video_are_noticed_and_its_moving_shots_are_not():
    """The sample clip: a handheld, panning camera with three cuts between shots (frames 20, 82 and
    211 at its 30 frames a second), read at 30 and at 8 frames a second (a slow camera)."""
    import cv2

    clip = require_data("video", "short_hamilton_clip.mp4")
    for every in (1, 4):
        gate, capture, cuts, index = MotionGate(0.005), cv2.VideoCapture(str(clip)), [], 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % every == 0:
                gate.moved(np.ascontiguousarray(bgr[:, :, ::-1]))
                if gate.cut:
                    cuts.append(index)
            index += 1
        # The first frame read at or after each cut.
        assert cuts == [-(-cut // every) * every for cut in (20, 82, 211)], (every, cuts)
