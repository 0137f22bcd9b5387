"""Tracks keep a face's identity across frames and only show a name the vote agrees on."""

from __future__ import annotations

from kiosk.config import RecognitionConfig
from kiosk.live.tracker import Tracker
from kiosk.vision.boxes import overlap
from kiosk.vision.matcher import Match

CONFIG = RecognitionConfig(confirm_votes=2, vote_window=5, recheck_seconds=1.0, track_timeout=1.0,
                           confirm_at_once=0.0)  # the vote alone; naming at once is tested below
FACE = (100, 200, 200, 100)
MOVED = (105, 208, 205, 108)  # the same face a frame later
ELSEWHERE = (100, 500, 200, 400)


def test_overlap():
    assert overlap(FACE, FACE) == 1.0
    assert overlap(FACE, ELSEWHERE) == 0.0
    assert 0.7 < overlap(FACE, MOVED) < 1.0


def test_a_moving_face_stays_one_track_and_a_new_face_gets_its_own():
    tracker = Tracker(CONFIG)
    first = tracker.update([FACE], 0.0, 0)
    second = tracker.update([MOVED, ELSEWHERE], 0.1, 1)
    assert len(tracker.tracks) == 2
    assert first[0].id in {t.id for t in second}  # unconfirmed: still asks for an encoding
    assert tracker.tracks[first[0].id].box == MOVED


def test_name_is_confirmed_by_votes_and_does_not_flicker():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    assert not tracker.add_result(track.id, Match("ada", 0.4), 0.0, 0)
    assert track.confirmed is None  # one result is not enough
    assert tracker.add_result(track.id, Match("ada", 0.42), 0.1, 1)
    assert track.confirmed == "ada"
    # A single bad result neither changes the shown name nor confirms anything new.
    assert not tracker.add_result(track.id, Match("unknown", 0.7), 0.2, 2)
    assert track.confirmed == "ada"


def test_confirmed_tracks_are_rechecked_only_now_and_then():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    tracker.add_result(track.id, Match("ada", 0.4), 0.0, 0)
    tracker.add_result(track.id, Match("ada", 0.4), 0.1, 1)
    assert tracker.update([MOVED], 0.5, 2) == []  # confirmed and checked 0.4 s ago
    assert [t.id for t in tracker.update([FACE], 1.2, 3)] == [track.id]  # recheck is due


def test_lost_faces_are_forgotten_after_the_timeout():
    tracker = Tracker(CONFIG)
    tracker.update([FACE], 0.0, 0)
    tracker.update([], 0.5, 1)
    assert len(tracker.tracks) == 1
    tracker.update([], 1.6, 2)
    assert tracker.tracks == {}


AT_ONCE = RecognitionConfig(tolerance=0.6, margin=0.05, confirm_votes=2, vote_window=5, confirm_at_once=0.1)


def test_a_clear_first_result_names_the_face_at_once():
    tracker = Tracker(AT_ONCE)
    track = tracker.update([FACE], 0.0, 0)[0]
    assert tracker.add_result(track.id, Match("ada", 0.42, "ada", second=0.8), 0.0, 0)
    assert track.confirmed == "ada" and track.confirmed_index == 0


def test_borderline_or_unknown_first_results_wait_for_the_vote():
    for first in (Match("ada", 0.55, "ada", second=0.9),  # inside the tolerance, not well inside
                  Match("ada", 0.42, "ada", second=0.5),  # close to somebody else as well
                  Match("unknown", 0.9, "ada", second=1.0, reason="too far")):
        tracker = Tracker(AT_ONCE)
        track = tracker.update([FACE], 0.0, 0)[0]
        assert not tracker.add_result(track.id, first, 0.0, 0)
        assert track.confirmed is None
        assert tracker.add_result(track.id, first, 0.1, 1)  # the second agreeing result confirms
        assert track.confirmed == first.name


def test_the_vote_still_overrules_later_results_not_a_single_odd_one():
    tracker = Tracker(AT_ONCE)
    track = tracker.update([FACE], 0.0, 0)[0]
    tracker.add_result(track.id, Match("ada", 0.42, "ada", second=0.8), 0.0, 0)
    assert not tracker.add_result(track.id, Match("grace", 0.45, "grace", second=0.8), 1.0, 1)
    assert track.confirmed == "ada"  # one odd result does not rename a face named at once
    assert tracker.add_result(track.id, Match("grace", 0.45, "grace", second=0.8), 2.0, 2)
    assert track.confirmed == "grace"  # two agreeing results (confirm_votes) rename it, as before
