"""Matching face encodings against the whole gallery at once.

The rule: for each face, compute the Euclidean distance to every enrolled sample, take each
person's nearest sample, and pick the person whose nearest sample is closest. The face is that
person only when the distance is at most `tolerance` (dlib's model is trained so that 0.6
separates people); otherwise it is "unknown". The distance is always reported.

The gallery is one float32 matrix with rows grouped by person, so one matrix product gives all
distances and `np.minimum.reduceat` gives each person's nearest sample: fast for 100k samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Match:
    name: str  # a person's name, or "unknown"
    distance: float  # to the nearest sample of the closest person (inf for an empty gallery)
    nearest: str = ""  # closest person even when too far to be named


class Gallery:
    """Immutable snapshot of the enrolled encodings, ready for vectorised matching."""

    def __init__(self, names: list[str], counts: list[int], encodings: np.ndarray, generation: int = 0):
        """names[i] owns the next counts[i] rows of encodings (rows grouped by person)."""
        self.names = list(names)
        self.encodings = np.ascontiguousarray(encodings, dtype=np.float32).reshape(-1, 128)
        if sum(counts) != len(self.encodings) or any(c <= 0 for c in counts):
            raise ValueError("counts must be positive and add up to the number of encodings")
        self.starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
        self.squared_norms = np.einsum("ij,ij->i", self.encodings, self.encodings)
        self.generation = generation

    @classmethod
    def empty(cls, generation: int = 0) -> "Gallery":
        return cls([], [], np.empty((0, 128), np.float32), generation)

    def __len__(self) -> int:
        return len(self.encodings)

    @property
    def people(self) -> int:
        return len(self.names)

    def person_distances(self, faces: np.ndarray) -> np.ndarray:
        """(faces x people) matrix: distance from each face to each person's nearest sample."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, 128)
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, computed for all pairs with one matrix product.
        squared = (np.einsum("ij,ij->i", faces, faces)[:, None] + self.squared_norms[None, :]
                   - 2.0 * faces @ self.encodings.T)
        nearest_per_person = np.minimum.reduceat(squared, self.starts, axis=1)
        return np.sqrt(np.maximum(nearest_per_person, 0.0))

    def match(self, faces: np.ndarray, tolerance: float) -> list[Match]:
        """Best person for each face, or unknown when farther than tolerance."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, 128)
        if not self.names:
            return [Match(UNKNOWN, float("inf")) for _ in range(len(faces))]
        distances = self.person_distances(faces)
        best = distances.argmin(axis=1)
        matches = []
        for row, person in enumerate(best):
            distance = float(distances[row, person])
            name = self.names[person]
            matches.append(Match(name if distance <= tolerance else UNKNOWN, distance, name))
        return matches
