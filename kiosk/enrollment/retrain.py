"""`kiosk retrain`: re-encode the kept photos with new settings, one transaction per person.

Photos are encoded on all cores (the same PhotoEncoder as enrollment). A person's samples are
replaced only once all of their photos are encoded, in one transaction, so a retrain killed
half-way leaves every person with either all old or all new samples. Samples whose photo was not
kept (enrollment.keep_photos off) or no longer yields one face are reported and left unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.consistency import check_people
from kiosk.enrollment.encoding import PhotoEncoder, worker_count
from kiosk.enrollment.enroll import progress_bar, sample_settings
from kiosk.store import Sample, Store, sha256_hex


@dataclass
class RetrainReport:
    people: int = 0  # people whose samples were replaced
    replaced: int = 0
    missing_photos: list[dict] = field(default_factory=list)  # {"person", "source"}
    failed: list[dict] = field(default_factory=list)  # {"person", "source", "reason"}
    settings: dict = field(default_factory=dict)
    suspects: list[dict] = field(default_factory=list)  # {"file", "person", "reason"} held back afterwards

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def retrain(store: Store, config: EnrollmentConfig, person: str | None = None, *, encoder: str,
            workers: int | None = None, show_bar: bool | None = None) -> RetrainReport:
    """Re-encode the kept photos of PERSON (or everyone) with CONFIG's settings and ENCODER
    (recognition.encoder: retraining is how a gallery moves from one encoder to another)."""
    settings = sample_settings(config, encoder)
    report = RetrainReport(settings=dataclasses.asdict(settings))
    names = [person] if person is not None else [p.name for p in store.people.summaries()]
    waiting: dict[str, int] = {}  # person -> photos not yet encoded
    new_embeddings: dict[str, dict[int, np.ndarray]] = {}
    photos: list[tuple[str, Sample]] = []
    for name in names:
        samples = store.people.samples_of(name) or []
        for sample in samples:
            if store.photo_path(sample.photo_sha256).is_file():
                photos.append((name, sample))
            else:
                report.missing_photos.append({"person": name, "source": sample.source})
        waiting[name] = sum(1 for owner, _ in photos if owner == name)
        new_embeddings[name] = {}

    def jobs() -> Iterator[tuple[tuple[str, Sample], bytes]]:
        for name, sample in photos:
            try:
                data = store.photo_path(sample.photo_sha256).read_bytes()
            except OSError as exc:  # removed or unreadable since the listing
                data, reason = None, f"kept photo unreadable ({exc.strerror})"
            else:
                reason = "kept photo is damaged (checksum differs)"
            if data is None or sha256_hex(data) != sample.photo_sha256:
                report.failed.append({"person": name, "source": sample.source, "reason": reason})
                finish(name)
                continue
            yield (name, sample), data

    def finish(name: str) -> None:
        waiting[name] -= 1
        if waiting[name] == 0 and new_embeddings[name]:
            report.replaced += store.people.replace_embeddings(name, new_embeddings[name], settings)
            report.people += 1

    bar = progress_bar(len(photos), show_bar)
    photo_encoder = PhotoEncoder(config, worker_count(config) if workers is None else workers, encoder)
    try:
        for (name, sample), result in photo_encoder.map(jobs()):
            if result.embedding is None:
                report.failed.append({"person": name, "source": sample.source, "reason": result.reason})
            else:
                new_embeddings[name][sample.id] = result.embedding
            bar.update(1)
            finish(name)
    finally:
        photo_encoder.close()
        bar.close()
        retrained = [name for name, embeddings in new_embeddings.items() if embeddings]
        if retrained:  # new embeddings: decide again which photos agree
            report.suspects = [s.as_dict() for s in check_people(store, retrained, config, encoder).suspects]
    return report
