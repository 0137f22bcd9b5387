"""Correcting a wrong name after the fact: each event keeps its face, an admin says who it was.

With `recognition.capture_faces` on, the event writer keeps every event's face: a JPEG crop in
DATA_DIR/event_faces/ (0600) and its embedding in the store, bounded by face_max_count and
face_max_age_days like the unknown faces. Then:

- `kiosk events correct ID NAME`: the face becomes an accepted sample of NAME (created if new)
  and the event is renamed (it remembers the name it had). If the event had named somebody
  else, the face is also recorded as a known confusion with that person.
- `kiosk events correct ID --not NAME`: the face is recorded as a known confusion with NAME and
  the event becomes unknown. The matcher treats a confusion as a negative sample: a face closer
  to it than to NAME's own samples is never named NAME again.
"""

from __future__ import annotations

import io
import secrets
import time

import numpy as np
from PIL import Image

from kiosk.config import Config, RecognitionConfig
from kiosk.matcher import UNKNOWN
from kiosk.store import SampleSettings, Store, sha256_hex, write_private_file


class CorrectionError(ValueError):
    """A correction that cannot be made; the message says why."""


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    """An RGB crop as JPEG (quality 90): small on the SD card, plenty for a face."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def crop_name(now: float) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{secrets.token_hex(4)}.jpg"


def add_event_with_face(store: Store, config: Config, name: str, distance: float | None, track_id: int | None,
                        at: float, crop: np.ndarray, embedding: np.ndarray) -> int:
    """Log an event with its face kept, then trim the kept faces to their limits; returns the event id."""
    crop_file = crop_name(at)
    write_private_file(store.event_face_path(crop_file), jpeg_bytes(crop))
    event_id = store.add_event(name, distance, track_id, at, face=(embedding, crop_file))
    prune_event_faces(store, config.recognition, at)
    return event_id


def beyond_limits(kept: list[tuple[int, float]], now: float, max_age_days: float, max_count: int) -> list[int]:
    """Ids of kept faces ((id, time), oldest first) past the age limit or the oldest beyond the count."""
    oldest_allowed = now - max_age_days * 86400
    expired = [key for key, at in kept if at < oldest_allowed]
    remaining = [key for key, at in kept if at >= oldest_allowed]
    return expired + remaining[:max(0, len(remaining) - max_count)]


def prune_event_faces(store: Store, limits: RecognitionConfig, now: float | None = None) -> int:
    """Forget faces past the age limit and the oldest beyond the count limit (events stay)."""
    now = time.time() if now is None else now
    kept = [(f.event_id, f.at) for f in store.event_faces()]  # oldest first
    crops = store.delete_event_faces(beyond_limits(kept, now, limits.face_max_age_days, limits.face_max_count))
    for crop_file in crops:
        store.event_face_path(crop_file).unlink(missing_ok=True)
    return len(crops)


def correct_event(store: Store, config: Config, event_id: int, name: str | None, not_name: str | None) -> str:
    """Apply `kiosk events correct`; returns a one-line summary of what changed."""
    from kiosk.engine import ENCODER_MODEL
    event = store.event(event_id)
    if event is None:
        raise CorrectionError(f"event {event_id}: no such event (see kiosk events)")
    face = store.event_face(event_id)
    if face is None:
        raise CorrectionError(f"event {event_id}: no face was kept for it (recognition.capture_faces was off, "
                              "or the face was pruned)")
    if not_name is not None:
        if not any(p.name == not_name for p in store.people()):
            raise CorrectionError(f"{not_name}: nobody of that name")
        new_name = UNKNOWN if event.name == not_name else event.name
        store.correct_event(event_id, new_name, sample=None, not_person=not_name)
        return f"event {event_id}: recorded as not {not_name}; faces like it will not be named {not_name} again"
    assert name is not None
    if name == event.name:
        raise CorrectionError(f"event {event_id} already names {name}")
    crop_path = store.event_face_path(face.crop_file)
    crop = crop_path.read_bytes() if crop_path.is_file() else None
    digest = sha256_hex(crop if crop is not None else face.embedding.tobytes())
    owner = store.owner_of_photo(digest)
    if owner is not None:
        raise CorrectionError(f"event {event_id}: its face is already a sample of {owner}")
    if config.enrollment.keep_photos and crop is not None:
        store.keep_photo(digest, crop)
    live = config.detection
    settings = SampleSettings(ENCODER_MODEL, live.model, live.landmarks, live.jitters)
    wrong = event.name if event.name != UNKNOWN and any(p.name == event.name for p in store.people()) else None
    store.correct_event(event_id, name, sample=(settings, digest, f"events/{event_id}"), not_person=wrong)
    also = f"; recorded as not {wrong}" if wrong else ""
    return f"event {event_id}: now {name}, its face added to {name}'s samples{also}"
