"""A stand-in for the picamera2 package, for tests on machines without a Pi camera.

It implements the Picamera2 calls the kiosk makes, with the real behaviour that matters:
- "RGB888" arrays are HxWx3 with each pixel stored [B, G, R] ("BGR888" is [R, G, B]), "XBGR8888"
  and "XRGB8888" add a fourth byte, "YUV420" is an (H*3/2)xSTRIDE array of I420 planes, each row
  padded to the stride camera_configuration() reports (a multiple of 32; half of it for U and V,
  two of their rows per array row);
- only one Picamera2 may hold the camera: a second one fails until the first is closed;
- configure() is refused while started; capture_array(wait=seconds) and capture_request(wait=
  seconds) raise TimeoutError when no frame comes, and a camera that timed out stays stuck until
  it is closed and opened again;
- set_controls() changes controls while running, "FrameRate" becoming FrameDurationLimits as in
  picamera2;
- capture_request() returns a CompletedRequest holding one of the configuration's buffer_count
  buffers: make_array(name) copies a stream out of it, release() gives the buffer back. With
  every buffer held by the application no new frame can complete, as on the real camera.

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


def durations(controls: dict) -> dict:
    """CONTROLS with "FrameRate" turned into the FrameDurationLimits (microseconds) it stands for."""
    controls = dict(controls)
    if "FrameRate" in controls:
        duration = int(1_000_000 / controls.pop("FrameRate"))
        controls["FrameDurationLimits"] = (duration, duration)
    return controls


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
        self.held: list[CompletedRequest] = []  # requests captured and not released yet
        self.controls_set: list[dict] = []  # every set_controls call
        self.running_controls: dict = {}  # the controls in force since start(), FrameRate as durations
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
        self.running_controls = durations(self.camera_config["controls"])

    def camera_configuration(self) -> dict:
        """The configuration in force, with each stream's row stride in bytes."""
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        config = dict(self.camera_config)
        for name in ("main", "lores"):
            if config.get(name) is not None:
                config[name] = {**config[name], "stride": stride(config[name]["format"], config[name]["size"][0])}
        return config

    def set_controls(self, controls: dict) -> None:
        """Change controls while running, as from the next frame; "FrameRate" is picamera2's name
        for a fixed FrameDurationLimits."""
        self._require_open()
        if not self.started:
            raise RuntimeError("the fake takes set_controls only while started")
        self.controls_set.append(dict(controls))
        self.running_controls.update(durations(controls))

    @property
    def frame_rate(self) -> float:
        """Frames a second the running FrameDurationLimits make."""
        return 1_000_000 / self.running_controls["FrameDurationLimits"][0]

    def capture_array(self, name: str = "main", wait=None, signal_function=None) -> np.ndarray:
        """The next frame of stream `name`; stalls (TimeoutError with a numeric wait) when stuck."""
        self._next_frame(wait)
        return self._stream_pixels(name)

    def capture_request(self, wait=None, signal_function=None, flush=None) -> CompletedRequest:
        """The next frame of every configured stream, holding a buffer until released."""
        self._next_frame(wait)
        request = CompletedRequest(self, {name: self._stream_pixels(name) for name in ("main", "lores")
                                          if self.camera_config.get(name) is not None})
        self.held.append(request)
        return request

    def _next_frame(self, wait) -> None:
        self._require_open()
        if TIMEOUT_AFTER is not None and self.frames >= TIMEOUT_AFTER:
            self.stuck = True
        no_buffer = self.camera_config is not None and len(self.held) >= self.camera_config["buffer_count"]
        if not self.started or self.stuck or no_buffer:
            if isinstance(wait, (int, float)) and not isinstance(wait, bool):
                self.last_wait = wait
                raise TimeoutError()
            raise RuntimeError("no frame will come; the real camera would wait forever")
        self.last_wait = wait
        self.frames += 1

    def _stream_pixels(self, name: str) -> np.ndarray:
        stream = self.camera_config.get(name)
        if stream is None:
            raise RuntimeError(f"Stream {name!r} is not configured")
        return self._pixels(stream["format"], *stream["size"])

    def stop(self) -> None:
        self.started = False
        self.held.clear()  # stopping the camera returns every buffer

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
            return padded_i420(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), width, height)
        channels = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "X": np.full_like(rgb[..., 0], 255)}
        return np.dstack([channels[c] for c in PIXEL_LAYOUTS[pixel_format]])


class CompletedRequest:
    """One frame of every configured stream, in a camera buffer held until release()."""

    def __init__(self, camera: Picamera2, arrays: dict[str, np.ndarray]):
        self.camera = camera
        self._arrays = arrays
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        """A copy of stream `name`, safe to keep after release()."""
        if self.released:
            raise RuntimeError("the request was released; its buffers belong to the camera again")
        if name not in self._arrays:
            raise KeyError(name)
        return self._arrays[name].copy()

    def release(self) -> None:
        if not self.released:
            self.released = True
            if self in self.camera.held:
                self.camera.held.remove(self)


def stride(pixel_format: str, width: int) -> int:
    """Bytes per row as the camera lays them out: rounded up to a multiple of 32."""
    bytes_per_pixel = {"YUV420": 1, "RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}[pixel_format]
    return (width * bytes_per_pixel + 31) // 32 * 32


def padded_i420(planes: np.ndarray, width: int, height: int) -> np.ndarray:
    """cv2's packed I420 (H*3/2 x W) laid out with row padding, as the camera's buffer is."""
    row = stride("YUV420", width)
    flat = planes.reshape(-1)
    quarter = width * height // 4
    y = np.zeros((height, row), np.uint8)
    y[:, :width] = flat[:width * height].reshape(height, width)
    chroma = []
    for start in (width * height, width * height + quarter):
        plane = np.zeros((height // 2, row // 2), np.uint8)
        plane[:, :width // 2] = flat[start:start + quarter].reshape(height // 2, width // 2)
        chroma.append(plane.reshape(-1))
    return np.concatenate([y.reshape(-1), *chroma]).reshape(height * 3 // 2, row)
