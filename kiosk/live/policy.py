"""What a confirmed face causes, decided in one place: kept or not, logged or not, told or not.

The recognizer confirms a name; this policy alone decides what follows from it, from the config
and the visit so far, and hands the answer on as data (an Outcome) that the others carry out:
- the recognizer keeps the face's crop only when something will use it (`wants_crop`);
- one event per visit: a person is logged again only after recognition.event_cooldown;
- the face goes with the event (capture_faces), and a stranger's into the unknowns
  (capture_unknown) for an admin to label;
- the building hears of it (the MQTT outbox) unless the face was a picture held up;
- a greeting for a person the kiosk knows, and who was shown to be a person.
The door is not decided here: outside/door.py opens it on its own, stricter evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.config import Config
from kiosk.names import UNKNOWN, display_name, first_name
from kiosk.vocabulary import EventKind, LivenessState


@dataclass(frozen=True)
class Confirmation:
    """A track whose name was just confirmed: one possible event and greeting."""
    track_id: int
    name: str
    distance: float | None  # the track's evidence score for the name
    crop: np.ndarray | None = None  # the face, for capture_faces / capture_unknown
    embedding: np.ndarray | None = None
    liveness: LivenessState | None = None  # None: not checked
    threshold: float | None = None  # the live threshold the evidence was held to
    frames: int | None = None  # encodings the evidence was made of

    @property
    def not_live(self) -> bool:
        """A picture held up to the camera: logged, but no greeting, door or MQTT message."""
        return self.liveness == LivenessState.FAILED


@dataclass(frozen=True)
class Outcome:
    """What one confirmation causes."""
    kind: EventKind = EventKind.SEEN
    face_kept: bool = False  # its crop and encoding kept with the event (recognition.capture_faces)
    unknown_kept: bool = False  # kept as an unknown face to label (recognition.capture_unknown)
    published: bool = True  # sent to the building through the MQTT outbox
    greeting: str = ""  # shown on the screen, with the person's display name; "" for none
    greeting_short: str = ""  # the same with their first name only, for when it does not fit


class ConfirmationPolicy:
    """The one owner of what confirmations cause; used from the daemon's thread (and by the
    recognizer's workers for `wants_crop`, which reads only the config)."""

    def __init__(self, config: Config) -> None:
        self.recognition = config.recognition
        self.greeting = config.display.greeting
        self._last_event_at: dict[str, float] = {}  # visit key -> when it was last logged

    def wants_crop(self, name: str) -> bool:
        """Whether a confirmation of NAME should carry the face's crop and encoding."""
        return self.recognition.capture_faces or (self.recognition.capture_unknown and name == UNKNOWN)

    def decide(self, confirmation: Confirmation, now: float) -> Outcome | None:
        """The outcome of a confirmed face, or None while it is the same visit as the last event
        of that person (a stranger's visit is their track)."""
        name = confirmation.name
        key = name if name != UNKNOWN else f"track:{confirmation.track_id}"
        last = self._last_event_at.get(key)
        if last is not None and now - last < self.recognition.event_cooldown:
            return None
        self._last_event_at[key] = now
        has_face = confirmation.crop is not None and confirmation.embedding is not None
        known = name != UNKNOWN
        greet = known and not confirmation.not_live and bool(self.greeting)
        return Outcome(
            face_kept=has_face and self.recognition.capture_faces,
            unknown_kept=has_face and not known and self.recognition.capture_unknown,
            published=not confirmation.not_live,
            greeting=self.greeting.replace("{name}", display_name(name)) if greet else "",
            greeting_short=self.greeting.replace("{name}", first_name(name)) if greet else "")

    @staticmethod
    def door_opened() -> Outcome:
        """The outcome of the door opening for someone: logged and told, nothing kept or shown."""
        return Outcome(kind=EventKind.DOOR)
