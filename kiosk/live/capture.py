"""Enrolling the person in front: the daemon's side of `kiosk capture NAME` (store/captures.py).

The running kiosk takes the oldest waiting request and, in a thread of its own beside
recognition, looks at the newest frame a few times a second for a good view of the single face
in front: large and sharp enough (evidence.quality), roughly frontal (the nose between the eyes),
live when recognition.liveness is on (the same check a named face gets), and turned a little
from every view taken so far, so the views show the few angles a visitor will come at. The screen
says what it needs ("Enrolling José: 3 of 8 — turn your head a little"). With all views taken they
are enrolled exactly as a USB stick's photos are (import_folder, with its photo check); at the
timeout it gives up, saying what was missing most often.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.frame import Frame
from kiosk.live.evidence import FULL_SIZE, quality
from kiosk.names import display_name
from kiosk.paths import CAPTURES_DIR
from kiosk.store import Store
from kiosk.store.captures import CaptureRequest
from kiosk.store.faces import jpeg_bytes
from kiosk.store.records import write_private_file
from kiosk.vision.engine import FaceEngine
from kiosk.vision.images import kept_face
from kiosk.vision.liveness import LivenessCheck, eye_distance
from kiosk.vocabulary import CaptureState, LivenessState

log = logging.getLogger("kiosk.capture")

LOOK_SECONDS = 0.25  # how often the newest frame is looked at
GOOD_QUALITY = 0.5  # evidence.quality a view needs (size and sharpness together)
FRONTAL = 0.35  # the nose's offset from between the eyes, in eye distances, still "roughly frontal"
TURN = 0.06  # how far (in the same units, across and up-down) a view must differ from every other
EVERY_SECONDS = 0.5  # at least this long between two views

# Why a look gave no view, as the screen asks for it.
HINTS = {
    "nobody": "look at the camera",
    "several": "one person at a time, please",
    "small": "come a little closer",
    "blurred": "hold still",
    "turned": "face the camera",
    "same": "turn your head a little",
    "liveness": "blink, or move your head a little",
}
REASONS = {
    "nobody": "nobody was in front of the camera",
    "several": "more than one face was in front of the camera",
    "small": "the face was too small (too far from the camera)",
    "blurred": "the face was not sharp (moving, or out of focus)",
    "turned": "the face was turned away from the camera",
    "same": "the face did not turn: every view looked the same",
    "liveness": "the liveness check did not pass (a picture, or no blink or movement)",
}


def pose(points: np.ndarray) -> np.ndarray:
    """(across, up-down): the nose tip's offset from between the eyes, in eye distances, from
    the 68 landmarks; (0, ~0.5) for a face looking straight at the camera."""
    eyes = (points[36:42].mean(axis=0) + points[42:48].mean(axis=0)) / 2
    return (points[30] - eyes) / max(eye_distance(points), 1.0)


@dataclass
class Session:
    """One request being served: the views taken so far and why other looks were refused."""
    request: CaptureRequest
    started: float
    folder: Path
    poses: list[np.ndarray] = field(default_factory=list)
    last_view: float = float("-inf")
    misses: Counter = field(default_factory=Counter)
    hint: str = ""
    liveness: LivenessCheck | None = None

    def banner(self) -> str:
        name = display_name(self.request.name)
        text = f"Enrolling {name}: {len(self.poses)} of {self.request.views}"
        return f"{text} — {self.hint}" if self.hint else text


class Capturer:
    """The daemon's capture: `poll` (housekeeping) starts waiting requests, `offer` hands it each
    frame, `banner` is what the screen says meanwhile. Requests are served one at a time."""

    def __init__(self, config: Config, engine: FaceEngine):
        self.config = config
        self.engine = engine
        self.data_dir = config.data_path()
        self._newest: Frame | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._session: Session | None = None
        self._stop = threading.Event()

    def offer(self, frame: Frame) -> None:
        if self._thread is not None:
            with self._lock:
                self._newest = frame

    def banner(self) -> str:
        session = self._session
        return session.banner() if session is not None else ""

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self, store: Store) -> None:
        """Start the oldest waiting request when none is being served; fail requests a previous
        run of the daemon had taken (their asker would otherwise wait for ever)."""
        if self.busy:
            return
        self._session = None
        for request in store.captures.unfinished():
            if request.state != CaptureState.WAITING:
                store.captures.report(request.id, CaptureState.FAILED, request.taken,
                                      "the kiosk restarted while taking the views; ask again")
                continue
            if request.requested_at + request.timeout < time.time():
                store.captures.report(request.id, CaptureState.FAILED, 0,
                                      "no running kiosk took the request before its timeout")
                continue
            folder = self.data_dir / CAPTURES_DIR / str(request.id)
            self._session = Session(request, time.monotonic(), folder)
            if (mode := self.config.recognition.liveness_check()) is not None:
                self._session.liveness = LivenessCheck(mode, time.monotonic() + request.timeout)
            store.captures.report(request.id, CaptureState.TAKING, 0, "")
            log.info("capture %d: taking %d views of %s", request.id, request.views, request.name)
            self._thread = threading.Thread(target=self._serve, args=(self._session,), name="capture", daemon=True)
            self._thread.start()
            return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- the thread ------------------------------------------------------------------------

    def _serve(self, session: Session) -> None:
        store = Store(self.data_dir, create=False)
        try:
            self._take_views(store, session)
        except Exception as exc:  # one failed capture must never take the kiosk down
            log.exception("capture %d failed", session.request.id)
            store.captures.report(session.request.id, CaptureState.FAILED, len(session.poses), f"failed: {exc}")
        finally:
            shutil.rmtree(session.folder, ignore_errors=True)
            store.close()
            with self._lock:
                self._newest = None

    def _take_views(self, store: Store, session: Session) -> None:
        request = session.request
        deadline = session.started + request.timeout
        seen_index = -1
        while len(session.poses) < request.views:
            if self._stop.wait(LOOK_SECONDS):
                store.captures.report(request.id, CaptureState.FAILED, len(session.poses), "the kiosk stopped")
                return
            now = time.monotonic()
            if now >= deadline:
                self._give_up(store, session)
                return
            with self._lock:
                frame = self._newest
            if frame is None or frame.index == seen_index:
                continue
            seen_index = frame.index
            before = len(session.poses)
            self._look(session, frame, now)
            if not store.captures.report(request.id, CaptureState.TAKING, len(session.poses), session.banner()):
                log.info("capture %d: cancelled by its asker", request.id)
                return
            if len(session.poses) != before:
                log.info("capture %d: view %d of %d", request.id, len(session.poses), request.views)
        from kiosk.enrollment.enroll import import_folder  # late on purpose: the daemon enrolls only here

        session.hint = "thank you"
        store.captures.report(request.id, CaptureState.ENROLLING, len(session.poses), "enrolling the views")
        report = import_folder(store, session.folder, self.config.enrollment, encoder=self.config.recognition.encoder,
                               layout="the views taken")
        held = f", {len(report.suspects)} held back by the photo check" if report.suspects else ""
        skipped = f", {len(report.skipped)} gave no face" if report.skipped else ""
        store.captures.report(request.id, CaptureState.DONE, len(session.poses),
                              f"{report.added} view(s) enrolled as {request.name}{held}{skipped}")

    def _give_up(self, store: Store, session: Session) -> None:
        request = session.request
        reason = REASONS[session.misses.most_common(1)[0][0]] if session.misses else "no frame came from the camera"
        store.captures.report(request.id, CaptureState.FAILED, len(session.poses),
                              f"gave up after {request.timeout:g} s with {len(session.poses)} of {request.views} "
                              f"views: most often {reason}")

    def _look(self, session: Session, frame: Frame, now: float) -> None:
        """Take FRAME's face as a view if it is a good and new one; else note what was missing."""
        miss = self._judge(session, frame, now)
        session.hint = HINTS[miss] if miss else ""
        if miss:
            session.misses[miss] += 1

    def _judge(self, session: Session, frame: Frame, now: float) -> str:
        boxes = self.engine.detect(frame.image, small=frame.small)
        if not boxes:
            return "nobody"
        if len(boxes) > 1:
            return "several"
        box = boxes[0]
        points = self.engine.landmarks68(frame.image, box)
        if session.liveness is not None and session.liveness.feed(points, now) != LivenessState.PASSED:
            return "liveness"
        top, right, bottom, left = box
        if min(bottom - top, right - left) < 0.8 * FULL_SIZE:
            return "small"
        if quality(frame.image, box) < GOOD_QUALITY:
            return "blurred"
        facing = pose(points)
        if abs(facing[0]) > FRONTAL:
            return "turned"
        if now - session.last_view < EVERY_SECONDS or any(
                float(np.linalg.norm(facing - taken)) < TURN for taken in session.poses):
            return "same"
        index = len(session.poses) + 1
        write_private_file(session.folder / session.request.name / f"capture{session.request.id}-view{index}.jpg",
                           jpeg_bytes(kept_face(frame.image, box)))
        session.poses.append(facing)
        session.last_view = now
        return ""
