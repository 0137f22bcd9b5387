"""A stand-in for the picamera2 package, for tests on machines without a Pi camera.

It implements the Picamera2 calls the kiosk makes, with the real behaviour that matters:
- "RGB888" arrays are HxWx3 with each pixel stored [B, G, R] ("BGR888" is [R, G, B]), "XBGR8888"
  and "XRGB8888" add a fourth byte, "YUV420" is an (H*3/2)xW array of I420 planes;
- only one Picamera2 may hold the camera: a second one fails until the first is closed;
- configure() is refused while started; capture_array(wait=seconds) raises TimeoutError when no
  frame comes, and a camera that timed out stays stuck until it is closed and opened again.

Module-level knobs make it fail on demand; bring_back() clears the failures, reset() every knob.
Each camera made is kept in `instances`, so tests can check that it was closed; a fresh import of
the module starts with an empty list.
"""

from __future__ import annotations

import cv2
import numpy as np

NO_CAMERA = False  # Picamera2() fails as when no camera is connected
FAIL_START = False  # start() raises RuntimeError
TIMEOUT_AFTER: int | None = None  # each camera delivers this many frames, then times out
FRAME_IMAGE: np.ndarray | None = None  # RGB uint8 image to serve, resized to the stream; None = gradient

instances: list[Picamera2] = []

PIXEL_LAYOUTS = {"RGB888": "BGR", "BGR888": "RGB", "XBGR8888": "RGBX", "XRGB8888": "BGRX"}


def bring_back() -> None:
    """Clear the failure knobs: the next camera opened works again."""
    global NO_CAMERA, FAIL_START, TIMEOUT_AFTER
    NO_CAMERA, FAIL_START, TIMEOUT_AFTER = False, False, None


def reset() -> None:
    """Clear every knob, the served image too; the cameras made so far stay in `instances`."""
    global FRAME_IMAGE
    bring_back()
    FRAME_IMAGE = None


def gradient(width: int, height: int) -> np.ndarray:
    """A synthetic RGB test picture: red grows to the right, green downwards, blue constant."""
    red = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, axis=0)
    green = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, axis=1)
    blue = np.full((height, width), 96, dtype=np.uint8)
    return np.dstack([red, green, blue])


class Picamera2:
    """The camera: create_video_configuration, configure, start, capture_array, stop, close."""

    def __init__(self, camera_num: int = 0, verbose_console=None, tuning=None):
        if NO_CAMERA:
            raise RuntimeError("Camera __init__ sequence did not complete.")
        if any(camera.is_open for camera in instances):
            raise RuntimeError("Camera __init__ sequence did not complete.")  # device busy
        self.camera_num = camera_num
        self.is_open = True
        self.started = False
        self.closed = False
        self.stuck = False
        self.camera_config: dict | None = None
        self.frames = 0
        self.last_wait = None
        instances.append(self)

    def create_video_configuration(self, main=None, lores=None, raw=None, transform=None, colour_space=None,
                                   buffer_count=6, controls=None, display="main", encode="main", queue=True,
                                   sensor=None, use_case="video") -> dict:
        return {
            "use_case": use_case, "buffer_count": buffer_count, "queue": queue,
            "main": {"format": "XBGR8888", "size": (1280, 720), **(main or {})},
            "lores": {"format": "YUV420", "size": (320, 240), **lores} if lores is not None else None,
            "raw": raw, "transform": transform, "colour_space": colour_space, "sensor": sensor or {},
            "controls": {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333), **(controls or {})},
            "display": display, "encode": encode,
        }

    def configure(self, camera_config: dict) -> None:
        self._require_open()
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        for name in ("main", "lores"):
            stream = camera_config.get(name)
            if stream is not None and stream["format"] not in (*PIXEL_LAYOUTS, "YUV420"):
                raise RuntimeError(f"Format {stream['format']} not supported for stream {name}")
        self.camera_config = camera_config

    def start(self, config=None, show_preview=False) -> None:
        self._require_open()
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        if FAIL_START:
            raise RuntimeError("Failed to start camera: Device or resource busy")
        self.started = True

    def capture_array(self, name: str = "main", wait=None, signal_function=None) -> np.ndarray:
        """The next frame of stream `name`; stalls (TimeoutError with a numeric wait) when stuck."""
        self._require_open()
        if TIMEOUT_AFTER is not None and self.frames >= TIMEOUT_AFTER:
            self.stuck = True
        if not self.started or self.stuck:
            if isinstance(wait, (int, float)) and not isinstance(wait, bool):
                self.last_wait = wait
                raise TimeoutError()
            raise RuntimeError("no frame will come; the real camera would wait forever")
        stream = self.camera_config.get(name)
        if stream is None:
            raise RuntimeError(f"Stream {name!r} is not configured")
        self.last_wait = wait
        self.frames += 1
        return self._pixels(stream["format"], *stream["size"])

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        if self.is_open:
            self.stop()
            self.is_open = False
            self.closed = True

    def __enter__(self) -> Picamera2:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _require_open(self) -> None:
        if not self.is_open:
            raise RuntimeError("Camera is not open")

    def _pixels(self, pixel_format: str, width: int, height: int) -> np.ndarray:
        rgb = gradient(width, height) if FRAME_IMAGE is None else cv2.resize(FRAME_IMAGE, (width, height))
        if pixel_format == "YUV420":
            return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        channels = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "X": np.full_like(rgb[..., 0], 255)}
        return np.dstack([channels[c] for c in PIXEL_LAYOUTS[pixel_format]])
