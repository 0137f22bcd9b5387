"""Importing a folder of person folders into the store: the one import used by every entry point.

`kiosk enroll`, `kiosk import-usb` and retraining all go through `import_folder` / `encode_photo`.
Files are read in the main process (safely, see photos.py), decoded and encoded in worker
processes (one per core), and each accepted photo is committed in its own transaction by the
main process, so an interrupted import keeps everything committed so far.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
import multiprocessing

import numpy as np

from kiosk.config import EnrollmentConfig
from kiosk.images import ImageLimits, ImageRejected, load_image
from kiosk.photos import Photo, Skipped, iter_photos, scan_people
from kiosk.store import SampleSettings, Store, sha256_hex

ProgressCallback = Callable[[int, int, str], None]  # done, total, current file


@dataclass
class ImportReport:
    people: int = 0  # people in this import with at least one photo now in the store
    added: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    photos: int = 0  # photo files considered

    def as_dict(self) -> dict:
        return {"people": self.people, "added": self.added, "duplicates": self.duplicates,
                "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped]}


@dataclass(frozen=True)
class EncodedPhoto:
    """What a worker returns for one photo: an embedding, or the reason there is none."""
    embedding: np.ndarray | None
    reason: str = ""


def image_limits(config: EnrollmentConfig) -> ImageLimits:
    return ImageLimits(max_bytes=int(config.max_file_mb * 1e6),
                       max_pixels=int(config.max_megapixels * 1e6), max_side=config.max_side)


def sample_settings(config: EnrollmentConfig) -> SampleSettings:
    from kiosk.engine import ENCODER_MODEL
    return SampleSettings(ENCODER_MODEL, config.detector, config.landmarks, config.jitters)


def worker_count(configured: int) -> int:
    """0 means every core this process may run on (respects taskset/cgroups affinity)."""
    return configured if configured > 0 else len(os.sched_getaffinity(0))


_engine = None
_limits: ImageLimits | None = None


def _init_worker(config: EnrollmentConfig) -> None:
    global _engine, _limits
    from kiosk.engine import EngineSettings, FaceEngine
    _engine = FaceEngine(EngineSettings.enrollment(config))
    _limits = image_limits(config)


def encode_photo(data: bytes) -> EncodedPhoto:
    """Decode one photo and encode its single face; runs in a worker (or in-process)."""
    try:
        image = load_image(data, _limits)
    except ImageRejected as exc:
        return EncodedPhoto(None, str(exc))
    boxes = _engine.detect(image.pixels)
    if not boxes:
        return EncodedPhoto(None, "no face found")
    if len(boxes) > 1:
        return EncodedPhoto(None, f"{len(boxes)} faces found, a photo must show exactly one person")
    return EncodedPhoto(_engine.encode(image.pixels, boxes)[0])


class PhotoEncoder:
    """Runs encode_photo over many photos, on all cores or serially, keeping few in flight."""

    def __init__(self, config: EnrollmentConfig, workers: int):
        self.workers = workers
        if workers > 1:
            self.pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"),
                                            initializer=_init_worker, initargs=(config,))
        else:
            self.pool = None
            _init_worker(config)

    def map(self, jobs: Iterator[tuple[object, bytes]]) -> Iterator[tuple[object, EncodedPhoto]]:
        """Yield (key, result) for each (key, photo bytes), in completion order."""
        if self.pool is None:
            for key, data in jobs:
                yield key, encode_photo(data)
            return
        in_flight: dict[Future, object] = {}
        for key, data in jobs:
            in_flight[self.pool.submit(encode_photo, data)] = key
            if len(in_flight) >= self.workers * 2:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    yield in_flight.pop(future), future.result()
        for future in list(in_flight):
            yield in_flight.pop(future), future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def import_folder(store: Store, root: str | os.PathLike, config: EnrollmentConfig, *,
                  workers: int | None = None, on_progress: ProgressCallback | None = None,
                  show_bar: bool | None = None) -> ImportReport:
    """Enroll ROOT/<person>/**/<photo> into the store; skipped files are reported, never fatal.

    Raises FileNotFoundError/NotADirectoryError when ROOT itself is missing.
    """
    people, skipped = scan_people(root)
    report = ImportReport(skipped=skipped)
    report.photos = sum(len(p.photo_files) for p in people)
    settings = sample_settings(config)
    limits = image_limits(config)
    enrolled_people: set[str] = set()
    seen: dict[str, str] = {}  # sha256 -> person, within this import
    pending: dict[str, Photo] = {}  # sha256 -> photo waiting for its encoding

    bar = progress_bar(report.photos, show_bar)
    done = 0

    def advance(file: str) -> None:
        nonlocal done
        done += 1
        bar.update(1)
        if on_progress:
            on_progress(done, report.photos, file)

    def jobs() -> Iterator[tuple[str, bytes]]:
        for item in iter_photos(root, people, limits.max_bytes):
            if isinstance(item, Skipped):
                report.skipped.append(item)
                advance(item.file)
                continue
            digest = sha256_hex(item.data)
            owner = seen.get(digest) or store.owner_of_photo(digest)
            if owner is not None:
                report.duplicates += 1
                if owner == item.person:
                    enrolled_people.add(owner)
                else:
                    report.skipped.append(Skipped(item.file, f"same photo already enrolled as {owner}"))
                advance(item.file)
                continue
            seen[digest] = item.person
            pending[digest] = item
            yield digest, item.data

    encoder = PhotoEncoder(config, worker_count(config.workers) if workers is None else workers)
    try:
        for digest, result in encoder.map(jobs()):
            photo = pending.pop(digest)
            if result.embedding is None:
                report.skipped.append(Skipped(photo.file, result.reason))
            else:
                store.add_sample(photo.person, result.embedding, settings, digest, photo.file,
                                 photo.data if config.keep_photos else None)
                report.added += 1
                enrolled_people.add(photo.person)
            advance(photo.file)
    finally:
        encoder.close()
        bar.close()
    report.people = len(enrolled_people)
    return report


def progress_bar(total: int, show: bool | None):
    """A tqdm bar on stderr, shown only on a terminal unless `show` says otherwise."""
    from tqdm import tqdm
    if show is None:
        show = sys.stderr.isatty()
    return tqdm(total=total, unit="photo", disable=not show, file=sys.stderr, leave=False)
