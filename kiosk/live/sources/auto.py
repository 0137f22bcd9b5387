"""The first camera that works (`camera.source: auto`, the default)."""

from __future__ import annotations

import os

import numpy as np

from kiosk.config import CameraConfig
from kiosk.live.sources.base import CameraUnavailable, FrameSource, register
from kiosk.live.sources.picamera import PicameraSource
from kiosk.live.sources.usb import UsbSource

USB_DEVICE_PATHS = [f"/dev/video{n}" for n in range(10)]  # tried in order by "auto"


@register
class AutoSource(FrameSource):
    """`camera.source: auto`: the Pi camera if picamera2 is installed and it opens, else the first
    USB camera that opens. `create` does the choosing and returns the chosen camera, opened."""

    kind = "auto"

    @classmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> FrameSource:
        return first_working_camera(camera)

    def _open(self) -> None:  # never made: create() returns the camera it chose
        raise NotImplementedError

    def _capture(self) -> np.ndarray | None:
        raise NotImplementedError

    def _release(self) -> None:
        pass


def first_working_camera(camera: CameraConfig) -> FrameSource:
    """The Pi camera if picamera2 is installed and it opens, else the first USB camera that opens."""
    errors = []
    candidates: list[FrameSource] = [PicameraSource(camera)]
    candidates += [UsbSource(camera, path) for path in USB_DEVICE_PATHS if os.path.exists(path)]
    for source in candidates:
        try:
            source.open()
            return source
        except CameraUnavailable as exc:
            errors.append(str(exc))
    if len(candidates) == 1:
        errors.append("no USB camera (/dev/video0-9)")
    raise CameraUnavailable("no camera found: " + "; ".join(errors))
