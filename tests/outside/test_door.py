"""The door relay, on gpiozero mock pins."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from mqtt_broker import Broker, Listener
from PIL import Image
from test_run import NotifyListener

from kiosk.admin.doctor import FAIL, OK, WARN, check_door
from kiosk.config import Config, DisplayConfig, DoorConfig, RecognitionConfig, parse_config
from kiosk.live.daemon import Daemon, RunOptions
from kiosk.outside.door import Door, DoorCandidate, refusal

from conftest import require_data, run_kiosk

# Home Assistant's MQTT discovery: what every entity here must carry.


@pytest.fixture
def broker(tmp_path):
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = Broker(workdir)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def listener(broker):
    listener = Listener(broker.port)
    assert listener.wait_for(lambda: listener.client.is_connected(), 10)
    time.sleep(0.3)  # the subscription is in place
    yield listener
    listener.close()


@pytest.fixture
def slides(tmp_path):
    """obama, alex_lacamoire and kit_harington, each followed by an empty picture, so every slide
    is a new arrival (2 s each)."""
    folder = tmp_path / "slides"
    folder.mkdir()
    blank = Image.new("RGB", (640, 480), (90, 90, 90))
    for index, probe in enumerate(("obama1.jpg", "alex_lacamoire1.jpg", "johnsnow_test1.jpg")):
        (folder / f"{2 * index}_{probe}").write_bytes(require_data("probes", probe).read_bytes())
        blank.save(folder / f"{2 * index + 1}_blank.png")
    return folder


def logged_events(data_dir: Path) -> list[dict]:
    return json.loads(run_kiosk("events", "--json", data_dir=data_dir).stdout)


@pytest.fixture
def mock_pins():
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def test_door_opens_for_listed_names_only_and_closes_by_itself(mock_pins):
    door = Door(DoorConfig(enabled=True, pin=17, open_seconds=0.5, allow=("obama",)))
    pin = mock_pins.pin(17)
    assert pin.state == 0, "driven closed at start"
    assert not door.open_for("unknown") and not door.open_for("biden") and pin.state == 0
    assert door.open_for("obama") and pin.state == 1
    time.sleep(0.8)
    assert pin.state == 0, "closed again after open_seconds"
    door.release()
    low = Door(DoorConfig(enabled=True, pin=18, active_high=False, allow=("any known",)))
    assert mock_pins.pin(18).state == 1, "active low: closed is high"
    assert low.open_for("biden") and mock_pins.pin(18).state == 0 and not low.open_for("unknown")
    low.release()


def _candidate(**changes) -> DoorCandidate:
    fields = {"track_id": 7, "name": "obama", "score": 0.35, "agreeing": 3, "liveness": "passed", "threshold": 0.42}
    return DoorCandidate(**{**fields, **changes})


def test_the_door_needs_evidence_within_its_threshold_agreeing_frames_and_liveness():
    assert refusal(_candidate(), 3) == ""
    assert refusal(_candidate(liveness=None), 3) == ""  # liveness off (warned about elsewhere)
    assert "above the door's 0.420" in refusal(_candidate(score=0.45), 3)
    assert "2 of 3 frames" in refusal(_candidate(agreeing=2), 3)
    assert "not live" in refusal(_candidate(liveness="failed"), 3)
    assert "not passed yet" in refusal(_candidate(liveness="checking"), 3)


def test_the_door_opens_once_per_track_and_says_once_why_it_stayed_closed(mock_pins, caplog):
    door = Door(DoorConfig(enabled=True, pin=17, open_seconds=30, allow=("obama",)))
    caplog.set_level(logging.INFO, logger="kiosk.door")
    assert not door.consider(_candidate(agreeing=1))  # still gathering frames: not worth a line
    assert not door.consider(_candidate(score=0.5, agreeing=2)) and not door.consider(_candidate(score=0.5))
    assert not door.consider(_candidate(name="biden"))  # not on the list: nothing to say
    reasons = [r.getMessage() for r in caplog.records if "stays closed" in r.getMessage()]
    assert reasons == ["door stays closed for obama (track 7): evidence score 0.500 above the door's 0.420"]
    assert door.consider(_candidate()) and mock_pins.pin(17).state == 1
    assert not door.consider(_candidate())  # the same visit opens it once
    door.release()


def test_with_a_door_liveness_is_on_unless_turned_off_which_is_warned_about(tmp_path):
    assert parse_config("door:\n  enabled: true\n  allow: [obama]\n").recognition.liveness_check(door=True) == "both"
    assert Config().recognition.liveness_check() is None
    assert not parse_config("door:\n  enabled: true\n  allow: [obama]\n").door_without_liveness
    bare = parse_config("door:\n  enabled: true\n  allow: [obama]\nrecognition:\n  liveness: \"off\"\n")
    assert bare.door_without_liveness
    (tmp_path / "gpiochip0").touch()
    check = check_door(bare, tmp_path)
    assert check.result == WARN and "printed photo" in check.detail


def _door_daemon(enrolled_copy: Path, slides: Path, allow: tuple[str, ...]) -> Daemon:
    config = dataclasses.replace(Config(), data_dir=str(enrolled_copy), display=DisplayConfig(mode="headless"),
                                 recognition=RecognitionConfig(event_cooldown=0, liveness="off"),  # still slides
                                 door=DoorConfig(enabled=True, pin=17, open_seconds=30, allow=allow))
    return Daemon(config, RunOptions(source=f"dir:{slides}", loop=True))


def test_door_relay_on_a_confirmed_listed_name_and_closed_on_sigterm(mock_pins, enrolled_copy, slides,
                                                                    restore_signals, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    daemon = _door_daemon(enrolled_copy, slides, ("alex_lacamoire",))
    pin, seen = mock_pins.pin(17), []
    handle = daemon.handle_confirmations

    def watch(now):
        before = pin.state
        handle(now)
        seen.append((before, pin.state))
        if pin.state == 1 and "sigterm" not in marks:
            marks["sigterm"] = True
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    marks: dict = {}
    daemon.handle_confirmations = watch
    threading.Timer(25, lambda: setattr(daemon, "stop_requested", True)).start()
    daemon.run()
    assert marks, "the door opened for alex_lacamoire"
    assert pin.state == 0, "closed after SIGTERM"
    events = logged_events(enrolled_copy)
    doors = [e for e in events if e["kind"] == "door"]
    assert [e["name"] for e in doors] == ["alex_lacamoire"]
    seen_before = [e["name"] for e in events if e["kind"] == "seen" and e["id"] < doors[0]["id"]]
    assert "obama" in seen_before, "obama (not listed) came first and did not open it"


@pytest.mark.slow
def test_door_closes_when_recognition_hangs(mock_pins, enrolled_copy, slides, restore_signals, tmp_path,
                                            monkeypatch):
    systemd = NotifyListener(tmp_path, monkeypatch)  # the watchdog path is on
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    daemon = _door_daemon(enrolled_copy, slides, ("any known",))
    pin = mock_pins.pin(17)
    release, marks = threading.Event(), {}
    detect = daemon.recognizer.engine.detect

    def detect_then_hang(image, region=None, small=None, width=None):
        if pin.state == 1:
            marks.setdefault("hung", time.monotonic())
            release.wait()  # a worker stuck inside dlib while the door is open
        return detect(image, region, small, width)
    daemon.recognizer.engine.detect = detect_then_hang

    def stop():
        marks["closed_before_stop"] = pin.state == 0
        daemon.stop_requested = True
        release.set()
    systemd.listen_while(daemon)
    started = time.monotonic()

    def closed_or_late():  # the watchdog path closes it a few searches' time into the hang (hang.py)
        while not ("hung" in marks and pin.state == 0) and time.monotonic() - started < 120:
            time.sleep(0.05)
        stop()
    threading.Thread(target=closed_or_late, daemon=True).start()
    daemon.run()
    systemd.close()
    assert "hung" in marks, "the door opened, then recognition hung"
    assert marks["closed_before_stop"], "closed by the watchdog path while the worker was hung"


def test_door_close_command(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("door:\n  enabled: true\n  pin: 22\n  allow: [obama]\n")
    result = run_kiosk("door", "close", env={"KIOSK_CONFIG": str(config), "GPIOZERO_PIN_FACTORY": "mock"})
    assert result.returncode == 0 and "closed (GPIO 22)" in result.stdout, result.stderr
    off = run_kiosk("door", "close")
    assert off.returncode == 0 and "off" in off.stdout


def test_doctor_checks_the_gpio_chip(tmp_path):
    config = dataclasses.replace(Config(), door=DoorConfig(enabled=True, allow=("obama",)))
    assert check_door(config, tmp_path).result == FAIL
    (tmp_path / "gpiochip0").write_text("")
    check = check_door(config, tmp_path)
    assert check.result == OK and "GPIO 17 via gpiochip0" in check.detail
    assert check_door(Config(), tmp_path).result == OK
