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

from kiosk.config import RecognitionConfig
from kiosk.engine import Box
from kiosk.matcher import Match

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


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Tracks for the faces currently in view. Not thread-safe: callers hold a lock."""

    def __init__(self, config: RecognitionConfig):
        self.config = config
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    def update(self, boxes: list[Box], timestamp: float, frame_index: int) -> list[Track]:
        """Match detections to tracks, start new ones, drop lost ones; return tracks to encode."""
        pairs = sorted(((overlap(track.box, box), track.id, i) for track in self.tracks.values()
                        for i, box in enumerate(boxes)), reverse=True)
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for score, track_id, i in pairs:
            if score < MIN_OVERLAP:
                break
            if track_id in used_tracks or i in used_boxes:
                continue
            track = self.tracks[track_id]
            track.box, track.last_seen = boxes[i], timestamp
            used_tracks.add(track_id)
            used_boxes.add(i)
        for i, box in enumerate(boxes):
            if i not in used_boxes:
                track = Track(next(self._ids), box, timestamp, timestamp, frame_index,
                              deque(maxlen=self.config.vote_window))
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
        name, count = Counter(n for n, _ in track.votes).most_common(1)[0]
        if count < self.config.confirm_votes or name == track.confirmed:
            if name == track.confirmed:
                track.distance = match.distance if match.name == name else track.distance
            return False
        track.confirmed, track.confirmed_at, track.confirmed_index = name, timestamp, frame_index
        track.distance = min(d for n, d in track.votes if n == name)
        return True

    def visible(self) -> list[Track]:
        return list(self.tracks.values())
