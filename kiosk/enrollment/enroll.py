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
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from kiosk.config import Config, EnrollmentConfig
from kiosk.enrollment.consistency import MIN_PHOTOS, Suspect, check_people
from kiosk.enrollment.encoding import PhotoEncoder, worker_count
from kiosk.enrollment.photos import Photo, Skipped, WalkLimits, iter_photos, scan_people
from kiosk.errors import KioskError
from kiosk.names import UNKNOWN, mixed_scripts
from kiosk.store import SampleSettings, Store, sha256_hex
from kiosk.vision.calibration import rule_for
from kiosk.vision.encoders import model_of
from kiosk.vision.images import PHOTO_SUFFIXES, ImageLimits
from kiosk.vision.matcher import MatchRule
from kiosk.vocabulary import SampleStatus

ProgressCallback = Callable[[int, int, str], None]  # done, total, current file
_Key = TypeVar("_Key")
DOMINANT_RATIO = 2.0


@dataclass(frozen=True)
class Note:
    """Something the operator should know about a photo that was enrolled."""
    file: str
    note: str


@dataclass(frozen=True)
class LookAlike:
    """A person new in this import whose photos are all recognised as an enrolled person. They
    stay two people: whether they are one is the admin's decision (`kiosk people merge`)."""
    folder: str
    person: str  # enrolled from FOLDER, under its own name
    like: str  # the enrolled person the photos are recognised as
    distance: float  # the mean of the photos' scores to LIKE

    def merge_command(self) -> str:
        return f"kiosk people merge {shlex.quote(self.person)} {shlex.quote(self.like)}"

    def as_dict(self) -> dict:
        return {"folder": self.folder, "person": self.person, "like": self.like,
                "distance": round(self.distance, 3), "merge": self.merge_command()}

    def line(self) -> str:
        return (f"{self.folder}/: enrolled as {self.person}, whose photos look like {self.like} (distance "
                f"{self.distance:.2f}); if they are one person: {self.merge_command()}")


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
    hint: str = ""  # when nothing could be imported: the layout that was expected
    joined: dict[str, str] = field(default_factory=dict)  # folder -> enrolled person of its name it was added to
    look_alikes: list[LookAlike] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"people": self.people, "added": self.added, "duplicates": self.duplicates,
                "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
                "suspects": [s.as_dict() for s in self.suspects],
                "too_few_to_check": self.too_few_to_check,
                "fallback_detector": self.fallback_detector,
                "notes": [{"file": n.file, "note": n.note} for n in self.notes],
                "joined": self.joined, "look_alikes": [a.as_dict() for a in self.look_alikes], "hint": self.hint}

    def summary_lines(self) -> list[str]:
        """The per-photo lines of the human summary (skips, suspects, notes)."""
        lines = [f"  {self.hint}"] if self.hint else []
        lines += [f"  skipped {item.file}: {item.reason}" for item in self.skipped]
        if self.suspects:
            lines.append(f"  {len(self.suspects)} photo(s) held back as suspects, not used for matching until "
                         "accepted (kiosk people show NAME, then kiosk people accept / reject):")
            lines += [f"    {s.file}: {s.reason}" for s in self.suspects]
        lines += [f"  {n.file}: {n.note}" for n in self.notes]
        lines += [f"  {a.line()}" for a in self.look_alikes]
        lines += [f"  {name}: fewer than {MIN_PHOTOS} photos, the check for wrong photos needs more"
                  for name in self.too_few_to_check]
        return lines

    def upload_line(self, name: str) -> str:
        """The page's one line after photos of NAME were uploaded."""
        skipped = "; ".join(f"{s.file.split('/', 1)[-1]}: {s.reason}" for s in self.skipped)
        held = f", {len(self.suspects)} held back by the photo check" if self.suspects else ""
        alike = "".join(f"; these photos look like {a.like} (distance {a.distance:.2f}): if they are one "
                        f"person, merge {name} into {a.like}" for a in self.look_alikes)
        return (f"added {self.added} photo(s) for {name}{held}, {self.duplicates} duplicate(s), "
                f"{len(self.skipped)} skipped" + (f" ({skipped})" if skipped else "") + alike)


def sample_settings(config: EnrollmentConfig, encoder: str) -> SampleSettings:
    """What a photo enrolled with CONFIG and ENCODER (recognition.encoder) records."""
    return SampleSettings(model_of(encoder), config.detector, config.landmarks, config.jitters)


def import_folder(store: Store, root: str | os.PathLike, config: EnrollmentConfig, *, encoder: str,
                  workers: int | None = None, on_progress: ProgressCallback | None = None,
                  show_bar: bool | None = None, layout: str = "FOLDER/<name>/<photos>",
                  same_face: MatchRule | None = None, create: bool = True) -> ImportReport:
    """Enroll ROOT/<person>/**/<photo> into the store with ENCODER (recognition.encoder); skipped
    files are reported, never fatal.

    A folder joins an enrolled person by its name only: the same name in another case or without
    accents (`Obama` beside `obama`) adds to that person. Likeness never does: with SAME_FACE
    (the live decision rule), a new folder whose photos are all recognised as one enrolled person
    is enrolled under its own name and reported as a look-alike, with the `kiosk people merge`
    line for the admin who knows they are one. When nothing can be imported, the report's hint
    names the LAYOUT that was expected.

    CREATE false (photos uploaded for an enrolled person): a person removed meanwhile is not made
    again by the import; NotFound says so and nothing more is added.

    Raises FileNotFoundError/NotADirectoryError when ROOT itself is missing.
    """
    people, skipped = scan_people(root, WalkLimits(config.max_depth, config.max_files))
    report = ImportReport(skipped=skipped)
    report.photos = sum(len(p.photo_files) for p in people)
    report.notes += [Note(f"{p.name}/", warning) for p in people if (warning := mixed_scripts(p.name))]
    if not people:
        report.hint = layout_hint(skipped, layout)
    stored = {p.name: enrolled_as(store, p.name) for p in people}  # folder -> the person it adds to
    for folder, name in stored.items():
        if name != folder:
            report.joined[folder] = name
            report.notes.append(Note(f"{folder}/", f"added to {name}, enrolled under that name already "
                                                   f"(kiosk people rename {name} NEW changes how it is written)"))
    new_people = {folder for folder, name in stored.items() if store.people.find(name) is None}
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
        if remaining[person] == 0 and stored[person] in to_check:
            look_alike = find_look_alike(store, stored, person, same_face, encoder) \
                if same_face is not None and person in new_people else None
            if look_alike is not None:
                report.look_alikes.append(look_alike)
            check_people(store, [stored[person]], config, encoder)  # matched from now on

    def duplicate(photo: Photo, owner: str) -> None:
        report.duplicates += 1
        if owner == stored[photo.person]:
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
            elif store.people.rejected_at(digest, stored[item.person]) is not None:
                report.skipped.append(Skipped(item.file, f"rejected earlier as a photo of {stored[item.person]} "
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
            elif not store.people.add_sample(
                    stored[photo.person], result.embedding,
                    dataclasses.replace(settings, detector=result.detector or settings.detector), digest, photo.file,
                    photo.data if config.keep_photos else None, status=SampleStatus.PENDING, create=create):
                # Another import of the same photo stored it since this one looked: the same as a duplicate.
                duplicate(photo, store.people.owner_of_photo(digest) or stored[photo.person])
            else:
                report.added += 1
                report.fallback_detector += result.detector not in ("", config.detector)
                if result.note:
                    report.notes.append(Note(photo.file, result.note))
                enrolled_people.add(stored[photo.person])
                to_check.add(stored[photo.person])
            advance(photo.file, photo.person)
            for copy in copies.pop(digest, []):
                if result.embedding is None:
                    report.skipped.append(Skipped(copy.file, result.reason))
                else:
                    duplicate(copy, stored[photo.person])
                advance(copy.file, copy.person)
    finally:
        photo_encoder.close()
        bar.close()
        # Everyone the import touched (new photos, duplicates, pending ones), also after an
        # interruption: the report lists every photo of theirs held back, old or new.
        if to_check or enrolled_people:
            checked = check_people(store, sorted(to_check | enrolled_people), config, encoder)
            report.suspects, report.too_few_to_check = checked.suspects, checked.too_few
    report.people = len(enrolled_people)
    return report


def live_rule(store: Store, config: Config) -> MatchRule:
    """The rule the live kiosk would name faces by with the store's gallery as it is now."""
    return rule_for(store.people.load_gallery(config.recognition.encoder), config.recognition)[0]


def enrolled_as(store: Store, folder: str) -> str:
    """The enrolled person a folder adds to: the one of its name or key, else a new one of its name."""
    try:
        return store.people.find(folder) or folder
    except KioskError:  # two people already share the key: only the exact name adds to one
        return folder


def find_look_alike(store: Store, stored: dict[str, str], folder: str, rule: MatchRule,
                    encoder: str) -> LookAlike | None:
    """When every photo of FOLDER, a person new in this import, is recognised as one enrolled
    person by RULE, that person as a LookAlike (nothing is changed); else None."""
    name = stored[folder]
    gallery = store.people.load_gallery(encoder)
    own = [s.embedding for s in store.people.samples_to_check(name, model_of(encoder))]
    others = gallery.without(name) if name in gallery.names else gallery
    if not own or not others.people:
        return None
    matches = others.match(np.vstack(own), rule)
    named = {match.name for match in matches}
    if len(named) != 1 or UNKNOWN in named:
        return None
    (like,) = named
    return LookAlike(folder, name, like, float(np.mean([match.distance for match in matches])))


def layout_hint(skipped: list[Skipped], layout: str) -> str:
    """One line for an import that found no person folder: what was there, and what is expected."""
    loose = sum(1 for s in skipped if "/" not in s.file and s.reason == "not inside a person folder"
                and Path(s.file).suffix.lower() in PHOTO_SUFFIXES)
    found = f"{loose} photo(s) lie loose, outside any person folder" if loose else "no person folder with photos"
    return f"nothing to import: {found}; expected one folder per person, {layout}"


def progress_bar(total: int, show: bool | None):
    """A tqdm bar on stderr, shown only on a terminal unless `show` says otherwise."""
    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, unit="photo", disable=not show, file=sys.stderr, leave=False)
