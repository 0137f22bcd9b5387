"""Has anything moved? A cheap look at each frame before the face detector runs.

With nobody in view, searching every frame for faces keeps a core busy around the clock for a
picture that does not change. The gate compares each frame, as a small blurred grey copy, with a
running average of the scene: the share of that copy whose brightness differs by more than
PIXEL_STEP levels is the changed area. The copy is every few pixels' green value (green carries
most of the brightness): reading the whole frame to average it down would cost more than the
rest of the gate together. The average follows the scene slowly, so lighting that drifts over
minutes is learnt rather than seen as motion; a change of overall brightness (auto exposure, a
cloud) is taken out before comparing; the blur and the step keep sensor noise below the line.
The gate also keeps the last picture that was searched and held no face: the periodic search of
an empty hall is skipped while the picture is still that one, since it would find nobody again.

A cut (a slideshow's next photo, a video's next shot: another picture altogether, whose faces
may be others in the old ones' places) is told by the colours, not by the changed area: a
handheld or panning camera changes as much of the picture as a cut between two dark shots does
(the sample clip at 8 frames a second: ordinary frames up to 0.39 of the picture, its three cuts
0.38-0.46), while the colour histogram of consecutive frames (Bhattacharyya distance) stays under
0.18 within a shot and jumps to 0.37-0.44 at each of those cuts. A false cut only costs a re-check
of the faces in view.
"""

from __future__ import annotations

import cv2
import numpy as np

GATE_WIDTH = 160  # about this many pixels across the grey copy: a face walking in covers dozens
BLUR = (5, 5)
PIXEL_STEP = 14  # grey levels a pixel must change by (sensor noise stays within a few)
LEARNING_RATE = 0.05  # share of each new frame blended into the scene average
CUT_AREA = 0.5  # share of the picture changed at once that makes a cut (another picture altogether)
CUT_COLOURS = 0.3  # colour histogram distance from the frame before that makes a cut
HISTOGRAM_BINS = [8, 4, 4]  # hue, saturation, value
HISTOGRAM_RANGES = [0, 180, 0, 256, 0, 256]


class MotionGate:
    """Tells whether a frame differs from the scene the camera has been showing."""

    def __init__(self, min_area: float):
        self.min_area = min_area  # share of the picture that must change, e.g. 0.005
        self._scene: np.ndarray | None = None
        self.last_area = 0.0  # changed share of the latest frame, for logs and tests
        self.cut = False  # the latest frame changed most of the picture at once (a slideshow's next photo)
        self.latest: np.ndarray | None = None  # the latest frame's grey copy (see remember_empty)
        self._empty: np.ndarray | None = None  # the grey copy of the last frame searched and found empty
        self._colours: np.ndarray | None = None  # the previous frame's colour histogram

    def moved(self, rgb: np.ndarray) -> bool:
        """True when enough of RGB changed against the scene (always for the first frame)."""
        grey = self.latest = self._small_grey(rgb)
        before = self.last_area
        colours, previous = self._histogram(rgb), self._colours
        self._colours = colours
        if self._scene is None or self._scene.shape != grey.shape:
            self.cut = self._scene is not None  # a picture of another size: another picture
            self._scene = grey.copy()  # learnt into in place: `latest` must stay this frame's
            self.last_area = 1.0
            return True
        self.last_area = changed_area(grey, self._scene)
        jump = previous is not None and cv2.compareHist(previous, colours, cv2.HISTCMP_BHATTACHARYYA) >= CUT_COLOURS
        self.cut = jump or self.last_area >= CUT_AREA > before  # the first frame of the change, not the ones after
        cv2.accumulateWeighted(grey, self._scene, LEARNING_RATE)
        return self.last_area >= self.min_area

    def remember_empty(self, grey: np.ndarray) -> None:
        """GREY (a `latest` copy) was searched for faces and none was found."""
        self._empty = grey

    def changed_since_empty(self) -> bool:
        """Whether the latest frame differs from the last one searched and found empty: an
        unchanged picture has nobody new in it, so searching it again would find nobody again."""
        if self._empty is None or self.latest is None or self._empty.shape != self.latest.shape:
            return True
        return changed_area(self.latest, self._empty) >= self.min_area

    @staticmethod
    def _histogram(rgb: np.ndarray) -> np.ndarray:
        step = max(1, rgb.shape[1] // GATE_WIDTH)
        hsv = cv2.cvtColor(np.ascontiguousarray(rgb[::step, ::step]), cv2.COLOR_RGB2HSV)
        histogram = cv2.calcHist([hsv], [0, 1, 2], None, HISTOGRAM_BINS, HISTOGRAM_RANGES)
        return cv2.normalize(histogram, histogram).ravel()

    @staticmethod
    def _small_grey(rgb: np.ndarray) -> np.ndarray:
        step = max(1, rgb.shape[1] // GATE_WIDTH)
        grey = np.ascontiguousarray(rgb[::step, ::step, 1])
        return cv2.GaussianBlur(grey, BLUR, 0).astype(np.float32)


def changed_area(grey: np.ndarray, reference: np.ndarray) -> float:
    """The share of GREY that differs from REFERENCE by more than PIXEL_STEP once a change of
    overall brightness is taken out (the median of a sample, found by partition: np.median's
    own checks cost more than the sort)."""
    difference = grey - reference
    sample = difference[::4, ::4].ravel()
    difference -= float(np.partition(sample, sample.size // 2)[sample.size // 2])
    return float(np.count_nonzero(np.abs(difference) > PIXEL_STEP)) / difference.size
