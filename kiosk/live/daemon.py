"""`kiosk run`: the live loop. Capture and drawing run here; recognition runs beside it.

Each pass reads the newest frame (the source paces itself at the camera's rate), offers it to the
recognizer, and draws it with the newest results, so the screen never waits for recognition; an
empty, unchanged scene is redrawn only display.idle_fps times a second, no screen is drawn faster
than it can show (display.max_fps), and with nobody in view and nothing moving the camera rests
(camera.rest_fps) until something moves.
Twice a second the loop also checks the store for changes (reloading the gallery within 2 s of
any `kiosk enroll`), publishes its state for `kiosk status` and systemd, shows the progress
of a USB import, and takes up a `kiosk capture` request (capture.py). SIGTERM/SIGINT stop it
cleanly; SIGHUP reloads the gallery. A kiosk.db replaced or deleted under it is noticed there
too and reopened, with one log line.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import cv2

from kiosk.config import DOOR_WITHOUT_LIVENESS, Config
from kiosk.frame import Frame
from kiosk.live.capture import Capturer
from kiosk.live.display import Display
from kiosk.live.events import EventWriter
from kiosk.live.gallery_loader import GalleryLoader, ReadyGallery
from kiosk.live.notify import Notifier, WatchdogGate, watchdog_interval
from kiosk.live.policy import Confirmation, ConfirmationPolicy
from kiosk.live.recognition import build_recognizer
from kiosk.live.scene import Scene, Status
from kiosk.live.sources import Frames, check_source, open_source
from kiosk.live.stats import RunStats
from kiosk.outside.door import Door
from kiosk.outside.mqtt import Publisher
from kiosk.paths import import_progress_path, status_file_path
from kiosk.runtime import STALE_AFTER_SECONDS, DaemonStatus, ImportProgress, ReloadSignal, age, publish, read_record
from kiosk.store import Store, waiting_for_retrain
from kiosk.store.site import read_site
from kiosk.util import RateMeter
from kiosk.vocabulary import CameraState

if typing.TYPE_CHECKING:
    from kiosk.outside.fleet import Fleet

log = logging.getLogger("kiosk.daemon")

HOUSEKEEPING_SECONDS = 0.5
SIGHUP_COALESCE_SECONDS = 5.0
IMPORT_SUMMARY_SECONDS = 10.0
IDLE_SLACK = 0.9  # a frame a little early for display.idle_fps is drawn (frames at rest come at that rate)


@dataclass
class RunOptions:
    source: str | None = None  # overrides camera.source
    display: str | None = None  # overrides display.mode
    snapshot: str | None = None  # overrides display.snapshot_path
    max_frames: int | None = None
    fast: bool = False
    loop: bool = False
    stats_json: str | None = None


class Daemon:
    def __init__(self, config: Config, options: RunOptions):
        self.config = config
        self.options = options
        self.stop_requested = False
        self.stop_signal = ""
        self.reload_requested = False
        self.last_forced_reload = float("-inf")  # when SIGHUP last reloaded an unchanged gallery
        self.notifier = Notifier()
        self.notifier.starting("loading the people")
        self.store = Store(config.data_path())
        self.gallery = self.store.people.load_gallery(config.recognition.encoder)
        if waiting := waiting_for_retrain(self.store, config.recognition.encoder):
            log.warning(waiting)
        self.policy = ConfirmationPolicy(config)  # what a confirmed face causes
        self.notifier.starting("loading the face models")
        self.recognizer = build_recognizer(config, self.gallery, self.policy, record_tracks=bool(options.stats_json))
        self.loader = GalleryLoader(config, config.data_path())
        # Off unless configured: the door first, so its pin is driven closed before anything else.
        self.door = Door(config.door) if config.door.enabled else None
        if config.door_without_liveness:
            log.warning(DOOR_WITHOUT_LIVENESS)
        self.publisher = Publisher(config, self.gallery.names) if config.mqtt.enabled else None
        site = read_site(config.data_path())
        self.fleet: Fleet | None = None
        if site is not None and config.mqtt.enabled:
            from kiosk.outside.fleet import Fleet  # late on purpose: the signing library only on a site

            self.fleet = Fleet(config, site)
        if site is not None and not config.mqtt.enabled:
            log.warning("site %s: mqtt.enabled is off, so this kiosk neither sends nor takes gallery versions",
                        site.name)
        self.event_log = EventWriter(config, self.publisher.wake if self.publisher else None)
        self.notifier.starting("opening the camera")
        self.source: Frames = open_source(options.source or config.camera.source, config.camera,
                                  fast=options.fast, loop=options.loop)
        self.display = Display(config.display, options.display, options.snapshot)
        interval = watchdog_interval()
        self.watchdog = WatchdogGate(self.notifier, interval, stall_after=max(2 * interval, 2.0)) if interval else None
        self.unhealthy_because = ""  # why keep-alives are withheld, said once in the journal
        self.status_path = status_file_path(config.data_path())
        self.progress_path = import_progress_path(config.data_path())
        self.display_fps = RateMeter()
        self.greeting = self.greeting_short = ""
        self.greeting_until = 0.0
        self.last_drawn = float("-inf")  # when the screen was last drawn
        self.banner = ""
        self.capturer = Capturer(config, self.recognizer.engine)  # `kiosk capture`: the person in front
        self.stats = RunStats()

    # --- signals -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            self.stop_signal = signal.Signals(signum).name  # logged by shutdown, not in the handler
            self.stop_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        ReloadSignal.catch()  # already caught by the command line from its start; taken in housekeeping

    # --- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        self.install_signal_handlers()
        self.notifier.starting("opening the screen")
        self.display.open()
        self.recognizer.start()
        if self.publisher is not None:
            self.publisher.start()
        if self.fleet is not None:
            self.fleet.start()
        log.info("running: source %s, display %s, %d people enrolled",
                 self.source.name, self.display.mode, self.gallery.people)
        self.notifier.ready()
        self.stats.loop_started()
        last_frame = None
        next_housekeeping = 0.0
        try:
            while not self.stop_requested and not self.display.quit_requested:
                reading = time.thread_time()
                frame = self.source.read()
                self.stats.source_cpu += time.thread_time() - reading
                now = time.monotonic()
                if frame is not None:
                    last_frame = frame
                    if self.options.stats_json:
                        self.stats.frame_taken(frame.index, now)
                    self.recognizer.submit(frame, wait=self.options.fast)
                    self.source.limit_rate(self.frame_rate())
                    self.capturer.offer(frame)
                    self.display_fps.tick(now)
                elif self.source.finished:
                    log.info("source finished after %d frames", self.stats.frames_displayed)
                    break
                elif self.source.state == CameraState.UNAVAILABLE:
                    last_frame = None
                self.handle_confirmations(now)
                if now >= next_housekeeping:
                    self.housekeeping(now)
                    next_housekeeping = now + HOUSEKEEPING_SECONDS
                if self.due_to_draw(now, frame is not None):
                    self.draw(last_frame if frame is not None or self.source.state == "ok" else None, now)
                if frame is not None:
                    self.stats.frames_displayed += 1
                    if self.options.max_frames and self.stats.frames_displayed >= self.options.max_frames:
                        break
                if self.watchdog:
                    if self.pipeline_healthy(frame is not None, now):
                        self.watchdog.frame_processed(now)
                    self.watchdog.tick(now)
        finally:
            self.shutdown()
        return 0

    def pipeline_healthy(self, got_frame: bool, now: float) -> bool:
        """What keeps systemd's watchdog fed: this loop turning, and either frames reaching the
        screen or the camera being retried while the screen says so (a missing camera is not a
        reason to restart), with no recognition worker hung on one frame."""
        assert self.watchdog is not None  # asked only when systemd's watchdog is on
        why = self.recognizer.hung(now, self.watchdog.stall_after)
        healthy = not why and (got_frame or self.source.state == CameraState.UNAVAILABLE)
        if why and not self.unhealthy_because:  # the journal says why systemd may restart us
            log.warning("watchdog keep-alives withheld: %s", why)
        self.unhealthy_because = why
        if not healthy and self.door is not None:
            self.door.close()  # a hung kiosk must not hold the door open
        return healthy

    def frame_rate(self) -> float | None:
        """Frames a second to take from the camera: camera.rest_fps with nobody in view and
        nothing moving, fewer than all while the processor cannot keep up (live/pace.py), else
        all (None). --fast takes every frame of its file."""
        if self.options.fast:
            return None
        camera = self.config.camera
        if self.recognizer.still and camera.rest_fps:
            return camera.rest_fps
        rate = self.recognizer.pace.frame_rate(camera.fps)
        return rate if rate < camera.fps else None

    def due_to_draw(self, now: float, new_frame: bool) -> bool:
        """Whether to draw now: never faster than the screen can show (display.max_fps, or an SPI
        panel's own rate: a frame drawn between two of its refreshes is converted and written
        for nothing), and an unchanged empty scene only display.idle_fps times a second, since
        nothing on it changes and every frame drawn costs CPU. Without a new frame the screen is
        drawn anyway (it says why there is no picture)."""
        since = now - self.last_drawn
        limit = self.display.max_fps
        if limit and since < 1.0 / limit:
            return False
        idle_fps = self.config.display.idle_fps
        if new_frame and self.recognizer.at_rest and idle_fps and since < IDLE_SLACK / idle_fps:
            return False
        self.last_drawn = now
        return True

    def draw(self, frame: Frame | None, now: float) -> None:
        faces = tuple(self.recognizer.labels(frame.timestamp)) if frame is not None else ()
        status = Status(self.source.state, self.gallery.people, self.display_fps.rate(now),
                        self.recognizer.recognition_fps(now), self.banner, self.recognizer.detector_fps(now))
        greeting, short = (self.greeting, self.greeting_short) if now < self.greeting_until else ("", "")
        self.display.draw(Scene(frame.image if frame is not None else None, faces, status, greeting, short))
        if frame is not None and self.options.stats_json:
            self.stats.frame_shown(frame.index, now, [f.name for f in faces if f.name], frame.origin)

    def handle_confirmations(self, now: float) -> None:
        for confirmation in self.recognizer.take_confirmations():
            self.stats.confirmed_shown_at.setdefault(confirmation.track_id, now - self.stats.started)
            self.record_event(confirmation, now)
        # Every arrival of an allowed person whose evidence is enough opens the door, however
        # recently they were logged (outside/door.py decides); unknown faces never reach it.
        for candidate in self.recognizer.take_door_candidates():
            if self.door is not None and self.door.consider(candidate):
                self.event_log.add(Confirmation(candidate.track_id, candidate.name, candidate.score,
                                                liveness=candidate.liveness, threshold=candidate.threshold,
                                                frames=candidate.agreeing), self.policy.door_opened())

    def record_event(self, confirmation: Confirmation, now: float) -> None:
        """Carry out what the policy decides for a confirmed face (live/policy.py)."""
        outcome = self.policy.decide(confirmation, now)
        if outcome is None:
            return  # the same visit
        self.event_log.add(confirmation, outcome)
        log.info("seen %s (distance %.2f, track %d)", confirmation.name,
                 confirmation.distance if confirmation.distance is not None else float("nan"),
                 confirmation.track_id)
        if outcome.greeting:
            self.greeting, self.greeting_short = outcome.greeting, outcome.greeting_short
            self.greeting_until = now + self.config.display.greeting_seconds

    # --- twice a second ------------------------------------------------------------------------

    def housekeeping(self, now: float) -> None:
        self.reload_gallery_if_changed(now)
        self.update_import_banner()
        try:
            self.capturer.poll(self.store)
        except Exception as exc:  # a busy or briefly locked store is tried again next time
            log.warning("capture requests unreadable: %s", exc)
        self.banner = self.capturer.banner() or self.banner
        writer = self.event_log.state()
        state = DaemonStatus(
            pid=os.getpid(), camera_state=self.source.state, camera_error=self.source.last_error,
            source=self.source.name, display=self.display.mode, display_fps=round(self.display_fps.rate(now), 1),
            recognition_fps=round(self.recognizer.recognition_fps(now), 1),
            detector_fps=round(self.recognizer.detector_fps(now), 1),
            people=self.gallery.people, samples=len(self.gallery), message=self.banner,
            door="off" if self.door is None else "open" if self.door.is_open else "closed",
            events_waiting=writer.waiting, events_dropped=writer.dropped, store_problem=writer.problem,
            fleet=self.fleet_status(), pace=self.recognizer.pace.state().summary(),
            resting=self.recognizer.still, **self.mqtt_status())
        try:
            publish(self.status_path, state)
        except OSError as exc:
            log.debug("cannot write %s: %s", self.status_path, exc)
        if self.source.state == CameraState.UNAVAILABLE:
            self.notifier.status("camera unavailable, retrying")
        else:
            self.notifier.status(f"recognizing, {self.gallery.people} people, {state.display_fps:.0f} fps")

    def mqtt_status(self) -> dict:
        if self.publisher is None:
            return {"mqtt": "off"}
        state = self.publisher.state()
        return {"mqtt": "connected" if state.connected else f"disconnected{': ' + state.error if state.error else ''}",
                "outbox_waiting": state.waiting, "outbox_dropped": state.dropped}

    def fleet_status(self) -> str:
        if self.fleet is None:
            return "off"
        state = self.fleet.state()
        return state.problem or ("connected" if state.connected else "broker unreachable")

    def reload_gallery_if_changed(self, now: float) -> None:
        """Reload on any change to the store, on SIGHUP (a burst of them is one reload within
        SIGHUP_COALESCE_SECONDS), and when kiosk.db was replaced or deleted under the daemon."""
        if (ready := self.loader.take()) is not None:  # first, so a ready gallery is not asked for again
            self.use_gallery(ready)
        self.reload_requested |= ReloadSignal.take()
        try:
            if self.store.replaced():
                log.warning("%s was replaced or deleted under the daemon; reopened it", self.store.path)
                self.store.reopen()
                self.reload_requested, self.last_forced_reload = True, float("-inf")
            changed = self.store.people.generation() != self.gallery.generation
            forced = self.reload_requested and now - self.last_forced_reload >= SIGHUP_COALESCE_SECONDS
            if (changed or forced) and not self.loader.busy:
                if not changed:
                    self.last_forced_reload = now
                self.reload_requested = False
                self.loader.request()  # loaded and calibrated beside the frame loop (gallery_loader.py)
        except Exception as exc:  # a busy or briefly locked store is retried next time
            log.warning("gallery reload failed: %s", exc)

    def use_gallery(self, ready: ReadyGallery) -> None:
        """Swap in a gallery the loader made ready (between two frames: no more than assigning it)."""
        names_before = set(self.gallery.names)
        self.gallery = ready.gallery
        self.recognizer.set_gallery(ready)
        if self.publisher is not None and set(self.gallery.names) != names_before:
            self.publisher.set_people(self.gallery.names)
        log.info("gallery reloaded: %d people, %d samples", self.gallery.people, len(self.gallery))
        if self.fleet is not None:
            self.fleet.changed()

    def update_import_banner(self) -> None:
        progress = read_record(self.progress_path, ImportProgress)
        self.banner = ""
        since = age(progress) if progress is not None else None
        if progress is None or since is None or since > STALE_AFTER_SECONDS + IMPORT_SUMMARY_SECONDS:
            return
        if progress.running:  # counting from the photo being read, once the stick has been listed
            self.banner = (f"Importing {min(progress.processed + 1, progress.total)}/{progress.total}…"
                           if progress.total else "Reading the USB stick…")
        elif since <= IMPORT_SUMMARY_SECONDS:
            held = f", {progress.suspects} held back" if progress.suspects else ""
            if progress.hint and not (progress.added or progress.removed):
                self.banner = "Nothing imported: put photos in faces/<name>/ on the stick"
            else:
                self.banner = f"Import done: {progress.added} added, {progress.skipped} skipped{held}"

    # --- stop ----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        if self.stop_signal:
            log.info("stopping on %s", self.stop_signal)
        self.notifier.stopping()
        if self.door is not None:
            self.door.release()
        self.capturer.stop()
        self.recognizer.stop()
        self.event_log.close()
        if self.publisher is not None:
            self.publisher.stop()
        if self.fleet is not None:
            self.fleet.stop()
        self.loader.stop()
        self.source.close()
        self.display.close()
        if self.options.stats_json:
            self.stats.write(Path(self.options.stats_json), self.recognizer)
        try:
            self.status_path.unlink()
        except OSError:
            pass
        self.store.close()
        log.info("stopped")


def run(config: Config, options: RunOptions) -> int:
    # The stages already run side by side in threads and OpenCV's images here are small (a frame,
    # a thumbnail for the motion gate), so OpenCV's own thread pool would only add a wake-up of
    # every core to each call: about a third of the idle loop's CPU.
    cv2.setNumThreads(1)
    check_source(options.source or config.camera.source)  # before the store, door and screen
    return Daemon(config, options).run()
