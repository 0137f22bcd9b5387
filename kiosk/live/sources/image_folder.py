"""A folder of photos shown as a slideshow camera (`camera.source: dir:PATH`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import CameraConfig
from kiosk.live.sources.base import CameraUnavailable, FrameSource, path_problem, register
from kiosk.vision.images import PHOTO_SUFFIXES, ImageRejected, load_image

log = logging.getLogger("kiosk.camera")


@register
class ImageFolderSource(FrameSource):
    """A slideshow of the images in a folder, in name order.

    In realtime mode each image is shown for `interval_s`, repeated at the camera's frame rate so
    the display stays live; in fast mode each image is one frame. Images larger than the camera
    size are scaled down to fit it. Unreadable files are skipped with a warning.
    """

    kind = "dir"

    def __init__(self, camera: CameraConfig, path: str | Path, interval_s: float = 2.0,
                 realtime: bool = True, loop: bool = False):
        super().__init__(camera)
        self.path = Path(path)
        self.interval_s = interval_s
        self.realtime = realtime
        self.loop = loop
        self.name = f"dir:{self.path.name}"
        self._paths: list[Path] = []
        self._position = 0
        self._current: np.ndarray | None = None
        self._current_name = ""
        self._shown_until = 0.0

    @classmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> ImageFolderSource:
        return cls(camera, argument, realtime=not fast, loop=loop)

    @classmethod
    def impossible(cls, argument: str) -> str:
        return path_problem(argument, Path.is_dir, "folder")

    def _open(self) -> None:
        if not self.path.is_dir():
            raise CameraUnavailable(f"image folder not found: {self.path}")
        self._paths = sorted(p for p in self.path.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file())
        if not self._paths:
            raise CameraUnavailable(f"no images ({', '.join(sorted(PHOTO_SUFFIXES))}) in {self.path}")
        self._position = 0
        self._current = None

    def _capture(self) -> np.ndarray | None:
        if not self.realtime or self._current is None or time.monotonic() >= self._shown_until:
            self._current = self._next_image()
            if self._current is None:
                return None
            self._shown_until = time.monotonic() + self.interval_s
        if self.realtime:
            self._wait_for_next_frame(self.camera.fps)
        return self._current.copy()

    def _origin(self) -> str:
        return self._current_name

    def _next_image(self) -> np.ndarray | None:
        """The next readable image as RGB, dropping unreadable files; None after the last one."""
        while self._paths:
            if self._position >= len(self._paths):
                if not self.loop:
                    return None
                self._position = 0
            path = self._paths[self._position]
            try:
                rgb = load_image(path.read_bytes()).pixels  # the same decoding as enrolled photos
            except (OSError, ImageRejected) as exc:
                log.warning("skipping unreadable image %s: %s", path, exc)
                del self._paths[self._position]
                continue
            self._position += 1
            self._current_name = path.name
            return self._fit(rgb)
        raise CameraUnavailable(f"no readable images in {self.path}")

    def _fit(self, image: np.ndarray) -> np.ndarray:
        scale = min(self.camera.width / image.shape[1], self.camera.height / image.shape[0])
        if scale >= 1:
            return image
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def _release(self) -> None:
        self._current = None
