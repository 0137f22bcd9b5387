"""Tracks keep a face's identity across frames; names are decided on the track's evidence."""

from __future__ import annotations

import numpy as np

from kiosk.config import RecognitionConfig
from kiosk.live.tracker import Tracker, face_state
from kiosk.names import UNKNOWN
from kiosk.vision.boxes import overlap
from kiosk.vision.matcher import Match
from kiosk.vocabulary import FaceState

CONFIG = RecognitionConfig(confirm_votes=2, vote_window=5, recheck_seconds=1.0, track_timeout=1.0,
                           confirm_at_once=0.0)  # the evidence alone; naming at once is tested below
FACE = (100, 200, 200, 100)
MOVED = (105, 208, 205, 108)  # the same face a frame later
ELSEWHERE = (100, 500, 200, 400)
ENCODING = np.zeros(128, np.float32)


def result(tracker: Tracker, track_id: int, decision: Match, at: float, index: int, *, weight: float = 1.0,
           frame: Match | None = None) -> bool:
    """One encoding joins the track's evidence, and DECISION is what the evidence says now."""
    tracker.tracks[track_id].evidence.add(ENCODING, weight, at)
    return tracker.add_result(track_id, frame or decision, decision, at, index)


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


def test_a_face_that_moved_further_than_its_boxes_overlap_keeps_its_track():
    """Half a face width between two results (a slow processor, a quick step): the boxes overlap
    too little, but the face of that size nearest its last place is the same one."""
    tracker = Tracker(CONFIG)
    (track,) = tracker.update([FACE], 0.0, 0)
    jumped = (140, 260, 240, 160)  # 60 px right, 40 down, of a 100 px face
    assert overlap(FACE, jumped) < 0.3
    tracker.update([jumped], 0.7, 1)
    assert list(tracker.tracks) == [track.id] and track.box == jumped
    tracker.update([(140, 560, 240, 460), jumped], 1.0, 2)  # a newcomer 3 widths away gets its own
    assert len(tracker.tracks) == 2 and track.box == jumped
    small = (150, 215, 195, 170)  # near, but a face of another size: another face
    tracker.update([small], 1.1, 3)
    assert len(tracker.tracks) == 3 and track.box == jumped


def test_a_name_needs_confirm_votes_encodings_and_a_single_odd_decision_does_not_flicker():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    assert not result(tracker, track.id, Match("ada", 0.4), 0.0, 0)
    assert track.confirmed is None  # one encoding is not enough
    assert result(tracker, track.id, Match("ada", 0.42), 0.1, 1)
    assert track.confirmed == "ada" and track.distance == 0.42
    assert not result(tracker, track.id, Match(UNKNOWN, 0.7), 0.2, 2)
    assert track.confirmed == "ada"  # one decision against it changes nothing
    assert not result(tracker, track.id, Match("ada", 0.41), 0.3, 3)
    assert not result(tracker, track.id, Match("grace", 0.45), 0.4, 4)
    assert result(tracker, track.id, Match("grace", 0.45), 0.5, 5)  # confirm_votes in a row rename it
    assert track.confirmed == "grace"


def test_unknown_waits_for_more_evidence_so_a_member_is_never_shown_as_unknown_first():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    for index in range(3):  # poor first frames: the evidence says unknown
        assert not result(tracker, track.id, Match(UNKNOWN, 0.62, "ada", reason="too far"), index / 10, index)
        assert track.confirmed is None
    assert result(tracker, track.id, Match("ada", 0.55, "ada"), 0.3, 3)  # better frames name them
    assert track.confirmed == "ada"
    stranger = Tracker(CONFIG)
    track = stranger.update([FACE], 0.0, 0)[0]
    confirmed = [result(stranger, track.id, Match(UNKNOWN, 0.8), i / 10, i) for i in range(5)]
    assert confirmed == [False, False, False, False, True]  # vote_window encodings make an unknown
    assert track.confirmed == UNKNOWN


def test_confirmed_tracks_are_rechecked_only_now_and_then_unless_a_door_wants_frames():
    for min_frames, expected in ((0, []), (4, [1])):
        tracker = Tracker(CONFIG, min_frames=min_frames)
        track = tracker.update([FACE], 0.0, 0)[0]
        result(tracker, track.id, Match("ada", 0.4), 0.0, 0)
        result(tracker, track.id, Match("ada", 0.4), 0.1, 1)
        assert [t.id for t in tracker.update([MOVED], 0.5, 2)] == expected  # checked 0.4 s ago
        assert [t.id for t in tracker.update([FACE], 1.2, 3)] == [track.id]  # recheck is due


def test_lost_faces_are_forgotten_after_the_timeout():
    tracker = Tracker(CONFIG)
    tracker.update([FACE], 0.0, 0)
    tracker.update([], 0.5, 1)
    assert len(tracker.tracks) == 1
    tracker.update([], 1.6, 2)
    assert tracker.tracks == {}


def test_agreeing_frames_count_single_frames_in_a_row():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    for index, name in enumerate(["ada", UNKNOWN, "ada", "ada"]):
        result(tracker, track.id, Match("ada", 0.4), index / 10, index, frame=Match(name, 0.5))
    assert track.agreeing_frames("ada") == 2 and track.agreeing_frames("grace") == 0


AT_ONCE = RecognitionConfig(tolerance=0.6, margin=0.05, confirm_votes=2, vote_window=5, confirm_at_once=0.1)


def test_a_clear_first_result_of_a_well_seen_face_names_it_at_once():
    tracker = Tracker(AT_ONCE)
    track = tracker.update([FACE], 0.0, 0)[0]
    assert result(tracker, track.id, Match("ada", 0.42, "ada", second=0.8), 0.0, 0)
    assert track.confirmed == "ada" and track.confirmed_index == 0
    blurred = Tracker(AT_ONCE)
    track = blurred.update([FACE], 0.0, 0)[0]
    assert not result(blurred, track.id, Match("ada", 0.42, "ada", second=0.8), 0.0, 0, weight=0.2)


def test_borderline_or_unknown_first_results_wait_for_more_evidence():
    for first, needed in ((Match("ada", 0.55, "ada", second=0.9), 2),  # inside the tolerance, not well inside
                          (Match("ada", 0.42, "ada", second=0.5), 2),  # close to somebody else as well
                          (Match(UNKNOWN, 0.9, "ada", second=1.0, reason="too far"), 5)):
        tracker = Tracker(AT_ONCE)
        track = tracker.update([FACE], 0.0, 0)[0]
        confirmed = [result(tracker, track.id, first, i / 10, i) for i in range(needed)]
        assert confirmed == [False] * (needed - 1) + [True]
        assert track.confirmed == first.name


def test_a_name_at_the_threshold_does_not_flicker_to_unknown():
    tracker = Tracker(CONFIG)
    tracker.tolerance = 0.5
    track = tracker.update([FACE], 0.0, 0)[0]
    result(tracker, track.id, Match("ada", 0.49, "ada"), 0.0, 0)
    result(tracker, track.id, Match("ada", 0.49, "ada"), 0.1, 1)
    for index in (2, 3, 4):  # just past the tolerance, still nearest to ada
        assert not result(tracker, track.id, Match(UNKNOWN, 0.52, "ada", reason="too far"), index / 10, index)
    assert track.confirmed == "ada"
    result(tracker, track.id, Match(UNKNOWN, 0.7, "ada", reason="too far"), 0.5, 5)
    assert result(tracker, track.id, Match(UNKNOWN, 0.7, "ada", reason="too far"), 0.6, 6)
    assert track.confirmed == UNKNOWN  # clearly beyond it, twice: un-named


ADA = np.full(128, 0.05, np.float32)
GRACE = -ADA  # another person: far from ada's encodings


def test_when_the_face_in_a_box_changes_its_name_goes_at_once():
    """A slideshow's next photo, or someone stepping into the spot another just left: the first
    encoding of the new face makes the track forget the old name; it is then decided afresh."""
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    for index in range(2):
        tracker.add_encoding(track.id, FACE, ADA, 1.0, index / 10)
        tracker.add_result(track.id, Match("ada", 0.4), Match("ada", 0.4), index / 10, index)
    tracker.announce(track)
    assert track.confirmed == "ada"
    kept, _ = tracker.add_encoding(track.id, MOVED, GRACE, 1.0, 0.3)
    assert track.confirmed is None and track.announced is None and track.restarts == 1
    assert len(kept) == 1  # decided on the new face alone
    assert not tracker.add_result(track.id, Match("grace", 0.4), Match("grace", 0.4), 0.3, 3)
    assert track.confirmed is None  # pending (neutral) until confirm_votes, never ada meanwhile
    tracker.add_encoding(track.id, MOVED, GRACE, 1.0, 0.4)
    assert tracker.add_result(track.id, Match("grace", 0.4), Match("grace", 0.4), 0.4, 4)
    assert track.confirmed == "grace"


def test_the_same_face_keeps_its_name_through_new_encodings():
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    for index in range(6):
        tracker.add_encoding(track.id, FACE, ADA + 0.01 * index, 1.0, index / 10)
        tracker.add_result(track.id, Match("ada", 0.4), Match("ada", 0.4), index / 10, index)
    assert track.confirmed == "ada" and track.restarts == 0


def test_a_face_too_poorly_seen_to_judge_stays_neutral_and_is_looked_at_less():
    """Unknown needs vote_window encodings worth one well-seen face (UNKNOWN_WEIGHT): a member's
    poor first frames, or a tiny face in the back row, never show a red Unknown."""
    tracker = Tracker(CONFIG)
    track = tracker.update([FACE], 0.0, 0)[0]
    for index in range(8):
        assert not result(tracker, track.id, Match(UNKNOWN, 0.8), index / 10, index, weight=0.05)
    assert track.confirmed is None and face_state(track) == FaceState.PENDING
    assert tracker.update([FACE], 0.9, 9) == []  # after a window, rechecked every recheck_seconds
    assert [t.id for t in tracker.update([FACE], 1.8, 10)] == [track.id]
    assert result(tracker, track.id, Match(UNKNOWN, 0.8), 1.8, 10, weight=1.0)  # now seen well: unknown
    assert face_state(track) == FaceState.UNKNOWN
