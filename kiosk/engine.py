"""The face engine: find faces (HOG on a downscaled copy, or CNN) and turn each into a 128-d encoding.

Detection cost grows with the pixel count, so live frames are searched at a reduced width and
the boxes mapped back to full resolution; encoding then runs on the full-resolution face, which
keeps encodings as good as on the original frame. All models ship with face_recognition_models.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import face_recognition
import numpy as np
from PIL import ImageFile

from kiosk.config import DetectionConfig, EnrollmentConfig

# Importing face_recognition turns on LOAD_TRUNCATED_IMAGES for the whole process; truncated
# photos must be refused, so turn it back off.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ENCODER_MODEL = "dlib_face_recognition_resnet_model_v1"

Box = tuple[int, int, int, int]  # top, right, bottom, left in pixels of the full image


@dataclass(frozen=True)
class EngineSettings:
    detector: str = "hog"  # "hog" or "cnn"
    detect_width: int | None = None  # downscale to this width before detection; None = as given
    upsample: int = 0
    landmarks: int = 5  # 5 or 68
    jitters: int = 1

    @classmethod
    def live(cls, config: DetectionConfig) -> "EngineSettings":
        return cls(config.model, config.width, config.upsample, config.landmarks, config.jitters)

    @classmethod
    def enrollment(cls, config: EnrollmentConfig) -> "EngineSettings":
        # Photos were already resized to enrollment.max_side when loaded.
        return cls(config.detector, None, config.upsample, config.landmarks, config.jitters)


class FaceEngine:
    """Detection and encoding with fixed settings; cheap to call repeatedly."""

    def __init__(self, settings: EngineSettings):
        self.settings = settings

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Face boxes in full-image coordinates, searched on a copy at most detect_width wide."""
        height, width = rgb.shape[:2]
        scale = 1.0
        small = rgb
        if self.settings.detect_width and width > self.settings.detect_width:
            scale = self.settings.detect_width / width
            small = cv2.resize(rgb, (self.settings.detect_width, max(1, round(height * scale))),
                               interpolation=cv2.INTER_AREA)
        found = face_recognition.face_locations(small, self.settings.upsample, self.settings.detector)
        return [_scale_box(box, 1 / scale, width, height) for box in found]

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """One float32 row of 128 values per box, in the order given."""
        if not boxes:
            return np.empty((0, 128), dtype=np.float32)
        model = "small" if self.settings.landmarks == 5 else "large"
        encodings = face_recognition.face_encodings(rgb, boxes, self.settings.jitters, model)
        return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), 128)

    def detect_and_encode(self, rgb: np.ndarray) -> tuple[list[Box], np.ndarray]:
        boxes = self.detect(rgb)
        return boxes, self.encode(rgb, boxes)


def _scale_box(box: Box, factor: float, width: int, height: int) -> Box:
    top, right, bottom, left = box
    return (max(0, round(top * factor)), min(width, round(right * factor)),
            min(height, round(bottom * factor)), max(0, round(left * factor)))
