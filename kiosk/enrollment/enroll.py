"""Importing a folder of person folders into the store: the one import used by every entry point.

`kiosk enroll`, `kiosk import-usb` and retraining all go through `import_folder` / `encode_photo`.
Files are read in the main process (safely, see photos.py), decoded and encoded in worker
processes (encoding.py: one per core, as far as the free memory holds them),
and each accepted photo is committed in its own transaction by the main process, so an
interrupted import keeps everything committed so far.

New samples are committed as `pending` (not matched) and the consistency check (consistency.py)
decides, as soon as a person's last photo is done, which of their photos are matched and which
are held back as suspects; the check runs once more over everyone imported at the end, when
all people are in, and picks up samples an interrupted import left pending.

How each photo is decoded and encoded, in worker processes, is encoding.py's.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from tqdm import tqdm

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.consistency import MIN_PHOTOS, Suspect, check_people
from kiosk.enrollment.encoding import PhotoEncoder, worker_count
from kiosk.enrollment.photos import Photo, Skipped, WalkLimits, iter_photos, scan_people
from kiosk.names import mixed_scripts
from kiosk.store import SampleSettings, Store, sha256_hex
from kiosk.vision.encoders import model_of
from kiosk.vision.images import ImageLimits
from kiosk.vocabulary import SampleStatus

ProgressCallback = Callable[[int, int, str], None]  # done, total, current file
_Key = TypeVar("_Key")
DOMINANT_RATIO = 2.0


@dataclass(frozen=True)
class Note:
    """Something the operator should know about a photo that was enrolled."""
    file: str
    note: str


@dataclass
class ImportReport:
    people: int = 0  # people in this import with at least one photo now in the store
    added: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    photos: int = 0  # photo files considered
    suspects: list[Suspect] = field(default_factory=list)
    too_few_to_check: list[str] = field(default_factory=list)
    fallback_detector: int = 0  # photos whose face only the fallback detector found
    notes: list[Note] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"people": self.people, "added": self.added, "duplicates": self.duplicates,
                "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
                "suspects": [s.as_dict() for s in self.suspects],
                "too_few_to_check": self.too_few_to_check,
                "fallback_detector": self.fallback_detector,
                "notes": [{"file": n.file, "note": n.note} for n in self.notes]}

    def summary_lines(self) -> list[str]:
        """The per-photo lines of the human summary (skips, suspects, notes)."""
        lines = [f"  skipped {item.file}: {item.reason}" for item in self.skipped]
        if self.suspects:
            lines.append(f"  {len(self.suspects)} photo(s) held back as suspects, not used for matching until "
                         "accepted (kiosk people show NAME, then kiosk people accept / reject):")
            lines += [f"    {s.file}: {s.reason}" for s in self.suspects]
        lines += [f"  {n.file}: {n.note}" for n in self.notes]
        lines += [f"  {name}: fewer than {MIN_PHOTOS} photos, the check for wrong photos needs more"
                  for name in self.too_few_to_check]
        return lines


def sample_settings(config: EnrollmentConfig, encoder: str) -> SampleSettings:
    """What a photo enrolled with CONFIG and ENCODER (recognition.encoder) records."""
    return SampleSettings(model_of(encoder), config.detector, config.landmarks, config.jitters)


def import_folder(store: Store, root: str | os.PathLike, config: EnrollmentConfig, *, encoder: str,
                  workers: int | None = None, on_progress: ProgressCallback | None = None,
                  show_bar: bool | None = None) -> ImportReport:
    """Enroll ROOT/<person>/**/<photo> into the store with ENCODER (recognition.encoder); skipped
    files are reported, never fatal.

    Raises FileNotFoundError/NotADirectoryError when ROOT itself is missing.
    """
    people, skipped = scan_people(root, WalkLimits(config.max_depth, config.max_files))
    report = ImportReport(skipped=skipped)
    report.photos = sum(len(p.photo_files) for p in people)
    report.notes += [Note(f"{p.name}/", warning) for p in people if (warning := mixed_scripts(p.name))]
    settings = sample_settings(config, encoder)
    limits = ImageLimits.from_config(config)
    enrolled_people: set[str] = set()
    to_check: set[str] = set(store.people.with_pending())  # left pending by an interrupted import
    remaining = {p.name: len(p.photo_files) for p in people}  # photos not yet done, per person
    pending: dict[str, Photo] = {}  # sha256 -> photo waiting for its encoding
    copies: dict[str, list[Photo]] = {}  # sha256 -> more copies of a pending photo, decided with it
    failed: dict[str, str] = {}  # sha256 -> why a photo of this import was not enrolled

    bar = progress_bar(report.photos, show_bar)
    done = 0

    def advance(file: str, person: str) -> None:
        nonlocal done
        done += 1
        bar.update(1)
        if on_progress:
            on_progress(done, report.photos, file)
        remaining[person] -= 1
        if remaining[person] == 0 and person in to_check:
            check_people(store, [person], config, encoder)  # the person's photos are matched from now on

    def duplicate(photo: Photo, owner: str) -> None:
        report.duplicates += 1
        if owner == photo.person:
            enrolled_people.add(owner)
        else:
            report.skipped.append(Skipped(photo.file, f"same photo already enrolled as {owner}"))

    def jobs() -> Iterator[tuple[str, bytes]]:
        for item in iter_photos(root, people, limits.max_bytes):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                advance(item.file, item.person)
                continue
            digest = sha256_hex(item.data)
            if digest in pending:
                copies.setdefault(digest, []).append(item)
                continue
            owner = store.people.owner_of_photo(digest)
            if owner is not None:
                duplicate(item, owner)
            elif digest in failed:
                report.skipped.append(Skipped(item.file, failed[digest]))
            elif store.people.rejected_at(digest, item.person) is not None:
                report.skipped.append(Skipped(item.file, f"rejected earlier as a photo of {item.person} "
                                                         "by an admin (kiosk people reject)"))
            else:
                pending[digest] = item
                yield digest, item.data
                continue
            advance(item.file, item.person)

    photo_encoder = PhotoEncoder(config, worker_count(config) if workers is None else workers, encoder)
    try:
        for digest, result in photo_encoder.map(jobs()):
            photo = pending.pop(digest)
            if result.embedding is None:
                report.skipped.append(Skipped(photo.file, result.reason))
                failed[digest] = result.reason
            else:
                used = dataclasses.replace(settings, detector=result.detector or settings.detector)
                store.people.add_sample(photo.person, result.embedding, used, digest, photo.file,
                                 photo.data if config.keep_photos else None, status=SampleStatus.PENDING)
                report.added += 1
                report.fallback_detector += result.detector not in ("", config.detector)
                if result.note:
                    report.notes.append(Note(photo.file, result.note))
                enrolled_people.add(photo.person)
                to_check.add(photo.person)
            advance(photo.file, photo.person)
            for copy in copies.pop(digest, []):
                if result.embedding is None:
                    report.skipped.append(Skipped(copy.file, result.reason))
                else:
                    duplicate(copy, photo.person)
                advance(copy.file, copy.person)
    finally:
        photo_encoder.close()
        bar.close()
        if to_check:  # also after an interruption: nothing stays pending that was checked before
            checked = check_people(store, sorted(to_check), config, encoder)
            report.suspects, report.too_few_to_check = checked.suspects, checked.too_few
    report.people = len(enrolled_people)
    return report


def progress_bar(total: int, show: bool | None):
    """A tqdm bar on stderr, shown only on a terminal unless `show` says otherwise."""
    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, unit="photo", disable=not show, file=sys.stderr, leave=False)
