"""Importing a folder of person folders into the store: the one import used by every entry point.

`kiosk enroll`, `kiosk import-usb` and retraining all go through `import_folder` / `encode_photo`.
Files are read in the main process (safely, see photos.py), decoded and encoded in worker
processes (one per core, as far as the free memory holds them; each decode within a time budget),
and each accepted photo is committed in its own transaction by the main process, so an
interrupted import keeps everything committed so far.

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
import faulthandler
import functools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

import numpy as np
from tqdm import tqdm

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.consistency import MIN_PHOTOS, Suspect, check_people
from kiosk.enrollment.photos import Photo, Skipped, WalkLimits, iter_photos, scan_people
from kiosk.names import mixed_scripts
from kiosk.store import SampleSettings, Store, sha256_hex
from kiosk.util import OutOfTime, available_memory_mb, die_with_parent, time_limit
from kiosk.vision.boxes import Box
from kiosk.vision.encoders import model_of, require_encoder
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.identify import find_faces, width
from kiosk.vision.images import ImageLimits, ImageRejected, load_image

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


def sample_settings(config: EnrollmentConfig, encoder: str) -> SampleSettings:
    """What a photo enrolled with CONFIG and ENCODER (recognition.encoder) records."""
    return SampleSettings(model_of(encoder), config.detector, config.landmarks, config.jitters)


# Memory an import needs: each worker's libraries and models plus the photo it decodes, and once
# (one worker at a time) the CNN second look's working memory.
WORKER_MB = 160
CNN_MAX_PIXELS = 200_000  # the CNN searches larger copies in strips of this many pixels
CNN_MB = 250


def worker_count(config: EnrollmentConfig) -> int:
    """enrollment.workers, where 0 means every core this process may run on (respects taskset and
    cgroups) as far as the memory available now holds them, and never fewer than one."""
    if config.workers > 0:
        return config.workers
    cores = len(os.sched_getaffinity(0))
    free_mb = available_memory_mb()
    if free_mb is None:
        return cores
    return max(1, min(cores, int((free_mb - CNN_MB) // (WORKER_MB + config.max_decode_mb))))


# This worker's state, set once by _init_worker (each worker process has its own).
_engine: FaceEngine
_fallback: FaceEngine
_fallback_turn: contextlib.AbstractContextManager = contextlib.nullcontext()
_config: EnrollmentConfig
_in_pool = False


def _init_worker(config: EnrollmentConfig, encoder: str, fallback_turn=None, parent: int = 0) -> None:
    """fallback_turn: a lock the workers share, so only one runs the CNN detector at a time.

    The CNN needs up to CNN_MB above a worker's usual WORKER_MB (and gives it back afterwards);
    one at a time keeps an import on a 2 GB Pi clear of the OOM killer.
    """
    global _engine, _fallback, _fallback_turn, _config, _in_pool
    _in_pool = fallback_turn is not None
    if _in_pool:
        die_with_parent(parent)
    _engine = FaceEngine(EngineSettings.enrollment(config, encoder))
    _fallback = FaceEngine(EngineSettings(config.fallback_detector, None, 0, config.landmarks, config.jitters,
                                          encoder))  # loads on use; used only when fallback_detector is not "none"
    _fallback_turn = fallback_turn or contextlib.nullcontext()
    _config = config


def _fallback_detect(pixels: np.ndarray) -> list[Box]:
    with _fallback_turn:
        return _fallback.detect_scaled(pixels, _config.fallback_side, CNN_MAX_PIXELS)


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
    seconds = _config.max_decode_seconds
    try:
        with _stopped_if_stuck(seconds), time_limit(seconds):
            image = load_image(data, ImageLimits.from_config(_config))
    except ImageRejected as exc:
        return EncodedPhoto(None, str(exc))
    except OutOfTime:
        return EncodedPhoto(None, f"took longer than {seconds:g} s to decode (enrollment.max_decode_seconds)")
    found = find_faces(_engine, image, _fallback_detect if use_fallback else None)
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


@contextlib.contextmanager
def _stopped_if_stuck(seconds: float) -> Iterator[None]:
    """In a pool worker, end the process when a decoder stuck in C never lets time_limit act (its
    photo is then lost as a dead worker's; the import goes on)."""
    if _in_pool:
        faulthandler.dump_traceback_later(seconds * 2 + 10, exit=True, file=_silent())
    try:
        yield
    finally:
        if _in_pool:
            faulthandler.cancel_dump_traceback_later()


@functools.cache
def _silent() -> TextIO:
    """Where a stuck worker's last words go: the photo's skip reason is what the operator reads."""
    return open(os.devnull, "w")  # open for the worker's lifetime


class PhotoEncoder:
    """Runs encode_photo over many photos, on all cores or serially, keeping few in flight.

    A worker that dies (killed, or by the kernel when memory runs out) takes the pool down with
    every photo in flight: those are tried again one at a time in a new pool, so only the photo
    that kills its worker again is lost, with a reason."""

    def __init__(self, config: EnrollmentConfig, workers: int, encoder: str):
        require_encoder(encoder)
        self.workers = workers
        self.config, self.encoder = config, encoder
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self._start_pool()
        else:
            _init_worker(config, encoder)

    def _start_pool(self) -> ProcessPoolExecutor:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("fork")
        self.pool = ProcessPoolExecutor(self.workers, context, initializer=_init_worker,
                                        initargs=(self.config, self.encoder, context.Lock(), os.getpid()))
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
                yield key, EncodedPhoto(None, "its decoding process died (out of memory, or stuck)")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


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
                                 photo.data if config.keep_photos else None, status="pending")
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
