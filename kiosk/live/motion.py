"""Has anything moved? A cheap look at each frame before the face detector runs.

With nobody in view, searching every frame for faces keeps a core busy around the clock for a
picture that does not change. The gate compares each frame, shrunk to a small blurred grey copy,
with a running average of the scene: the share of that copy whose brightness differs by more
than PIXEL_STEP levels is the changed area. The average follows the scene slowly, so lighting
that drifts over minutes is learnt rather than seen as motion; a change of overall brightness
(auto exposure, a cloud) is taken out before comparing; the blur and the step keep sensor noise
below the line. Costs about a tenth of a millisecond per frame at 640x480.
"""

from __future__ import annotations

import cv2
import numpy as np

GATE_WIDTH = 160  # pixels across the grey copy: a face walking in covers dozens of them
BLUR = (5, 5)
PIXEL_STEP = 14  # grey levels a pixel must change by (sensor noise stays within a few)
LEARNING_RATE = 0.05  # share of each new frame blended into the scene average


class MotionGate:
    """Tells whether a frame differs from the scene the camera has been showing."""

    def __init__(self, min_area: float):
        self.min_area = min_area  # share of the picture that must change, e.g. 0.005
        self._scene: np.ndarray | None = None
        self.last_area = 0.0  # changed share of the latest frame, for logs and tests

    def moved(self, rgb: np.ndarray) -> bool:
        """True when enough of RGB changed against the scene (always for the first frame)."""
        grey = self._small_grey(rgb)
        if self._scene is None or self._scene.shape != grey.shape:
            self._scene = grey
            self.last_area = 1.0
            return True
        difference = grey - self._scene
        difference -= float(np.median(difference))  # overall brightness changes are not motion
        self.last_area = float(np.count_nonzero(np.abs(difference) > PIXEL_STEP)) / difference.size
        cv2.accumulateWeighted(grey, self._scene, LEARNING_RATE)
        return self.last_area >= self.min_area

    @staticmethod
    def _small_grey(rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        size = (GATE_WIDTH, max(1, round(height * GATE_WIDTH / width)))
        grey = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        return cv2.GaussianBlur(grey, BLUR, 0).astype(np.float32)
