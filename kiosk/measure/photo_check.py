"""`kiosk eval-check`: how often the photo check (enrollment/consistency.py) holds back honest
photos, and how often it catches foreign ones planted in a person's folder.

Every photo of PHOTOS_DIR (one folder per person, taken as honest) is encoded once, as an import
encodes it; then, for each pair of settings on a grid of enrollment.suspect_distance and
suspect_spread, the check runs exactly as after an import of the whole folder (each person
against everybody else enrolled):

- honest folders alone: the share of honest photos held back;
- one foreign photo planted in each folder (a stranger's from --strangers, else another person's
  of the folder, that person then left out of the gallery: a stick's stranger is nobody
  enrolled), --draws times per person: the share caught, and the honest photos held back beside;
- two photos of one foreign person planted (a namesake's photos under the same name): the same.

The configured pair is marked; the figures chose the defaults (README, "Photos held back").
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.consistency import MIN_PHOTOS, check_person
from kiosk.measure.evaluate import person_photos
from kiosk.store import CheckedSample
from kiosk.vision.matcher import Gallery
from kiosk.vocabulary import SampleStatus

DISTANCES = (0.6, 0.65, 0.7, 0.75)
SPREADS = (0.15, 0.17, 0.2, 0.25, 0.3)
SEED = 7


@dataclass(frozen=True)
class CheckRow:
    suspect_distance: float
    suspect_spread: float
    honest: int  # honest photos checked in honest folders
    honest_held: int
    planted: int  # foreign photos planted (one or two per folder)
    caught: int
    honest_beside: int  # honest photos in the mixed folders
    honest_beside_held: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Plant:
    person: int  # index into the people
    foreign: tuple[int, ...]  # rows of the foreign photos
    left_out: int | None  # a person of the folder left out of the gallery (the foreign photos' owner)


def people_rows(owners: list[str]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for index, owner in enumerate(owners):
        rows.setdefault(owner, []).append(index)
    return rows


def plan(people: list[str], rows: dict[str, list[int]], stranger_rows: dict[str, list[int]] | None,
         draws: int) -> list[Plant]:
    """The foreign photos planted in each checked folder, DRAWS times with one and with two."""
    rng = random.Random(SEED)
    plants = []
    for index, person in enumerate(people):
        if len(rows[person]) < MIN_PHOTOS:
            continue
        for count in (1, 2):
            for _ in range(draws):
                if stranger_rows:
                    source = rng.choice(sorted(name for name, found in stranger_rows.items() if len(found) >= count))
                    plants.append(Plant(index, tuple(rng.sample(stranger_rows[source], count)), None))
                else:
                    other = rng.choice([i for i in range(len(people)) if i != index and len(rows[people[i]]) >= count])
                    plants.append(Plant(index, tuple(rng.sample(rows[people[other]], count)), other))
    return plants


def gallery_without(embeddings: np.ndarray, people: list[str], rows: dict[str, list[int]],
                    left_out: set[int]) -> Gallery:
    keep = [i for i in range(len(people)) if i not in left_out]
    return Gallery([people[i] for i in keep], [len(rows[people[i]]) for i in keep],
                   np.vstack([embeddings[rows[people[i]]] for i in keep]))


def held(embeddings: np.ndarray, indexes: list[int], name: str, others: Gallery, config: EnrollmentConfig) -> set[int]:
    """Which of INDEXES (rows of EMBEDDINGS, one folder of NAME) the check holds back."""
    samples = [CheckedSample(i, str(i), SampleStatus.PENDING, embeddings[i]) for i in indexes]
    return set(check_person(name, samples, others, config))


def measure(embeddings: np.ndarray, owners: list[str], strangers: tuple[np.ndarray, list[str]] | None,
            draws: int, base: EnrollmentConfig) -> list[CheckRow]:
    """One row per grid point (see the module docstring)."""
    rows = people_rows(owners)
    people = sorted(rows)
    stranger_rows = people_rows(strangers[1]) if strangers is not None else None
    pool = np.vstack([embeddings, strangers[0]]) if strangers is not None else embeddings
    offset = len(embeddings) if strangers is not None else 0
    plants = plan(people, rows, {k: [i + offset for i in v] for k, v in stranger_rows.items()}
                  if stranger_rows else None, draws)
    results = []
    for distance in DISTANCES:
        for spread in SPREADS:
            config = dataclasses.replace(base, suspect_distance=distance, suspect_spread=spread)
            honest = honest_held = 0
            for index, person in enumerate(people):
                if len(rows[person]) >= MIN_PHOTOS:
                    others = gallery_without(embeddings, people, rows, {index})
                    honest += len(rows[person])
                    honest_held += len(held(pool, rows[person], person, others, config))
            planted = caught = beside = beside_held = 0
            for plant in plants:
                person = people[plant.person]
                others = gallery_without(embeddings, people, rows, {plant.person} | (
                    {plant.left_out} if plant.left_out is not None else set()))
                flagged = held(pool, rows[person] + list(plant.foreign), person, others, config)
                planted += len(plant.foreign)
                caught += len(flagged & set(plant.foreign))
                beside += len(rows[person])
                beside_held += len(flagged - set(plant.foreign))
            results.append(CheckRow(distance, spread, honest, honest_held, planted, caught, beside, beside_held))
    return results


def stranger_people(root: Path, limit: int) -> list[str]:
    """The first LIMIT people (by name) of ROOT with at least two photos: each can be planted once or twice."""
    photos = people_rows([person for person, _ in person_photos(root)])
    return [name for name in sorted(photos) if len(photos[name]) >= 2][:limit]


def print_report(results: list[CheckRow], config: EnrollmentConfig, faces: int, people: int, skipped: int,
                 strangers: bool) -> None:
    where = "strangers' photos (--strangers)" if strangers else "other people's photos of the folder"
    print(f"photo check on {faces} photos of {people} people ({skipped} without one face, left out); foreign "
          f"photos: {where}")
    print(f"{'distance':>9}{'spread':>8}{'honest held':>16}{'foreign caught':>17}{'honest held beside':>21}")
    for row in results:
        mark = "  <- configured" if (row.suspect_distance, row.suspect_spread) == (
            config.suspect_distance, config.suspect_spread) else ""
        print(f"{row.suspect_distance:>9.2f}{row.suspect_spread:>8.2f}{ratio(row.honest_held, row.honest):>16}"
              f"{ratio(row.caught, row.planted):>17}{ratio(row.honest_beside_held, row.honest_beside):>21}{mark}")


def ratio(count: int, total: int) -> str:
    return f"{count}/{total} {100 * count / total:.1f}%" if total else "-"
