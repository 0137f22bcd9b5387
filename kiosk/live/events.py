"""Writing recognition events, off the screen's thread.

Each commit waits for the SD card (synchronous=FULL), which must not hold up the screen, so
events (and, with recognition.capture_faces / capture_unknown, their faces) are queued to a
thread of their own that holds its own connection to the store. With MQTT on, each event also
joins the store's outbox in the same transaction, and the publisher is woken to send it.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import Config
from kiosk.live.policy import Confirmation, Outcome
from kiosk.store import Store, StoreError
from kiosk.store.faces import add_event_with_face, save_unknown_face
from kiosk.util import SteadyClock

log = logging.getLogger("kiosk.daemon")

QUEUE_LIMIT = 1000  # confirmations handed over by the screen's thread, not yet taken
WAITING_LIMIT = 10000  # events kept in memory while the store cannot take them (a few MB)
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # back-off between tries while the store refuses
RETENTION_CHECK_SECONDS = 3600.0  # recognition.event_retention_days is applied this often


@dataclass(frozen=True)
class WriterState:
    """What the writer holds back, for `kiosk status`."""
    waiting: int = 0  # events not saved yet, kept in memory
    dropped: int = 0  # events lost because WAITING_LIMIT was reached
    problem: str = ""  # why the store refuses them now, or ""


class EventWriter:
    """Queues confirmations and writes them as events from its own thread.

    An event the store cannot take (a full drive, a write lock held longer than SQLite's busy
    timeout) stays in memory, in order, and is tried again with a back-off until it is saved;
    only beyond WAITING_LIMIT are new events dropped, and counted. A store file replaced or
    deleted under the daemon is noticed before each write and reopened, so events never go to
    an unlinked file.
    """

    def __init__(self, config: Config, written: Callable[[], None] | None = None):
        self.config = config
        self.written = written  # called after each event is committed (wakes the MQTT publisher)
        self.outbox_limit = config.mqtt.outbox_limit if config.mqtt.enabled else 0
        self.queue: queue.Queue[tuple[Confirmation, float, Outcome] | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.waiting: deque[tuple[Confirmation, float, Outcome]] = deque()
        self.dropped = 0
        self.problem = ""
        self.clock = SteadyClock()  # kept faces' ages: a clock step does not age them
        self.retention_checked = float("-inf")  # monotonic
        self.thread = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self.thread.start()

    def add(self, confirmation: Confirmation, outcome: Outcome) -> None:
        """Log a face seen, or the door opening for them, as the policy decided (live/policy.py)."""
        try:
            self.queue.put_nowait((confirmation, time.time(), outcome))
        except queue.Full:
            self.dropped += 1
            log.warning("event log is behind; dropped an event for %s", confirmation.name)

    def state(self) -> WriterState:
        return WriterState(len(self.waiting) + self.queue.qsize(), self.dropped, self.problem)

    def close(self, timeout: float = 1.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)
        if self.waiting:
            log.warning("stopping with %d event(s) not saved: %s", len(self.waiting), self.problem)

    def _take(self, timeout: float | None) -> bool:
        """Move what the screen handed over into the waiting list; False once asked to stop."""
        try:
            item = self.queue.get(timeout=timeout)
            while True:
                if item is None:
                    return False
                if len(self.waiting) >= WAITING_LIMIT:
                    self.dropped += 1
                    if self.dropped == 1 or self.dropped % 100 == 0:
                        log.warning("%d event(s) dropped: %d already wait for the store (%s)",
                                    self.dropped, len(self.waiting), self.problem)
                else:
                    self.waiting.append(item)
                item = self.queue.get_nowait()
        except queue.Empty:
            return True

    def _write(self) -> None:
        store = Store(self.config.data_path())
        tries = 0
        running = True
        try:
            while running:
                # Block while nothing waits; while the store refuses, wait the back-off (taking
                # new events meanwhile) before trying the oldest again.
                backoff = RETRY_SECONDS[min(tries, len(RETRY_SECONDS)) - 1] if tries else 0.0
                running = self._take(None if not self.waiting else backoff)
                tries = self._save_waiting(store, tries)
        finally:
            store.close()

    def _save_waiting(self, store: Store, tries: int) -> int:
        """Save the waiting events oldest first, stopping at the first the store refuses;
        returns the number of failed tries in a row (0 once everything is saved)."""
        while self.waiting:
            try:
                if store.replaced():
                    log.warning("%s was replaced or deleted; the event log reopened it", store.path)
                    store.reopen()
                self._save(store, *self.waiting[0])
            except (OSError, sqlite3.Error, StoreError) as exc:  # a full disk or a lock: try again later
                if not self.problem:
                    log.warning("cannot save events now (%s); keeping them in memory and trying again", exc)
                self.problem = str(exc) or type(exc).__name__
                return tries + 1
            except Exception as exc:  # this event itself cannot be saved: it must not hold up the rest
                self.dropped += 1
                log.warning("dropped an event for %s that cannot be saved: %s", self.waiting[0][0].name, exc)
            self.waiting.popleft()
            self._apply_retention(store)
            if self.problem:
                log.info("the store takes events again (%d still waiting)", len(self.waiting))
                self.problem = ""
        return 0

    def _apply_retention(self, store: Store) -> None:
        """Delete events past recognition.event_retention_days, at most once an hour."""
        days = self.config.recognition.event_retention_days
        if not days or time.monotonic() - self.retention_checked < RETENTION_CHECK_SECONDS:
            return
        self.retention_checked = time.monotonic()
        try:
            deleted = store.events.delete_before(self.clock.now() - days * 86400)
        except Exception as exc:  # tried again in an hour; events are never held up for it
            log.warning("could not delete events older than %g days: %s", days, exc)
            return
        if deleted:
            log.info("deleted %d event(s) older than %g days (recognition.event_retention_days)", deleted, days)

    def _save(self, store: Store, confirmation: Confirmation, at: float, outcome: Outcome) -> None:
        limits = self.config.recognition
        now = self.clock.now()
        if step := self.clock.new_step():
            log.warning("the system clock moved %+.0f s during this run; kept faces are aged by the time "
                        "the kiosk has run instead", step)
        outbox_limit = self.outbox_limit if outcome.published else 0
        if outcome.face_kept and confirmation.crop is not None and confirmation.embedding is not None:
            add_event_with_face(store, limits, confirmation.name, confirmation.distance,
                                confirmation.track_id, at, confirmation.crop, confirmation.embedding,
                                liveness=confirmation.liveness, outbox_limit=outbox_limit, now=now,
                                threshold=confirmation.threshold, frames=confirmation.frames)
        else:
            store.events.add(confirmation.name, confirmation.distance, confirmation.track_id, at,
                            kind=outcome.kind, liveness=confirmation.liveness, outbox_limit=outbox_limit,
                            threshold=confirmation.threshold, frames=confirmation.frames)
        if self.written is not None:
            self.written()
        if outcome.unknown_kept and confirmation.crop is not None and confirmation.embedding is not None:
            try:  # the event is saved; a crop that does not fit is only a crop
                save_unknown_face(store, limits, confirmation.crop, confirmation.embedding, confirmation.track_id,
                                  now=now)
            except Exception as exc:
                log.debug("unknown face not kept: %s", exc)
