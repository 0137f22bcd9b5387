"""A USB (V4L2) camera through OpenCV (`camera.source: usb:N` or `usb:/dev/videoN`)."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from kiosk.config import CameraConfig
from kiosk.live.sources.base import CameraUnavailable, FrameSource, register


@register
class UsbSource(FrameSource):
    """A USB (V4L2) camera, by index or /dev/videoN path."""

    kind = "usb"

    def __init__(self, camera: CameraConfig, device: int | str):
        super().__init__(camera)
        self.device = device
        self.name = f"usb:{device}"
        self._capture_device: cv2.VideoCapture | None = None

    @classmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> UsbSource:
        return cls(camera, int(argument) if argument.isdigit() else argument)

    def _open(self) -> None:
        # OpenCV waits 10 s for a frame from a stalled camera unless told otherwise (read once).
        os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", str(math.ceil(self.camera.capture_timeout)))
        self._capture_device = device = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not device.isOpened():
            raise CameraUnavailable(f"USB camera {self.device} cannot be opened")
        device.set(cv2.CAP_PROP_FRAME_WIDTH, self.camera.width)
        device.set(cv2.CAP_PROP_FRAME_HEIGHT, self.camera.height)
        device.set(cv2.CAP_PROP_FPS, self.camera.fps)

    def _capture(self) -> np.ndarray:
        assert self._capture_device is not None  # read() captures only while open
        ok, bgr = self._capture_device.read()
        if not ok:
            raise CameraUnavailable(f"USB camera {self.device} stopped sending frames")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _skip(self) -> bool:
        """A frame taken from the camera's queue but not decoded (grab without retrieve)."""
        assert self._capture_device is not None  # read() skips only while open
        return bool(self._capture_device.grab())

    def _release(self) -> None:
        if self._capture_device is not None:
            self._capture_device.release()
            self._capture_device = None
