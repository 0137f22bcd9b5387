"""Writing recognition events, off the screen's thread.

Each commit waits for the SD card (synchronous=FULL), which must not hold up the screen, so
events (and, with recognition.capture_faces / capture_unknown, their faces) are queued to a
thread of their own that holds its own connection to the store. With MQTT on, each event also
joins the store's outbox in the same transaction, and the publisher is woken to send it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from kiosk.config import Config
from kiosk.live.recognition import Confirmation
from kiosk.store import Store
from kiosk.store.faces import add_event_with_face, save_unknown_face
from kiosk.vision.matcher import UNKNOWN

log = logging.getLogger("kiosk.daemon")

QUEUE_LIMIT = 1000


class EventWriter:
    """Queues confirmations and writes them as events from its own thread."""

    def __init__(self, config: Config, written: Callable[[], None] | None = None):
        self.config = config
        self.written = written  # called after each event is committed (wakes the MQTT publisher)
        self.outbox_limit = config.mqtt.outbox_limit if config.mqtt.enabled else 0
        self.queue: queue.Queue[tuple[Confirmation, float, str] | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.thread = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self.thread.start()

    def add(self, confirmation: Confirmation, kind: str = "seen") -> None:
        """Log a face seen, or (kind "door") the door opening for them."""
        try:
            self.queue.put_nowait((confirmation, time.time(), kind))
        except queue.Full:
            log.warning("event log is behind; dropped an event for %s", confirmation.name)

    def close(self, timeout: float = 1.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def _write(self) -> None:
        limits = self.config.recognition
        with Store(self.config.data_path()) as store:
            while (item := self.queue.get()) is not None:
                confirmation, at, kind = item
                # A picture held up to the camera is logged, but the building is not told.
                outbox_limit = 0 if confirmation.not_live else self.outbox_limit
                try:
                    if (kind == "seen" and limits.capture_faces and confirmation.crop is not None
                            and confirmation.embedding is not None):
                        add_event_with_face(store, limits, confirmation.name, confirmation.distance,
                                            confirmation.track_id, at, confirmation.crop, confirmation.embedding,
                                            liveness=confirmation.liveness, outbox_limit=outbox_limit)
                    else:
                        store.add_event(confirmation.name, confirmation.distance, confirmation.track_id, at,
                                        kind=kind, liveness=confirmation.liveness, outbox_limit=outbox_limit)
                    if self.written is not None:
                        self.written()
                    if (kind == "seen" and limits.capture_unknown and confirmation.crop is not None
                            and confirmation.embedding is not None and confirmation.name == UNKNOWN):
                        save_unknown_face(store, limits, confirmation.crop, confirmation.embedding,
                                          confirmation.track_id)
                except Exception as exc:  # a full disk must not stop recognition
                    log.warning("could not log an event for %s: %s", confirmation.name, exc)
