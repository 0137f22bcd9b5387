"""Faces the daemon keeps: each a JPEG crop on disk (0600) plus a row with its embedding.

Two kinds, each bounded by a count and an age (see recognition.* in config.yaml):
- unknown faces (recognition.capture_unknown): seen but not recognised, in DATA_DIR/unknowns/;
  `kiosk unknowns label` turns one into a sample;
- event faces (recognition.capture_faces): the face behind each logged event, in
  DATA_DIR/event_faces/; `kiosk events correct` learns from one.
After each new face, faces past the age limit and the earliest kept beyond the count are deleted.
"""

from __future__ import annotations

import io
import secrets
import time

import numpy as np
from PIL import Image

from kiosk.config import RecognitionConfig
from kiosk.paths import EVENT_FACES_DIR, UNKNOWNS_DIR
from kiosk.store.db import Store
from kiosk.store.records import write_private_file
from kiosk.vision.encoders import model_of
from kiosk.vocabulary import LivenessState


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    """An RGB crop as JPEG (quality 90): small on the SD card, plenty for a face."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def crop_name(now: float) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{secrets.token_hex(4)}.jpg"


# --- unknown faces -------------------------------------------------------------------------

def save_unknown_face(store: Store, limits: RecognitionConfig, rgb_crop: np.ndarray, embedding: np.ndarray,
                      track_id: int | None, now: float | None = None) -> int:
    """Keep one unrecognised face (crop + embedding), then trim the set to its limits; returns its id.
    NOW (default: the wall clock) is what ages are measured against; see prune_event_faces."""
    at = time.time()
    crop_file = crop_name(at)
    write_private_file(store.unknown_face_path(crop_file), jpeg_bytes(rgb_crop))
    unknown_id = store.unknowns.add(at, embedding, crop_file, track_id, model_of(limits.encoder))
    prune_unknown_faces(store, limits, at if now is None else now)
    return unknown_id


def prune_unknown_faces(store: Store, limits: RecognitionConfig, now: float | None = None) -> int:
    """Delete faces past the age limit and the earliest kept beyond the count limit; returns how many."""
    now = time.time() if now is None else now
    return delete_unknown_faces(store, store.kept_faces_beyond(
        "unknown_faces", now - limits.unknown_max_age_days * 86400, limits.unknown_max_count))


def delete_unknown_faces(store: Store, ids: list[int]) -> int:
    if not ids:
        return 0
    crops = store.unknowns.delete(ids)
    store.delete_kept_files(UNKNOWNS_DIR, crops)
    return len(crops)


# --- event faces ---------------------------------------------------------------------------

def add_event_with_face(store: Store, limits: RecognitionConfig, name: str, distance: float | None,
                        track_id: int | None, at: float, crop: np.ndarray, embedding: np.ndarray,
                        liveness: LivenessState | None = None, outbox_limit: int = 0, now: float | None = None,
                        threshold: float | None = None, frames: int | None = None) -> int:
    """Log an event with its face kept, then trim the kept faces to their limits; returns the event id.
    NOW (default: AT) is what ages are measured against; see prune_event_faces."""
    crop_file = crop_name(at)
    crop_path = store.event_face_path(crop_file)
    write_private_file(crop_path, jpeg_bytes(crop))
    try:
        event_id = store.events.add(name, distance, track_id, at, face=(embedding, crop_file, model_of(limits.encoder)),
                                   liveness=liveness,
                                   outbox_limit=outbox_limit, threshold=threshold, frames=frames)
    except BaseException:  # not logged (a full drive, a lock): the caller retries, with a new crop
        crop_path.unlink(missing_ok=True)
        raise
    prune_event_faces(store, limits, at if now is None else now)
    return event_id


def prune_event_faces(store: Store, limits: RecognitionConfig, now: float | None = None) -> int:
    """Forget faces past the age limit and the earliest kept beyond the count limit (events stay).

    The daemon passes a NOW that a step of the wall clock cannot move (util.SteadyClock), so a
    clock set 40 days ahead does not make the faces kept a minute ago look 40 days old.
    """
    now = time.time() if now is None else now
    crops = store.events.delete_faces(store.kept_faces_beyond(
        "event_faces", now - limits.face_max_age_days * 86400, limits.face_max_count))
    store.delete_kept_files(EVENT_FACES_DIR, crops)
    return len(crops)
