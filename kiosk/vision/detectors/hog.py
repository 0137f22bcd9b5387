"""dlib's HOG face detector, the default: fast on a CPU, for faces from about 80 pixels."""

from __future__ import annotations

import dlib
import numpy as np

from kiosk.vision.boxes import Box
from kiosk.vision.detectors.base import Detector, register


@register
class HogDetector(Detector):
    name = "hog"

    def __init__(self) -> None:
        self._detect = dlib.get_frontal_face_detector()

    def find(self, rgb: np.ndarray, upsample: int) -> list[Box]:
        return [(r.top(), r.right(), r.bottom(), r.left()) for r in self._detect(rgb, upsample)]
