"""The systemd notify protocol (sd_notify), spoken directly over a unix datagram socket.

Under a Type=notify unit systemd sets $NOTIFY_SOCKET; the daemon reports each start-up step (with
EXTEND_TIMEOUT_USEC), READY=1 once the models are loaded, STATUS=... lines for `systemctl status`,
WATCHDOG=1 keep-alives and STOPPING=1. Outside systemd the variable is unset and every call is a
no-op, so the same code runs on a desktop.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("kiosk.notify")

START_STEP_SECONDS = 120.0  # what one start-up step may take once the unit's TimeoutStartSec= has passed


def _socket_address(value: str) -> str | bytes:
    """$NOTIFY_SOCKET as a socket address: a path, or "@name" for the abstract namespace."""
    if value.startswith("@"):
        return b"\0" + os.fsencode(value[1:])
    return value


class Notifier:
    """Sends notify messages to systemd; does nothing when $NOTIFY_SOCKET is unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        value = env.get("NOTIFY_SOCKET", "")
        self._address = _socket_address(value) if value else None
        self._socket: socket.socket | None = None
        self._error_logged = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, text: str | None = None, **fields: object) -> bool:
        """Send one message, either raw "KEY=VALUE\\n..." text or KEY=value fields.

        Returns whether it was sent. Failures are logged once at debug level and never raised:
        a lost status line must not take the kiosk down.
        """
        if self._address is None:
            return False
        lines = [text] if text else []
        lines += [f"{key}={value}" for key, value in fields.items()]
        if not lines:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # "replace": a status naming an undecodable file from a USB stick must not raise.
            self._socket.sendto("\n".join(lines).encode("utf-8", "replace"), self._address)
            return True
        except OSError as exc:
            if not self._error_logged:
                log.debug("systemd notify failed: %s", exc)
                self._error_logged = True
            return False

    def ready(self) -> bool:
        return self.send(READY=1)

    def starting(self, step: str, seconds: float = START_STEP_SECONDS) -> bool:
        """Before READY=1: say which start-up step runs, and give it SECONDS from now.

        Past TimeoutStartSec=, systemd waits EXTEND_TIMEOUT_USEC more for the next message, so a
        slow but moving start (an SD card, a busy machine) is not killed while a hung step still is.
        """
        return self.send(STATUS=step, EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def status(self, text: str) -> bool:
        # A newline would start a new field; the status is one line.
        return self.send(STATUS=" ".join(str(text).splitlines()))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        return self.send(STOPPING=1)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between keep-alives (half of WatchdogSec), or None when no watchdog is set for us.

    $WATCHDOG_PID, when present, names the process the watchdog is meant for; a child that
    inherited the environment must not answer for its parent.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000 / 2


class WatchdogGate:
    """Send WATCHDOG=1 only while frames really flow from capture to display.

    A daemon whose main loop still spins but whose camera or display has hung stops petting the
    watchdog, so systemd restarts it (Restart=on-failure) instead of leaving a frozen screen.
    """

    def __init__(self, notifier: Notifier, interval: float, stall_after: float) -> None:
        self.notifier = notifier
        self.interval = interval
        self.stall_after = stall_after
        self._last_frame: float | None = None
        self._last_ping: float | None = None

    def frame_processed(self, now: float) -> None:
        """Record that a frame went all the way from the camera to the screen."""
        self._last_frame = now

    def frames_flowing(self, now: float) -> bool:
        return self._last_frame is not None and now - self._last_frame <= self.stall_after

    def tick(self, now: float) -> bool:
        """Call often from the main loop; returns True when a WATCHDOG=1 was sent."""
        if self._last_ping is not None and now - self._last_ping < self.interval:
            return False
        if not self.frames_flowing(now):
            return False
        self._last_ping = now
        self.notifier.watchdog()
        return True
