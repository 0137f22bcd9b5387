"""The recognition stage: detect, track, encode and match the newest frame whenever free.

The display hands every frame to `submit`, which only keeps the newest one (older frames are
dropped, so nothing queues up). Worker threads take the newest frame, detect faces (dlib releases
the interpreter lock, so threads use several cores), update the tracker in frame order, and
encode only the tracks that need it. While faces are followed, the whole frame is searched every
`full_scan_seconds` and in between only the area around them, which is several times cheaper;
on a slow processor the pace (pace.py) spaces these searches out and may shrink their width.
With nobody followed, the whole frame is searched only when the motion gate (motion.py) sees the
picture change, or every `idle_scan_seconds` anyway; `submit` settles the other frames itself,
without waking a worker, so an empty hall costs almost nothing (and the camera may rest: `still`).
Encoding goes to an EncoderProcess (see vision/engine.py). The display reads `labels()` whenever
it draws.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from kiosk.config import Config, DoorConfig, RecognitionConfig
from kiosk.frame import Frame
from kiosk.live.evidence import quality
from kiosk.live.gallery_loader import ReadyGallery, prepare
from kiosk.live.hang import BusyWorkers
from kiosk.live.motion import MotionGate
from kiosk.live.pace import Pace
from kiosk.live.policy import Confirmation, ConfirmationPolicy
from kiosk.live.scene import FaceLabel
from kiosk.live.tracker import Track, Tracker, face_state
from kiosk.names import UNKNOWN
from kiosk.outside.door import DoorCandidate
from kiosk.util import RateMeter
from kiosk.vision.boxes import Box, overlap
from kiosk.vision.encoders import require_encoder
from kiosk.vision.engine import EncoderProcess, EngineSettings, FaceEngine
from kiosk.vision.images import kept_face
from kiosk.vision.matcher import Gallery
from kiosk.vocabulary import LivenessState

log = logging.getLogger("kiosk.recognition")

REGION_MARGIN = 0.6  # a followed face is searched for in its box grown by this share on each side
DUPLICATE_OVERLAP = 0.5  # two regions finding the same face
DISPLAY_GRACE_SECONDS = 0.3  # a face missed by the latest searches stays drawn this long
WORKER_RECHECK_SECONDS = 0.5  # a worker held back by a slow pace looks again this often


def search_region(box: Box, width: int, height: int) -> Box:
    """The followed face's box, grown so the face is found again after moving, clipped to the frame."""
    top, right, bottom, left = box
    grow_y, grow_x = round((bottom - top) * REGION_MARGIN), round((right - left) * REGION_MARGIN)
    return (max(0, top - grow_y), min(width, right + grow_x), min(height, bottom + grow_y), max(0, left - grow_x))


# How long a stop waits for the frames being recognized: one search takes a Pi a fraction of a
# second and an emulated machine several; kiosk.service's TimeoutStopSec=10 bounds the whole stop.
STOP_SECONDS = 8.0


def build_recognizer(config: Config, gallery: Gallery, policy: ConfirmationPolicy | None = None, *,
                     record_tracks: bool = False) -> Recognizer:
    """The recognition stage exactly as `kiosk run` has it (benchmarks measure this one)."""
    detection = config.detection
    encoder = require_encoder(config.recognition.encoder).name  # a missing model stops here, in one line
    return Recognizer(FaceEngine(EngineSettings.live(detection, encoder)), gallery, config.recognition,
                      detection.workers, record_tracks=record_tracks, pace=Pace.from_config(detection),
                      encoder=EncoderProcess(encoder, detection.jitters), motion_area=detection.motion_area,
                      idle_scan_seconds=detection.idle_scan_seconds, door=config.door if config.door.enabled else None,
                      policy=policy or ConfirmationPolicy(config))


class Recognizer:
    """Recognition beside the display loop; thread-safe between the two."""

    def __init__(self, engine: FaceEngine, gallery: Gallery, config: RecognitionConfig, workers: int = 1,
                 record_tracks: bool = False, full_scan_seconds: float = 0.0,
                 encoder: EncoderProcess | None = None, motion_area: float = 0.0, idle_scan_seconds: float = 2.0,
                 door: DoorConfig | None = None, policy: ConfirmationPolicy | None = None,
                 pace: Pace | None = None):
        self.engine = engine
        self.policy = policy or ConfirmationPolicy(Config(recognition=config))  # decides what a confirmation carries
        self.door = door  # with a door, members' tracks are offered to it (take_door_candidates)
        self.encoder: EncoderProcess | FaceEngine = encoder or engine  # encodes the aligned face chips
        width = engine.settings.detect_width or 0
        # how hard to work on this processor (pace.py); without one, always as configured
        self.pace = pace or Pace(width, width, 0.0, full_scan_seconds)
        self.idle_scan_seconds = idle_scan_seconds
        self._last_full_scan = float("-inf")
        # With nobody followed, the whole frame is searched only when the picture changed.
        self._gate = MotionGate(motion_area) if motion_area > 0 else None  # fed by submit()
        self.at_rest = False  # the newest frame was settled without a search (see submit)
        self.still = False  # the newest frame showed nobody followed and nothing moved: the camera may rest
        self.detector_runs = 0  # frames the face detector searched (whole or around faces)
        self._detect_rate = RateMeter()
        self.gallery = gallery
        self.config = config
        self.tracker = Tracker(config, min_frames=door.frames if door is not None else 0, door=door is not None)
        self._use_gallery(gallery)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._taken = threading.Condition(self._lock)
        self._newest: Frame | None = None
        self._newest_view: np.ndarray | None = None  # the gate's grey copy of _newest (kept when found empty)
        self._last_applied_index = -1
        self._latest_update = float("-inf")  # frame time of the latest recognized frame
        self._cut_at = float("-inf")  # frame time of the latest cut (another picture altogether)
        self._confirmations: list[Confirmation] = []
        self._door_candidates: list[DoorCandidate] = []
        self._stopping = False
        self.frames_recognized = 0
        self.faces_encoded = 0
        self._done_rate = RateMeter()
        self._busy = BusyWorkers()
        # Per track first-seen and confirmed frame, for run statistics only (grows with every face).
        self.track_log: dict[int, dict] | None = {} if record_tracks else None
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"recognizer-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        """Start the workers and return once each has loaded its models."""
        self._ready = threading.Barrier(len(self._threads) + 1)
        for thread in self._threads:
            thread.start()
        self._ready.wait()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the workers (and the encoder process, when there is one), each once its frame in
        hand is done: a thread left inside dlib when the interpreter ends aborts the process
        ("terminate called without an active exception", SIGABRT: a failed stop for systemd)."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if still := [thread.name for thread in self._threads if thread.is_alive()]:
            log.warning("recognition still busy after %.0f s of stopping: %s", timeout, ", ".join(still))
        if isinstance(self.encoder, EncoderProcess):
            self.encoder.close()

    def submit(self, frame: Frame, wait: bool = False) -> None:
        """Offer the newest frame (from one thread, the display loop); an unprocessed older one is dropped.

        A frame with nobody followed and nothing moved is settled here, by the motion gate,
        without waking a worker: an empty hall costs one glance per frame. With wait (--fast on
        a file) the caller is held until a worker has taken the previous frame, so every frame
        is recognized and the whole pipeline runs as fast as it can.
        """
        self.at_rest = not self._worth_searching(frame)
        if self._gate is not None and self._gate.cut:
            with self._lock:  # another picture (the next photo, a cut): the faces in it may be others
                self.tracker.recheck_all()
                self._cut_at = frame.timestamp
        if self.at_rest:
            with self._lock:
                self.frames_recognized += 1  # looked at, and there was nothing to search
                self._done_rate.tick(time.monotonic())
            return
        with self._lock:
            while wait and self._newest is not None and not self._stopping:
                self._taken.wait(0.1)
            self._newest = frame
            self._newest_view = self._gate.latest if self._gate is not None else None
            self._wake.notify()

    def _use_gallery(self, gallery: Gallery | ReadyGallery) -> None:
        """GALLERY and the rule calibrated for it (gallery_loader.prepare, here when not prepared
        already in the loader's thread)."""
        ready = gallery if isinstance(gallery, ReadyGallery) else prepare(gallery, self.config, self.door)
        self.gallery, self.rule, self.calibration = ready.gallery, ready.rule, ready.calibration
        self.door_tolerance = ready.door_tolerance
        self.tracker.tolerance = ready.rule.tolerance

    def set_gallery(self, gallery: Gallery | ReadyGallery) -> None:
        """Swap in a reloaded gallery and the rule calibrated for it; unconfirmed and later
        re-checks use them."""
        self._use_gallery(gallery)
        with self._lock:
            self.tracker.recheck_all()  # re-check everyone against the new gallery

    def labels(self, now: float) -> list[FaceLabel]:
        """Faces to draw, ready for the screen: tracks seen in the latest recognized frames, one
        label per face, each with the state it is shown in.

        Which tracks are drawn is the tracker's (Tracker.drawn: found lately, once per face, and
        after a cut only what the new picture showed)."""
        with self._lock:
            shown = self.tracker.drawn(now, self._latest_update - DISPLAY_GRACE_SECONDS, self._cut_at)
        return [FaceLabel(t.box, face_state(t), t.confirmed or "", t.id) for t in shown]

    def take_confirmations(self) -> list[Confirmation]:
        with self._lock:
            confirmations, self._confirmations = self._confirmations, []
        return confirmations

    def take_door_candidates(self) -> list[DoorCandidate]:
        with self._lock:
            candidates, self._door_candidates = self._door_candidates, []
        return candidates

    def detector_fps(self, now: float) -> float:
        """Frames per second the face detector searched, over the last two seconds."""
        with self._lock:
            return self._detect_rate.rate(now)

    def recognition_fps(self, now: float) -> float:
        with self._lock:
            return self._done_rate.rate(now)

    def hung(self, now: float, floor: float) -> str:
        """Why a worker counts as hung on its frame (see hang.py), or "" when none is."""
        with self._lock:
            return self._busy.hung(now, floor)

    def _work(self, number: int) -> None:
        try:
            self.engine.warm_up(liveness=self.tracker.liveness is not None)
        finally:
            self._ready.wait()
        while True:
            with self._lock:
                # On a slow processor one worker does it all: a second would only search the
                # same face's frame again beside it, taking the processor from the first.
                while (self._newest is None or number >= self.pace.workers(len(self._threads))) \
                        and not self._stopping:
                    self._wake.wait(WORKER_RECHECK_SECONDS)
                if self._stopping:
                    return
                frame, view, self._newest = self._newest, self._newest_view, None
                assert frame is not None  # the wait above ends on a new frame unless stopping
                self._taken.notify_all()
                self._busy.took(threading.current_thread().name, time.monotonic())
            try:
                self._recognize(frame, view)
            except Exception:  # a bad frame must not stop recognition for good
                if self._stopping:  # the encoder process was stopped under it (SIGTERM reaches every process)
                    log.debug("frame %d left unfinished: stopping", frame.index)
                else:
                    log.exception("recognition failed on frame %d", frame.index)
            finally:
                with self._lock:
                    self._busy.finished(threading.current_thread().name, time.monotonic())

    def _followed_regions(self, frame: Frame) -> list[Box]:
        """Where followed faces are searched for in FRAME; the caller holds the lock."""
        height, width = frame.image.shape[:2]
        return [search_region(t.box, width, height) for t in self.tracker.visible()
                if frame.timestamp - t.last_seen <= self.tracker.timeout]

    def _worth_searching(self, frame: Frame) -> bool:
        """False when nobody is followed, the picture has not changed and no idle scan is due; an
        idle scan is not due either while the picture is the one last searched and found empty."""
        if self._gate is None:
            return True
        # Fed every frame, so it knows the scene when the last face leaves; the camera's own
        # scaled-down stream, when it has one, is the cheaper picture to look at.
        moved = self._gate.moved(frame.small if frame.small is not None else frame.image)
        with self._lock:
            followed = bool(self._followed_regions(frame))
            self.still = not moved and not followed
            if moved or followed:
                return True
            if frame.timestamp - self._last_full_scan < self.idle_scan_seconds:
                return False
            if not self._gate.changed_since_empty():
                self._last_full_scan = frame.timestamp  # the same empty picture: look again later
                return False
            return True

    def _find_faces(self, frame: Frame) -> tuple[list[Box], bool]:
        """Search the whole frame now and then (new faces), else only around followed faces;
        the boxes, and whether the whole frame was searched.

        With nobody followed the whole frame is searched: submit() lets such a frame through
        only when it moved or an idle scan is due."""
        width = self.pace.width
        with self._lock:
            regions = self._followed_regions(frame)
            full_scan = not regions or frame.timestamp - self._last_full_scan >= self.pace.full_scan_interval()
            if full_scan:
                self._last_full_scan = frame.timestamp
            self.detector_runs += 1
            self._detect_rate.tick(time.monotonic())
        if full_scan:
            started = time.monotonic()
            found = self.engine.detect(frame.image, small=frame.small, width=width)
            self.pace.scanned(width, time.monotonic() - started)
            self.pace.found([right - left for _, right, _, left in found], frame.image.shape[1])
            return found, True
        boxes: list[Box] = []
        for region in regions:  # at the configured scale: cheap, and they must find the face again
            boxes += [box for box in self.engine.detect(frame.image, region, frame.small)
                      if all(overlap(box, seen) < DUPLICATE_OVERLAP for seen in boxes)]
        return boxes, False

    def _recognize(self, frame: Frame, view: np.ndarray | None = None) -> None:
        """FRAME through detection, tracking, encoding and matching; VIEW is the motion gate's
        grey copy of it, remembered when the whole frame held nobody."""
        boxes, whole = self._find_faces(frame)
        with self._lock:
            if frame.index <= self._last_applied_index:
                return  # another worker already applied a newer frame
            self._last_applied_index = frame.index
            self.pace.applied(frame.timestamp, bool(self.tracker.tracks))
            self.tracker.timeout = self.pace.hold(self.config.track_timeout)
            self._latest_update = frame.timestamp
            to_encode = self.tracker.update(boxes, frame.timestamp, frame.index)
            if whole and not boxes and view is not None and self._gate is not None:
                self._gate.remember_empty(view)
            fit_liveness = self.frames_recognized % self.pace.liveness_every() == 0
            if self.track_log is not None:
                for track in self.tracker.visible():
                    entry = self.track_log.setdefault(track.id, {
                        "track_id": track.id, "name": None, "first_seen_index": track.first_seen_index,
                        "confirmed_index": None, "box": list(track.box), "names": []})
                    if track.last_seen == frame.timestamp:
                        entry["last_seen_index"] = frame.index
            jobs = [(t.id, t.box) for t in to_encode]
            checking = [(t.id, t.box) for t in self.tracker.visible()
                        if fit_liveness and t.last_seen == frame.timestamp and t.liveness is not None
                        and t.liveness.state == LivenessState.CHECKING]
        landmarks = [(track_id, self.engine.landmarks68(frame.image, box)) for track_id, box in checking]
        encodings = self.encoder.encode_chips(self.engine.face_chips(frame.image, [box for _, box in jobs]))
        qualities = [quality(frame.image, box) for _, box in jobs]
        with self._lock:
            # per job, the track's kept encodings and their weights
            evidence = [self.tracker.add_encoding(track_id, box, encoding, weight, frame.timestamp)
                        for (track_id, box), encoding, weight in zip(jobs, encodings, qualities, strict=True)]
        gallery, rule = self.gallery, self.rule
        frame_matches = gallery.match(encodings, rule)
        decisions = [gallery.match_evidence(kept, weights, rule) for kept, weights in evidence]
        with self._lock:
            self.frames_recognized += 1
            self.faces_encoded += len(jobs)
            self._done_rate.tick(time.monotonic())
            for (track_id, _), frame_match, decision in zip(jobs, frame_matches, decisions, strict=True):
                if self.tracker.add_result(track_id, frame_match, decision, frame.timestamp, frame.index):
                    self._confirm(self.tracker.tracks[track_id], frame)
                self._log_decision(track_id, decision)
            for track_id, points in landmarks:
                self.tracker.feed_liveness(track_id, points, frame.timestamp)
            for track in self.tracker.waiting_to_announce(frame.timestamp):
                self._confirm(track, frame)  # a name that waited for its liveness check
            if self.door_tolerance is not None:
                self._offer_to_door([track_id for track_id, _ in jobs])

    def _offer_to_door(self, track_ids: list[int]) -> None:
        """Tracks with a new result whose member's name has been announced go to the door."""
        for track_id in track_ids:
            track = self.tracker.tracks.get(track_id)
            if track is None or track.confirmed in (None, UNKNOWN) or track.announced != track.confirmed:
                continue
            assert track.distance is not None and self.door_tolerance is not None
            self._door_candidates.append(DoorCandidate(
                track.id, track.confirmed, track.distance, track.agreeing_frames(track.confirmed),
                track.liveness.state if track.liveness is not None else None, self.door_tolerance))

    def _log_decision(self, track_id: int, decision) -> None:
        entry = self.track_log.get(track_id) if self.track_log is not None else None
        track = self.tracker.tracks.get(track_id)
        if entry is not None and track is not None:
            entry["restarts"] = track.restarts
            entry["evidence"] = {"name": decision.name, "score": round(decision.distance, 4),
                                 "nearest": decision.nearest, "frames": track.evidence.frames,
                                 "used": track.evidence.used, "weight": round(track.evidence.weight, 3),
                                 "threshold": self.rule.tolerance}

    def _confirm(self, track: Track, frame: Frame) -> None:
        """Hand the track's name on as a Confirmation (its event): at once, or with liveness on,
        once the check has passed or failed; until then the screen shows the name with a hint."""
        assert track.confirmed is not None  # called for a confirmed name only
        check = track.liveness if track.confirmed != UNKNOWN else None
        if check is not None and check.state == LivenessState.CHECKING:
            return
        self.tracker.announce(track)
        box, encoding = track.last_result if track.last_result is not None else (track.box, None)
        keep = self.policy.wants_crop(track.confirmed)
        crop = kept_face(frame.image, box) if keep and encoding is not None else None
        self._confirmations.append(Confirmation(track.id, track.confirmed, track.distance,
                                                crop, encoding if crop is not None else None,
                                                check.state if check is not None else None,
                                                self.rule.tolerance, track.evidence.frames))
        entry = self.track_log.get(track.id) if self.track_log is not None else None
        if entry is not None:
            entry["names"].append(track.confirmed)
            if entry["confirmed_index"] is None:
                entry.update(name=track.confirmed, confirmed_index=frame.index)
