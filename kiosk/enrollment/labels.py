"""Learning from faces the daemon kept: an admin says who a face is (or is not).

- `kiosk unknowns label ID NAME`: an unknown face becomes a sample of NAME, without re-encoding
  (its embedding was made by the live pipeline, with the detection settings); its crop becomes
  the kept photo.
- `kiosk events correct ID NAME`: an event's face becomes an accepted sample of NAME (created if
  new) and the event is renamed (it remembers the name it had). If the event had named somebody
  else, the face is also recorded as a known confusion with that person.
- `kiosk events correct ID --not NAME`: the face is recorded as a known confusion with NAME and
  the event becomes unknown. The matcher treats a confusion as a negative sample: a face closer
  to it than to NAME's own samples is never named NAME again. Refused when the face is one of
  NAME's own samples (the same frame, kept again): that contradiction could never take effect.
- `kiosk events correct ID --undo`: both taken back: the event's old name, no sample, no confusion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.errors import NotFound, Refused
from kiosk.names import UNKNOWN
from kiosk.store import EventFace, SampleSettings, Store, embedding_blob, sha256_hex
from kiosk.vision.encoders import model_of
from kiosk.vocabulary import MATCHED_STATUSES, SampleStatus


def live_sample(store: Store, config: Config, crop_path: Path, embedding: np.ndarray) -> tuple[SampleSettings, str]:
    """The settings and photo digest of a sample made from a kept face; its crop becomes the kept
    photo (when photos are kept). A crop that was deleted is identified by its embedding."""
    crop = crop_path.read_bytes() if crop_path.is_file() else None
    digest = sha256_hex(crop if crop is not None else embedding_blob(embedding))
    if config.enrollment.keep_photos and crop is not None:
        store.people.keep_photo(digest, crop)
    live = config.detection
    return SampleSettings(model_of(config.recognition.encoder), live.model, live.landmarks, live.jitters), digest


def label_unknown(store: Store, config: Config, unknown_id: int, person: str) -> None:
    """Enroll unknown face UNKNOWN_ID as a sample of PERSON."""
    label_unknowns(store, config, [unknown_id], person)


def label_unknowns(store: Store, config: Config, unknown_ids: list[int], person: str,
                   status: str = SampleStatus.OK) -> int:
    """Enroll the unknown faces UNKNOWN_IDS as samples of PERSON with STATUS in one transaction
    (all or none; identical crops make one sample); returns how many samples were made."""
    faces = {face.id: face for face in store.unknowns.all()}
    missing = [unknown_id for unknown_id in unknown_ids if unknown_id not in faces]
    if missing:
        raise NotFound(f"unknown face {missing[0]}: no such id (see kiosk unknowns list)")
    labels, crops = [], []
    for unknown_id in unknown_ids:
        crop_path = store.unknown_face_path(faces[unknown_id].crop_file)
        settings, digest = live_sample(store, config, crop_path, faces[unknown_id].embedding)
        labels.append((unknown_id, digest, f"unknowns/{faces[unknown_id].crop_file}"))
        crops.append(crop_path)
    made = store.unknowns.label(labels, person, settings, status)
    for crop_path in crops:
        crop_path.unlink(missing_ok=True)
    return made


def undo_correction(store: Store, event_id: int) -> str:
    """Apply `kiosk events correct ID --undo`; returns a one-line summary of what changed."""
    undone = store.events.undo_correction(event_id)
    if undone is None:
        raise Refused(f"event {event_id}: was never corrected, nothing to undo")
    now, was = undone
    return f"event {event_id}: correction undone, it names {was} again (was {now}); what it taught is forgotten"


# A face this close to one of a person's samples is that sample (the same frame encoded again):
# "not NAME" for it would contradict NAME's own photo, and could never take effect.
SAME_FACE = 1e-3


def own_sample_distance(store: Store, config: Config, name: str, face: EventFace) -> float:
    """The distance from FACE to NAME's nearest sample recognition matches (inf when none, or when
    FACE was encoded by another model than the configured encoder's)."""
    if model_of(config.recognition.encoder) != face.encoder:
        return float("inf")
    rows = [s.embedding for s in store.people.samples_to_check(name, face.encoder)
            if s.status in MATCHED_STATUSES and s.embedding.shape == face.embedding.shape]
    return float(np.linalg.norm(np.asarray(rows) - face.embedding, axis=1).min()) if rows else float("inf")


def correct_event(store: Store, config: Config, event_id: int, name: str | None, not_name: str | None) -> str:
    """Apply `kiosk events correct`; returns a one-line summary of what changed."""
    event = store.events.get(event_id)
    if event is None:
        raise NotFound(f"event {event_id}: no such event (see kiosk events)")
    face = store.events.face(event_id)
    if face is None:
        raise NotFound(f"event {event_id}: no face was kept for it (recognition.capture_faces was off, "
                       "or the face was pruned)")
    known = {p.name for p in store.people.summaries()}
    if not_name is not None:
        if not_name not in known:
            raise NotFound(f"{not_name}: nobody of that name")
        if own_sample_distance(store, config, not_name, face) <= SAME_FACE:
            raise Refused(f"event {event_id}: its face is one of {not_name}'s own samples (an earlier correction "
                          f"or import made it so); take that back first (kiosk people show {not_name})")
        new_name = UNKNOWN if event.name == not_name else event.name
        store.events.correct(event_id, new_name, sample=None, not_person=not_name)
        return f"event {event_id}: recorded as not {not_name}; faces like it will not be named {not_name} again"
    if name is None:
        raise ValueError("correct_event needs a name or not_name")
    if name == event.name:
        raise Refused(f"event {event_id} already names {name}")
    crop_path = store.event_face_path(face.crop_file)
    crop = crop_path.read_bytes() if crop_path.is_file() else None
    owner = store.people.owner_of_photo(sha256_hex(crop if crop is not None else embedding_blob(face.embedding)))
    if owner is not None:
        raise Refused(f"event {event_id}: its face is already a sample of {owner}")
    settings, digest = live_sample(store, config, crop_path, face.embedding)
    wrong = event.name if event.name != UNKNOWN and event.name in known else None
    store.events.correct(event_id, name, sample=(settings, digest, f"events/{event_id}"), not_person=wrong)
    also = f"; recorded as not {wrong}" if wrong else ""
    return f"event {event_id}: now {name}, its face added to {name}'s samples{also}"
