"""Following faces across frames so each is encoded when it appears, not on every frame.

A detection joins the track whose last box overlaps it most (intersection over union). A track
asks for an encoding while it is unconfirmed and then only every `recheck_seconds`. Its name is
a vote over its recent results: shown only once `confirm_votes` of the last `vote_window`
results agree, so a single bad frame neither shows a wrong name nor makes the name flicker.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from kiosk.config import RecognitionConfig
from kiosk.vision.boxes import Box, pair_boxes
from kiosk.vision.liveness import LivenessCheck
from kiosk.vision.matcher import UNKNOWN, Match

MIN_OVERLAP = 0.3


@dataclass
class Track:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    first_seen_index: int
    votes: deque = field(default_factory=deque)
    last_checked: float | None = None
    confirmed: str | None = None  # a name or "unknown", once the vote agrees
    confirmed_at: float | None = None
    confirmed_index: int | None = None
    distance: float | None = None  # of the latest result for the confirmed name
    liveness: LivenessCheck | None = None  # with recognition.liveness on
    announced: str | None = None  # the name last handed on as a confirmation (event)
    last_result: tuple[Box, np.ndarray] | None = None  # box and encoding of the latest result


class Tracker:
    """Tracks for the faces currently in view. Not thread-safe: callers hold a lock."""

    def __init__(self, config: RecognitionConfig):
        self.config = config
        self.tolerance = config.tolerance  # the rule's, as calibrated for the gallery (set by the recognizer)
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def update(self, boxes: list[Box], timestamp: float, frame_index: int) -> list[Track]:
        """Match detections to tracks, start new ones, drop lost ones; return tracks to encode."""
        followed = list(self.tracks.values())
        used_boxes: set[int] = set()
        for t, i in pair_boxes([track.box for track in followed], boxes, MIN_OVERLAP):
            followed[t].box, followed[t].last_seen = boxes[i], timestamp
            used_boxes.add(i)
        for i, box in enumerate(boxes):
            if i not in used_boxes:
                track = Track(next(self._ids), box, timestamp, timestamp, frame_index,
                              deque(maxlen=self.config.vote_window))
                if self.config.liveness != "off":
                    track.liveness = LivenessCheck(self.config.liveness, timestamp + self.config.liveness_seconds)
                self.tracks[track.id] = track
        for track_id in [t.id for t in self.tracks.values()
                         if timestamp - t.last_seen > self.config.track_timeout]:
            del self.tracks[track_id]
        return [t for t in self.tracks.values() if t.last_seen == timestamp and self._wants_encoding(t, timestamp)]

    def _wants_encoding(self, track: Track, now: float) -> bool:
        return (track.confirmed is None or track.last_checked is None
                or now - track.last_checked >= self.config.recheck_seconds)

    def add_result(self, track_id: int, match: Match, timestamp: float, frame_index: int) -> bool:
        """Record one recognition result; True when the track's shown name is newly confirmed."""
        track = self.tracks.get(track_id)
        if track is None:
            return False
        track.last_checked = timestamp
        track.votes.append((match.name, match.distance))
        if track.confirmed is None and self._clear(match):  # a clear first answer needs no second
            track.confirmed, track.confirmed_at, track.confirmed_index = match.name, timestamp, frame_index
            track.distance = match.distance
            return True
        name, count = Counter(n for n, _ in track.votes).most_common(1)[0]
        if count < self.config.confirm_votes or name == track.confirmed:
            if name == track.confirmed:
                track.distance = match.distance if match.name == name else track.distance
            return False
        track.confirmed, track.confirmed_at, track.confirmed_index = name, timestamp, frame_index
        track.distance = min(d for n, d in track.votes if n == name)
        return True

    def _clear(self, match: Match) -> bool:
        """Well inside the tolerance and well ahead of the next person: no vote needed."""
        c = self.config
        return (c.confirm_at_once > 0 and match.name != UNKNOWN and match.distance <= self.tolerance - c.confirm_at_once
                and match.second - match.distance >= 2 * c.margin)

    def visible(self) -> list[Track]:
        return list(self.tracks.values())
