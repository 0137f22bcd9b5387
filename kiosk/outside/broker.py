"""The kiosk's side of a broker connection, bounded: the password it logs in with, and a client
that never holds a message larger than mqtt.max_message_mb.

paho reads a whole packet into memory before anybody sees it, so one 200 MB message on a topic
the kiosk listens to (retained, it comes back on every reconnect) would take a small machine's
memory. `BoundedClient` reads each packet's length first and, when it is over the limit, drops
the connection before reading a byte of it, and says so (`on_oversize`); the site's home then
puts its own gallery back over it (fleet.py), so the next connection finds the real one. The
broker's own limit (mosquitto's `message_size_limit`, README) keeps such a message off it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.errors import ConfigError


def read_password(path: str) -> str:
    """The broker password from mqtt.password_file, which only its owner may read."""
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"mqtt.password_file: {path} can be read by others (mode {stat.S_IMODE(mode):o}); "
                              f"run chmod 600 {path}")
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {exc.strerror}") from None


class MessageTooLarge(OSError):
    """A packet announced as larger than the client takes."""


class BoundedClient(mqtt.Client):
    """A paho client that refuses, before reading it, any packet over MAX_BYTES (see the module)."""

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.on_oversize: Callable[[int], None] | None = None  # called with the refused packet's size

    def _sock_recv(self, bufsize: int) -> bytes:
        packet = self._in_packet
        if packet["have_remaining"] and packet["remaining_length"] > self.max_bytes and not packet["packet"]:
            size = packet["remaining_length"]
            # Forget the packet and drop the connection: paho reconnects as after any loss.
            self._in_packet = {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
                               "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}
            if self.on_oversize is not None:
                self.on_oversize(size)
            raise MessageTooLarge(f"a message of {size} bytes, over mqtt.max_message_mb")
        return super()._sock_recv(bufsize)
