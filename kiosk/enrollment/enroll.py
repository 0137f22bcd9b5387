"""Importing a folder of person folders into the store: the one import used by every entry point.

`kiosk enroll`, `kiosk import-usb` and retraining all go through `import_folder` / `encode_photo`.
Files are read in the main process (safely, see photos.py), decoded and encoded in worker
processes (one per core), and each accepted photo is committed in its own transaction by the
main process, so an interrupted import keeps everything committed so far.

New samples are committed as `pending` (not matched) and the consistency check (consistency.py)
decides, as soon as a person's last photo is done, which of their photos are matched and which
are held back as suspects; the check runs once more over everyone imported at the end, when
all people are in, and picks up samples an interrupted import left pending.

A photo where HOG finds no face gets a second chance with the CNN detector
(enrollment.fallback_detector). A photo with one clearly dominant face (at least
DOMINANT_RATIO times as wide as the next) enrolls that face: people in the background of a
red-carpet photo do not make it useless. Two faces of similar size are refused: which one is
the person cannot be told.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.consistency import MIN_PHOTOS, Suspect, check_people
from kiosk.enrollment.photos import Photo, Skipped, WalkLimits, iter_photos, scan_people
from kiosk.store import SampleSettings, Store, sha256_hex
from kiosk.util import die_with_parent
from kiosk.vision.boxes import Box
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.identify import find_faces, width
from kiosk.vision.images import ImageLimits, ImageRejected
from kiosk.vision.models import ENCODER_MODEL

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


@dataclass(frozen=True)
class EncodedPhoto:
    """What a worker returns for one photo: an embedding, or the reason there is none."""
    embedding: np.ndarray | None
    reason: str = ""
    detector: str = ""  # the detector that found the face
    note: str = ""


def sample_settings(config: EnrollmentConfig) -> SampleSettings:
    return SampleSettings(ENCODER_MODEL, config.detector, config.landmarks, config.jitters)


def worker_count(configured: int) -> int:
    """0 means every core this process may run on (respects taskset/cgroups affinity)."""
    return configured if configured > 0 else len(os.sched_getaffinity(0))


# This worker's state, set once by _init_worker (each worker process has its own).
_engine: FaceEngine
_fallback: FaceEngine
_fallback_turn: contextlib.AbstractContextManager = contextlib.nullcontext()
_config: EnrollmentConfig


def _init_worker(config: EnrollmentConfig, fallback_turn=None) -> None:
    """fallback_turn: a lock the workers share, so only one runs the CNN detector at a time.

    The CNN needs about 450 MB above a worker's usual 160 MB for an 800-pixel copy (and gives it
    back afterwards); one at a time keeps an import on a 2 GB Pi clear of the OOM killer.
    """
    global _engine, _fallback, _fallback_turn, _config
    die_with_parent()
    _engine = FaceEngine(EngineSettings.enrollment(config))
    _fallback = FaceEngine(EngineSettings("cnn", None, 0, config.landmarks, config.jitters))  # models load on use
    _fallback_turn = fallback_turn or contextlib.nullcontext()
    _config = config


def _fallback_detect(pixels: np.ndarray) -> list[Box]:
    with _fallback_turn:
        return _fallback.detect_scaled(pixels, _config.fallback_side)


def encode_photo(data: bytes) -> EncodedPhoto:
    """Decode one photo and encode its person's face; runs in a worker (or in-process). Whatever
    goes wrong with one file (a decoder's own error of any type, odd EXIF, memory) is that
    photo's skip reason and never ends the import."""
    try:
        return _encode_photo(data)
    except Exception as exc:  # hostile or broken files raise every kind of error inside decoders
        detail = " ".join(str(exc).split())[:120]
        return EncodedPhoto(None, f"cannot be decoded ({type(exc).__name__}{': ' + detail if detail else ''})")


def _encode_photo(data: bytes) -> EncodedPhoto:
    use_fallback = _config.fallback_detector != "none" and _config.detector != _config.fallback_detector
    try:
        found = find_faces(_engine, data, ImageLimits.from_config(_config), _fallback_detect if use_fallback else None)
    except ImageRejected as exc:
        return EncodedPhoto(None, str(exc))
    if not found.boxes:
        return EncodedPhoto(None, "no face found")
    detector = _config.fallback_detector if found.by_fallback else _config.detector
    boxes, note = found.boxes, ""
    if len(boxes) > 1:
        if width(boxes[0]) < DOMINANT_RATIO * width(boxes[1]):
            return EncodedPhoto(None, f"{len(boxes)} faces of similar size found, a photo must show one person")
        note = f"enrolled the largest face; {len(boxes) - 1} smaller face(s) in the background ignored"
    if found.by_fallback:
        note = "; ".join(filter(None, [f"face found by the {detector} detector", note]))
    return EncodedPhoto(_engine.encode(found.image.pixels, boxes[:1])[0], "", detector, note)


class PhotoEncoder:
    """Runs encode_photo over many photos, on all cores or serially, keeping few in flight.

    A worker that dies (killed, or by the kernel when memory runs out) takes the pool down with
    every photo in flight: those are tried again one at a time in a new pool, so only the photo
    that kills its worker again is lost, with a reason."""

    def __init__(self, config: EnrollmentConfig, workers: int):
        self.workers = workers
        self.config = config
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self._start_pool()
        else:
            _init_worker(config)

    def _start_pool(self) -> ProcessPoolExecutor:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("fork")
        self.pool = ProcessPoolExecutor(self.workers, context, initializer=_init_worker,
                                        initargs=(self.config, context.Lock()))
        return self.pool

    def map(self, jobs: Iterator[tuple[_Key, bytes]]) -> Iterator[tuple[_Key, EncodedPhoto]]:
        """Yield (key, result) for each (key, photo bytes), in completion order."""
        if self.pool is None:
            for key, data in jobs:
                yield key, encode_photo(data)
            return
        in_flight: dict[Future, tuple[_Key, bytes]] = {}
        for key, data in jobs:
            in_flight[self.pool.submit(encode_photo, data)] = (key, data)
            if len(in_flight) >= self.workers * 2:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                yield from self._collect(done, in_flight)
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            yield from self._collect(done, in_flight)

    def _collect(self, done, in_flight: dict) -> Iterator[tuple[_Key, EncodedPhoto]]:
        lost = []
        for future in done:
            key, data = in_flight.pop(future)
            try:
                yield key, future.result()
            except BrokenProcessPool:
                lost.append((key, data))
        if not lost:
            return
        lost += [in_flight.pop(future) for future in list(in_flight)]
        pool = self._start_pool()
        for key, data in lost:
            try:
                yield key, pool.submit(encode_photo, data).result()
            except BrokenProcessPool:
                pool = self._start_pool()
                yield key, EncodedPhoto(None, "its decoding process died (out of memory?)")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def import_folder(store: Store, root: str | os.PathLike, config: EnrollmentConfig, *,
                  workers: int | None = None, on_progress: ProgressCallback | None = None,
                  show_bar: bool | None = None) -> ImportReport:
    """Enroll ROOT/<person>/**/<photo> into the store; skipped files are reported, never fatal.

    Raises FileNotFoundError/NotADirectoryError when ROOT itself is missing.
    """
    people, skipped = scan_people(root, WalkLimits(config.max_depth, config.max_files))
    report = ImportReport(skipped=skipped)
    report.photos = sum(len(p.photo_files) for p in people)
    settings = sample_settings(config)
    limits = ImageLimits.from_config(config)
    enrolled_people: set[str] = set()
    to_check: set[str] = set(store.people_with_pending())  # left pending by an interrupted import
    remaining = {p.name: len(p.photo_files) for p in people}  # photos not yet done, per person
    seen: dict[str, str] = {}  # sha256 -> person, within this import
    pending: dict[str, Photo] = {}  # sha256 -> photo waiting for its encoding

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
            check_people(store, [person], config)  # the person's photos are matched from now on

    def jobs() -> Iterator[tuple[str, bytes]]:
        for item in iter_photos(root, people, limits.max_bytes):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                advance(item.file, item.person)
                continue
            digest = sha256_hex(item.data)
            owner = seen.get(digest) or store.owner_of_photo(digest)
            rejected = store.rejected_at(digest, item.person) if owner is None else None
            if owner is not None:
                report.duplicates += 1
                if owner == item.person:
                    enrolled_people.add(owner)
                else:
                    report.skipped.append(Skipped(item.file, f"same photo already enrolled as {owner}"))
            elif rejected is not None:
                report.skipped.append(Skipped(item.file, f"rejected earlier as a photo of {item.person} "
                                                         "by an admin (kiosk people reject)"))
            else:
                seen[digest] = item.person
                pending[digest] = item
                yield digest, item.data
                continue
            advance(item.file, item.person)

    encoder = PhotoEncoder(config, worker_count(config.workers) if workers is None else workers)
    try:
        for digest, result in encoder.map(jobs()):
            photo = pending.pop(digest)
            if result.embedding is None:
                report.skipped.append(Skipped(photo.file, result.reason))
            else:
                used = dataclasses.replace(settings, detector=result.detector or settings.detector)
                store.add_sample(photo.person, result.embedding, used, digest, photo.file,
                                 photo.data if config.keep_photos else None, status="pending")
                report.added += 1
                report.fallback_detector += result.detector not in ("", config.detector)
                if result.note:
                    report.notes.append(Note(photo.file, result.note))
                enrolled_people.add(photo.person)
                to_check.add(photo.person)
            advance(photo.file, photo.person)
    finally:
        encoder.close()
        bar.close()
        if to_check:  # also after an interruption: nothing stays pending that was checked before
            checked = check_people(store, sorted(to_check), config)
            report.suspects, report.too_few_to_check = checked.suspects, checked.too_few
    report.people = len(enrolled_people)
    return report


def progress_bar(total: int, show: bool | None):
    """A tqdm bar on stderr, shown only on a terminal unless `show` says otherwise."""
    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, unit="photo", disable=not show, file=sys.stderr, leave=False)
