"""Has anything moved? A cheap look at each frame before the face detector runs.

With nobody in view, searching every frame for faces keeps a core busy around the clock for a
picture that does not change. The gate compares each frame, as a small blurred grey copy, with a
running average of the scene: the share of that copy whose brightness differs by more than
PIXEL_STEP levels is the changed area. The copy is every few pixels' green value (green carries
most of the brightness): reading the whole frame to average it down would cost more than the
rest of the gate together. The average follows the scene slowly, so lighting that drifts over
minutes is learnt rather than seen as motion; a change of overall brightness (auto exposure, a
cloud) is taken out before comparing; the blur and the step keep sensor noise below the line.
"""

from __future__ import annotations

import cv2
import numpy as np

GATE_WIDTH = 160  # about this many pixels across the grey copy: a face walking in covers dozens
BLUR = (5, 5)
PIXEL_STEP = 14  # grey levels a pixel must change by (sensor noise stays within a few)
LEARNING_RATE = 0.05  # share of each new frame blended into the scene average
CUT_AREA = 0.5  # share of the picture changed at once that makes a cut (another picture altogether)


class MotionGate:
    """Tells whether a frame differs from the scene the camera has been showing."""

    def __init__(self, min_area: float):
        self.min_area = min_area  # share of the picture that must change, e.g. 0.005
        self._scene: np.ndarray | None = None
        self.last_area = 0.0  # changed share of the latest frame, for logs and tests
        self.cut = False  # the latest frame changed most of the picture at once (a slideshow's next photo)

    def moved(self, rgb: np.ndarray) -> bool:
        """True when enough of RGB changed against the scene (always for the first frame)."""
        grey = self._small_grey(rgb)
        before = self.last_area
        if self._scene is None or self._scene.shape != grey.shape:
            self.cut = self._scene is not None  # a picture of another size: another picture
            self._scene = grey
            self.last_area = 1.0
            return True
        difference = grey - self._scene
        # Overall brightness changes are not motion: take out the typical change (the median of
        # a sample, found by partition; np.median's own checks cost more than the sort).
        sample = difference[::4, ::4].ravel()
        difference -= float(np.partition(sample, sample.size // 2)[sample.size // 2])
        self.last_area = float(np.count_nonzero(np.abs(difference) > PIXEL_STEP)) / difference.size
        self.cut = self.last_area >= CUT_AREA > before  # the first frame of the change, not the ones after
        cv2.accumulateWeighted(grey, self._scene, LEARNING_RATE)
        return self.last_area >= self.min_area

    @staticmethod
    def _small_grey(rgb: np.ndarray) -> np.ndarray:
        step = max(1, rgb.shape[1] // GATE_WIDTH)
        grey = np.ascontiguousarray(rgb[::step, ::step, 1])
        return cv2.GaussianBlur(grey, BLUR, 0).astype(np.float32)
