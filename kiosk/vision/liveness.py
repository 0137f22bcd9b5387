"""Is the face in front of the camera a person, or a picture of one? Two classic cues from the 68
facial landmarks of a followed face.

- Blink: the eyes' openness (eyelid gaps over the nose's length) drops well below the face's own
  open-eye level and comes back within BLINK_SECONDS. A printed photo never blinks;
  a video replayed on a phone does, so blink alone does not stop a replay.
- Depth from motion: every view of a flat picture (held, moved, tilted, bent a little) maps the
  landmarks of one frame onto another by a single homography, up to the landmark noise. A real head
  that turns, talks or changes expression does not: the nose moves against the cheeks, the jaw
  against the eyes. The check fits the homography between the face's first landmarks and each later
  set and measures what is left over, in eye-distance units so it holds at any face size. The noise
  floor is the face's own: leftovers between frames a moment apart, where a real face has had no
  time to move in depth. A face that stays perfectly still passes only by blinking (mode both) or
  not at all: it is asked to look at the camera and move a little.

A check that has not passed within its time fails: the face gets no event, no greeting, no door.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from kiosk.vocabulary import LivenessState

MODES = ("off", "blink", "motion", "both")
RIGHT_EYE, LEFT_EYE = slice(36, 42), slice(42, 48)
BLINK_DROP = 0.6  # a blink: the eyes' openness below this share of the open-eye level ...
BLINK_RECOVER = 0.85  # ... and back above this share ...
BLINK_SECONDS = 0.6  # ... within this long
OPEN_EYES_SAMPLES = 15  # openness values the open-eye level (their median) is taken from
DEPTH_RESIDUAL = 0.06  # leftover of the homography fit, in eye distances, that no picture shows ...
DEPTH_NOISE_FACTOR = 3.0  # ... and at least this many times the face's own landmark noise
DEPTH_FRAMES = 3  # frames that must show it
NOISE_PAIRS = 8  # consecutive-frame fits the noise floor is taken from (their median)


NOSE_TOP, NOSE_TIP = 27, 33


def eye_openness(points: np.ndarray) -> float:
    """The eyelid gaps (both eyes, two each) over the length of the nose. Both run up and down the
    face side by side, so tilting, turning or bending a picture changes them alike and the ratio
    stays; the eye's width, the classic eye aspect ratio's yardstick, does not (a picture tilted
    back shortens the gaps but not the width, which looks like a blink)."""
    gaps = sum(float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
               for eye in (points[RIGHT_EYE], points[LEFT_EYE]))
    return gaps / (4.0 * max(float(np.linalg.norm(points[NOSE_TOP] - points[NOSE_TIP])), 1e-6))


def eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[RIGHT_EYE].mean(axis=0) - points[LEFT_EYE].mean(axis=0)))


def planar_residual(first: np.ndarray, later: np.ndarray) -> float:
    """Root mean square distance, in eye distances, between LATER and FIRST mapped onto it by the
    best homography: about the landmark noise for a flat picture, more for a real head."""
    homography, _ = cv2.findHomography(first.astype(np.float64), later.astype(np.float64), 0)
    if homography is None:
        return 0.0
    mapped = cv2.perspectiveTransform(first.reshape(-1, 1, 2).astype(np.float64), homography).reshape(-1, 2)
    rms = float(np.sqrt(np.mean(np.sum((mapped - later) ** 2, axis=1))))
    return rms / max(eye_distance(later), 1e-6)


@dataclass
class LivenessCheck:
    """The check of one followed face: feed() its landmarks frame by frame until it passes."""
    mode: str  # blink, motion or both (either cue passes)
    deadline: float  # when it fails if it has not passed
    passed: bool = False
    failed: bool = False
    cue: str = ""  # what passed it: blink or motion
    _ratios: deque = field(default_factory=lambda: deque(maxlen=OPEN_EYES_SAMPLES))
    _closed_at: float | None = None
    _first: np.ndarray | None = None
    _previous: np.ndarray | None = None
    _noise: deque = field(default_factory=lambda: deque(maxlen=NOISE_PAIRS))
    _deep_frames: int = 0

    @property
    def state(self) -> LivenessState:
        return LivenessState.PASSED if self.passed else LivenessState.FAILED if self.failed else LivenessState.CHECKING

    def feed(self, points: np.ndarray, now: float) -> str:
        """Landmarks (68x2, frame pixels) of the face at time NOW; returns the state."""
        if self.passed or self.failed:
            return self.state
        if self.mode in ("blink", "both") and self._blinked(points, now):
            self.passed, self.cue = True, "blink"
        elif self.mode in ("motion", "both") and self._moved_in_depth(points):
            self.passed, self.cue = True, "motion"
        elif now >= self.deadline:
            self.failed = True
        return self.state

    def expire(self, now: float) -> str:
        """Fail a check whose face was not seen again before its deadline."""
        if not self.passed and now >= self.deadline:
            self.failed = True
        return self.state

    def _blinked(self, points: np.ndarray, now: float) -> bool:
        ratio = eye_openness(points)
        open_level = float(np.median(self._ratios)) if len(self._ratios) >= 5 else None
        self._ratios.append(ratio)
        if open_level is None:
            return False
        if ratio < BLINK_DROP * open_level:
            if self._closed_at is None:
                self._closed_at = now
            return False
        blinked = self._closed_at is not None and ratio > BLINK_RECOVER * open_level \
            and now - self._closed_at <= BLINK_SECONDS
        if ratio > BLINK_RECOVER * open_level:
            self._closed_at = None
        return blinked

    def _moved_in_depth(self, points: np.ndarray) -> bool:
        if self._first is None:
            self._first = self._previous = points
            return False
        assert self._previous is not None  # set with _first
        self._noise.append(planar_residual(self._previous, points))
        self._previous = points
        if len(self._noise) < 3:
            return False
        floor = float(np.median(self._noise))
        leftover = planar_residual(self._first, points)
        deep = leftover > DEPTH_RESIDUAL and leftover > DEPTH_NOISE_FACTOR * floor
        self._deep_frames = self._deep_frames + 1 if deep else 0
        return self._deep_frames >= DEPTH_FRAMES
