"""Keeping up on a slow processor: recognition measures its own searches and asks less of itself.

A whole-frame search at 640 px takes about 30 ms on a desktop core and four to ten times that on
a Raspberry Pi or a busy one; one face encoding about 150 ms here without BLAS. The recognizer
reports the wall time of each whole-frame search here (waiting for the processor included: that
is what a person in front of the kiosk waits for). While the median of the last few is over
detection.scan_budget, the pace is slow and asks less:

1. the camera gives half its frames (skipped before conversion, or the sensor slowed): the
   screen moves at half the rate and the processor it frees goes to naming; and one worker
   recognizes instead of detection.workers, since a second would only search the next frame of
   the same face beside the first, taking the processor from it;
2. whole-frame searches are spaced out, so that they take at most about a quarter of the time
   and the searches around followed faces, which name them, come first (this one holds at any
   pace: a search slower than a quarter of detection.full_scan_seconds spaces them);
3. the liveness check fits its landmarks on every second frame of a face only;
4. the whole frame is searched at a smaller width, a step at a time (cost goes with the pixel
   count), never below detection.min_width and only as far as the faces found so far stay
   large enough for the detector at it (a face it can no longer see is worse than a late one).
   Searches around followed faces keep the configured scale: they are cheap and must find them.

Whatever the pace, a face unseen for a while is kept (and drawn) for a few of recognition's own
intervals when those are longer than recognition.track_timeout: a slow result is not a face
gone, and a track forgotten between two results would start its evidence over.

The width comes back a step when a search at the next larger width is expected (from the pixel
count) to fit well within the budget. Over budget at the smallest width allowed is "too slow",
which `kiosk status` says rather than silently falling behind. All of it is plain data
(PaceState) for the status record.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections import deque
from dataclasses import dataclass

from kiosk.config import DetectionConfig
from kiosk.vision.detectors import SMALLEST_FACE

log = logging.getLogger("kiosk.pace")

SAMPLES = 5  # whole-frame searches judged together, and needed after a change before the next
WIDTH_STEP = 0.8  # each step searches this share of the previous width (about 64 % of the pixels)
UP_MARGIN = 0.6  # back up a step when the larger width is expected within this share of the budget
FACE_MARGIN = 1.2  # the smallest face found must stay this much above the detector's smallest
FACES_REMEMBERED = 20  # the faces found most recently, whose smallest bounds the width
HOLD_INTERVALS = 3  # a face is kept unseen for at least this many of recognition's intervals
HOLD_LIMIT = 5.0  # seconds: however slow recognition is, a face unseen this long has gone
SCAN_SHARE = 0.25  # whole-frame searches, when slow, take about this share of the time at most
SLOW_FRAME_SHARE = 0.5  # of the camera's frames taken while slow


@dataclass(frozen=True)
class PaceState:
    """How recognition keeps up, for the status record and `kiosk status`."""
    width: int  # the width whole frames are searched at now
    configured_width: int
    measured_width: int  # the width scan_ms was measured at (the previous one just after a change)
    scan_ms: float | None  # median wall time of the latest whole-frame searches
    budget_ms: float  # detection.scan_budget
    slow: bool  # over budget: fewer frames, spaced searches, fewer liveness fits
    full_scan_seconds: float  # seconds between whole-frame searches while faces are followed
    liveness_every: int  # liveness landmarks fitted on every Nth frame of a face
    too_slow: bool  # over budget even at the smallest width allowed

    @property
    def adapted(self) -> bool:
        return self.slow or self.width != self.configured_width

    def summary(self) -> str:
        """One line: "" when at full pace, else what was given up and why."""
        if not self.adapted:
            return ""
        measured = (f"a whole-frame search takes {self.scan_ms:.0f} ms at {self.measured_width} px"
                    if self.scan_ms is not None else f"searching at {self.width} px")
        if self.too_slow:
            head = (f"this machine is too slow for detection.width {self.configured_width}: {measured}, over the "
                    f"{self.budget_ms:.0f} ms budget at the smallest width the faces allow ({self.width} px)")
        elif self.width != self.configured_width:
            head = f"slow machine: searching at {self.width} px instead of {self.configured_width} ({measured})"
        else:
            head = f"slow machine: {measured}, over the {self.budget_ms:.0f} ms budget"
        if not self.slow:
            return head
        return (f"{head}; half the camera's frames, one worker, whole frame every {self.full_scan_seconds:.2g} s, "
                f"liveness on every {self.liveness_every} frames")


def widths(configured: int, smallest: int) -> list[int]:
    """The widths the pace steps through, the configured one first, multiples of 16 between."""
    steps = [configured]
    while steps[-1] > smallest:
        steps.append(max(smallest, int(steps[-1] * WIDTH_STEP) // 16 * 16))
    return steps


class Pace:
    """The one owner of how hard recognition works; fed by the workers, read by them and the daemon."""

    def __init__(self, width: int, min_width: int, budget: float, full_scan_seconds: float,
                 smallest_face: int = SMALLEST_FACE):
        self.configured_width = width
        self.budget = budget  # seconds; 0 never adapts
        self.full_scan_seconds = full_scan_seconds
        self.smallest_face = smallest_face
        self._widths = widths(width, min(min_width, width))
        self._step = 0
        self._scans: deque[float] = deque(maxlen=SAMPLES)
        self._faces: deque[float] = deque(maxlen=FACES_REMEMBERED)  # face widths in configured-width pixels
        self._intervals: deque[float] = deque(maxlen=SAMPLES)  # frame time between recognized frames
        self._last_applied: float | None = None
        self._judged: float | None = None  # the median that made the last change, and at what width
        self._judged_width = width
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, detection: DetectionConfig) -> Pace:
        return cls(detection.width, detection.min_width, detection.scan_budget, detection.full_scan_seconds)

    @property
    def width(self) -> int:
        """The width to search whole frames at now."""
        return self._widths[self._step]

    def found(self, face_widths: list[float], frame_width: int) -> None:
        """Faces FACE_WIDTHS pixels wide were found in a frame FRAME_WIDTH pixels wide."""
        scale = min(1.0, self.configured_width / frame_width) if frame_width else 1.0
        with self._lock:
            self._faces.extend(width * scale for width in face_widths)

    def _smallest_step(self) -> int:
        """The last step at whose width the faces found so far are still found (none seen: none)."""
        if not self._faces:
            return 0
        smallest = min(self._faces)
        allowed = [step for step, width in enumerate(self._widths)
                   if smallest * width / self.configured_width >= FACE_MARGIN * self.smallest_face]
        return max(allowed, default=0)

    def scanned(self, width: int, seconds: float) -> None:
        """One whole-frame search at WIDTH took SECONDS of wall time."""
        if not self.budget:
            return
        with self._lock:
            if width != self.width:
                return  # searched before the last change
            self._scans.append(seconds)
            if len(self._scans) < SAMPLES:
                return
            typical = statistics.median(self._scans)
            if self._step > self._smallest_step():
                self._change(self._smallest_step(), typical, "smaller faces came")
            elif typical > self.budget and self._step < self._smallest_step():
                self._change(self._step + 1, typical, f"detection.scan_budget {self.budget * 1000:.0f} ms")
            elif self._step > 0:
                larger = self._widths[self._step - 1]
                if typical * (larger / self.width) ** 2 < UP_MARGIN * self.budget:
                    self._change(self._step - 1, typical, "quick again")

    def _change(self, step: int, typical: float, why: str) -> None:
        log.warning("whole-frame searches took %.0f ms at %d px (%s): searching at %d px from now on",
                    typical * 1000, self.width, why, self._widths[step])
        self._judged, self._judged_width = typical, self.width
        self._step = step
        self._scans.clear()

    def _typical(self) -> float | None:
        """The median of the searches since the last change, else the one that made it."""
        return statistics.median(self._scans) if self._scans else self._judged

    def _slow(self) -> bool:
        typical = self._typical()
        return bool(self.budget) and typical is not None and (typical > self.budget or self._step > 0)

    def applied(self, timestamp: float, following: bool) -> None:
        """A recognized frame taken at TIMESTAMP was applied (called in frame order); FOLLOWING:
        faces were being followed, so the time since the previous one was recognition's own."""
        with self._lock:
            if following and self._last_applied is not None and timestamp > self._last_applied:
                self._intervals.append(timestamp - self._last_applied)
            self._last_applied = timestamp

    def hold(self, track_timeout: float) -> float:
        """Seconds an unseen face is kept (and drawn) for: recognition.track_timeout, or a few of
        recognition's own intervals when it comes slower than that, so a face is not forgotten
        between two results only because the processor is slow."""
        with self._lock:
            typical = statistics.median(self._intervals) if self._intervals else 0.0
        return max(track_timeout, min(HOLD_INTERVALS * typical, HOLD_LIMIT))

    def frame_rate(self, camera_fps: float) -> float:
        """Frames a second to take from the camera while faces may be in view."""
        with self._lock:
            slow = self._slow()
        return camera_fps * SLOW_FRAME_SHARE if slow else camera_fps

    def workers(self, configured: int) -> int:
        """Recognition workers to use: all of them, or one while slow."""
        with self._lock:
            return 1 if self._slow() else configured

    def full_scan_interval(self) -> float:
        """Seconds between whole-frame searches while faces are followed: detection.full_scan_seconds,
        or more when they would take over SCAN_SHARE of the time."""
        with self._lock:
            typical = self._typical()
        if not self.budget or typical is None:
            return self.full_scan_seconds
        return max(self.full_scan_seconds, typical / SCAN_SHARE)

    def liveness_every(self) -> int:
        """Fit liveness landmarks on every Nth recognized frame of a face."""
        with self._lock:
            return 2 if self._slow() else 1

    def state(self) -> PaceState:
        with self._lock:
            typical, slow, step = self._typical(), self._slow(), self._step
            measured_at = self.width if self._scans else self._judged_width
            too_slow = slow and typical is not None and typical > self.budget and step >= self._smallest_step()
        return PaceState(self._widths[step], self.configured_width, measured_at,
                         None if typical is None else typical * 1000, self.budget * 1000, slow,
                         round(self.full_scan_interval(), 2), self.liveness_every(), too_slow)
