"""`kiosk run` end to end: real models, real clip, a fake camera, a headless screen, signals."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.config import CameraConfig, Config, DisplayConfig
from kiosk.live.daemon import Daemon, RunOptions
from kiosk.live.theme import KNOWN_COLOUR
from kiosk.store import Store

from conftest import FAKES_DIR, REPO, require_data, run_kiosk

FAKES = str(FAKES_DIR)


@pytest.fixture
def fake_picamera2(monkeypatch):
    monkeypatch.syspath_prepend(FAKES)
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    import picamera2
    picamera2.reset()
    yield picamera2
    picamera2.reset()
    sys.modules.pop("picamera2", None)


def _config(data_dir: Path, **camera) -> Config:
    return dataclasses.replace(Config(), data_dir=str(data_dir),
                               camera=CameraConfig(**{"retry_max_delay": 1.0, **camera}),
                               display=DisplayConfig(mode="headless"))


class SceneRecorder:
    """Wraps Display.draw to keep what each drawn scene showed, with its time."""

    def __init__(self, daemon: Daemon):
        self.scenes: list[tuple[float, object]] = []
        draw = daemon.display.draw

        def recording_draw(scene):
            self.scenes.append((time.monotonic(), scene))
            draw(scene)
        daemon.display.draw = recording_draw

    def names_after(self, start: float) -> set[str]:
        return {f.name for t, s in self.scenes if t >= start for f in s.faces if f.state == "known"}


class NotifyListener:
    """A real unix datagram socket standing in for systemd's NOTIFY_SOCKET (1 s watchdog)."""

    def __init__(self, tmp_path: Path, monkeypatch):
        path = tmp_path / "notify.sock"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "1000000")
        monkeypatch.delenv("WATCHDOG_PID", raising=False)

    def listen_while(self, daemon: Daemon) -> None:
        def collect():
            while not daemon.stop_requested:
                try:
                    self.messages.append((time.monotonic(), self.socket.recv(4096).decode()))
                except (TimeoutError, OSError):
                    pass
        threading.Thread(target=collect, daemon=True).start()

    def close(self) -> list[tuple[float, str]]:
        self.socket.close()
        return self.messages


def _when(condition, action, timeout: float = 60) -> threading.Thread:
    """Run ACTION on a thread of its own once CONDITION() holds (checked every 20 ms)."""
    def run():
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        action()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _later(delay: float, action) -> threading.Thread:
    def run():
        time.sleep(delay)
        action()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_clip_names_lin_manuel_miranda_and_nobody_absent(enrolled_copy, tmp_path):
    """Every frame of the clip recognized (--fast: as fast as the machine goes, so a busy machine
    cannot make the clip end before the name is decided; real time is the quota test's)."""
    clip = require_data("video", "short_hamilton_clip.mp4")
    snapshot, stats_path = tmp_path / "screen.png", tmp_path / "stats.json"
    result = run_kiosk("run", "--source", f"file:{clip}", "--fast", "--display", "headless",
                       "--snapshot", str(snapshot), "--stats-json", str(stats_path), data_dir=enrolled_copy,
                       env={"RUNTIME_DIRECTORY": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    events = json.loads(run_kiosk("events", "--json", data_dir=enrolled_copy).stdout)
    names = {event["name"] for event in events}
    assert "lin_manuel_miranda" in names
    assert names <= {"lin_manuel_miranda", "unknown"}, names
    named = next(e for e in events if e["name"] == "lin_manuel_miranda")  # the reasoning behind the name
    assert named["frames"] >= 1 and named["distance"] <= named["threshold"], named
    stats = json.loads(stats_path.read_text())
    assert stats["frames_displayed"] == 275 and stats["frames_recognized"] > 0
    assert snapshot.exists() and Image.open(snapshot).size == (480, 320)
    assert "Traceback" not in result.stderr


def test_snapshot_shows_the_name_next_to_the_face(enrolled_copy, tmp_path, restore_signals):
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "obama.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    config = _config(enrolled_copy)
    daemon = Daemon(config, RunOptions(source=f"dir:{slides}", max_frames=300, loop=True))
    draw = daemon.display.draw
    layouts = []

    def draw_and_capture_once_named(scene):
        draw(scene)
        if any(face.state == "known" for face in scene.faces) and not layouts:
            daemon.display.snapshot(tmp_path / "final.png")  # what the screen shows right now
            layouts.append(list(daemon.display.last_layout))
            daemon.stop_requested = True
    daemon.display.draw = draw_and_capture_once_named
    daemon.run()
    assert layouts, "a name was shown"
    known = [(layout.face, layout.label) for layout in layouts[0] if layout.face.state == "known"]
    assert [label.name for label, _ in known] == ["obama"]
    _, rect = known[0]
    pixels = np.asarray(Image.open(tmp_path / "final.png").convert("RGB")).astype(int)
    area = pixels[rect.top:rect.bottom, rect.left:rect.right]
    green = np.all(np.abs(area - KNOWN_COLOUR) < 30, axis=2)
    assert green.mean() > 0.4, "the label bar is drawn in the known colour"
    assert (~green).sum() > 30, "text is drawn on the label bar"


@pytest.mark.slow
def test_camera_dies_and_comes_back_in_the_same_process(enrolled_copy, tmp_path, fake_picamera2, restore_signals,
                                                        monkeypatch):
    systemd = NotifyListener(tmp_path, monkeypatch)
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    fake_picamera2.FRAME_IMAGE = np.asarray(Image.open(require_data("probes", "obama1.jpg")).convert("RGB"))
    daemon = Daemon(_config(enrolled_copy, source="picamera"), RunOptions())
    recorder = SceneRecorder(daemon)
    marks = {}

    def camera_dies():
        marks["died"] = time.monotonic()
        fake_picamera2.TIMEOUT_AFTER = 0

    def camera_back():
        fake_picamera2.reset()
        fake_picamera2.FRAME_IMAGE = np.asarray(Image.open(require_data("probes", "obama1.jpg")).convert("RGB"))
        marks["back"] = time.monotonic()

    def during_outage():
        daemon.display.snapshot(tmp_path / "unavailable.png")

    systemd.listen_while(daemon)
    # Each step waits for what the one before should have caused, however loaded the machine is.
    _when(lambda: "obama" in recorder.names_after(0), camera_dies)
    _when(lambda: "died" in marks and time.monotonic() - marks["died"] > 6, during_outage)
    _when(lambda: "died" in marks and time.monotonic() - marks["died"] > 7, camera_back)
    _when(lambda: "back" in marks and "obama" in recorder.names_after(marks["back"]),
          lambda: _later(1.5, lambda: setattr(daemon, "stop_requested", True)))
    daemon.run()
    messages = systemd.close()

    outage = [s for t, s in recorder.scenes if marks["died"] + 1 < t < marks["back"]]
    assert outage and all(s.frame is None and s.status.camera_state == "unavailable" for s in outage)
    shown = np.asarray(Image.open(tmp_path / "unavailable.png").convert("RGB")).astype(int)
    assert (np.abs(shown - shown[0, 0]).sum(axis=2) > 60).mean() < 0.2, "a dark screen with a message"
    assert "obama" in recorder.names_after(marks["back"]), "recognition resumes after the camera returns"
    assert len(fake_picamera2.instances) >= 2, "the camera was reopened"
    assert not any(camera.is_open for camera in fake_picamera2.instances), "every camera is released"
    texts = [m for _, m in messages]
    assert "READY=1" in texts and any(m.startswith("STATUS=recognizing") for m in texts)
    # Each start-up step says what it does and asks for time of its own, all before READY=1.
    steps = [m for m in texts[:texts.index("READY=1")] if "EXTEND_TIMEOUT_USEC=" in m]
    assert [m.split("\n")[0] for m in steps] == ["STATUS=loading the people", "STATUS=loading the face models",
                                                  "STATUS=opening the camera", "STATUS=opening the screen"]
    assert any(m.startswith("STATUS=camera unavailable") for m in texts)
    pings = [t for t, m in messages if m == "WATCHDOG=1"]
    assert any(t < marks["died"] for t in pings) and any(t > marks["back"] for t in pings)
    # A missing camera is no reason for systemd to restart the kiosk: the loop still draws
    # "camera unavailable" and retries, so the watchdog is still fed during the outage.
    assert any(marks["died"] + 3 < t < marks["back"] for t in pings)


@pytest.mark.slow
def test_watchdog_stops_when_recognition_hangs(enrolled_copy, tmp_path, restore_signals, monkeypatch, caplog):
    systemd = NotifyListener(tmp_path, monkeypatch)  # WATCHDOG=1 every 0.5 s, stalled after 2 s
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "obama.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    daemon = Daemon(_config(enrolled_copy), RunOptions(source=f"dir:{slides}", loop=True))
    release = threading.Event()
    marks = {}
    detect = daemon.recognizer.engine.detect

    def detect_then_hang(image, region=None, small=None, width=None):
        if "hang" in marks:
            marks.setdefault("hung", time.monotonic())
            release.wait()  # a worker stuck inside dlib, as a hung pipeline would be
        return detect(image, region, small, width)

    daemon.recognizer.engine.detect = detect_then_hang
    sent: list[float] = []  # when the daemon sent WATCHDOG=1, free of the listener's scheduling
    send_watchdog = daemon.notifier.watchdog

    def record_watchdog():
        sent.append(time.monotonic())
        send_watchdog()
    daemon.notifier.watchdog = record_watchdog

    def stop():
        marks["stop"] = time.monotonic()
        daemon.stop_requested = True
        release.set()

    systemd.listen_while(daemon)
    # Frames flow until the daemon has fed the watchdog twice, then recognition hangs; the stop
    # comes 5 s after the daemon counts the worker as hung (a few of its searches' time: hang.py).
    _when(lambda: len(sent) >= 2, lambda: marks.setdefault("hang", time.monotonic()))
    _when(lambda: bool(daemon.unhealthy_because), lambda: marks.setdefault("withheld", time.monotonic()), 120)
    _when(lambda: "withheld" in marks and time.monotonic() - marks["withheld"] > 5, stop, 130)
    with caplog.at_level(logging.WARNING, logger="kiosk.daemon"):
        daemon.run()
    messages = systemd.close()
    assert any(m == "WATCHDOG=1" for _, m in messages), "pings reach the socket"
    pings = sent
    assert any(t < marks["hang"] for t in pings), "fed while frames flow"
    assert "withheld" in marks, "the hung worker was never counted as hung"
    # Withheld, then the gate's own 2 s stall limit, one 0.5 s ping interval, and slack.
    assert not [t for t in pings if marks["withheld"] + 3 < t < marks["stop"]], "no WATCHDOG=1 once recognition hung"
    assert "watchdog keep-alives withheld: a recognition worker has been on one frame for" in caplog.text


@pytest.mark.slow
def test_person_enrolled_by_another_process_is_recognized_without_restart(tmp_path, people_dir, restore_signals):
    data_dir = tmp_path / "data"
    first = tmp_path / "first"
    (first / "obama").mkdir(parents=True)
    (first / "obama" / "a.jpg").write_bytes((people_dir / "obama" / "obama.jpg").read_bytes())
    assert run_kiosk("enroll", str(first), data_dir=data_dir).returncode == 0
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "biden.jpg").write_bytes(require_data("probes", "two_people.jpg").read_bytes())
    daemon = Daemon(_config(data_dir), RunOptions(source=f"dir:{slides}", loop=True))
    recorder = SceneRecorder(daemon)
    marks = {}

    def enroll_biden():
        later = tmp_path / "later"
        (later / "biden").mkdir(parents=True)
        (later / "biden" / "b.jpg").write_bytes((people_dir / "biden" / "biden.jpg").read_bytes())
        result = run_kiosk("enroll", str(later), data_dir=data_dir)
        assert result.returncode == 0
        marks["enrolled"] = time.monotonic()
        _when(lambda: {"obama", "biden"} <= recorder.names_after(marks["enrolled"]),
              lambda: setattr(daemon, "stop_requested", True), timeout=30)

    _when(lambda: "obama" in recorder.names_after(0), enroll_biden)
    daemon.run()
    before = recorder.names_after(0) - recorder.names_after(marks["enrolled"])
    assert "biden" not in before
    assert {"obama", "biden"} <= recorder.names_after(marks["enrolled"])
    with Store(data_dir) as store:
        assert "biden" in {event.name for event in store.events.query()}


def _start_daemon(data_dir: Path, tmp_path: Path) -> subprocess.Popen:
    clip = require_data("video", "short_hamilton_clip.mp4")
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"), RUNTIME_DIRECTORY=str(tmp_path))
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir), "run",
                             "--source", f"file:{clip}", "--loop", "--display", "headless"],
                            env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_sighup_reloads_and_sigterm_stops_cleanly(enrolled_copy, tmp_path):
    process = _start_daemon(enrolled_copy, tmp_path)
    try:
        _wait_for(tmp_path / "status.json")
        status = json.loads((tmp_path / "status.json").read_text())
        assert status["pid"] == process.pid and status["people"] == 6
        process.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        _, stderr = process.communicate(timeout=10)
        stopped_after = time.monotonic() - asked
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "gallery reloaded" in stderr and "stopping on SIGTERM" in stderr
    assert stopped_after < 5, f"stopped {stopped_after:.1f} s after SIGTERM"
    assert not (tmp_path / "status.json").exists()


def test_usb_import_progress_and_summary_are_shown_on_screen(enrolled_copy, tmp_path, restore_signals,
                                                             monkeypatch):
    from kiosk.runtime import ImportProgress, publish
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "obama.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    progress = tmp_path / "import.json"
    publish(progress, ImportProgress("running"))  # the stick is being listed: no count yet
    daemon = Daemon(_config(enrolled_copy), RunOptions(source=f"dir:{slides}", loop=True))
    recorder = SceneRecorder(daemon)

    def shown(text: str):
        return lambda: any(scene.status.message == text for _, scene in list(recorder.scenes))
    # Each step waits for the screen to show the one before, however long the daemon takes to start.
    steps = ["Reading the USB stick…", "Importing 1/40…", "Importing 13/40…", "Import done: 37 added, 2 skipped"]
    _when(shown(steps[0]), lambda: publish(progress, ImportProgress("running", processed=0, total=40)))
    _when(shown(steps[1]), lambda: publish(progress, ImportProgress("running", processed=12, total=40)))
    _when(shown(steps[2]), lambda: publish(progress, ImportProgress(
        "done", processed=40, total=40, added=37, duplicates=1, skipped=2)))
    _when(shown(steps[3]), lambda: setattr(daemon, "stop_requested", True))
    daemon.run()
    messages = [scene.status.message for _, scene in recorder.scenes]
    assert "Importing 0/40…" not in messages  # counted from the photo being read
    assert [messages.index(step) for step in steps] == sorted(messages.index(step) for step in steps)
