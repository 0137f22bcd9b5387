"""Do a person's photos show one person? Photos that look like someone else are held back.

An operator's stick may mix people: a folder named after a film character holding photos of the
actor, of a namesake and of strangers. Each such photo enrolled under the name makes another
person "known" as that name, so photos that disagree are held back from matching (status
`suspect`) until an admin accepts or rejects them.

The check, for a person with at least MIN_PHOTOS samples (their new and already enrolled ones):

- each photo's spread is its median distance to the person's other photos; the photos with a
  spread at or below the median form the core (the person's most typical half), and each
  photo's distance is then its median distance to the core (itself left out);
- a photo is a suspect when that distance is above `suspect_distance` (0.70: above the 0.6 at
  which dlib's model separates people, as honest variety of age, glasses and lighting mostly
  stays within it) or more than `suspect_spread` (0.25) above the person's typical distance
  (the median over the core): a tight folder of one person shows a stranger sooner than a
  loose one;
- a photo closer to another enrolled person (median distance to their matched samples) than to
  its own folder is a suspect too.

A median needs a majority: the check finds foreign photos as long as fewer than half of the
folder shows other people. Accepted photos are never flagged; they do count in the core.

Figures that chose the defaults (`kiosk eval-check`, 5 jitters; honest folders alone, then one
and two foreign photos planted in every folder, twice each: strangers' photos for lfw_dev and
cfp_dev, another person's of the folder for faces_dev), honest photos held back / foreign caught:

| setting (distance, spread) | faces_dev (92 photos) | lfw_dev (365) | cfp_dev (373) |
| --- | --- | --- | --- |
| 0.65, 0.17 (the earlier one) | 2.2 % / 100 % | 1.9 % / 99.8 % | 2.4 % / 100 % |
| 0.70, 0.25 | 1.1 % / 100 % | 0.0 % / 98.7 % | 0.8 % / 99.8 % |
| 0.75, 0.30 | 0.0 % / 95.6 % | 0.0 % / 98.3 % | 0.8 % / 99.6 % |

Of the honest photos in the mixed folders 1.1 %, 0.9 % and 0.8 % were held back beside the
foreign ones. faces_dev's one honest photo still held back is a young black-and-white profile of
madonna (0.72).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.config import EnrollmentConfig
from kiosk.store import CheckedSample, Store
from kiosk.vision.encoders import model_of
from kiosk.vision.matcher import Gallery
from kiosk.vision.matcher import distances as between
from kiosk.vocabulary import SampleStatus

MIN_PHOTOS = 3


@dataclass(frozen=True)
class Suspect:
    file: str  # the sample's source, as reported at import
    person: str
    reason: str
    sample_id: int = 0

    def as_dict(self) -> dict:
        return {"file": self.file, "person": self.person, "reason": self.reason}


@dataclass
class CheckResult:
    suspects: list[Suspect]
    too_few: list[str]  # people with fewer than MIN_PHOTOS photos: not checked


def disagreeing(distances: np.ndarray, config: EnrollmentConfig) -> list[tuple[int, float, int]]:
    """(index, distance to the core, core size) of each photo that does not agree with the rest.

    distances: the person's photos' pairwise distance matrix.
    """
    count = len(distances)
    if count < MIN_PHOTOS:
        return []
    others = ~np.eye(count, dtype=bool)
    spread = np.array([np.median(distances[i][others[i]]) for i in range(count)])
    core = spread <= np.median(spread)
    to_core = np.array([np.median(distances[i][core & others[i]]) for i in range(count)])
    typical = float(np.median(to_core[core]))
    limit = min(config.suspect_distance, typical + config.suspect_spread)
    return [(i, float(to_core[i]), int(core.sum() - core[i])) for i in range(count) if to_core[i] > limit]


def closer_to_others(embeddings: np.ndarray, own_distance: np.ndarray,
                     others: Gallery) -> list[tuple[int, str, float]]:
    """(index, other person, median distance) of photos closer to another person than to their own."""
    found: list[tuple[int, str, float]] = []
    if not others.people:
        return found
    distances = others.sample_distances(embeddings)
    for i in range(len(embeddings)):
        medians = [float(np.median(distances[i, start:start + n]))
                   for start, n in zip(others.starts, others.counts, strict=True)]
        best = int(np.argmin(medians))
        if medians[best] < own_distance[i]:
            found.append((i, others.names[best], medians[best]))
    return found


def check_person(name: str, samples: list[CheckedSample], others: Gallery,
                 config: EnrollmentConfig) -> dict[int, Suspect]:
    """Suspects among one person's samples, by sample id."""
    embeddings = np.vstack([s.embedding for s in samples]).astype(np.float64)
    distances = between(embeddings, embeddings)
    suspects: dict[int, Suspect] = {}
    for i, distance, core_size in disagreeing(distances, config):
        suspects[samples[i].id] = Suspect(
            samples[i].source, name, f"looks like a different person than the other {core_size} photos "
                                     f"of {name} (distance {distance:.2f})", samples[i].id)
    np.fill_diagonal(distances, np.nan)
    own = np.nanmedian(distances, axis=1)
    for i, other, distance in closer_to_others(embeddings, own, others):
        if samples[i].id not in suspects:
            suspects[samples[i].id] = Suspect(
                samples[i].source, name, f"looks more like {other} (distance {distance:.2f}) than the other "
                                         f"{len(samples) - 1} photos of {name} ({own[i]:.2f})", samples[i].id)
    accepted = {s.id for s in samples if s.status == SampleStatus.ACCEPTED}
    return {i: s for i, s in suspects.items() if i not in accepted}


def check_people(store: Store, names: list[str], config: EnrollmentConfig, encoder: str) -> CheckResult:
    """Run the check for these people among the samples ENCODER made, and store each sample's
    status; returns the suspects.

    A sample is `ok` or `suspect` afterwards (accepted ones stay accepted); people with fewer than
    MIN_PHOTOS samples are only compared with other people.
    """
    result = CheckResult([], [])
    gallery = store.people.load_gallery(encoder)
    for name in sorted(set(names)):
        samples = store.people.samples_to_check(name, model_of(encoder))
        if not samples:
            continue
        if len(samples) < MIN_PHOTOS:
            result.too_few.append(name)
        others = gallery.without(name) if name in gallery.names else gallery
        suspects = check_person(name, samples, others, config) if len(samples) >= 2 else {}
        store.people.set_statuses({s.id: (SampleStatus.SUSPECT, suspects[s.id].reason) if s.id in suspects
                                   else (SampleStatus.OK, "") for s in samples})
        result.suspects += [suspects[s.id] for s in samples if s.id in suspects]
    return result
