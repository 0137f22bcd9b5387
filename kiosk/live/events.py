"""Writing recognition events, off the screen's thread.

Each commit waits for the SD card (synchronous=FULL), which must not hold up the screen, so
events (and, with recognition.capture_faces / capture_unknown, their faces) are queued to a
thread of their own that holds its own connection to the store.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from kiosk.config import Config
from kiosk.live.recognition import Confirmation
from kiosk.store import Store
from kiosk.store.faces import add_event_with_face, save_unknown_face
from kiosk.vision.matcher import UNKNOWN

log = logging.getLogger("kiosk.daemon")

QUEUE_LIMIT = 1000


class EventWriter:
    """Queues confirmations and writes them as events from its own thread."""

    def __init__(self, config: Config):
        self.config = config
        self.queue: queue.Queue[tuple[Confirmation, float] | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.thread = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self.thread.start()

    def add(self, confirmation: Confirmation) -> None:
        try:
            self.queue.put_nowait((confirmation, time.time()))
        except queue.Full:
            log.warning("event log is behind; dropped an event for %s", confirmation.name)

    def close(self, timeout: float = 1.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def _write(self) -> None:
        limits = self.config.recognition
        with Store(self.config.data_path()) as store:
            while (item := self.queue.get()) is not None:
                confirmation, at = item
                try:
                    if limits.capture_faces and confirmation.crop is not None and confirmation.embedding is not None:
                        add_event_with_face(store, limits, confirmation.name, confirmation.distance,
                                            confirmation.track_id, at, confirmation.crop, confirmation.embedding)
                    else:
                        store.add_event(confirmation.name, confirmation.distance, confirmation.track_id, at)
                    if (limits.capture_unknown and confirmation.crop is not None
                            and confirmation.embedding is not None and confirmation.name == UNKNOWN):
                        save_unknown_face(store, limits, confirmation.crop, confirmation.embedding,
                                          confirmation.track_id)
                except Exception as exc:  # a full disk must not stop recognition
                    log.warning("could not log an event for %s: %s", confirmation.name, exc)
