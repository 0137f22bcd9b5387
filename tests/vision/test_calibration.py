"""The tolerance that follows the gallery (vision/calibration.py), on galleries of real encodings.

The sample people (6, enrolled once per test run) and faces_dev's 5 people are enrolled through
the real import; lfw_dev's 77 are used when present (the site-sized check, skipped otherwise).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from kiosk.config import Config, EnrollmentConfig, RecognitionConfig
from kiosk.enrollment.enroll import import_folder
from kiosk.store import Store
from kiosk.vision.calibration import calibrate, normal_cdf, rule_for
from kiosk.vision.matcher import Gallery, MatchRule

from conftest import require_data, run_kiosk

FAST = EnrollmentConfig(fallback_detector="none", jitters=1)


def gallery_of(data_dir) -> Gallery:
    with Store(data_dir, create=False) as store:
        return store.people.load_gallery()


@pytest.fixture(scope="module")
def faces_dev_gallery(tmp_path_factory) -> Gallery:
    data_dir = tmp_path_factory.mktemp("faces_dev")
    with Store(data_dir) as store:
        import_folder(store, require_data("faces_dev", "enroll"), FAST, encoder="dlib", show_bar=False)
    return gallery_of(data_dir)


def test_the_normal_cdf_is_right_to_a_millionth():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.645, 3.0])
    expected = [0.0013499, 0.1586553, 0.5, 0.6914625, 0.9500151, 0.9986501]
    assert np.allclose(normal_cdf(x), expected, atol=1e-6)


def test_the_curve_rises_with_the_tolerance_and_the_choice_meets_the_target(faces_dev_gallery):
    calibration = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01)
    rates = [p.stranger_rate for p in calibration.curve]
    recalls = [p.member_recall for p in calibration.curve]
    assert rates == sorted(rates) and recalls == sorted(recalls)
    assert calibration.curve[0].tolerance == 0.4 and calibration.curve[-1].tolerance == 0.6
    point = calibration.point()
    assert point is not None and point.stranger_rate <= 0.01 and 0.4 <= calibration.tolerance <= 0.6
    assert calibration.stranger_attempts == calibration.member_attempts == len(faces_dev_gallery)
    looser = calibrate(faces_dev_gallery, MatchRule(0.6), 0.05)
    assert looser.tolerance >= calibration.tolerance


def test_never_looser_than_the_configured_tolerance_unless_the_admin_says_so(faces_dev_gallery):
    assert calibrate(faces_dev_gallery, MatchRule(0.6), 0.5).tolerance <= 0.6
    assert calibrate(faces_dev_gallery, MatchRule(0.45), 0.5).tolerance <= 0.45
    assert calibrate(faces_dev_gallery, MatchRule(0.7), 0.5).tolerance > 0.6  # the admin raised the ceiling


def test_a_target_of_zero_keeps_the_fixed_tolerance(faces_dev_gallery):
    rule, calibration = rule_for(faces_dev_gallery, RecognitionConfig(false_accept_target=0.0))
    assert calibration is None and rule == MatchRule(0.6)


def face_near(gallery: Gallery, person: int, score: float, seed: int) -> np.ndarray:
    """A face whose score to PERSON (the mean distance to their 3 nearest samples) is SCORE: their
    mean encoding moved along a random direction, as far as bisection finds."""
    rows = gallery.encodings[gallery.starts[person]:gallery.starts[person] + gallery.counts[person]]
    direction = np.random.default_rng(seed).normal(size=gallery.dimensions)
    direction /= np.linalg.norm(direction)
    low, high = 0.0, 2.0
    for _ in range(40):
        middle = (low + high) / 2
        face = (rows.mean(axis=0) + middle * direction).astype(np.float32)
        if gallery.person_scores(face[None], 3)[0, person] < score:
            low = middle
        else:
            high = middle
    return face


def test_kept_strangers_close_to_members_make_it_stricter_and_are_named(faces_dev_gallery):
    """Several visitors kept as unknown who land just beyond the threshold near somebody are the
    site's own evidence: the threshold tightens, and the groups that pulled it are named."""
    plain = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01)
    visitors = np.stack([face_near(faces_dev_gallery, person, plain.tolerance + 0.02, person)
                         for person in range(faces_dev_gallery.people)])
    stricter = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01, visitors, [11, 12, 13, 14, 15])
    assert stricter.tolerance < plain.tolerance
    kept = stricter.kept
    assert kept is not None and kept.counted and (kept.faces, kept.matching, kept.visitors) == (5, 0, 5)
    assert kept.without == plain.tolerance and set(kept.pulled_by) <= {"g11", "g12", "g13", "g14", "g15"}
    assert kept.pulled_by and kept.line(stricter.tolerance).endswith(f"kiosk unknowns dismiss {kept.pulled_by[0]}")


def test_a_few_kept_faces_cannot_collapse_the_threshold(faces_dev_gallery):
    """Forty faces of one visitor weigh as one and count only among several visitors; faces the
    gallery's own threshold names (a person kept before being enrolled) are no strangers."""
    plain = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01)
    rng = np.random.default_rng(1)
    near = face_near(faces_dev_gallery, 0, plain.tolerance + 0.02, 0)
    one = near + rng.normal(0, 0.002, (40, 128)).astype(np.float32)
    single = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01, one)
    assert single.tolerance == plain.tolerance and single.kept is not None and not single.kept.counted
    assert single.kept.visitors == 1 and "not counted" in single.kept.line(single.tolerance)
    enrolled_since = np.stack([face_near(faces_dev_gallery, person, plain.tolerance - 0.05, person)
                               for person in range(faces_dev_gallery.people)])
    named = calibrate(faces_dev_gallery, MatchRule(0.6), 0.01, enrolled_since)
    assert named.tolerance == plain.tolerance and named.kept is not None and named.kept.matching == 5


def test_fewer_than_two_people_say_so_and_keep_the_tolerance():
    one = Gallery(["ada"], [2], np.random.default_rng(0).normal(0, 0.1, (2, 128)).astype(np.float32))
    calibration = calibrate(one, MatchRule(0.6), 0.01)
    assert calibration.tolerance == 0.6 and "fewer than 2 people" in calibration.warning
    assert calibration.said_with_warning().count(calibration.warning) == 1, "the warning is said once"


@pytest.mark.slow(minutes=1)
def test_a_bigger_gallery_gets_a_stricter_tolerance():
    """More people, more chances for a stranger: lfw_dev's 77 get a stricter tolerance than 10 of them."""
    import tempfile
    enroll = require_data("lfw_dev", "enroll")
    with tempfile.TemporaryDirectory() as scratch:
        with Store(scratch) as store:
            import_folder(store, enroll, FAST, encoder="dlib", show_bar=False)
        full = gallery_of(scratch)
    few = full
    for name in full.names[10:]:
        few = few.without(name)
    big, small = calibrate(full, MatchRule(0.6), 0.01), calibrate(few, MatchRule(0.6), 0.01)
    assert full.people == 77 and few.people == 10
    assert big.tolerance < small.tolerance
    assert 0.45 <= big.tolerance <= 0.55, big.expectation()


def test_status_tune_and_doctor_say_what_to_expect(enrolled_store_dir):
    status = run_kiosk("status", data_dir=enrolled_store_dir)
    assert status.returncode == 0, status.stderr
    expect = [line for line in status.stdout.splitlines() if line.startswith("expect:     with 6 people: tolerance ")]
    assert expect and expect[0].endswith("(a rough estimate from only 11 photos)"), status.stdout
    tune = json.loads(run_kiosk("tune", "--json", data_dir=enrolled_store_dir).stdout)
    calibration = tune["calibration"]
    assert calibration["people"] == 6 and len(calibration["curve"]) == 41
    assert tune["current_tolerance"] == calibration["tolerance"]
    doctor = run_kiosk("doctor", data_dir=enrolled_store_dir)
    assert any(line.split()[:2] in (["OK", "recognition"], ["WARN", "recognition"])
               for line in doctor.stdout.splitlines()), doctor.stdout


def test_the_live_recognizer_decides_with_the_calibrated_tolerance(enrolled_store_dir):
    from kiosk.live.recognition import build_recognizer
    config = dataclasses.replace(Config(), data_dir=str(enrolled_store_dir))
    gallery = gallery_of(enrolled_store_dir)
    recognizer = build_recognizer(config, gallery)
    expected, _ = rule_for(gallery, config.recognition)
    assert recognizer.rule == expected and recognizer.tracker.tolerance == expected.tolerance
    smaller = gallery.without(gallery.names[0])
    recognizer.set_gallery(smaller)
    assert recognizer.rule == rule_for(smaller, config.recognition)[0]
