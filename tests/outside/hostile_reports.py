"""Reports and event messages on the site's broker that are not what they claim (outside/reports.py,
signing.py, `kiosk fleet status`, `kiosk events --site`): each left out with one line, none costing
the good ones, nothing printed that a terminal would act on, no report believed over the home's
version, and none believed unless signed by an admitted kiosk's own key."""

from __future__ import annotations

import json
import re

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import Broker
from test_fleet import Kiosk, join_all, needs_mosquitto

from kiosk.outside.bundle import new_signing_key
from kiosk.outside.signing import signed

APPLIED = "kiosk/site/office/applied/"


def send(port: int, messages: list[tuple[str, bytes, bool]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-forger")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload, retain in messages:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


KEYS: dict[str, bytes] = {}  # the kiosks this test admits on the home, and their secret keys


def admit(home: Kiosk, *devices: str) -> None:
    for device in devices:
        KEYS[device], public = new_signing_key()
        assert home("fleet", "admit", device, "--key", public).returncode == 0


def report(kiosk: str, version: object, role: str = "member", signer: str | None = None) -> bytes:
    body = {"kiosk": kiosk, "role": role, "version": version, "made_at": 1.0, "applied_at": 1.7e9}
    return json.dumps(signed(body, KEYS.get(signer or kiosk))).encode()


@pytest.fixture
def site(tmp_path):
    """A real mosquitto and the home of site office on it: (broker, home)."""
    broker = Broker(tmp_path)
    broker.start()
    home = Kiosk(tmp_path, "home", broker.port)
    try:
        join_all(home)
        yield broker, home
    finally:
        broker.stop()


@needs_mosquitto
def test_forged_reports_print_no_traceback_no_forged_line_and_no_false_current(site):
    broker, home = site
    admit(home, "good", "ahead", "stringly", "other")
    send(broker.port, [
        (APPLIED + "good", report("good", 0), True),
        (APPLIED + "unsigned", json.dumps({"kiosk": "unsigned", "role": "member", "version": 0}).encode(), True),
        (APPLIED + "stranger", report("stranger", 0, signer="good"), True),  # not admitted, another's key
        (APPLIED + "other", report("other", 0, signer="good"), True),  # admitted, signed by another's key
        (APPLIED + "listed", b"[1, 2]", True),
        (APPLIED + "stringly", report("stringly", "0"), True),
        (APPLIED + "x", report("x\r\n  home2                home    version 0     current", 0), True),
        (APPLIED + "x2", report("good", 0), True),  # another kiosk's name on this topic
        (APPLIED + "ahead", report("ahead", 10 ** 9), True),  # claims more than the home made
        (APPLIED + "binary", b"\xff\xfe", True),
    ])
    status = home("fleet", "status")
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr + status.stdout
    lines = status.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["ahead", "good"]
    assert "claims a version the home has not made" in lines[1] and lines[2].endswith("current")
    assert status.stderr.count("a report left out") == 8
    assert "stranger is not admitted" in status.stderr and "not signed by other's key" in status.stderr
    as_json = json.loads(home("fleet", "status", "--json").stdout)
    assert {k["kiosk"]: k["current"] for k in as_json["kiosks"]} == {"ahead": False, "good": True}


@needs_mosquitto
def test_one_bad_event_message_costs_none_of_the_good_ones(site):
    broker, home = site
    assert home("events", "--site", "--json").returncode == 0  # the home's session exists from now on

    admit(home, "second", "third")

    def event(kiosk: str, event_id: object, signer: str | None = None, **fields: object) -> bytes:
        return json.dumps(signed({"site": "office", "kiosk": kiosk, "id": event_id, "at": 1.7e9 + (
            event_id if isinstance(event_id, int) else 0), "name": "ada", "kind": "seen", **fields},
            KEYS.get(signer or kiosk))).encode()
    no_at = json.loads(event("second", 9))
    del no_at["at"]
    no_at = signed(no_at, KEYS["second"])
    send(broker.port, [
        ("kiosk/second/event", event("second", 1), False),
        ("kiosk/second/event", json.dumps(no_at).encode(), False),
        ("kiosk/second/event", event("second", 2), False),
        ("kiosk/second/event", event("third", 1), False),  # another kiosk's name on second's topic
        ("kiosk/second/event", event("second", 3, name="ada\n2026-01-01 third: grace"), False),
        ("kiosk/second/event", b"{", False),
        ("kiosk/second/event", event("second", 4), False),
        ("kiosk/second/event", event("second", 2, signer="third", name="grace"), False),  # takes 2's place?
        ("kiosk/second/event", event("second", 5, signer="nobody"), False),  # unsigned
    ])
    read = home("events", "--site", "--json")
    assert read.returncode == 0 and "Traceback" not in read.stderr, read.stderr
    assert [(e["kiosk"], e["id"]) for e in json.loads(read.stdout)] == [("second", 1), ("second", 2),
                                                                        ("second", 4)]
    left_out = re.findall(r"an event message left out \((\d+)x\)", read.stderr)
    assert sum(map(int, left_out)) == 6 and len(read.stderr.splitlines()) == len(left_out) == 4
    assert all(e["name"] == "ada" for e in json.loads(read.stdout))
