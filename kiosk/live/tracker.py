"""Following faces across frames, and deciding each face's name on the evidence of its track.

A detection joins the track whose last box overlaps it most (intersection over union), else one
left over whose face of about its size was nearby (a face that moved further between two results,
as on a slow processor); an encoding of another person in it starts the evidence anew. A track
asks for an encoding while it is unconfirmed (or still short of the frames a door needs) and
then only every `recheck_seconds`. Each encoding joins the track's evidence (evidence.py); the
recognizer decides on the evidence (Gallery.match_evidence) and hands the tracker that decision:

- a name is confirmed (shown) once `confirm_votes` encodings are behind it, or at once when the
  first, well-seen face is clear (well inside the tolerance and well ahead of the next person);
- "unknown" is confirmed only once `vote_window` encodings are behind it and they weigh at least
  UNKNOWN_WEIGHT (about one well-seen face), so a member whose first frames were poor, or a face
  too far away to judge, stays neutral instead of showing a red Unknown;
- until then later evidence may name, rename or un-name the face; once confirmed, the name
  changes only when `confirm_votes` decisions in a row say otherwise (and a name turns to unknown
  only once its score is a margin past the tolerance), so a single odd frame neither shows a
  wrong name nor makes the name flicker;
- a box's name belongs to the face in it: when a new encoding is another person's (the evidence
  starts anew, evidence.HANDOVER) the track forgets its name at once and decides afresh; after
  a cut (most of the picture changed at once: a slideshow's next photo) every track is encoded
  again on the next frame instead of at its recheck (the recognizer asks, recheck_all).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kiosk.config import RecognitionConfig
from kiosk.live.evidence import Evidence
from kiosk.names import UNKNOWN
from kiosk.vision.boxes import Box, overlap, pair_boxes, pair_nearby
from kiosk.vision.liveness import LivenessCheck
from kiosk.vision.matcher import Match
from kiosk.vocabulary import FaceState, LivenessState

MIN_OVERLAP = 0.3
FOLLOW_REACH = 0.8  # a face not overlapping enough is followed within this many face widths
SIZE_RATIO = 1.5  # ... when the two boxes are about one size
AT_ONCE_QUALITY = 0.5  # a first face must be seen at least this well (evidence.quality) to be named at once
FRAME_NAMES = 20  # single-frame names remembered per track (the door counts agreeing ones)
UNKNOWN_WEIGHT = 1.0  # evidence (summed quality) behind an "unknown": about one well-seen face


@dataclass
class Track:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    first_seen_index: int
    evidence: Evidence = field(default_factory=Evidence)
    decision: Match | None = None  # the latest decision on the evidence
    frame_names: deque = field(default_factory=lambda: deque(maxlen=FRAME_NAMES))  # single frames' names
    disagreeing: int = 0  # decisions in a row against the confirmed name
    last_checked: float | None = None
    confirmed: str | None = None  # a name or "unknown", once the evidence is enough
    confirmed_at: float | None = None
    confirmed_index: int | None = None
    distance: float | None = None  # the evidence's score for the confirmed name
    liveness: LivenessCheck | None = None  # with recognition.liveness on
    announced: str | None = None  # the name last handed on as a confirmation (event)
    last_result: tuple[Box, np.ndarray] | None = None  # box and encoding of the latest result
    restarts: int = 0  # times the face in the box turned out to be another person's

    def agreeing_frames(self, name: str) -> int:
        """Single frames in a row, the latest last, that named NAME on their own."""
        count = 0
        for frame_name in reversed(self.frame_names):
            if frame_name != name:
                break
            count += 1
        return count


def face_state(track: Track) -> FaceState:
    """How the screen shows TRACK: pending until confirmed; a name waiting for (or failing) the
    liveness check is not shown as known."""
    if track.confirmed is None:
        return FaceState.PENDING
    if track.confirmed == UNKNOWN:
        return FaceState.UNKNOWN
    liveness = track.liveness.state if track.liveness is not None else None
    if liveness == LivenessState.CHECKING:
        return FaceState.CHECKING
    if liveness == LivenessState.FAILED:
        return FaceState.NOT_LIVE
    return FaceState.KNOWN


class Tracker:
    """Tracks for the faces currently in view, and the only code that changes them (the
    recognizer reads tracks and reports results through these methods). Not thread-safe:
    callers hold a lock."""

    def __init__(self, config: RecognitionConfig, min_frames: int = 0, door: bool = False):
        self.config = config
        self.liveness = config.liveness_check(door)  # the check each new track gets, or None
        self.tolerance = config.tolerance  # the rule's, as calibrated for the gallery (set by the recognizer)
        self.min_frames = min_frames  # encodings wanted of a named face without waiting (a door's frames)
        self.tracks: dict[int, Track] = {}
        # Seconds a track is kept unseen: recognition.track_timeout, longer while recognition
        # itself comes slower than that (set by the recognizer from its pace).
        self.timeout = config.track_timeout
        self._ids = itertools.count(1)

    def update(self, boxes: list[Box], timestamp: float, frame_index: int) -> list[Track]:
        """Match detections to tracks, start new ones, drop lost ones; return tracks to encode."""
        for track_id in [t.id for t in self.tracks.values()
                         if timestamp - t.last_seen > self.timeout]:
            del self.tracks[track_id]  # first: a face long gone must not lend its track to a newcomer
        followed = list(self.tracks.values())
        used_boxes: set[int] = set()
        for t, i in pair_boxes([track.box for track in followed], boxes, MIN_OVERLAP):
            followed[t].box, followed[t].last_seen = boxes[i], timestamp
            used_boxes.add(i)
        # A face that moved further than its boxes overlap (results far apart on a slow
        # processor, a quick step) is still the face nearest its last place, of its size.
        alone = [t for t in followed if t.last_seen != timestamp]
        rest = [i for i in range(len(boxes)) if i not in used_boxes]
        for t, i in pair_nearby([track.box for track in alone], [boxes[i] for i in rest], FOLLOW_REACH, SIZE_RATIO):
            alone[t].box, alone[t].last_seen = boxes[rest[i]], timestamp
            used_boxes.add(rest[i])
        for i, box in enumerate(boxes):
            if i not in used_boxes:
                track = Track(next(self._ids), box, timestamp, timestamp, frame_index)
                if self.liveness is not None:
                    track.liveness = LivenessCheck(self.liveness, timestamp + self.config.liveness_seconds)
                self.tracks[track.id] = track
        return [t for t in self.tracks.values() if t.last_seen == timestamp and self._wants_encoding(t, timestamp)]

    def _wants_encoding(self, track: Track, now: float) -> bool:
        if track.last_checked is None:
            return True
        if track.confirmed is None:  # a face too poorly seen to judge after a window is looked at less
            return track.evidence.frames < self.config.vote_window or \
                now - track.last_checked >= self.config.recheck_seconds
        if track.confirmed != UNKNOWN and track.evidence.frames < self.min_frames:
            return True
        return now - track.last_checked >= self.config.recheck_seconds

    def add_result(self, track_id: int, frame_match: Match, decision: Match, timestamp: float,
                   frame_index: int) -> bool:
        """Record one encoding's result: FRAME_MATCH (the frame alone) and DECISION (the track's
        evidence, which already holds the encoding); True when the shown name newly changes."""
        track = self.tracks.get(track_id)
        if track is None:
            return False
        track.last_checked = timestamp
        track.frame_names.append(frame_match.name)
        track.decision = decision
        frames = track.evidence.frames
        if track.confirmed is None:
            if decision.name == UNKNOWN:
                settled = frames >= self.config.vote_window and track.evidence.weight >= UNKNOWN_WEIGHT
            else:
                settled = frames >= self.config.confirm_votes or (frames == 1 and self._clear(decision, track))
            if settled:
                self._set(track, decision, timestamp, frame_index)
            return settled
        if decision.name == track.confirmed or self._still(track.confirmed, decision):
            track.disagreeing = 0
            track.distance = decision.distance
            return False
        track.disagreeing += 1
        if track.disagreeing < self.config.confirm_votes:
            return False
        self._set(track, decision, timestamp, frame_index)
        return True

    def _still(self, name: str, decision: Match) -> bool:
        """A named face whose evidence drifts just past the tolerance, still nearest to the same
        person, keeps its name: a margin's width of hysteresis, so a name does not flicker to
        Unknown on a face that sits at the threshold."""
        return (name != UNKNOWN and decision.name == UNKNOWN and decision.nearest == name
                and decision.distance <= self.tolerance + self.config.margin)

    def _set(self, track: Track, decision: Match, timestamp: float, frame_index: int) -> None:
        track.confirmed, track.confirmed_at, track.confirmed_index = decision.name, timestamp, frame_index
        track.distance, track.disagreeing = decision.distance, 0

    def _clear(self, decision: Match, track: Track) -> bool:
        """Well inside the tolerance, well ahead of the next person, and a well-seen face."""
        c = self.config
        return (c.confirm_at_once > 0 and decision.name != UNKNOWN
                and decision.distance <= self.tolerance - c.confirm_at_once
                and decision.second - decision.distance >= 2 * c.margin
                and track.evidence.weight >= AT_ONCE_QUALITY)

    def add_encoding(self, track_id: int, box: Box, encoding: np.ndarray, weight: float,
                     timestamp: float) -> tuple[np.ndarray, np.ndarray]:
        """Add one encoding (seen this well, evidence.quality) to the track's evidence; the
        evidence to decide on: (encodings, weights), the encoding alone for a track just dropped.
        Another person's encoding makes the track forget its name."""
        track = self.tracks.get(track_id)
        if track is None:
            return encoding[None, :], np.ones(1)
        track.last_result = (box, encoding)
        if not track.evidence.add(encoding, weight, timestamp):
            self._forget_name(track, timestamp)
        return track.evidence.encodings(), track.evidence.weights()

    def _forget_name(self, track: Track, timestamp: float) -> None:
        """The box holds another face now: it starts unnamed, as a new face would."""
        track.confirmed = track.confirmed_at = track.confirmed_index = track.distance = None
        track.decision, track.disagreeing, track.announced = None, 0, None
        track.frame_names.clear()
        track.restarts += 1
        if self.liveness is not None:
            track.liveness = LivenessCheck(self.liveness, timestamp + self.config.liveness_seconds)

    def feed_liveness(self, track_id: int, landmarks: np.ndarray, timestamp: float) -> None:
        """The face's 68 landmarks in this frame, for the track's liveness check."""
        track = self.tracks.get(track_id)
        if track is not None and track.liveness is not None:
            track.liveness.feed(landmarks, timestamp)

    def waiting_to_announce(self, timestamp: float) -> list[Track]:
        """Tracks whose liveness check ran out or ended by TIMESTAMP and whose confirmed name was
        never handed on (it waited for the check)."""
        waiting = []
        for track in self.visible():
            if track.liveness is not None:
                track.liveness.expire(timestamp)
                if track.confirmed is not None and track.announced != track.confirmed:
                    waiting.append(track)
        return waiting

    def announce(self, track: Track) -> None:
        """The track's confirmed name has been handed on as a confirmation (its event)."""
        track.announced = track.confirmed

    def recheck_all(self) -> None:
        """Every track asks for an encoding again (a new gallery to match against)."""
        for track in self.visible():
            track.last_checked = None

    def visible(self) -> list[Track]:
        return list(self.tracks.values())

    def drawn(self, now: float, found_since: float, cut: float) -> list[Track]:
        """The tracks to draw at NOW, newest first. A track is remembered for the timeout so a face
        missed once keeps its identity, but it is drawn only while it is found (last seen at or
        after FOUND_SINCE); one that overlaps a track seen more recently is the same face followed
        anew and is not drawn twice. After a CUT (the frame time of another picture altogether)
        only what the new picture showed is drawn: a track from before it, until it was decided
        on again in the new picture, might be another face in its place."""
        recent = [t for t in self.tracks.values()
                  if now - t.last_seen <= self.timeout and t.last_seen >= found_since
                  and (t.first_seen >= cut or (t.last_checked is not None and t.last_checked >= cut))]
        recent.sort(key=lambda t: t.last_seen, reverse=True)
        shown: list[Track] = []
        for track in recent:
            if all(overlap(track.box, other.box) < MIN_OVERLAP for other in shown):
                shown.append(track)
        return shown
