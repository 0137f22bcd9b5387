"""dlib's CNN (MMOD) face detector: finds turned and poorly lit faces HOG misses, at many times the cost.

Used for enrolled photos (enrollment.detector, or the fallback when HOG finds nobody) more
than for live frames; its model ships with face_recognition_models.
"""

from __future__ import annotations

import dlib
import face_recognition_models
import numpy as np

from kiosk.vision.boxes import Box
from kiosk.vision.detectors.base import Detector, register

SMALLEST_FACE = 80  # pixels: the smallest face it finds without upsampling


@register
class CnnDetector(Detector):
    name = "cnn"

    def __init__(self) -> None:
        self._detect = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())

    def find(self, rgb: np.ndarray, upsample: int) -> list[Box]:
        return [(d.rect.top(), d.rect.right(), d.rect.bottom(), d.rect.left()) for d in self._detect(rgb, upsample)]
