"""The seam every frame source plugs into: the FrameSource base class and the registry of kinds.

A source is one kind of `camera.source` (config.SOURCE_KINDS lists the forms): it opens, reads
RGB frames, rotated and mirrored as configured, and closes; any failure closes it and raises
CameraUnavailable. Adding a source is one file with a subclass, registered under its kind, and
its row in config.SOURCE_KINDS (a test holds the two equal).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from kiosk.config import CameraConfig
from kiosk.errors import KioskError
from kiosk.frame import Frame
from kiosk.vocabulary import CameraState

log = logging.getLogger("kiosk.camera")


class CameraUnavailable(KioskError):
    """A camera, file or folder that cannot deliver frames; the message says which and why."""


class SourceImpossible(KioskError):
    """A source that can never deliver frames (a video file that does not exist): retrying it
    would only hide a typo, so the command stops with one line instead."""


def orient(image: np.ndarray, rotation: int, mirror: bool) -> np.ndarray:
    """Rotate clockwise by `rotation` degrees, then flip left-right if `mirror`; C-contiguous."""
    if rotation % 360:
        image = np.rot90(image, k=-(rotation // 90))
    if mirror:
        image = np.fliplr(image)
    return np.ascontiguousarray(image)


def path_problem(argument: str, is_right_kind: Callable[[Path], bool], noun: str) -> str:
    """For `impossible`: why the path a file or folder source names can never deliver, or ""."""
    path = Path(argument)
    if not path.exists():
        return f"{argument}: no such {noun}"
    return "" if is_right_kind(path) else f"{argument}: not a {noun}"


class FrameSource(ABC):
    """Base for sources: open() acquires, read() returns the next Frame (None at the end), close()
    releases. Any failure closes the source and raises CameraUnavailable.

    Subclasses implement _open, _capture (the next RGB image, or None at the end) and _release
    (which must be safe to call at any time, also after a half-finished _open), and `create`,
    which makes the source from the argument of its `camera.source` form.
    """

    kind: ClassVar[str]  # the camera.source kind it is registered under
    name = "source"

    def __init__(self, camera: CameraConfig):
        self.camera = camera
        self.is_open = False
        self._frames = 0
        self._next_due = 0.0
        self._small: np.ndarray | None = None  # set by _capture when the source has a scaled stream
        self.rate_limit: float | None = None  # frames a second at most (see limit_rate), None: all
        self._next_limited_frame = 0.0

    @classmethod
    @abstractmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> FrameSource:
        """The source for `KIND:ARGUMENT`; `fast` reads files as fast as they decode, `loop`
        starts them over at the end (live cameras ignore both)."""

    @classmethod
    def impossible(cls, argument: str) -> str:
        """Why `KIND:ARGUMENT` can never deliver a frame, or "". A camera that is merely absent is
        possible (it may be plugged in later): only a source that cannot appear by itself is not."""
        return ""

    def open(self) -> None:
        if self.is_open:
            return
        try:
            self._open()
        except Exception as exc:
            self._release()
            if isinstance(exc, CameraUnavailable):
                raise
            raise CameraUnavailable(f"{self.name} cannot be opened: {exc}") from exc
        self.is_open = True

    def limit_rate(self, fps: float | None) -> None:
        """Deliver at most FPS frames a second (None or camera.fps and above: every frame): fewer
        with nobody in view (camera.rest_fps), or on a processor that cannot keep up. A source
        that can ask its camera for fewer frames does (_set_rate); one that cannot skips frames
        before converting them (_skip)."""
        fps = fps if fps and fps < self.camera.fps else None
        if fps == self.rate_limit:
            return
        self.rate_limit = fps
        self._next_limited_frame = time.monotonic() + (1.0 / fps if fps else 0.0)
        try:
            self._set_rate(fps or self.camera.fps)
        except Exception as exc:  # a camera that cannot change its rate now keeps the one it has
            log.debug("%s: frame rate unchanged (%s)", self.name, exc)

    def read(self) -> Frame | None:
        if not self.is_open:
            raise CameraUnavailable(f"{self.name} is not open")
        try:
            if self.rate_limit:  # frames before the next one due are skipped unconverted
                while time.monotonic() < self._next_limited_frame and self._skip():
                    self._frames += 1
                self._next_limited_frame = time.monotonic() + 1.0 / self.rate_limit
            image = self._capture()
        except Exception as exc:
            self.close()
            if isinstance(exc, CameraUnavailable):
                raise
            raise CameraUnavailable(f"{self.name} failed: {exc}") from exc
        if image is None:
            return None
        small, self._small = self._small, None
        rotation, mirror = self.camera.rotation, self.camera.mirror
        frame = Frame(orient(image, rotation, mirror), self._timestamp(), self._frames,
                      orient(small, rotation, mirror) if small is not None else None, self._origin())
        self._frames += 1
        return frame

    def _origin(self) -> str:
        """Which picture the frame just captured shows (Frame.origin); a camera has no such name."""
        return ""

    def _timestamp(self) -> float:
        """When the frame was captured, on the monotonic clock."""
        return time.monotonic()

    def close(self) -> None:
        self.is_open = False
        self._release()

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _wait_for_next_frame(self, fps: float) -> None:
        """Pace reads at `fps` on a fixed schedule, so small delays are made up and the average
        rate holds; after a real stall (over two frames late) the schedule restarts, no burst."""
        now = time.monotonic()
        if self._next_due > now:
            time.sleep(self._next_due - now)
        elif now - self._next_due > 2.0 / fps:
            self._next_due = now
        self._next_due += 1.0 / fps

    def _skip(self) -> bool:
        """Take the next frame from the camera and drop it without decoding or converting it;
        False when this source cannot (it then delivers every frame it gets)."""
        return False

    def _set_rate(self, fps: float) -> None:  # noqa: B027 - most sources cannot change their camera's rate
        """Ask the camera for FPS frames a second, where it can be asked."""

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _capture(self) -> np.ndarray | None: ...

    @abstractmethod
    def _release(self) -> None: ...


class Frames(Protocol):
    """What the daemon and the benchmarks read frames from (a RetryingSource): it never raises
    for a camera failure; read() is None while there is no frame, `state` says why."""

    state: CameraState
    last_error: str

    @property
    def name(self) -> str: ...

    @property
    def finished(self) -> bool: ...

    def read(self) -> Frame | None: ...

    def limit_rate(self, fps: float | None) -> None: ...

    def close(self) -> None: ...


SOURCES: dict[str, type[FrameSource]] = {}


def register(cls: type[FrameSource]) -> type[FrameSource]:
    """Class decorator: make a source available under its camera.source kind."""
    SOURCES[cls.kind] = cls
    return cls


def source_class(kind: str) -> type[FrameSource]:
    try:
        return SOURCES[kind]
    except KeyError:
        raise ValueError(f"no frame source of kind {kind!r} (one of: {', '.join(sorted(SOURCES))})") from None


SourceFactory = Callable[[], FrameSource]
