"""Reading through camera failures: a source that is closed and reopened with backoff, never raising.

What the daemon reads (the `Frames` protocol in base.py): a camera that fails or is unplugged
is reopened in the background while the display keeps drawing.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from kiosk.frame import Frame
from kiosk.live.sources.base import CameraUnavailable, FrameSource
from kiosk.vocabulary import CameraState

log = logging.getLogger("kiosk.camera")

FIRST_RETRY_DELAY = 0.5  # seconds before the first reopen; doubles up to camera.retry_max_delay
LONGEST_WAIT_PER_READ = 0.1  # a waiting read() returns after this, so the display stays live


class RetryingSource:
    """A source that survives camera failures: it reopens with backoff and never raises on read.

    read() returns a Frame, or None when no frame is available right now (the camera is being
    reopened, or the source has ended: see `finished`). While waiting for the next attempt a read
    returns within LONGEST_WAIT_PER_READ. `state` is a CameraState;
    `last_error` describes the latest failure. Frame indexes keep counting across reopens.
    """

    def __init__(self, make_source: Callable[[], FrameSource], label: str, retry_max_delay: float, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.make_source = make_source
        self.label = label
        self.retry_max_delay = retry_max_delay
        self.state = CameraState.STARTING
        self.last_error = ""
        self._clock = clock
        self._sleep = sleep
        self._source: FrameSource | None = None
        self._first_delay = min(FIRST_RETRY_DELAY, retry_max_delay)
        self._delay = self._first_delay
        self._next_attempt = 0.0
        self._outage_logged = False
        self._frames = 0
        self._base = 0  # frames delivered before the open source began

    @property
    def name(self) -> str:
        return self._source.name if self._source is not None else self.label

    @property
    def finished(self) -> bool:
        return self.state == CameraState.FINISHED

    def open(self) -> None:
        """Try to open the source now; a failure only schedules the next attempt."""
        if self._source is None and not self.finished:
            self._connect()

    def read(self) -> Frame | None:
        if self.finished:
            return None
        source = self._source
        if source is None:
            remaining = self._next_attempt - self._clock()
            if remaining > 0:
                self._sleep(min(remaining, LONGEST_WAIT_PER_READ))
                return None
            if not self._connect():
                return None
            source = self._source
            assert source is not None  # _connect() sets it when it succeeds
        try:
            frame = source.read()
        except Exception as exc:
            self._fail(exc)
            return None
        if frame is None:
            log.info("%s ended", source.name)
            self.close()
            self.state = CameraState.FINISHED
            return None
        if self.state != CameraState.OK and self._outage_logged:
            log.info("camera %s is back", source.name)
        self.state = CameraState.OK
        self._outage_logged = False
        self._delay = self._first_delay
        # The source's own count (frames it skipped at rest included) on from where the last
        # source stopped, so indexes keep counting across reopens and match a file's frames.
        frame = dataclasses.replace(frame, index=self._base + frame.index)
        self._frames = frame.index + 1
        return frame

    def limit_rate(self, fps: float | None) -> None:
        """Ask the open source for at most FPS frames a second (FrameSource.limit_rate)."""
        if self._source is not None:
            self._source.limit_rate(fps)

    def close(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            source.close()

    def __enter__(self) -> RetryingSource:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _connect(self) -> bool:
        source = None
        try:
            source = self.make_source()
            source.open()
        except Exception as exc:
            if source is not None:
                source.close()
            self._fail(exc)
            return False
        self._source = source
        self._base = self._frames
        return True

    def _fail(self, exc: Exception) -> None:
        """Release the camera, record why, and schedule the next attempt with a doubled delay."""
        self.close()
        self.last_error = str(exc) if isinstance(exc, CameraUnavailable) else f"{type(exc).__name__}: {exc}"
        self.state = CameraState.UNAVAILABLE
        if not self._outage_logged:
            log.warning("camera unavailable: %s (retrying in the background)", self.last_error)
            self._outage_logged = True
        else:
            log.debug("camera still unavailable: %s", self.last_error)
        self._next_attempt = self._clock() + self._delay
        self._delay = min(self._delay * 2, self.retry_max_delay)
