"""Encoding enrolled photos in worker processes: decode within limits, find the person's face, encode it.

`kiosk enroll`, `kiosk import-usb` and `kiosk retrain` all encode through PhotoEncoder. Each
worker holds its own models; untrusted photos are decoded there, so a decoder that crashes, eats
the memory or hangs costs its photo and never the import (pool.py starts a new worker).

A photo where the detector finds no face gets a second chance with the fallback detector
(enrollment.fallback_detector). A photo with one clearly dominant face (at least DOMINANT_RATIO
times as wide as the next) enrolls that face: people in the background of a red-carpet photo do
not make it useless. Two faces of similar size are refused: which one is the person cannot be told.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO, TypeVar

import numpy as np

from kiosk.config import EnrollmentConfig
from kiosk.pool import WorkerPool
from kiosk.util import OutOfTime, available_memory_mb, die_with_parent, time_limit
from kiosk.vision.boxes import Box
from kiosk.vision.encoders import require_encoder
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.identify import encode_faces, find_faces, width
from kiosk.vision.images import ImageLimits, ImageRejected, load_image

_Key = TypeVar("_Key")
DOMINANT_RATIO = 2.0


@dataclass(frozen=True)
class EncodedPhoto:
    """What a worker returns for one photo: an embedding, or the reason there is none."""
    embedding: np.ndarray | None
    reason: str = ""
    detector: str = ""  # the detector that found the face
    note: str = ""


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
    return EncodedPhoto(encode_faces(_engine, found, 1)[0], "", detector, note)


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
    """Runs encode_photo over many photos, on all cores (pool.py) or serially, keeping few in flight.

    A worker that dies (killed, or by the kernel when memory runs out) takes the pool down with
    every photo in flight: those are tried again one at a time in a new pool, so only the photo
    that kills its worker again is lost, with a reason."""

    def __init__(self, config: EnrollmentConfig, workers: int, encoder: str):
        require_encoder(encoder)
        self.workers = workers
        self.pool: WorkerPool | None = None
        if workers > 1:
            self.pool = WorkerPool(workers, _init_worker,
                                   lambda context: (config, encoder, context.Lock(), os.getpid()))
        else:
            _init_worker(config, encoder)

    def map(self, jobs: Iterator[tuple[_Key, bytes]]) -> Iterator[tuple[_Key, EncodedPhoto]]:
        """Yield (key, result) for each (key, photo bytes), in completion order."""
        if self.pool is None:
            for key, data in jobs:
                yield key, encode_photo(data)
            return
        yield from self.pool.map(encode_photo, jobs, lambda _: DIED)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


DIED = EncodedPhoto(None, "its decoding process died (out of memory, or stuck)")
