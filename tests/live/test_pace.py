"""A slow processor: the pace asks less by measurement (fewer frames, spaced searches, fewer
liveness fits, a smaller width only as far as the faces allow), keeps faces between slow
results, and says when the machine is too slow."""

from __future__ import annotations

import pytest

from kiosk.config import DetectionConfig
from kiosk.live.pace import HOLD_LIMIT, SAMPLES, Pace, widths


def scans(pace: Pace, seconds: float, count: int = SAMPLES) -> None:
    for _ in range(count):
        pace.scanned(pace.width, seconds)


def test_the_widths_step_down_to_the_smallest_in_multiples_of_16():
    assert widths(640, 320) == [640, 512, 400, 320]
    assert widths(320, 320) == [320]
    assert all(width % 16 == 0 for width in widths(1280, 200)[1:-1])


def test_quick_searches_keep_the_configured_pace():
    pace = Pace.from_config(DetectionConfig())
    pace.found([200], 640)
    scans(pace, 0.05, 20)
    state = pace.state()
    assert pace.width == 640 and pace.full_scan_interval() == 0.25 and pace.liveness_every() == 1
    assert pace.frame_rate(30) == 30 and pace.workers(2) == 2
    assert not state.adapted and not state.too_slow and state.summary() == ""


def test_slow_searches_step_the_width_down_as_far_as_large_faces_allow():
    pace = Pace.from_config(DetectionConfig(scan_budget=0.3))
    pace.found([340, 320], 1280)  # 170 and 160 px at the configured 640: found down to 400 px
    scans(pace, 0.5, SAMPLES - 1)
    assert pace.width == 640  # not judged on fewer than SAMPLES
    scans(pace, 0.5, 1)
    assert pace.width == 512
    scans(pace, 0.5, SAMPLES - 1)
    assert pace.width == 512  # the next step waits for SAMPLES searches at the new width
    pace.scanned(640, 0.01)  # a search begun before the change does not count
    scans(pace, 0.5, 1)
    assert pace.width == 400
    scans(pace, 0.5, 3 * SAMPLES)
    assert pace.width == 400  # a 160 px face is 80 px at 320: too close to the detector's smallest
    state = pace.state()
    assert state.adapted and state.too_slow
    assert pace.full_scan_interval() == 2.0  # 0.5 s searches take a quarter of the time at most
    assert pace.liveness_every() == 2 and pace.frame_rate(30) == 15 and pace.workers(2) == 1
    assert state.summary().startswith("this machine is too slow for detection.width 640: a whole-frame search "
                                      "takes 500 ms at 400 px, over the 300 ms budget at the smallest width the "
                                      "faces allow (400 px); half the camera's frames, one worker")


def test_small_faces_keep_the_width_and_the_rest_of_the_pace_gives():
    pace = Pace.from_config(DetectionConfig(scan_budget=0.3))
    pace.found([90], 640)  # 90 px faces are found at 640 only
    scans(pace, 0.5, 3 * SAMPLES)
    state = pace.state()
    assert pace.width == 640 and state.slow and state.too_slow
    assert pace.frame_rate(30) == 15 and pace.liveness_every() == 2
    assert "whole frame every 2 s" in state.summary()


def test_no_face_seen_yet_keeps_the_width():
    pace = Pace.from_config(DetectionConfig(scan_budget=0.3))
    scans(pace, 0.5, 3 * SAMPLES)
    assert pace.width == 640 and pace.state().slow


def test_a_smaller_face_brings_the_width_back_up_and_quick_searches_too():
    pace = Pace.from_config(DetectionConfig(scan_budget=0.3))
    pace.found([200], 640)
    scans(pace, 0.5)
    assert pace.width == 512
    scans(pace, 0.15)  # 0.15 s at 512 is about 0.23 s at 640: not within 60 % of the budget
    assert pace.width == 512
    scans(pace, 0.1)  # about 0.16 s at 640
    assert pace.width == 640
    scans(pace, 0.5)
    assert pace.width == 512
    pace.found([105], 640)  # 84 px at 512: under the detector's 80 px with its margin
    scans(pace, 0.5)
    assert pace.width == 640


def test_no_budget_never_adapts():
    pace = Pace.from_config(DetectionConfig(scan_budget=0))
    pace.found([300], 640)
    scans(pace, 5.0, 20)
    assert pace.width == 640 and pace.state().summary() == "" and pace.full_scan_interval() == 0.25
    assert pace.frame_rate(30) == 30


def test_faces_are_kept_for_a_few_of_recognitions_own_intervals():
    pace = Pace.from_config(DetectionConfig())
    assert pace.hold(1.0) == 1.0
    for index in range(10):
        pace.applied(index * 0.8, following=True)  # a result every 0.8 s of frame time
    assert pace.hold(1.0) == pytest.approx(2.4)
    for index in range(10):
        pace.applied(100 + index * 10.0, following=True)
    assert pace.hold(1.0) == HOLD_LIMIT
    quiet = Pace.from_config(DetectionConfig())
    for index in range(10):
        quiet.applied(index * 2.0, following=False)  # idle scans of an empty hall are no interval
    assert quiet.hold(1.0) == 1.0
