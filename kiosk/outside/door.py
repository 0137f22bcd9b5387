"""The door relay: a GPIO pin that opens a door strike for people on the door.allow list.

The pin is driven closed as soon as the kiosk starts, opened for door.open_seconds when a listed
name is confirmed (never for an unknown face or a face not yet confirmed), and closed again by a
timer of its own, so a stalled screen loop cannot hold the door open. It is also closed when the
kiosk stops, when its pipeline stops being healthy (the watchdog path), and by `kiosk door close`,
which the systemd unit runs after the daemon ends, however it ended.
"""

from __future__ import annotations

import logging
import threading

from gpiozero import GPIOZeroError, OutputDevice

from kiosk.config import DoorConfig
from kiosk.errors import KioskError
from kiosk.vision.matcher import UNKNOWN

log = logging.getLogger("kiosk.door")

ANY_KNOWN = "any known"


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
