"""A video file played as a camera (`camera.source: file:PATH`): for trying the kiosk and measuring it."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import CameraConfig
from kiosk.live.sources.base import CameraUnavailable, FrameSource, path_problem, register


@register
class VideoFileSource(FrameSource):
    """A video file, played at its own frame rate (realtime) or as fast as it decodes."""

    kind = "file"

    def __init__(self, camera: CameraConfig, path: str | Path, realtime: bool = True, loop: bool = False):
        super().__init__(camera)
        self.path = Path(path)
        self.realtime = realtime
        self.loop = loop
        self.name = f"file:{self.path.name}"
        self.fps = camera.fps
        self._video: cv2.VideoCapture | None = None
        self._started_at: float | None = None

    @classmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> VideoFileSource:
        return cls(camera, argument, realtime=not fast, loop=loop)

    @classmethod
    def impossible(cls, argument: str) -> str:
        return path_problem(argument, Path.is_file, "video file")

    def _open(self) -> None:
        if not self.path.is_file():
            raise CameraUnavailable(f"video file not found: {self.path}")
        # Played at its own pace, one decoding thread keeps up and costs least (FFmpeg's thread
        # pool wakes every core for each frame); as fast as possible, FFmpeg picks the count.
        threads = [cv2.CAP_PROP_N_THREADS, 1] if self.realtime else []
        self._video = video = cv2.VideoCapture(str(self.path), cv2.CAP_ANY, threads)
        if not video.isOpened():
            raise CameraUnavailable(f"cannot open video file {self.path}")
        file_fps = video.get(cv2.CAP_PROP_FPS)
        self.fps = file_fps if 0 < file_fps <= 240 else self.camera.fps
        if self._started_at is None:
            self._started_at = time.monotonic()

    def _timestamp(self) -> float:
        """Video time (anchored at the first open), so tracking and search intervals mean the
        same in real time and in --fast, where frames come far faster than they were filmed."""
        assert self._started_at is not None  # set by the first _open, before any frame
        return self._started_at + self._frames / self.fps

    def _capture(self) -> np.ndarray | None:
        assert self._video is not None  # read() captures only while open
        ok, bgr = self._video.read()
        if not ok and self.loop:
            self._release()
            self._open()
            ok, bgr = self._video.read()
            if not ok:
                raise CameraUnavailable(f"video file has no frames: {self.path}")
        if not ok:
            return None
        if self.realtime:
            self._wait_for_next_frame(self.fps)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _skip(self) -> bool:
        """A frame read from the file but not converted (played in real time only: --fast
        recognizes every frame)."""
        assert self._video is not None  # read() skips only while open
        if not self.realtime:
            return False
        if not self._video.grab():
            return False  # the end of the file: _capture starts it over, or ends
        self._wait_for_next_frame(self.fps)
        return True

    def _release(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
