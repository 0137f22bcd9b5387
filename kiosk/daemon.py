"""`kiosk run`: the live loop. Capture and drawing run here; recognition runs beside it.

Each pass reads the newest frame (the source paces itself at the camera's rate), offers it to the
recognizer, and draws it with the newest results, so the screen never waits for recognition.
Twice a second the loop also checks the store for changes (reloading the gallery within 2 s of
any `kiosk enroll`), publishes its state for `kiosk status` and systemd, and shows the progress
of a USB import. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads the gallery.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import resource
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import Config
from kiosk.display import Display, FaceLabel, Scene, Status
from kiosk.engine import EncoderProcess, EngineSettings, FaceEngine
from kiosk.matcher import UNKNOWN
from kiosk.notify import Notifier, WatchdogGate, watchdog_interval
from kiosk.recognition import Confirmation, Recognizer
from kiosk.sources import open_source
from kiosk.status import STALE_AFTER_SECONDS, import_progress_path, read_json_file, status_file_path, write_json_file
from kiosk.store import Store
from kiosk.corrections import add_event_with_face
from kiosk.unknowns import save_unknown_crop

log = logging.getLogger("kiosk.daemon")

HOUSEKEEPING_SECONDS = 0.5
IMPORT_SUMMARY_SECONDS = 10.0


@dataclass
class RunOptions:
    source: str | None = None  # overrides camera.source
    display: str | None = None  # overrides display.mode
    snapshot: str | None = None  # overrides display.snapshot_path
    max_frames: int | None = None
    fast: bool = False
    loop: bool = False
    stats_json: str | None = None


@dataclass
class RunStats:
    """Figures of one run, written with --stats-json (benchmarks, tests)."""
    started: float = field(default_factory=time.monotonic)
    frames_displayed: int = 0
    frame_names: list[dict] = field(default_factory=list)
    shown_at: dict[int, float] = field(default_factory=dict)
    confirmed_shown_at: dict[int, float] = field(default_factory=dict)


def shown_name(name: str) -> str:
    """Folder names often use underscores for spaces; the screen shows spaces."""
    return name.replace("_", " ")


class EventWriter:
    """Writes recognition events (and, with capture_faces / capture_unknown, their faces) from a thread
    of its own: each commit waits for the SD card (synchronous=FULL), which must not hold up the
    screen."""

    def __init__(self, config: Config):
        self.config = config
        self.queue: queue.Queue = queue.Queue(maxsize=1000)
        self.thread = threading.Thread(target=self._write, name="event-writer", daemon=True)
        self.thread.start()

    def add(self, confirmation: Confirmation) -> None:
        try:
            self.queue.put_nowait((confirmation, time.time()))
        except queue.Full:
            log.warning("event log is behind; dropped an event for %s", confirmation.name)

    def close(self, timeout: float = 1.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def _write(self) -> None:
        with Store(self.config.data_path()) as store:
            while (item := self.queue.get()) is not None:
                confirmation, at = item
                try:
                    if self.config.recognition.capture_faces and confirmation.crop is not None:
                        add_event_with_face(store, self.config, confirmation.name, confirmation.distance,
                                            confirmation.track_id, at, confirmation.crop, confirmation.embedding)
                    else:
                        store.add_event(confirmation.name, confirmation.distance, confirmation.track_id, at)
                    if (self.config.recognition.capture_unknown and confirmation.crop is not None
                            and confirmation.name == UNKNOWN):
                        save_unknown_crop(store, self.config, confirmation.crop, confirmation.embedding,
                                          confirmation.track_id)
                except Exception as exc:  # a full disk must not stop recognition
                    log.warning("could not log an event for %s: %s", confirmation.name, exc)


class FpsMeter:
    """Frames per second over the last two seconds."""

    def __init__(self):
        self.times: list[float] = []

    def tick(self, now: float) -> None:
        self.times.append(now)
        if len(self.times) > 400 or now - self.times[0] > 2.0:
            self.times = [t for t in self.times if now - t <= 2.0]

    def rate(self, now: float) -> float:
        recent = [t for t in self.times if now - t <= 2.0]
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0


class Daemon:
    def __init__(self, config: Config, options: RunOptions):
        self.config = config
        self.options = options
        self.stop_requested = False
        self.stop_signal = ""
        self.reload_requested = False
        self.store = Store(config.data_path())
        self.gallery = self.store.load_gallery()
        engine = FaceEngine(EngineSettings.live(config.detection))
        self.encoder = EncoderProcess(config.detection.jitters)
        self.recognizer = Recognizer(engine, self.gallery, config.recognition, config.detection.workers,
                                     record_tracks=bool(options.stats_json),
                                     full_scan_seconds=config.detection.full_scan_seconds, encoder=self.encoder)
        self.event_log = EventWriter(config)
        self.source = open_source(options.source or config.camera.source, config.camera,
                                  fast=options.fast, loop=options.loop)
        self.display = Display(config.display, options.display, options.snapshot)
        self.notifier = Notifier()
        interval = watchdog_interval()
        self.watchdog = WatchdogGate(self.notifier, interval, stall_after=max(2 * interval, 2.0)) if interval else None
        self.status_path = status_file_path(config)
        self.progress_path = import_progress_path(config)
        self.display_fps = FpsMeter()
        self.last_event_at: dict[str, float] = {}
        self.greeting = ""
        self.greeting_until = 0.0
        self.banner = ""
        self.stats = RunStats()

    # --- signals -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            self.stop_signal = signal.Signals(signum).name  # logged by shutdown, not in the handler
            self.stop_requested = True

        def reload(_signum, _frame):
            self.reload_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    # --- main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        self.install_signal_handlers()
        self.display.open()
        self.recognizer.start()
        log.info("running: source %s, display %s, %d people enrolled",
                 self.source.name, self.display.mode, self.gallery.people)
        self.notifier.ready()
        last_frame = None
        next_housekeeping = 0.0
        try:
            while not self.stop_requested and not self.display.quit_requested:
                frame = self.source.read()
                now = time.monotonic()
                if frame is not None:
                    last_frame = frame
                    self.recognizer.submit(frame, wait=self.options.fast)
                    self.display_fps.tick(now)
                elif self.source.finished:
                    log.info("source finished after %d frames", self.stats.frames_displayed)
                    break
                elif self.source.state == "unavailable":
                    last_frame = None
                self.handle_confirmations(now)
                if now >= next_housekeeping:
                    self.housekeeping(now)
                    next_housekeeping = now + HOUSEKEEPING_SECONDS
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
        if self.recognizer.stuck(now, self.watchdog.stall_after):
            return False
        return got_frame or self.source.state == "unavailable"

    def draw(self, frame, now: float) -> None:
        views = self.recognizer.labels(frame.timestamp) if frame is not None else []
        faces = tuple(self.face_label(view) for view in views)
        status = Status(self.source.state, self.gallery.people, self.display_fps.rate(now),
                        self.recognizer.recognition_fps(now), self.banner)
        greeting = self.greeting if now < self.greeting_until else ""
        self.display.draw(Scene(frame.image if frame is not None else None, faces, status, greeting))
        if frame is not None and self.options.stats_json:
            self.stats.shown_at.setdefault(frame.index, now - self.stats.started)
            self.stats.frame_names.append({"index": frame.index, "t": round(now - self.stats.started, 4),
                                           "names": sorted(v.name for v in views if v.name is not None)})

    @staticmethod
    def face_label(view) -> FaceLabel:
        if view.name is None:
            return FaceLabel(view.box, "pending", "", view.track_id)
        if view.name == UNKNOWN:
            return FaceLabel(view.box, "unknown", "", view.track_id)
        return FaceLabel(view.box, "known", shown_name(view.name), view.track_id)

    def handle_confirmations(self, now: float) -> None:
        for confirmation in self.recognizer.take_confirmations():
            self.stats.confirmed_shown_at.setdefault(confirmation.track_id, now - self.stats.started)
            self.record_event(confirmation, now)

    def record_event(self, confirmation: Confirmation, now: float) -> None:
        """One event per visit: a person is logged again only after the cooldown."""
        key = confirmation.name if confirmation.name != UNKNOWN else f"track:{confirmation.track_id}"
        last = self.last_event_at.get(key)
        if last is not None and now - last < self.config.recognition.event_cooldown:
            return
        self.last_event_at[key] = now
        self.event_log.add(confirmation)
        log.info("seen %s (distance %.2f, track %d)", confirmation.name,
                 confirmation.distance if confirmation.distance is not None else float("nan"),
                 confirmation.track_id)
        if confirmation.name != UNKNOWN and self.config.display.greeting:
            self.greeting = self.config.display.greeting.replace("{name}", shown_name(confirmation.name))
            self.greeting_until = now + self.config.display.greeting_seconds

    # --- twice a second ------------------------------------------------------------------------

    def housekeeping(self, now: float) -> None:
        self.reload_gallery_if_changed()
        self.update_import_banner()
        state = {
            "pid": os.getpid(), "camera_state": self.source.state, "camera_error": self.source.last_error,
            "source": self.source.name, "display": self.display.mode,
            "display_fps": round(self.display_fps.rate(now), 1),
            "recognition_fps": round(self.recognizer.recognition_fps(now), 1),
            "people": self.gallery.people, "samples": len(self.gallery), "message": self.banner,
        }
        try:
            write_json_file(self.status_path, state)
        except OSError as exc:
            log.debug("cannot write %s: %s", self.status_path, exc)
        if self.source.state == "unavailable":
            self.notifier.status("camera unavailable, retrying")
        else:
            self.notifier.status(f"recognizing, {self.gallery.people} people, {state['display_fps']:.0f} fps")

    def reload_gallery_if_changed(self) -> None:
        try:
            changed = self.reload_requested or self.store.gallery_generation() != self.gallery.generation
            if changed:
                self.reload_requested = False
                self.gallery = self.store.load_gallery()
                self.recognizer.set_gallery(self.gallery)
                log.info("gallery reloaded: %d people, %d samples", self.gallery.people, len(self.gallery))
        except Exception as exc:  # a busy or briefly locked store is retried next time
            log.warning("gallery reload failed: %s", exc)

    def update_import_banner(self) -> None:
        progress = read_json_file(self.progress_path)
        self.banner = ""
        if not progress or time.time() - progress.get("updated_at", 0) > STALE_AFTER_SECONDS + IMPORT_SUMMARY_SECONDS:
            return
        if progress.get("done") is False or progress.get("state") == "running":
            self.banner = f"Importing {progress.get('processed', 0)}/{progress.get('total', '?')}…"
        elif time.time() - progress.get("updated_at", 0) <= IMPORT_SUMMARY_SECONDS:
            held = progress.get("suspects", 0)
            self.banner = (f"Import done: {progress.get('added', 0)} added, "
                           f"{progress.get('skipped', 0)} skipped" + (f", {held} held back" if held else ""))

    # --- stop ----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        if self.stop_signal:
            log.info("stopping on %s", self.stop_signal)
        self.notifier.stopping()
        self.recognizer.stop()
        self.encoder.close()
        self.event_log.close()
        self.source.close()
        self.display.close()
        if self.options.stats_json:
            self.write_stats()
        try:
            self.status_path.unlink()
        except OSError:
            pass
        self.store.close()
        log.info("stopped")

    def measured_display_fps(self) -> float:
        """Frames shown per second between the first and the last frame (start-up excluded)."""
        times = sorted(self.stats.shown_at.values())
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def write_stats(self) -> None:
        wall = time.monotonic() - self.stats.started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        tracks = []
        for entry in (self.recognizer.track_log or {}).values():
            first = entry["first_seen_index"]
            confirmed = self.stats.confirmed_shown_at.get(entry["track_id"])
            tracks.append({**entry, "first_seen_t": self.stats.shown_at.get(first), "confirmed_t": confirmed})
        stats = {
            "frames_displayed": self.stats.frames_displayed,
            "frames_recognized": self.recognizer.frames_recognized,
            "faces_encoded": self.recognizer.faces_encoded,
            "wall_seconds": round(wall, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "display_fps": round(self.measured_display_fps(), 2),
            "recognized_fps": round(self.recognizer.frames_recognized / wall, 2) if wall else 0.0,
            "frames": self.stats.frame_names,
            "tracks": tracks,
        }
        Path(self.options.stats_json).write_text(json.dumps(stats), encoding="utf-8")


def run(config: Config, options: RunOptions) -> int:
    return Daemon(config, options).run()
