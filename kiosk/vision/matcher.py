"""Matching face encodings against the whole gallery, with a rule that knows when it is unsure.

The rule, for each face:

1. Each person's score is the mean distance from the face to that person's `neighbors` (3)
   nearest samples (all of them when the person has fewer). The single nearest sample, the
   tutorials' rule, is an extreme value: every extra enrolled photo is one more chance for a
   stranger to land close to somebody, so it names more strangers the more photos people
   enroll. A mean over a few nearest samples needs the face to agree with several of them.
2. A person ruled out for this face by a known confusion (an admin said "this face is not X",
   see `kiosk events correct --not`) is skipped: the confusion counts as a negative sample of X,
   and a face closer to X's nearest negative than X's score is not X.
3. The best remaining person is the name only when their score is within `tolerance` (dlib's
   model is trained so that 0.6 separates people; calibration.py chooses a stricter one for
   the gallery at hand) AND the second-best person scores at least `margin` more. A face about
   as close to two people is a coin toss: unknown.

Figures that chose the constants (faces_dev: 5 people, 87 enrolled web photos, 5 jitters;
open set = every photo of a person left out of the gallery, 112 photos with a face):

    rule                                  open set named   closed set right/wrong (24 probes)
    nearest sample <= 0.60                    17 / 112          24 / 0
    nearest sample <= 0.55                     0 / 112          24 / 0
    mean of 3 nearest <= 0.60                  1 / 112          24 / 0
    mean of 3 nearest <= 0.60, margin 0.05     0 / 112          24 / 0

The margin of 0.05 is about a tenth of the typical same-person distance (0.4-0.5) and well under
the typical gap between two different people (0.15-0.3); `kiosk tune` measures both on the
enrolled gallery and suggests tolerance and margin for it.

The gallery is one float32 matrix with rows grouped by person, so one matrix product gives all
distances and a few `np.minimum.reduceat` passes give every person's nearest samples: fast for
100k samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.names import UNKNOWN

NEIGHBORS = 3
MARGIN = 0.05


def distances(a: np.ndarray, b: np.ndarray, b_squared_norms: np.ndarray | None = None) -> np.ndarray:
    """(len(a) x len(b)) Euclidean distances between the rows of A and of B, in A's precision.

    |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix product for all pairs, instead of a
    len(a) x len(b) x dimensions array of differences.
    """
    if b_squared_norms is None:
        b_squared_norms = np.einsum("ij,ij->i", b, b)
    squared = np.einsum("ij,ij->i", a, a)[:, None] + b_squared_norms[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


@dataclass(frozen=True)
class MatchRule:
    """The decision rule's settings (recognition.tolerance, .margin, .neighbors in config.yaml)."""
    tolerance: float = 0.6
    margin: float = MARGIN
    neighbors: int = NEIGHBORS

    @classmethod
    def from_config(cls, config) -> MatchRule:
        return cls(config.tolerance, config.margin, config.neighbors)


@dataclass(frozen=True)
class Match:
    name: str  # a person's name, or "unknown"
    distance: float  # the closest person's score (inf for an empty gallery)
    nearest: str = ""  # closest person even when not named
    second: float = float("inf")  # the second-closest person's score
    reason: str = ""  # why a close face stayed unknown: "too far", "ambiguous", ""


class Gallery:
    """Immutable snapshot of the enrolled encodings, ready for vectorised matching."""

    def __init__(self, names: list[str], counts: list[int], encodings: np.ndarray, generation: int = 0,
                 negatives: dict[str, np.ndarray] | None = None, strangers: np.ndarray | None = None,
                 stranger_ids: list[int] | None = None):
        """names[i] owns the next counts[i] rows of encodings (rows grouped by person, one
        encoder's encodings: their length is the gallery's `dimensions`).

        negatives maps a name to encodings of faces known NOT to be that person; strangers are
        faces known to be nobody enrolled (kept unknown faces, oldest first), which calibration.py
        counts; stranger_ids are their ids in the store (for saying which ones), when known.
        """
        self.names = list(names)
        self.counts = list(counts)
        encodings = np.asarray(encodings, dtype=np.float32)
        self.dimensions = encodings.shape[1] if encodings.ndim == 2 else encodings.size
        self.encodings = np.ascontiguousarray(encodings).reshape(-1, self.dimensions)
        if sum(counts) != len(self.encodings) or any(c <= 0 for c in counts):
            raise ValueError("counts must be positive and add up to the number of encodings")
        self.starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
        self.squared_norms = np.einsum("ij,ij->i", self.encodings, self.encodings)
        self.generation = generation
        self.strangers = np.empty((0, self.dimensions), np.float32) if strangers is None else \
            np.asarray(strangers, dtype=np.float32).reshape(-1, self.dimensions)
        self.stranger_ids = list(stranger_ids) if stranger_ids is not None else list(range(len(self.strangers)))
        index = {name: i for i, name in enumerate(self.names)}
        self.negatives = {index[name]: np.asarray(rows, dtype=np.float32).reshape(-1, self.dimensions)
                          for name, rows in (negatives or {}).items() if name in index and len(rows)}

    @classmethod
    def empty(cls, generation: int, dimensions: int) -> Gallery:
        return cls([], [], np.empty((0, dimensions), np.float32), generation)

    def __len__(self) -> int:
        return len(self.encodings)

    @property
    def people(self) -> int:
        return len(self.names)

    def without(self, name: str) -> Gallery:
        """The same gallery with one person left out (open-set evaluation)."""
        keep = [i for i, n in enumerate(self.names) if n != name]
        rows = [self.encodings[self.starts[i]:self.starts[i] + self.counts[i]] for i in keep]
        negatives = {self.names[i]: rows_ for i, rows_ in self.negatives.items() if i in keep}
        return Gallery([self.names[i] for i in keep], [self.counts[i] for i in keep],
                       np.vstack(rows) if rows else np.empty((0, self.dimensions), np.float32), self.generation,
                       negatives)

    def sample_distances(self, faces: np.ndarray) -> np.ndarray:
        """(faces x samples) Euclidean distances."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, self.dimensions)
        return distances(faces, self.encodings, self.squared_norms)

    def person_scores(self, faces: np.ndarray, neighbors: int) -> np.ndarray:
        """(faces x people): mean distance from each face to each person's `neighbors` nearest samples.

        Rows are grouped by person, so each pass takes every person's smallest remaining distance
        at once (`np.minimum.reduceat`); `neighbors` passes give the k nearest without sorting.
        Ties are counted as often as they occur.
        """
        return self.scores_from(self.sample_distances(faces), neighbors)

    def scores_from(self, remaining: np.ndarray, neighbors: int) -> np.ndarray:
        """(rows x people) person scores from REMAINING, a (rows x samples) distance matrix that
        this changes (inf marks a sample left out; a person with none left scores inf)."""
        counts = np.asarray(self.counts)
        wanted = np.minimum(counts, neighbors)[None, :]
        total = np.zeros((len(remaining), len(self.names)))
        taken = np.zeros_like(total)
        for _ in range(neighbors):
            smallest = np.minimum.reduceat(remaining, self.starts, axis=1)
            hit = remaining == np.repeat(smallest, counts, axis=1)
            ties = np.add.reduceat(hit, self.starts, axis=1)
            use = np.where(np.isfinite(smallest), np.minimum(ties, wanted - taken), 0)
            total += use * np.where(np.isfinite(smallest), smallest, 0.0)
            taken += use
            if (taken >= wanted).all():
                break
            remaining[hit] = np.inf
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(taken > 0, total / np.maximum(taken, 1), np.inf)

    def match(self, faces: np.ndarray, rule: MatchRule | float) -> list[Match]:
        """The decision for each face (see the module docstring); a bare float is a tolerance."""
        if not isinstance(rule, MatchRule):
            rule = MatchRule(float(rule))
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, self.dimensions)
        if not self.names:
            return [Match(UNKNOWN, float("inf")) for _ in range(len(faces))]
        return [self._decide(row, rule) for row in self._scores(faces, rule)]

    def match_evidence(self, faces: np.ndarray, weights: np.ndarray, rule: MatchRule) -> Match:
        """One decision for several encodings of one face (a track's evidence): each person's
        score is the WEIGHTS-weighted mean of the faces' scores, decided by the same rule.

        Averaging scores, unlike averaging the encodings, leaves their centre where single photos
        put it (a mean encoding lies nearer to everybody, look-alikes included), so the rule's
        tolerance, calibrated on single photos, keeps its meaning; only the frame-to-frame noise
        (one blurred frame, one lucky angle) is averaged away."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, self.dimensions)
        if not self.names or not len(faces):
            return Match(UNKNOWN, float("inf"))
        weights = np.asarray(weights, dtype=np.float64).reshape(-1, 1)
        return self._decide((weights * self._scores(faces, rule)).sum(axis=0) / weights.sum(), rule)

    def _scores(self, faces: np.ndarray, rule: MatchRule) -> np.ndarray:
        """(faces x people) person scores, a person ruled out by a known confusion set to inf."""
        scores = self.person_scores(faces, rule.neighbors)
        for person, negatives in self.negatives.items():
            # An admin said a face like this one is not this person: nearer the negative, not them.
            nearest_negative = distances(faces, negatives).min(axis=1)
            scores[nearest_negative < scores[:, person], person] = np.inf
        return scores

    def _decide(self, scores: np.ndarray, rule: MatchRule) -> Match:
        order = np.argsort(scores)[:2] if len(scores) > 2 else np.argsort(scores)
        best = float(scores[order[0]])
        second = float(scores[order[1]]) if len(order) > 1 else float("inf")
        if not np.isfinite(best):
            return Match(UNKNOWN, float("inf"))
        name = self.names[order[0]]
        if best > rule.tolerance:
            return Match(UNKNOWN, best, name, second, "too far")
        if second - best < rule.margin:
            return Match(UNKNOWN, best, name, second, "ambiguous")
        return Match(name, best, name, second)
