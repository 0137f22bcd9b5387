"""What the store hands out and takes in: plain records, and the stored forms of embeddings and names.

No connection here: the records are data between the store and the rooms above it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.store.schema import DLIB_MODEL
from kiosk.util import write_atomically
from kiosk.vocabulary import EventKind, LivenessState, SampleStatus

EMBEDDING_DTYPE = "<f4"
EMBEDDING_VALUES = (16, 2048)  # the lengths schema.EMBEDDING_CHECK allows


@dataclass(frozen=True)
class SampleSettings:
    """How an embedding was made, recorded with every sample so retraining can compare."""
    encoder: str
    detector: str
    landmarks: int
    jitters: int


@dataclass(frozen=True)
class PersonSummary:
    name: str
    samples: int  # matched samples
    created_at: float
    held: int = 0  # samples held back (suspect or pending)


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    name: str
    distance: float | None
    track_id: int | None
    corrected_from: str | None = None
    has_face: bool = False
    kind: EventKind = EventKind.SEEN
    liveness: LivenessState | None = None  # None: not checked; failed: a picture, not a person
    threshold: float | None = None  # the live threshold the track's evidence was held to
    frames: int | None = None  # encodings the evidence was made of (agreeing frames for the door)
    gallery_version: int | None = None  # the site's gallery version in use (kiosk fleet), None off a site


@dataclass(frozen=True)
class Sample:
    """One stored sample of a person, without its embedding (for listings and retraining)."""
    id: int
    source: str
    photo_sha256: str
    settings: SampleSettings
    created_at: float
    status: SampleStatus = SampleStatus.OK
    status_reason: str = ""


@dataclass(frozen=True)
class CheckedSample:
    """A sample as the consistency check sees it."""
    id: int
    source: str
    status: SampleStatus
    embedding: np.ndarray


@dataclass(frozen=True)
class EventFace:
    """The face kept with an event (recognition.capture_faces); its crop is event_faces/<crop_file>."""
    event_id: int
    at: float
    embedding: np.ndarray
    crop_file: str
    encoder: str = DLIB_MODEL  # the model that made the embedding


@dataclass(frozen=True)
class UnknownFace:
    """A face the daemon saw but could not name; its crop is unknowns/<crop_file>."""
    id: int
    at: float
    embedding: np.ndarray
    crop_file: str
    track_id: int | None
    encoder: str = DLIB_MODEL  # the model that made the embedding


HASHED_KEY = re.compile(r"_[0-9a-f]{6}$")


def person_key(name: str) -> str:
    """NAME as a topic level and Home Assistant id: lower-case letters, digits and _, with a short
    hash of the name whenever that changed it or the name itself ends like a hash. A plain key
    never ends like a hash and a hashed key always does, so "José" (jos_8f72d2) and a person
    literally named jos_8f72d2 get different keys; the store refuses the rare hash clash."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if slug == name and not HASHED_KEY.search(slug):
        return slug
    return f"{slug or 'person'}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def embedding_blob(embedding: np.ndarray) -> bytes:
    """The stored form of an embedding: its little-endian float32 values (128 for dlib's encoder)."""
    values = np.asarray(embedding, dtype=EMBEDDING_DTYPE).reshape(-1)
    if not EMBEDDING_VALUES[0] <= len(values) <= EMBEDDING_VALUES[1]:
        raise ValueError(f"an embedding of {len(values)} values")
    return values.tobytes()


def is_embedding_blob(value: object) -> bool:
    """Whether VALUE (read from a database we did not write) is that form, every number finite."""
    return isinstance(value, bytes) and len(value) % 4 == 0 and \
        EMBEDDING_VALUES[0] <= len(value) // 4 <= EMBEDDING_VALUES[1] and bool(
            np.isfinite(np.frombuffer(value, dtype=EMBEDDING_DTYPE)).all())


def as_embedding(blob: bytes) -> np.ndarray:
    """A stored embedding read back (a read-only view of the blob)."""
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE)


def write_private_file(path: Path, data: bytes) -> None:
    """Write PATH (mode 0600, in a 0700 folder) atomically and durably: biometric data at rest."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(path, data, 0o600, durable=True)
