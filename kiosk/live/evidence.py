"""What a followed face has shown so far: its best encodings, weighted by how well each was seen.

One frame is a poor witness: a blurred face, a half-turned head or a face far from the camera
lands further from its own samples, and now and then nearer somebody else's. A track meets the
camera in many frames, so the kiosk decides on the track's best encodings together
(`Gallery.match_evidence`: each person's score is the weighted mean of the encodings' scores),
not on the latest one. Each encoding is weighted by the face's size and sharpness (`quality`):
a face of FULL_SIZE pixels and up counts fully, a tiny one little; a sharp one fully, a smeared
one little.

Why the scores and not the encodings are averaged: a mean encoding lies nearer to everybody.
On 483 strangers' visits made from lfw_dev photos (`kiosk eval --live`), deciding on the mean
encoding at the single photo's threshold named 9 of them, on the mean of the scores 5, with
69 of 77 members named either way.

Only the KEEP best encodings of the last KEEP_SECONDS count, and an encoding further than
HANDOVER from the evidence so far (another person: one person's frames lie well within dlib's
0.6 of each other) starts the evidence anew, so a track handed from one person to another (two
faces crossing) is decided on the new face alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from kiosk.vision.boxes import Box

TINY = 40  # pixels across: a face this small counts as little as it can
FULL_SIZE = 100  # pixels across: a face this large counts fully for its size
SHARP_FULL = 60.0  # variance of the Laplacian of the face at SHARP_SIDE px for full weight
SHARP_SIDE = 96
LEAST = 0.05  # the smallest weight: a poor frame still counts when it is all there is
KEEP = 6
KEEP_SECONDS = 10.0
HANDOVER = 0.7


def quality(image: np.ndarray, box: Box) -> float:
    """0.05-1: how well the face in BOX of IMAGE (RGB) was seen, from its size and sharpness."""
    top, right, bottom, left = box
    side = min(bottom - top, right - left)
    size_weight = float(np.clip((side - TINY) / (FULL_SIZE - TINY), LEAST, 1.0))
    crop = image[max(0, top):max(0, bottom), max(0, left):max(0, right)]
    if crop.size == 0:
        return LEAST
    grey = cv2.cvtColor(cv2.resize(crop, (SHARP_SIDE, SHARP_SIDE), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    sharp_weight = float(np.clip(sharpness / SHARP_FULL, LEAST, 1.0))
    return round(size_weight * sharp_weight, 4)


@dataclass(frozen=True)
class Observation:
    encoding: np.ndarray
    weight: float  # quality() of the face it came from
    at: float  # frame time


@dataclass
class Evidence:
    """The encodings a track has gathered; the best KEEP of the last KEEP_SECONDS count."""
    kept: list[Observation] = field(default_factory=list)
    frames: int = 0  # encodings ever added (the evidence behind the decision uses `used`)

    def add(self, encoding: np.ndarray, weight: float, at: float) -> bool:
        """Add one encoding; False when it is another person's and the evidence started anew."""
        encoding = np.asarray(encoding, np.float32)
        same = not self.kept or float(np.linalg.norm(encoding - self.mean())) <= HANDOVER
        if not same:
            self.kept, self.frames = [], 0
        self.frames += 1
        recent = [o for o in self.kept if at - o.at <= KEEP_SECONDS]
        recent.append(Observation(encoding, max(LEAST, weight), at))
        recent.sort(key=lambda o: o.weight, reverse=True)
        self.kept = recent[:KEEP]
        return same

    @property
    def used(self) -> int:
        """Encodings the decision is made of."""
        return len(self.kept)

    @property
    def weight(self) -> float:
        return sum(o.weight for o in self.kept)

    def encodings(self) -> np.ndarray:
        return np.stack([o.encoding for o in self.kept])

    def weights(self) -> np.ndarray:
        return np.array([o.weight for o in self.kept])

    def mean(self) -> np.ndarray:
        """The weighted mean of the kept encodings (where the face is, to tell another face from it)."""
        weights = self.weights()
        return ((weights[:, None] * self.encodings()).sum(axis=0) / weights.sum()).astype(np.float32)
