"""Faces nobody could name, grouped into individuals: the visitor seen 14 times is one group.

Average linkage: every face starts as its own group, and the two closest groups join while the
mean distance between their faces is within the tolerance (recognition.group_tolerance). Unlike
"any close pair joins" (single linkage, or dlib's chinese whispers), a few close pairs between
two look-alike strangers do not chain them into one group: on the 924 faces of lfw_dev's 466
strangers, at 0.5, 96 % of the pairs put together were one person and 90 % of each person's
pairs were found, where chinese whispers put 42 % of its pairs right (`kiosk eval-groups`,
measure/grouping.py, prints both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.vision.matcher import distances


@dataclass(frozen=True)
class Grouping:
    """Which group each face is in (indexes into the faces given), largest group first."""
    groups: list[list[int]]
    tolerance: float


def group_faces(embeddings: np.ndarray, tolerance: float) -> Grouping:
    """Average-linkage groups of EMBEDDINGS (one row per face) whose mean distance is within
    TOLERANCE. Deterministic: the same faces give the same groups, in the same order (largest
    first, then by their first face), so a group can be named by its first face."""
    count = len(embeddings)
    if count == 0:
        return Grouping([], tolerance)
    faces = np.asarray(embeddings, dtype=np.float64)
    # Sum of distances between every two groups and their sizes; mean = sum / (size_a * size_b),
    # updated only in the row and column of the group that grew.
    sums = distances(faces, faces)
    sizes = np.ones(count)
    means = sums.copy()
    np.fill_diagonal(means, np.inf)
    alive = np.ones(count, dtype=bool)
    members: list[list[int]] = [[i] for i in range(count)]
    while True:
        a, b = divmod(int(np.argmin(means)), count)
        if not means[a, b] <= tolerance:
            break
        keep, gone = min(a, b), max(a, b)
        sums[keep, :] += sums[gone, :]
        sums[:, keep] = sums[keep, :]
        sizes[keep] += sizes[gone]
        means[keep, :] = sums[keep, :] / (sizes * sizes[keep])
        alive[gone] = False
        means[keep, ~alive] = np.inf
        means[:, keep] = means[keep, :]
        means[gone, :] = means[:, gone] = np.inf
        means[keep, keep] = np.inf
        members[keep].extend(members[gone])
        members[gone] = []
    groups = [sorted(group) for group in members if group]
    groups.sort(key=lambda group: (-len(group), group[0]))
    return Grouping(groups, tolerance)


@dataclass(frozen=True)
class PairScore:
    """How a grouping pairs faces whose owners are known: pairs put together that are one person
    (precision) and the same-person pairs it found (recall)."""
    together_same: int
    together_different: int
    same_pairs: int

    @property
    def precision(self) -> float:
        together = self.together_same + self.together_different
        return self.together_same / together if together else 1.0

    @property
    def recall(self) -> float:
        return self.together_same / self.same_pairs if self.same_pairs else 1.0


def pair_score(groups: list[list[int]], owners: list[str]) -> PairScore:
    """Score GROUPS against OWNERS (who each face really is)."""
    together_same = together_different = 0
    for group in groups:
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                if owners[first] == owners[second]:
                    together_same += 1
                else:
                    together_different += 1
    counts: dict[str, int] = {}
    for owner in owners:
        counts[owner] = counts.get(owner, 0) + 1
    same_pairs = sum(n * (n - 1) // 2 for n in counts.values())
    return PairScore(together_same, together_different, same_pairs)
