"""The door relay: a GPIO pin that opens a door strike for people on the door.allow list.

Opening a door is not a greeting. A confirmed member's track is offered to the door with each
new result (recognition.py), and `refusal` says whether its evidence is enough:

- the track's evidence scores within the door's own threshold, chosen on the gallery's curve for
  door.false_accept_target (1 stranger in 1000 by default, ten times stricter than the greeting);
- the latest door.frames single frames each named the person on their own;
- the liveness check passed (with a door, recognition.liveness is "both" unless the config turns
  it off, which the kiosk warns about at every start, in status and in doctor).

The reason an allowed person's door stayed closed is logged, once per track and reason (while
the frames are still being gathered, only at debug level).

The pin is driven closed as soon as the kiosk starts, opened for door.open_seconds for such a
track (never for an unknown face or a face not yet confirmed), and closed again by a
timer of its own, so a stalled screen loop cannot hold the door open. It is also closed when the
kiosk stops, when its pipeline stops being healthy (the watchdog path), and by `kiosk door close`,
which the systemd unit runs after the daemon ends, however it ended.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from gpiozero import GPIOZeroError, OutputDevice

from kiosk.config import DoorConfig
from kiosk.errors import KioskError
from kiosk.names import UNKNOWN
from kiosk.vocabulary import LivenessState

log = logging.getLogger("kiosk.door")

ANY_KNOWN = "any known"
OPENED = "opened"
REMEMBERED_TRACKS = 1000  # tracks whose door decision is remembered (opened, or the reason it did not)


@dataclass(frozen=True)
class DoorCandidate:
    """A confirmed member's track and its evidence, offered to the door with each new result
    (plain data from the recognizer; `refusal` decides)."""
    track_id: int
    name: str
    score: float  # the evidence's score for the name
    agreeing: int  # single frames in a row that named them on their own
    liveness: LivenessState | None  # None: not checked
    threshold: float  # the door's threshold (door.false_accept_target on the gallery's curve)


def refusal(candidate: DoorCandidate, frames: int) -> str:
    """Why CANDIDATE's evidence cannot open the door, or "" when it can."""
    if candidate.liveness == LivenessState.FAILED:
        return "not live (a picture held up to the camera)"
    if candidate.liveness == LivenessState.CHECKING:
        return "liveness check not passed yet"
    if candidate.score > candidate.threshold:
        return f"evidence score {candidate.score:.3f} above the door's {candidate.threshold:.3f}"
    return short_of_frames(candidate, frames)


def short_of_frames(candidate: DoorCandidate, frames: int) -> str:
    """The one refusal that is only waiting: fewer than FRAMES single frames in a row so far."""
    if candidate.agreeing < frames:
        return f"{candidate.agreeing} of {frames} frames in a row named them (door.frames)"
    return ""


class Door:
    """One relay output, closed until an allowed name is confirmed."""

    def __init__(self, config: DoorConfig):
        self.config = config
        try:
            self.relay = OutputDevice(config.pin, active_high=config.active_high, initial_value=False)
        except (GPIOZeroError, OSError) as exc:
            raise KioskError(f"door.pin: cannot drive GPIO {config.pin}: {exc}") from None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._decided: dict[int, str] = {}  # track id -> OPENED or the latest reason it did not

    def consider(self, candidate: DoorCandidate) -> bool:
        """Open for CANDIDATE's track when its name is allowed and its evidence is enough (once
        per track); otherwise log why not, once per track and reason. True when it opened."""
        if candidate.name == UNKNOWN or not self.allows(candidate.name):
            return False
        earlier = self._decided.get(candidate.track_id)
        if earlier == OPENED:
            return False
        reason = refusal(candidate, self.config.frames)
        if len(self._decided) >= REMEMBERED_TRACKS:
            self._decided.pop(next(iter(self._decided)))
        if reason:
            if reason != earlier:  # gathering frames is only waiting; anything else is a refusal
                waiting = reason == short_of_frames(candidate, self.config.frames)
                log.log(logging.DEBUG if waiting else logging.INFO, "door stays closed for %s (track %d): %s",
                        candidate.name, candidate.track_id, reason)
            self._decided[candidate.track_id] = reason
            return False
        self._decided[candidate.track_id] = OPENED
        return self.open_for(candidate.name)

    def allows(self, name: str) -> bool:
        """True for a confirmed enrolled name on the list (or any, with "any known")."""
        return name != UNKNOWN and (ANY_KNOWN in self.config.allow or name in self.config.allow)

    def open_for(self, name: str) -> bool:
        """Open for door.open_seconds (from now, also when already open) if NAME is allowed."""
        if not self.allows(name):
            return False
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self.relay.on()
            self._timer = threading.Timer(self.config.open_seconds, self.close)
            self._timer.daemon = True
            self._timer.start()
        log.info("door opened for %s", name)
        return True

    @property
    def is_open(self) -> bool:
        return bool(self.relay.value)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.relay.off()

    def release(self) -> None:
        """Close the door and give the pin back."""
        self.close()
        self.relay.close()
