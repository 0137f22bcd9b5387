"""The face engine: find faces (the detector config names, on a downscaled copy) and turn each into an encoding.

Detection cost grows with the pixel count, so live frames are searched at a reduced width and
the boxes mapped back to full resolution; encoding then runs on the full-resolution face, which
keeps encodings as good as on the original frame. The detectors and landmark models ship with
face_recognition_models; the detector and the encoder are the plug-ins the config names (see
detectors/ and encoders/): the engine owns scaling, regions and alignment, they own the models.

The dlib calls are the ones face_recognition makes, but each thread gets its own detector,
landmark model and encoder: dlib's detectors and networks keep scratch state and must not be
used by two threads at once, and face_recognition shares one module-wide copy of each.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import threading
from dataclasses import dataclass

import cv2
import dlib
import face_recognition_models
import numpy as np

from kiosk.config import Config, DetectionConfig, EnrollmentConfig
from kiosk.pool import WorkerPool
from kiosk.util import die_with_parent
from kiosk.vision.boxes import Box, merge_boxes, scale_box
from kiosk.vision.detectors import DEFAULT as DEFAULT_DETECTOR
from kiosk.vision.detectors import SMALLEST_FACE, Detector, create_detector
from kiosk.vision.encoders import DEFAULT, Encoder, create_encoder, encoder_class


@dataclass(frozen=True)
class EngineSettings:
    detector: str = DEFAULT_DETECTOR  # a name registered in detectors/
    detect_width: int | None = None  # downscale to this width before detection; None = as given
    upsample: int = 0
    landmarks: int = 5  # 5 or 68
    jitters: int = 1
    encoder: str = DEFAULT  # recognition.encoder

    @classmethod
    def live(cls, config: DetectionConfig, encoder: str) -> EngineSettings:
        return cls(config.model, config.width, config.upsample, config.landmarks, config.jitters, encoder)

    @classmethod
    def identification(cls, config: Config) -> EngineSettings:
        """Naming faces in photos (identify, eval): found like enrolled photos, encoded like live ones."""
        e = config.enrollment
        return cls(e.detector, None, e.upsample, e.landmarks, config.detection.jitters, config.recognition.encoder)

    @classmethod
    def enrollment(cls, config: EnrollmentConfig, encoder: str) -> EngineSettings:
        # Photos were already resized to enrollment.max_side when loaded.
        return cls(config.detector, None, config.upsample, config.landmarks, config.jitters, encoder)


class _ThreadModels(threading.local):
    """This thread's own detector, encoder and landmark models, loaded on first use; the large 68-point shape predictor
    (about 75 MB in memory) is one per process: it keeps nothing between calls, so threads share it."""

    _shared: dict[str, object] = {}
    _shared_lock = threading.Lock()

    def __init__(self):
        self.loaded: dict[str, object] = {}

    def encoder(self, name: str, jitters: int) -> Encoder:
        key = f"encoder:{name}:{jitters}"
        if key not in self.loaded:
            self.loaded[key] = create_encoder(name, jitters)
        return self.loaded[key]  # type: ignore[return-value]

    def detector(self, name: str) -> Detector:
        key = f"detector:{name}"
        if key not in self.loaded:
            self.loaded[key] = create_detector(name)
        return self.loaded[key]  # type: ignore[return-value]

    def get(self, name: str):
        if name in SHARED_MODELS:
            with self._shared_lock:
                if name not in self._shared:
                    self._shared[name] = MODEL_LOADERS[name]()
                return self._shared[name]
        if name not in self.loaded:
            self.loaded[name] = MODEL_LOADERS[name]()
        return self.loaded[name]


SHARED_MODELS = {"landmarks68"}
MODEL_LOADERS = {
    "landmarks5": lambda: dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
    "landmarks68": lambda: dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
}


class FaceEngine:
    """Detection and encoding with fixed settings; safe to call from several threads."""

    def __init__(self, settings: EngineSettings):
        self.settings = settings
        self._models = _ThreadModels()

    def detect(self, rgb: np.ndarray, region: Box | None = None, small: np.ndarray | None = None,
               width: int | None = None) -> list[Box]:
        """Face boxes in full-image coordinates, searched on a copy at most detect_width wide.

        With a region, only that part of the image is searched, at the same scale as a full
        search, so a face is found there exactly as it would be in the whole frame. With
        `small` (the same picture at a lower resolution, such as the Pi camera's hardware-scaled
        stream), the search runs on it instead of on a copy shrunk in software; the boxes still
        come back in `rgb`'s pixels. WIDTH, when given, stands for detect_width (the live pace's).
        """
        limit = width or self.settings.detect_width
        height, width = rgb.shape[:2]
        source = rgb if small is None else small
        given = source.shape[1] / width  # the searched picture's scale against rgb
        scale = given
        if limit and source.shape[1] > limit:
            scale = limit / width
        top, right, bottom, left = region or (0, width, height, 0)
        part = source[round(top * given):round(bottom * given), round(left * given):round(right * given)]
        part = np.ascontiguousarray(part)  # dlib crashes on strided views
        if scale < given:
            size = (max(1, round(part.shape[1] * scale / given)), max(1, round(part.shape[0] * scale / given)))
            part = cv2.resize(part, size, interpolation=cv2.INTER_AREA)
        found = self._models.detector(self.settings.detector).find(part, self.settings.upsample)
        return [scale_box(box, 1 / scale, (top, left), width, height) for box in found]

    def detect_scaled(self, rgb: np.ndarray, side: int, max_pixels: int = 0) -> list[Box]:
        """Face boxes found on a copy scaled (down or up) to `side` pixels on its longest side.

        For the CNN detector, which only finds faces from about 80 pixels and whose cost grows
        with the pixel count: one fixed working size serves small and large photos alike. Its
        memory grows with the pixels too (about 1 KB each), so with `max_pixels` a larger copy
        is searched in overlapping strips of that many pixels, and once whole at a size that fits
        for the faces too large for a strip.
        """
        height, width = rgb.shape[:2]
        scale = side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        copy = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if max_pixels and size[0] * size[1] > max_pixels:
            found = self._detect_in_strips(copy, max_pixels)
        else:
            found = self.detect(copy)
        return [scale_box(box, 1 / scale, (0, 0), width, height) for box in found]

    def _detect_in_strips(self, image: np.ndarray, max_pixels: int) -> list[Box]:
        height, width = image.shape[:2]
        shrink = math.sqrt(max_pixels / (width * height))
        whole = cv2.resize(image, (max(1, int(width * shrink)), max(1, int(height * shrink))),
                           interpolation=cv2.INTER_AREA)
        found = [scale_box(box, 1 / shrink, (0, 0), width, height) for box in self.detect(whole)]
        # Strips across the long side, overlapping by the smallest face the whole search finds:
        # every face is then whole in one strip, or large enough for the whole search.
        long_side, short_side = max(width, height), min(width, height)
        strip = max(1, max_pixels // short_side)
        step = max(1, strip - min(strip // 2, math.ceil(SMALLEST_FACE / shrink)))
        for start in range(0, max(1, long_side - strip + step), step):
            end = min(long_side, start + strip)
            region = (0, end, height, start) if width >= height else (start, width, end, 0)
            found += self.detect(image, region)
        return merge_boxes(found)

    def warm_up(self, liveness: bool = False) -> None:
        """Load this thread's models now rather than while a face is waiting for its name."""
        self._models.detector(self.settings.detector)
        self._models.get(f"landmarks{self.settings.landmarks}")
        if liveness:
            self._models.get("landmarks68")

    @property
    def dimensions(self) -> int:
        return encoder_class(self.settings.encoder).dimensions

    def _encoder(self) -> Encoder:
        return self._models.encoder(self.settings.encoder, self.settings.jitters)

    def face_chips(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """Each face aligned by its landmarks into the image the encoder takes."""
        landmarks = self._models.get(f"landmarks{self.settings.landmarks}")
        encoder = encoder_class(self.settings.encoder)
        return [encoder.chip(rgb, landmarks(rgb, dlib.rectangle(left, top, right, bottom)))
                for top, right, bottom, left in boxes]

    def landmarks68(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 68 facial landmarks of the face in BOX, in RGB's pixels (68x2), for the liveness check."""
        top, right, bottom, left = box
        shape = self._models.get("landmarks68")(rgb, dlib.rectangle(left, top, right, bottom))
        return np.array([(point.x, point.y) for point in shape.parts()], dtype=np.float64)

    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        return self._encoder().encode_chips(chips)

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """One float32 row of the encoder's values per box, in the order given."""
        return self.encode_chips(self.face_chips(rgb, boxes))

    def detect_and_encode(self, rgb: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes = self.detect(rgb)
        return boxes, self.encode(rgb, boxes)


_process_encoder: Encoder | None = None


def _start_encoder_process(name: str, jitters: int, parent: int) -> None:
    global _process_encoder
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    die_with_parent(parent)  # a killed daemon must not leave its encoder (about 100 MB) behind
    _process_encoder = create_encoder(name, jitters)


def _encode_in_process(chips: list[np.ndarray]) -> np.ndarray:
    assert _process_encoder is not None
    return _process_encoder.encode_chips(chips)


class EncoderProcess:
    """The encoder network in a process of its own, for live recognition.

    dlib's detector releases Python's interpreter lock but its encoder network does not: each
    face holds it for 20-70 ms, which would freeze the thread drawing the screen. Aligned chips
    (150x150x3 bytes each for dlib) go to this process and one encoding per face comes back; a
    process that dies is started again (pool.py) and the faces sent once more.
    """

    def __init__(self, encoder: str, jitters: int):
        self.encoder, self.jitters = encoder, jitters
        self.dimensions = encoder_class(encoder).dimensions
        self._pool = WorkerPool(1, _start_encoder_process, lambda _: (encoder, jitters, os.getpid()),
                                start_method="spawn",  # a fresh interpreter: the daemon's threads are not copied
                                warm_up=functools.partial(_encode_in_process, []))  # the model loads before a face

    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.empty((0, self.dimensions), dtype=np.float32)
        return self._pool.call(_encode_in_process, chips)

    def close(self) -> None:
        self._pool.close(wait=False)
