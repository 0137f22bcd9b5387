"""MQTT: events and discovery through a real broker on loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mqtt_broker import Broker, Listener
from PIL import Image

from kiosk.admin.doctor import OK, WARN, check_mqtt
from kiosk.config import Config, MqttConfig, parse_config
from kiosk.errors import ConfigError
from kiosk.outside.broker import read_password
from kiosk.outside.mqtt import Publisher, Topics, person_key
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


@pytest.mark.slow
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
        assert set(message) == {"id", "time", "at", "kind", "name", "known", "distance", "camera", "liveness",
                                "kiosk", "site", "gallery_version"}
        assert message["name"] == by_id[message["id"]]["name"] and message["camera"] == message["kiosk"] == DEVICE
        assert message["site"] is None and message["gallery_version"] is None  # a kiosk of no site
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


def outbox_ids(data_dir: Path) -> set[int]:
    """Ids of the events the kiosk still waits to have acknowledged by the broker."""
    with Store(data_dir) as store:
        return {event.id for event in store.events.outbox(limit=10_000)}


@pytest.mark.slow(minutes=1)
def test_broker_outage_and_kiosk_restart_lose_no_event(broker, listener, enrolled_copy, slides, tmp_path):
    """The broker stops for 8 s during a run, and is down for a whole second run: afterwards the
    broker has acknowledged every logged event (the kiosk's outbox is empty) and a subscriber
    heard them in order (duplicates are allowed: by id). What the subscriber can hear depends on
    the broker: one that keeps sessions across its restart (mosquitto) delivers everything; one
    that does not (amqtt) delivers what was sent after the subscriber subscribed again."""
    config = kiosk_config(tmp_path, broker.port, **COOLDOWN_OFF)
    kiosk = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "1100")
    assert listener.wait_for(lambda: len(listener.on(TOPICS.event)) >= 2, 90)
    broker.stop()
    down_at = time.time()
    time.sleep(8)
    up_at = time.time()
    broker.start()

    def published() -> set[int]:
        return {m.json()["id"] for m in listener.on(TOPICS.event)}

    def logged_until_back() -> set[int]:
        return {event_id for event_id, at in event_times(enrolled_copy).items() if at <= up_at}
    # While the kiosk still runs, the broker acknowledges everything it logged up to the broker's
    # return (what it logs in its last moments may wait in the outbox for the next start: below).
    assert listener.wait_for(lambda: not logged_until_back() & outbox_ids(enrolled_copy), 60), \
        f"acknowledged after the outage: {sorted(logged_until_back() & outbox_ids(enrolled_copy))} still waiting"
    if broker.keeps_sessions:
        assert listener.wait_for(lambda: published() >= logged_until_back(), 30), \
            f"every event heard after the outage: {sorted(logged_until_back() - published())} missing"
    assert kiosk.wait(120) == 0, (tmp_path / "kiosk.log").read_text()[-3000:]
    events = logged_events(enrolled_copy)
    times = event_times(enrolled_copy)
    during = [e for e in events if down_at <= times[e["id"]] <= up_at]
    assert during, "events happened while the broker was away"
    live = [m.at - m.json()["at"] for m in listener.on(TOPICS.event) if m.json()["at"] < down_at]
    back = [min(m.at for m in listener.on(TOPICS.event) if m.json()["id"] == e["id"]) - up_at for e in during
            if e["id"] in published()]

    # A whole run with the broker away: its events wait in the outbox and go out on the next start.
    broker.stop()
    second = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "250")
    assert second.wait(120) == 0
    waiting = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy,
                                   env={"KIOSK_CONFIG": str(config)}).stdout)["mqtt"]["outbox_waiting"]
    assert waiting >= 1
    subscriptions = len(listener.subscribed_at)
    broker.start()
    assert listener.wait_for(lambda: len(listener.subscribed_at) > subscriptions, 30), "the subscriber is back"
    # Sent from the third run on, after the subscriber was back: the outbox's events and its own.
    sent_later = outbox_ids(enrolled_copy)
    logged_before = set(event_times(enrolled_copy))
    third = start_kiosk(config, enrolled_copy, slides, tmp_path, "--max-frames", "150")
    assert third.wait(120) == 0
    events = logged_events(enrolled_copy)
    status = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy,
                                  env={"KIOSK_CONFIG": str(config)}).stdout)["mqtt"]
    assert status["outbox_waiting"] == 0 and status["outbox_dropped"] == 0, "every event acknowledged"
    everything = {e["id"] for e in events}
    must_hear = everything if broker.keeps_sessions else sent_later | (everything - logged_before)
    assert sent_later and listener.wait_for(lambda: published() >= must_hear, 30), sorted(must_hear - published())
    received = [m.json()["id"] for m in listener.on(TOPICS.event)]
    first_seen = list(dict.fromkeys(received))
    assert first_seen == sorted(first_seen), "in order"
    heard_back = f"received {max(back):.1f} s after the broker was back at the latest" if back else \
        "sent before the subscriber was back"
    print(f"broker: {broker.kind}; events {len(events)}; during the 8 s outage {len(during)}, {heard_back}; "
          f"waiting through a whole run {waiting}; received {len(received)} "
          f"({len(received) - len(set(received))} duplicates); confirmation to "
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
