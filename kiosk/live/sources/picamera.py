"""The Raspberry Pi camera through picamera2 (`camera.source: picamera`)."""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np

from kiosk.config import CameraConfig
from kiosk.live.sources.base import CameraUnavailable, FrameSource, register

log = logging.getLogger("kiosk.camera")


@register
class PicameraSource(FrameSource):
    """The Raspberry Pi camera through picamera2, which is imported only when opened.

    Each frame is one capture request: the full-size RGB "main" stream and, with
    camera.lores_width, the "lores" stream the camera's ISP scales in hardware (YUV420, turned
    into RGB for the detector). The request is released as soon as both are copied, so the
    camera never runs out of buffers.
    """

    kind = name = "picamera"

    def __init__(self, camera: CameraConfig):
        super().__init__(camera)
        self._picam: Any = None  # a picamera2.Picamera2 while open; picamera2 ships no type information
        self._lores_size: tuple[int, int] | None = None

    @classmethod
    def create(cls, camera: CameraConfig, argument: str, *, fast: bool, loop: bool) -> PicameraSource:
        return cls(camera)

    def _open(self) -> None:
        try:  # late on purpose: picamera2 (apt, with libcamera) exists only on a Pi, and only this source needs it
            import picamera2
        except ImportError as exc:
            raise CameraUnavailable("picamera2 is not installed (apt install python3-picamera2)") from exc
        try:
            self._picam = picamera2.Picamera2()
        except Exception as exc:
            raise CameraUnavailable(f"no Pi camera found, or it is in use: {exc}") from exc
        lores = None
        if 0 < self.camera.lores_width < self.camera.width:
            width = self.camera.lores_width // 2 * 2  # YUV420 halves both sides for colour
            lores = {"size": (width, round(width * self.camera.height / self.camera.width / 2) * 2),
                     "format": "YUV420"}
        config = self._picam.create_video_configuration(
            main={"size": (self.camera.width, self.camera.height), "format": "RGB888"},
            lores=lores, buffer_count=4, controls={"FrameRate": self.camera.fps})
        self._picam.configure(config)
        # picamera2 may align the stream sizes to what the hardware can do: use what it chose.
        self._lores_size = tuple(self._picam.camera_configuration()["lores"]["size"]) if lores else None
        self._picam.start()

    def _capture(self) -> np.ndarray:
        try:
            request = self._picam.capture_request(wait=self.camera.capture_timeout)
        except TimeoutError as exc:
            raise CameraUnavailable(
                f"Pi camera sent no frame within {self.camera.capture_timeout:g} s (camera timed out)") from exc
        try:
            pixels = request.make_array("main")
            if self._lores_size is not None:
                width, height = self._lores_size
                # Rows are padded to the stride, so convert at that width and cut the padding off.
                yuv = request.make_array("lores")
                self._small = np.ascontiguousarray(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)[:height, :width])
        finally:
            request.release()
        return pixels[..., ::-1]  # "RGB888" is stored as [B, G, R] per pixel

    def _set_rate(self, fps: float) -> None:
        """The sensor itself runs at FPS: at rest no frame is made, copied or converted in between."""
        if self._picam is not None:
            self._picam.set_controls({"FrameRate": fps})

    def _release(self) -> None:
        picam, self._picam = self._picam, None
        if picam is None:
            return
        for step in (picam.stop, picam.close):
            try:
                step()
            except Exception as exc:  # releasing a broken camera is best effort
                log.debug("Pi camera %s failed: %s", step.__name__, exc)
