"""Frame sources: the Pi camera, USB cameras, video files and image folders behind one interface.

Every source delivers RGB frames, rotated and mirrored as configured. `open_source` wraps the
chosen source in a RetryingSource, so a camera that fails or is unplugged is closed and reopened
with backoff while the display keeps drawing; reading from it never raises for camera failures.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.config import CameraConfig, parse_source
from kiosk.errors import KioskError
from kiosk.vision.images import PHOTO_SUFFIXES, ImageRejected, load_image

log = logging.getLogger("kiosk.camera")

USB_DEVICE_PATHS = [f"/dev/video{n}" for n in range(10)]  # tried in order by "auto"
FIRST_RETRY_DELAY = 0.5  # seconds before the first reopen; doubles up to camera.retry_max_delay
LONGEST_WAIT_PER_READ = 0.1  # a waiting read() returns after this, so the display stays live


@dataclass(frozen=True)
class Frame:
    """One captured picture and when it was taken."""
    image: np.ndarray  # RGB uint8 HxWx3, C-contiguous
    timestamp: float  # seconds on the monotonic clock; for video files, video time from the first open
    index: int  # running frame count
    # The same picture, smaller, for the face detector: the Pi camera's hardware-scaled stream
    # (camera.lores_width), RGB like `image`. None: the detector shrinks `image` itself.
    small: np.ndarray | None = None


class CameraUnavailable(KioskError):
    """A camera, file or folder that cannot deliver frames; the message says which and why."""


def orient(image: np.ndarray, rotation: int, mirror: bool) -> np.ndarray:
    """Rotate clockwise by `rotation` degrees, then flip left-right if `mirror`; C-contiguous."""
    if rotation % 360:
        image = np.rot90(image, k=-(rotation // 90))
    if mirror:
        image = np.fliplr(image)
    return np.ascontiguousarray(image)


class FrameSource:
    """Base for sources: open() acquires, read() returns the next Frame (None at the end), close()
    releases. Any failure closes the source and raises CameraUnavailable.

    Subclasses implement _open, _capture (the next RGB image, or None at the end) and _release
    (which must be safe to call at any time, also after a half-finished _open).
    """

    name = "source"

    def __init__(self, camera: CameraConfig):
        self.camera = camera
        self.is_open = False
        self._frames = 0
        self._next_due = 0.0
        self._small: np.ndarray | None = None  # set by _capture when the source has a scaled stream

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

    def read(self) -> Frame | None:
        if not self.is_open:
            raise CameraUnavailable(f"{self.name} is not open")
        try:
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
                      orient(small, rotation, mirror) if small is not None else None)
        self._frames += 1
        return frame

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

    def _open(self) -> None:
        raise NotImplementedError

    def _capture(self) -> np.ndarray | None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class PicameraSource(FrameSource):
    """The Raspberry Pi camera through picamera2, which is imported only when opened.

    Each frame is one capture request: the full-size RGB "main" stream and, with
    camera.lores_width, the "lores" stream the camera's ISP scales in hardware (YUV420, turned
    into RGB for the detector). The request is released as soon as both are copied, so the
    camera never runs out of buffers.
    """

    name = "picamera"

    def __init__(self, camera: CameraConfig):
        super().__init__(camera)
        self._picam: Any = None  # a picamera2.Picamera2 while open; picamera2 ships no type information
        self._lores_size: tuple[int, int] | None = None

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

    def _release(self) -> None:
        picam, self._picam = self._picam, None
        if picam is None:
            return
        for step in (picam.stop, picam.close):
            try:
                step()
            except Exception as exc:  # releasing a broken camera is best effort
                log.debug("Pi camera %s failed: %s", step.__name__, exc)


class UsbSource(FrameSource):
    """A USB (V4L2) camera, by index or /dev/videoN path."""

    def __init__(self, camera: CameraConfig, device: int | str):
        super().__init__(camera)
        self.device = device
        self.name = f"usb:{device}"
        self._capture_device: cv2.VideoCapture | None = None

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

    def _release(self) -> None:
        if self._capture_device is not None:
            self._capture_device.release()
            self._capture_device = None


class VideoFileSource(FrameSource):
    """A video file, played at its own frame rate (realtime) or as fast as it decodes."""

    def __init__(self, camera: CameraConfig, path: str | Path, realtime: bool = True, loop: bool = False):
        super().__init__(camera)
        self.path = Path(path)
        self.realtime = realtime
        self.loop = loop
        self.name = f"file:{self.path.name}"
        self.fps = camera.fps
        self._video: cv2.VideoCapture | None = None
        self._started_at: float | None = None

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

    def _release(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None


class ImageFolderSource(FrameSource):
    """A slideshow of the images in a folder, in name order.

    In realtime mode each image is shown for `interval_s`, repeated at the camera's frame rate so
    the display stays live; in fast mode each image is one frame. Images larger than the camera
    size are scaled down to fit it. Unreadable files are skipped with a warning.
    """

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
        self._shown_until = 0.0

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


class RetryingSource:
    """A source that survives camera failures: it reopens with backoff and never raises on read.

    read() returns a Frame, or None when no frame is available right now (the camera is being
    reopened, or the source has ended: see `finished`). While waiting for the next attempt a read
    returns within LONGEST_WAIT_PER_READ. `state` is "starting", "ok", "unavailable" or "finished";
    `last_error` describes the latest failure. Frame indexes keep counting across reopens.
    """

    def __init__(self, make_source: Callable[[], FrameSource], label: str, retry_max_delay: float, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.make_source = make_source
        self.label = label
        self.retry_max_delay = retry_max_delay
        self.state = "starting"
        self.last_error = ""
        self._clock = clock
        self._sleep = sleep
        self._source: FrameSource | None = None
        self._first_delay = min(FIRST_RETRY_DELAY, retry_max_delay)
        self._delay = self._first_delay
        self._next_attempt = 0.0
        self._outage_logged = False
        self._frames = 0

    @property
    def name(self) -> str:
        return self._source.name if self._source is not None else self.label

    @property
    def finished(self) -> bool:
        return self.state == "finished"

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
            self.state = "finished"
            return None
        if self.state != "ok" and self._outage_logged:
            log.info("camera %s is back", source.name)
        self.state = "ok"
        self._outage_logged = False
        self._delay = self._first_delay
        frame = dataclasses.replace(frame, index=self._frames)
        self._frames += 1
        return frame

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
        return True

    def _fail(self, exc: Exception) -> None:
        """Release the camera, record why, and schedule the next attempt with a doubled delay."""
        self.close()
        self.last_error = str(exc) if isinstance(exc, CameraUnavailable) else f"{type(exc).__name__}: {exc}"
        self.state = "unavailable"
        if not self._outage_logged:
            log.warning("camera unavailable: %s (retrying in the background)", self.last_error)
            self._outage_logged = True
        else:
            log.debug("camera still unavailable: %s", self.last_error)
        self._next_attempt = self._clock() + self._delay
        self._delay = min(self._delay * 2, self.retry_max_delay)


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


def open_source(spec: str, camera: CameraConfig, *, fast: bool = False, loop: bool = False) -> RetryingSource:
    """The source named by `spec` (see config.SOURCE_FORMS), wrapped in a RetryingSource and opened once.

    `fast` reads files and folders as fast as possible instead of in real time; `loop` starts
    them over at the end. A spec that is not one of the allowed forms raises ValueError.
    """
    parsed = parse_source(spec)
    make_source: Callable[[], FrameSource]
    if parsed.kind == "auto":
        make_source = partial(first_working_camera, camera)
    elif parsed.kind == "picamera":
        make_source = partial(PicameraSource, camera)
    elif parsed.kind == "usb":
        make_source = partial(UsbSource, camera, parsed.argument)
    elif parsed.kind == "file":
        make_source = partial(VideoFileSource, camera, str(parsed.argument), realtime=not fast, loop=loop)
    else:
        make_source = partial(ImageFolderSource, camera, str(parsed.argument), realtime=not fast, loop=loop)
    source = RetryingSource(make_source, spec, camera.retry_max_delay)
    source.open()
    return source
