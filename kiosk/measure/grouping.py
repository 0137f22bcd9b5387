"""`kiosk eval-groups`: how well unknown visitors are grouped, on photos of people whose names are known.

Every photo of PHOTOS_DIR (one folder per person) is encoded as an import encodes it and treated
as one kept unknown face; the faces are grouped exactly as `kiosk unknowns groups` groups them, at
recognition.group_tolerance (or at each of --tolerances). Reported per
tolerance: of the pairs put together, how many are one person (precision); of the pairs of one
person, how many were put together (recall); and how many groups hold more than one person. The
same figures for dlib's chinese whispers (any close pair joins) are printed beside, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.enrollment.encoding import PhotoEncoder, worker_count
from kiosk.enrollment.photos import read_photo
from kiosk.measure.evaluate import person_photos
from kiosk.vision.grouping import group_faces, pair_score


@dataclass(frozen=True)
class GroupingRow:
    method: str
    tolerance: float
    groups: int
    mixed_groups: int  # groups holding faces of more than one person
    precision: float
    recall: float
    wrong_pairs: int

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def encode_folders(root: Path, config: Config, people: list[str] | None = None) -> tuple[np.ndarray, list[str], int]:
    """Encodings of every photo with one face under ROOT/<person>/ (only PEOPLE's when given),
    their owners, and the number of photos that gave no encoding."""
    jobs = [job for job in person_photos(root) if people is None or job[0] in people]
    max_bytes = int(config.enrollment.max_file_mb * 1024 * 1024)
    encoder = PhotoEncoder(config.enrollment, worker_count(config.enrollment), config.recognition.encoder)
    found: dict[tuple[str, str], np.ndarray] = {}
    try:
        for key, result in encoder.map((job, read_photo(root, job[1], max_bytes)) for job in jobs):
            if result.embedding is not None:
                found[key] = result.embedding
    finally:
        encoder.close()
    keys = sorted(found)
    if not keys:
        return np.zeros((0, 0)), [], len(jobs)
    return np.stack([found[key] for key in keys]), [key[0] for key in keys], len(jobs) - len(keys)


def chinese_whispers(embeddings: np.ndarray, tolerance: float) -> list[list[int]]:
    """dlib's graph clustering: every pair within TOLERANCE is an edge (single-linkage-like)."""
    import dlib  # late on purpose: only the comparison needs it

    labels = dlib.chinese_whispers_clustering([dlib.vector(row.tolist()) for row in embeddings], tolerance)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    return list(groups.values())


def score(method: str, tolerance: float, groups: list[list[int]], owners: list[str]) -> GroupingRow:
    pairs = pair_score(groups, owners)
    mixed = sum(1 for group in groups if len({owners[i] for i in group}) > 1)
    return GroupingRow(method, tolerance, len(groups), mixed, pairs.precision, pairs.recall, pairs.together_different)


def measure(embeddings: np.ndarray, owners: list[str], tolerances: list[float]) -> list[GroupingRow]:
    rows = []
    for tolerance in tolerances:
        rows.append(score("kiosk (average linkage)", tolerance, group_faces(embeddings, tolerance).groups, owners))
        rows.append(score("chinese whispers (dlib)", tolerance, chinese_whispers(embeddings, tolerance), owners))
    return rows


def print_report(rows: list[GroupingRow], faces: int, people: int, skipped: int, default: float) -> None:
    print(f"{faces} faces of {people} people ({skipped} photo(s) gave no face); the kiosk groups at "
          f"tolerance {default:.3f}")
    print(f"{'method':<26}{'tolerance':>10}{'groups':>8}{'mixed':>7}{'precision':>11}{'recall':>8}{'wrong pairs':>13}")
    for row in rows:
        print(f"{row.method:<26}{row.tolerance:>10.3f}{row.groups:>8}{row.mixed_groups:>7}"
              f"{row.precision:>11.3f}{row.recall:>8.3f}{row.wrong_pairs:>13}")
