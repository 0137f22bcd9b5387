"""Telling the building: MQTT against a real broker, Home Assistant discovery, the outbox through a
broker outage and a restart, the door relay on gpiozero's mock pins, and the systemd drop-ins."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from mqtt_broker import Broker, Listener
from PIL import Image
from test_run import NotifyListener
from test_systemd import SYSTEMD_ANALYZE, copies_for_verify, needs_systemd_analyze

from kiosk.admin.doctor import FAIL, OK, WARN, check_door, check_mqtt
from kiosk.admin.sandbox import dropins, write_dropins
from kiosk.config import Config, DisplayConfig, DoorConfig, MqttConfig, RecognitionConfig, parse_config
from kiosk.errors import ConfigError
from kiosk.live.daemon import Daemon, RunOptions
from kiosk.outside.door import Door, DoorCandidate, refusal
from kiosk.outside.mqtt import Publisher, Topics, person_key, read_password
from kiosk.store import Store

from conftest import REPO, require_data, run_kiosk

DEVICE = "hall"
TOPICS = Topics.of(MqttConfig(device=DEVICE), DEVICE)
# Home Assistant's MQTT discovery: what every entity here must carry.
REQUIRED_KEYS = {"name", "unique_id", "state_topic", "availability_topic", "payload_available",
                 "payload_not_available", "device"}


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


def kiosk_config(tmp_path: Path, port: int, **sections: str) -> Path:
    """The repository config plus an mqtt section for the test broker (and any extra sections)."""
    text = (REPO / "config.yaml").read_text()
    text = re.sub(r"^mqtt:.*?(?=^\S|\Z)", "", text, flags=re.S | re.M)
    text += (f"\nmqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: {port}\n  device: {DEVICE}\n"
             f"  keepalive: 5\n  away_seconds: 5\n")
    for name, body in sections.items():
        text = re.sub(rf"^{name}:.*?(?=^\S|\Z)", "", text, flags=re.S | re.M) + f"\n{name}:\n{body}"
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def start_kiosk(config: Path, data_dir: Path, slides: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "KIOSK_CONFIG": str(config), "RUNTIME_DIRECTORY": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir), "run", "--source",
                             f"dir:{slides}", "--display", "headless", "--loop", *extra],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "kiosk.log", "ab"))


def logged_events(data_dir: Path) -> list[dict]:
    return json.loads(run_kiosk("events", "--json", data_dir=data_dir).stdout)


def event_times(data_dir: Path) -> dict[int, float]:
    """Event id -> when, as the store keeps it (seconds since the epoch)."""
    with Store(data_dir) as store:
        return {event.id: event.at for event in store.events.query()}


COOLDOWN_OFF = {"recognition": "  event_cooldown: 0\n"}


# --- against a real broker ---------------------------------------------------------------------

def test_events_discovery_availability_and_presence(broker, listener, enrolled_copy, slides, tmp_path):
    config = kiosk_config(tmp_path, broker.port, **COOLDOWN_OFF)
    kiosk = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "400")
    assert kiosk.wait(120) == 0, (tmp_path / "kiosk.log").read_text()[-3000:]

    # Discovery: the last-seen sensor and one presence sensor per enrolled person, all valid.
    configs = {m.topic: m.json() for m in listener.messages if m.topic.startswith("homeassistant/") and m.payload}
    people = {p["name"] for p in json.loads(run_kiosk("people", "list", "--json", data_dir=enrolled_copy).stdout)}
    assert set(configs) == {TOPICS.last_seen_config} | {TOPICS.person_config(person_key(n)) for n in people}
    assert all(set(c) >= REQUIRED_KEYS for c in configs.values()), configs
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert {c["availability_topic"] for c in configs.values()} == {TOPICS.status}
    assert all(c["device"]["identifiers"] == [TOPICS.node] for c in configs.values())
    assert all(m.retain or m.at < listener.messages[0].at + 60 for m in listener.messages if "config" in m.topic)

    # One message per logged event, in order, with its fields.
    events = logged_events(enrolled_copy)
    published = [m.json() for m in listener.on(TOPICS.event)]
    assert [e["id"] for e in published] == sorted(e["id"] for e in events) and len(events) >= 3
    by_id = {e["id"]: e for e in events}
    for message in published:
        assert set(message) == {"id", "time", "at", "kind", "name", "known", "distance", "camera", "liveness"}
        assert message["name"] == by_id[message["id"]]["name"] and message["camera"] == DEVICE
        assert message["known"] == (message["name"] != "unknown")
    assert {"obama", "alex_lacamoire", "kit_harington"} <= {m["name"] for m in published}

    # Availability: online while running, offline after a clean stop; presence came and went.
    statuses = [m.payload for m in listener.on(TOPICS.status)]
    assert "online" in statuses and statuses[-1] == "offline"
    obama = [m.payload for m in listener.on(f"{TOPICS.base}/person/obama")]
    assert obama[0] == "away" and "away" in obama[obama.index("present"):], obama  # away 5 s after being seen
    assert json.loads(listener.on(TOPICS.last_seen)[-1].payload)["id"] == published[-1]["id"]


def test_a_killed_kiosk_is_marked_offline_by_its_last_will(broker, listener, enrolled_copy, slides, tmp_path):
    kiosk = start_kiosk(kiosk_config(tmp_path, broker.port), enrolled_copy, slides, tmp_path)
    try:
        assert listener.wait_for(lambda: [m.payload for m in listener.on(TOPICS.status)][-1:] == ["online"], 90)
        heard = len(listener.messages)
        kiosk.send_signal(signal.SIGKILL)
        kiosk.wait(10)
    finally:
        kiosk.kill()
    assert listener.wait_for(lambda: [m.payload for m in listener.on(TOPICS.status)][-1:] == ["offline"], 20)
    assert all(m.topic == TOPICS.status for m in listener.messages[heard:] if m.topic.startswith(TOPICS.base)
               and not m.topic.startswith(f"{TOPICS.base}/person"))


def test_broker_outage_and_kiosk_restart_lose_no_event(broker, listener, enrolled_copy, slides, tmp_path):
    """The broker stops for 8 s during a run, and is down for a whole second run: afterwards every
    logged event has been published, in order, none missing (duplicates are allowed: by id)."""
    config = kiosk_config(tmp_path, broker.port, **COOLDOWN_OFF)
    kiosk = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "1100")
    assert listener.wait_for(lambda: len(listener.on(TOPICS.event)) >= 2, 90)
    broker.stop()
    down_at = time.time()
    time.sleep(8)
    up_at = time.time()
    broker.start()
    assert kiosk.wait(120) == 0, (tmp_path / "kiosk.log").read_text()[-3000:]
    events = logged_events(enrolled_copy)
    times = event_times(enrolled_copy)
    during = [e for e in events if down_at <= times[e["id"]] <= up_at]
    assert listener.wait_for(lambda: {m.json()["id"] for m in listener.on(TOPICS.event)} >= {e["id"] for e in events},
                             30), "every event published after the outage"
    assert during, "events happened while the broker was away"
    live = [m.at - m.json()["at"] for m in listener.on(TOPICS.event) if m.json()["at"] < down_at]
    back = [min(m.at for m in listener.on(TOPICS.event) if m.json()["id"] == e["id"]) - up_at for e in during]

    # A whole run with the broker away: its events wait in the outbox and go out on the next start.
    broker.stop()
    second = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "250")
    assert second.wait(120) == 0
    waiting = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy,
                                   env={"KIOSK_CONFIG": str(config)}).stdout)["mqtt"]["outbox_waiting"]
    assert waiting >= 1
    broker.start()
    third = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "150")
    assert third.wait(120) == 0
    events = logged_events(enrolled_copy)
    assert listener.wait_for(lambda: {m.json()["id"] for m in listener.on(TOPICS.event)} >= {e["id"] for e in events},
                             30)
    received = [m.json()["id"] for m in listener.on(TOPICS.event)]
    first_seen = list(dict.fromkeys(received))
    assert first_seen == sorted(first_seen), "in order"
    status = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy,
                                  env={"KIOSK_CONFIG": str(config)}).stdout)["mqtt"]
    assert status["outbox_waiting"] == 0 and status["outbox_dropped"] == 0
    print(f"broker: {broker.kind}; events {len(events)}; during the 8 s outage {len(during)}, received "
          f"{max(back):.1f} s after the broker was back at the latest; waiting through a whole run {waiting}; "
          f"received {len(received)} ({len(received) - len(set(received))} duplicates); confirmation to "
          f"subscriber median {1000 * statistics.median(live):.0f} ms, worst {1000 * max(live):.0f} ms")


def test_a_removed_person_loses_their_entity(broker, listener, tmp_path):
    config = dataclasses.replace(Config(), data_dir=str(tmp_path / "data"),
                                 mqtt=MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, device=DEVICE))
    Store(config.data_path()).close()
    publisher = Publisher(config, ["ada_lovelace", "grace_hopper"])
    publisher.start()
    grace = TOPICS.person_config(person_key("grace_hopper"))
    try:
        assert listener.wait_for(lambda: listener.on(grace), 20)
        publisher.set_people(["ada_lovelace"])
        assert listener.wait_for(lambda: listener.on(grace)[-1].payload == "", 20), "an empty config removes it"
    finally:
        publisher.stop()
    ada = TOPICS.person_config(person_key("ada_lovelace"))
    assert all(m.payload for m in listener.on(ada)), "the others stay"
    assert listener.wait_for(lambda: [m.payload for m in listener.on(TOPICS.status)][-1] == "offline", 10), \
        "a clean stop says offline (the broker passes it on a moment later)"


def test_doctor_checks_the_broker(broker, tmp_path):
    config = dataclasses.replace(Config(), mqtt=MqttConfig(enabled=True, host="127.0.0.1", port=broker.port))
    assert check_mqtt(config).result == OK
    broker.stop()
    check = check_mqtt(config)
    assert check.result == WARN and f"127.0.0.1:{broker.port}" in check.detail
    broker.start()


# --- settings ------------------------------------------------------------------------------------

def test_mqtt_and_door_settings_are_checked():
    with pytest.raises(ConfigError, match=r"mqtt\.host: required"):
        parse_config("mqtt:\n  enabled: true\n")
    with pytest.raises(ConfigError, match=r"mqtt\.device: 'a/b' is not allowed"):
        parse_config("mqtt:\n  device: a/b\n")
    with pytest.raises(ConfigError, match=r"door\.allow: required"):
        parse_config("door:\n  enabled: true\n")
    with pytest.raises(ConfigError, match=r"door\.allow: expected a list of text"):
        parse_config("door:\n  allow: obama\n")
    assert parse_config("door:\n  allow: [obama, any known]\n").door.allow == ("obama", "any known")


def test_password_file_must_be_private(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: .* can be read by others .*chmod 600"):
        read_password(str(secret))
    secret.chmod(0o600)
    assert read_password(str(secret)) == "s3cret"
    with pytest.raises(ConfigError, match="cannot read"):
        read_password(str(tmp_path / "missing"))


def test_person_keys_are_topic_safe_and_distinct():
    assert person_key("obama") == "obama"
    keys = {person_key(n) for n in ("Jérôme Dupont", "jerome_dupont", "Jérôme-Dupont", "a/b#+")}
    assert len(keys) == 4 and all(re.fullmatch(r"[a-z0-9_]+", k) for k in keys)


def test_outbox_is_bounded_and_counts_what_it_drops(tmp_path):
    with Store(tmp_path) as store:
        ids = [store.events.add("obama", 0.4, 1, outbox_limit=3) for _ in range(5)]
        store.events.add("biden", 0.4, 2)  # MQTT off: logged, not queued
        assert [e.id for e in store.events.outbox()] == ids[2:]
        assert store.events.outbox_state() == (3, 2)
        store.events.outbox_sent(ids[2])
        assert store.events.outbox_state() == (2, 2)


# --- the door ------------------------------------------------------------------------------------

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


def test_door_closes_when_recognition_hangs(mock_pins, enrolled_copy, slides, restore_signals, tmp_path,
                                            monkeypatch):
    systemd = NotifyListener(tmp_path, monkeypatch)  # the watchdog path is on
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    daemon = _door_daemon(enrolled_copy, slides, ("any known",))
    pin = mock_pins.pin(17)
    release, marks = threading.Event(), {}
    detect = daemon.recognizer.engine.detect

    def detect_then_hang(image, region=None, small=None):
        if pin.state == 1:
            marks.setdefault("hung", time.monotonic())
            release.wait()  # a worker stuck inside dlib while the door is open
        return detect(image, region, small)
    daemon.recognizer.engine.detect = detect_then_hang

    def stop():
        marks["closed_before_stop"] = pin.state == 0
        daemon.stop_requested = True
        release.set()
    systemd.listen_while(daemon)
    threading.Timer(20, stop).start()
    daemon.run()
    systemd.close()
    assert "hung" in marks, "the door opened, then recognition hung"
    assert marks["closed_before_stop"], "closed by the watchdog path long before its 30 s"


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


# --- systemd -------------------------------------------------------------------------------------

def sandbox_configs() -> dict[str, Config]:
    mqtt = MqttConfig(enabled=True, host="broker.example")
    door = DoorConfig(enabled=True, allow=("obama",))
    return {"mqtt": dataclasses.replace(Config(), mqtt=mqtt), "door": dataclasses.replace(Config(), door=door),
            "both": dataclasses.replace(Config(), mqtt=mqtt, door=door)}


def fake_lookup(host: str) -> list[str]:
    return ["192.0.2.10", "2001:db8::10"]


def test_dropins_allow_only_the_broker_and_the_gpio_chips(tmp_path):
    both = dropins(sandbox_configs()["both"], fake_lookup)
    network = both["kiosk-mqtt.conf"]
    assert "RestrictAddressFamilies=AF_INET AF_INET6" in network and "PrivateNetwork=no" in network
    allowed = re.findall(r"^IPAddressAllow=(\S+)$", network, flags=re.M)
    assert allowed[:2] == ["192.0.2.10", "2001:db8::10"]
    literal = dropins(dataclasses.replace(Config(), mqtt=MqttConfig(enabled=True, host="10.0.0.5")), fake_lookup)
    assert re.findall(r"^IPAddressAllow=(\S+)$", literal["kiosk-mqtt.conf"], flags=re.M) == ["10.0.0.5"]
    door = both["kiosk-door.conf"]
    assert "DeviceAllow=char-gpiochip rw" in door and "SupplementaryGroups=gpio" in door
    assert re.search(r"^ExecStopPost=\S+/kiosk door close$", door, flags=re.M)
    assert dropins(Config(), fake_lookup) == {}
    folder = tmp_path / "kiosk.service.d"
    assert len(write_dropins(sandbox_configs()["both"], folder, fake_lookup)) == 2
    assert write_dropins(sandbox_configs()["both"], folder, fake_lookup) == []
    assert write_dropins(sandbox_configs()["door"], folder, fake_lookup) == [f"removed {folder / 'kiosk-mqtt.conf'}"]


@needs_systemd_analyze
@pytest.mark.parametrize("case", ["mqtt", "door", "both"])
def test_dropins_verify_and_keep_exposure_low(tmp_path, case):
    unit = next(p for p in copies_for_verify(tmp_path) if p.name == "kiosk.service")
    root = tmp_path / "root"
    system = root / "etc" / "systemd" / "system"
    write_dropins(sandbox_configs()[case], system / "kiosk.service.d", fake_lookup)
    for dropin in (system / "kiosk.service.d").iterdir():  # binaries this machine has
        dropin.write_text(re.sub(r"^ExecStopPost=\S+", "ExecStopPost=/bin/true", dropin.read_text(), flags=re.M))
    shutil.copy(unit, system / "kiosk.service")
    verify = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", str(system / "kiosk.service")],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{system}:"})
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    security = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", f"--root={root}", "--no-pager",
                               "kiosk.service"], capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for kiosk\.service: (\d+\.\d+)", security.stdout)
    assert match, security.stdout + security.stderr
    print(f"{case}: exposure {match.group(1)}")
    assert float(match.group(1)) <= 3.0
    if case != "door":
        assert "AF_(INET|INET6)" in security.stdout


def test_broker_never_reached_and_a_restart_storm_are_logged_once_per_change_and_caught(tmp_path, caplog):
    """Down at the start (one line, however long), then up for 2.5 s windows between 3 s outages:
    the publisher is connected in every window, and says so once per change."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = Broker(workdir)
    Store(tmp_path / "data").close()
    config = dataclasses.replace(Config(), data_dir=str(tmp_path / "data"),
                                 mqtt=MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, device=DEVICE))
    publisher = Publisher(config, ["obama"])
    connected_in = []
    with caplog.at_level(logging.INFO, "kiosk.mqtt"):
        publisher.start()
        try:
            time.sleep(5)
            unreachable = [r.message for r in caplog.records if "not reachable" in r.message]
            assert len(unreachable) == 1, unreachable
            for _ in range(3):
                broker.start()
                deadline = time.monotonic() + 2.5
                while time.monotonic() < deadline and not publisher.state().connected:
                    time.sleep(0.05)
                connected_in.append(publisher.state().connected)
                time.sleep(max(0.0, deadline - time.monotonic()))
                broker.stop()
                time.sleep(3)
        finally:
            publisher.stop(timeout=1)
            broker.stop()
    assert connected_in == [True, True, True]
    lines = [r.message for r in caplog.records if r.name == "kiosk.mqtt"]
    assert sum("connected" in line for line in lines) == 3, lines
    assert len(lines) <= 1 + 3 * 3, lines  # per window at most: connected, lost, not reachable
