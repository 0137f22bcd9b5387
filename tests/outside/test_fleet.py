"""Several kiosks as one site (outside/fleet.py, bundle.py): the signed gallery, its refusals, and
three real kiosks (`kiosk run`) sharing one real mosquitto on loopback, then two bridged ones."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mqtt_broker import MOSQUITTO, Broker
from PIL import Image

from kiosk.config import Config
from kiosk.errors import KioskError, Refused
from kiosk.outside.bundle import Bundle, new_signing_key, open_bundle, seal
from kiosk.outside.fleet import apply_bundle, build_bundle
from kiosk.store import SampleSettings, Store
from kiosk.store.site import MEMBER, Site, read_site, write_site

from conftest import REPO, needs_package, require_data

needs_mosquitto = needs_package("mosquitto", MOSQUITTO or "mosquitto")
MODEL = "dlib_face_recognition_resnet_model_v1"


def bundle(version: int = 1, people: int = 3) -> Bundle:
    rng = np.random.default_rng(version)
    return Bundle("office", version, "home", time.time(), MODEL,
                  {f"person_{i}": rng.normal(0, 0.1, (2, 128)).astype(np.float32) for i in range(people)})


def test_a_bundle_opens_only_whole_signed_by_the_site_and_of_the_site():
    secret, public = new_signing_key()
    other_secret, _ = new_signing_key()
    sent = bundle()
    message = seal(sent, secret)
    got = open_bundle(message, "office", public, 128)
    assert (got.version, got.home, sorted(got.people)) == (1, "home", sorted(sent.people))
    assert all(np.array_equal(got.people[n], sent.people[n]) for n in sent.people)
    refusals = {
        "another site's key": seal(sent, other_secret),
        "truncated": message[:-100],
        "tampered": message[:-1] + bytes([message[-1] ^ 1]),
        "unsigned": message[:8] + bytes(64) + message[72:],
        "not a bundle": b'{"people": []}',
    }
    for what, bad in refusals.items():
        with pytest.raises(Refused):
            open_bundle(bad, "office", public, 128)
            pytest.fail(what)
    with pytest.raises(Refused, match="site 'office'.s, this kiosk belongs to 'lab'"):
        open_bundle(message, "lab", public, 128)


def test_a_member_applies_newer_versions_whole_and_refuses_older_ones(tmp_path):
    secret, public = new_signing_key()
    config = Config(data_dir=str(tmp_path))
    with Store(tmp_path) as store:
        write_site(tmp_path, Site("office", MEMBER, public, "home"))
        _, forgotten, _ = apply_bundle(store, config, read_site(tmp_path), seal(bundle(2, people=3), secret))
        assert forgotten == [] and store.people.counts() == (3, 6) and store.site_version() == 2
        for older in (1, 2):
            with pytest.raises(KioskError, match="applied already"):
                apply_bundle(store, config, read_site(tmp_path), seal(bundle(older), secret))
        _, forgotten, _ = apply_bundle(store, config, read_site(tmp_path), seal(bundle(3, people=2), secret))
        assert forgotten == ["person_2"] and store.people.names() == ["person_0", "person_1"]
        assert store.events.get(store.events.add("person_0", 0.4, 1)).gallery_version == 3
    assert read_site(tmp_path).version == 3


def test_a_rename_on_the_home_is_a_rename_on_its_members(tmp_path):
    """The home renames biden to Joe Biden: the member keeps the person, their events and event
    faces under the new name, where a version without person ids would have forgotten them."""
    secret, public = new_signing_key()
    home, member = tmp_path / "home", tmp_path / "member"
    config = Config(data_dir=str(member))
    site = Site("office", MEMBER, public, "home")
    rng = np.random.default_rng(0)
    with Store(home) as store:
        for name in ("biden", "obama"):
            store.people.add_sample(name, rng.normal(0, 0.1, 128).astype(np.float32),
                                    SampleSettings(MODEL, "hog", 5, 1), name * 8, f"{name}.jpg")
    write_site(member, site)

    def publish(version: int) -> bytes:
        with Store(home) as store:
            return seal(build_bundle(store, Config(data_dir=str(home)), site, version), secret)
    with Store(member) as store:
        assert apply_bundle(store, config, read_site(member), publish(1))[1:] == ([], {})
        seen = store.events.add("biden", 0.4, 1)
    with Store(home) as store:
        store.people.rename("biden", "Joe Biden")
    with Store(member) as store:
        _, forgotten, renamed = apply_bundle(store, config, read_site(member), publish(2))
        assert (forgotten, renamed) == ([], {"biden": "Joe Biden"})
        assert store.people.names() == ["Joe Biden", "obama"]
        event = store.events.get(seen)
        assert event is not None and event.name == "Joe Biden"
        assert {e.name for e in store.events.query()} == {"Joe Biden"}
    with Store(home) as store:
        store.people.remove("Joe Biden", events=False)
    with Store(member) as store:
        assert apply_bundle(store, config, read_site(member), publish(3))[1:] == (["Joe Biden"], {})


# --- real kiosks on a real broker ------------------------------------------------------------------

def site_config(tmp_path: Path, device: str, port: int, **recognition: object) -> Path:
    text = (REPO / "config.yaml").read_text()
    mqtt_start = text.index("\nmqtt:")
    head, tail = text[:mqtt_start], text[mqtt_start:]
    tail = (tail.replace("  enabled: false", "  enabled: true", 1).replace('  host: ""', "  host: 127.0.0.1", 1)
            .replace("  port: 1883", f"  port: {port}", 1).replace('  device: ""', f"  device: {device}", 1)
            .replace("  discovery: true", "  discovery: false", 1))
    for key, value in recognition.items():
        head = head.replace(f"  {key}: false", f"  {key}: {str(value).lower()}", 1)
    path = tmp_path / f"{device}.yaml"
    path.write_text(head + tail)
    return path


class Kiosk:
    """One kiosk: its config, data folder and runtime folder; `run` starts its `kiosk run`."""

    def __init__(self, tmp_path: Path, device: str, port: int, **recognition: object):
        self.device = device
        self.data = tmp_path / device
        self.data.mkdir()
        self.config = site_config(tmp_path, device, port, **recognition)
        self.env = {**os.environ, "KIOSK_CONFIG": str(self.config), "RUNTIME_DIRECTORY": str(self.data)}
        self.process: subprocess.Popen | None = None
        self.log = tmp_path / f"{device}.log"

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(self.data), *args],
                                capture_output=True, text=True, env=self.env, timeout=timeout, cwd=REPO)
        return result

    def run(self, source: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(self.data), "run",
                                         "--source", source, "--loop", "--display", "headless"],
                                        env=self.env, stderr=open(self.log, "w"), stdout=subprocess.DEVNULL,
                                        cwd=REPO)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def people(self) -> list[str]:
        result = self("people", "list", "--json")
        return [p["name"] for p in json.loads(result.stdout)] if result.returncode == 0 else []


def wait_until(condition, timeout: float = 90.0, what: str = "") -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.25)
    return time.monotonic() - started


def join_all(home: Kiosk, *members: Kiosk) -> None:
    init = home("fleet", "init", "--site", "office")
    assert init.returncode == 0, init.stderr
    join_line = init.stdout.strip().splitlines()[-1].split()
    assert join_line[:3] == ["kiosk", "fleet", "join"]
    for member in members:
        joined = member(*join_line[1:])
        assert joined.returncode == 0, joined.stderr
        admit_line = joined.stdout.strip().splitlines()[-1].split()
        assert admit_line[:4] == ["kiosk", "fleet", "admit", member.device]
        admitted = home(*admit_line[1:])
        assert admitted.returncode == 0, admitted.stderr


def empty_hall(tmp_path: Path) -> str:
    hall = tmp_path / "hall"
    hall.mkdir(exist_ok=True)
    Image.fromarray(np.full((240, 320, 3), 100, np.uint8)).save(hall / "empty.png")
    return f"dir:{hall}"


@needs_mosquitto
@pytest.mark.slow
def test_three_kiosks_share_one_gallery_its_removals_and_one_event_stream(tmp_path):
    people, clip = require_data("people"), require_data("video", "short_hamilton_clip.mp4")
    broker = Broker(tmp_path)
    broker.start()
    home, second = Kiosk(tmp_path, "home", broker.port), Kiosk(tmp_path, "second", broker.port)
    third = Kiosk(tmp_path, "third", broker.port, capture_faces=True)
    kiosks = [home, second, third]
    try:
        join_all(home, second, third)
        refused = second("enroll", str(people))
        assert refused.returncode == 2 and "member of site office" in refused.stderr and "home" in refused.stderr
        hall = empty_hall(tmp_path)
        home.run(hall)
        third.run(f"file:{clip}")
        assert home("enroll", str(people)).returncode == 0
        took = wait_until(lambda: "lin_manuel_miranda" in third.people(), what="the third kiosk's gallery")
        print(f"enrolled on the home -> applied on the third kiosk in {took:.1f} s")
        second.run(f"file:{clip}")
        wait_until(lambda: any(e["name"] == "lin_manuel_miranda" for e in json.loads(
            second("events", "--json").stdout or "[]")), what="the second kiosk naming lin_manuel_miranda")
        wait_until(lambda: list((third.data / "event_faces").glob("*.jpg")), what="the third kiosk's kept faces")

        # The site's log on the home: each kiosk's events, once each, with the version they used.
        site_log = json.loads(home("events", "--site", "--json").stdout)
        by_kiosk = {e["kiosk"] for e in site_log if e["name"] == "lin_manuel_miranda"}
        assert {"second", "third"} <= by_kiosk
        assert all(e["gallery_version"] >= 1 for e in site_log if e["kiosk"] != "home")
        again = json.loads(home("events", "--site", "--json").stdout)
        assert len({(e["kiosk"], e["id"]) for e in again}) == len(again) >= len(site_log)

        # An erasure on the home reaches every kiosk: samples and kept faces gone.
        assert home("people", "remove", "lin_manuel_miranda", "--yes").returncode == 0
        took = wait_until(lambda: "lin_manuel_miranda" not in third.people(), what="the removal on the third")
        print(f"removed on the home -> gone on the third kiosk in {took:.1f} s")
        assert "lin_manuel_miranda" not in second.people()
        with Store(third.data) as store:
            named = {store.events.get(face.event_id).name for face in store.events.faces()}
        assert "lin_manuel_miranda" not in named
        def reported() -> dict:
            return {k["kiosk"]: k["current"] for k in json.loads(home("fleet", "status", "--json").stdout)["kiosks"]}
        wait_until(lambda: reported() == {"home": True, "second": True, "third": True},
                   what="every kiosk reporting the newest version")

        # The broker away while the gallery changes: the others catch up when it is back.
        broker.stop()
        third.stop()  # one kiosk is off meanwhile, too
        assert home("people", "remove", "biden", "--yes").returncode == 0
        time.sleep(2)
        assert "biden" in second.people()
        assert "broker unreachable" in second("status").stdout or "not running" in second("status").stdout
        broker.start()
        third.run(hall)
        wait_until(lambda: "biden" not in second.people() and "biden" not in third.people(),
                   what="the kiosks catching up after the broker came back")
        assert "gallery v" in third("status").stdout

        # Somebody else's message on the gallery topic: the home puts its latest version back
        # (hostile_site.py replays old versions and garbage too).
        publish(broker.port, "kiosk/site/office/gallery", seal(bundle(99), new_signing_key()[0]))
        wait_until(lambda: "putting version" in home.log.read_text(), what="the home answering a forgery")
        wait_until(lambda: read_site(second.data).version == read_site(home.data).version,
                   what="the members on the home's newest again")
    finally:
        for kiosk in kiosks:
            kiosk.stop()
        broker.stop()
        for kiosk in kiosks:
            if kiosk.log.exists():
                print(kiosk.device, kiosk.log.read_text()[-3000:])


@needs_mosquitto
def test_two_bridged_brokers_carry_the_gallery_between_buildings(tmp_path):
    people = require_data("people")
    for building in ("a", "b"):
        (tmp_path / building).mkdir()
    first, second = Broker(tmp_path / "a"), Broker(tmp_path / "b")
    first.start()
    second.start(extra=f"connection building_a\naddress 127.0.0.1:{first.port}\ntopic kiosk/# both 1\n"
                       "cleansession false\nstart_type automatic\nrestart_timeout 1\n")
    home, member = Kiosk(tmp_path, "home", first.port), Kiosk(tmp_path, "member", second.port)
    try:
        join_all(home, member)
        assert home("enroll", str(people)).returncode == 0
        member.run(empty_hall(tmp_path))
        published = home("fleet", "publish")
        assert published.returncode == 0, published.stderr
        wait_until(lambda: "obama" in member.people(), what="the gallery across the bridge")
        wait_until(lambda: {k["kiosk"] for k in json.loads(home("fleet", "status", "--json").stdout)["kiosks"]}
                   >= {"member"}, what="the member's report coming back across the bridge")

        # Refused on the member, each reason logged once, the gallery kept: another key, cut
        # short, version 0, another key again. The member judges the newest message it holds (a
        # retained topic's), so each step waits until the one it can tell apart was judged.
        real = (home.data / "site-signing.key").read_bytes()
        good = bundle(version=5, people=2)
        signature, zero = "gallery refused: its signature is not the site's", "gallery refused: its version '0'"
        publish(second.port, "kiosk/site/office/gallery", seal(good, new_signing_key()[0]))
        wait_until(lambda: signature in member.log.read_text(), what="the other key's refusal")
        publish(second.port, "kiosk/site/office/gallery", seal(good, real)[:-50])
        publish(second.port, "kiosk/site/office/gallery", seal(dataclasses.replace(good, version=0), real))
        wait_until(lambda: zero in member.log.read_text(), what="version 0's refusal")
        publish(second.port, "kiosk/site/office/gallery", seal(good, new_signing_key()[0]))
        wait_until(lambda: "refused a gallery: its signature" in member("status").stdout, what="the last one judged")
        log_text = member.log.read_text()
        # A cut-short message fails its signature too; the same reason is logged once, however often.
        assert log_text.count("gallery refused: its signature is not the site's") == 1
        assert log_text.count("gallery refused: its version '0' is not a whole number from 1") == 1
        assert "obama" in member.people() and "refused a gallery" in member("status").stdout
    finally:
        member.stop()
        second.stop()
        first.stop()


def publish(port: int, topic: str, payload: bytes) -> None:
    import paho.mqtt.client as mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-forger")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()



def test_a_kiosk_subscribes_to_the_gallery_only_so_no_replayed_event_reaches_a_door(tmp_path):
    """The daemon's MQTT clients: the publisher subscribes to nothing, the site's client to the
    gallery alone; an event message (replayed, duplicated, forged) has no way in."""
    import inspect

    from kiosk.config import MqttConfig
    from kiosk.outside import fleet, mqtt

    assert "subscribe(" not in inspect.getsource(mqtt.Publisher)
    config = Config(data_dir=str(tmp_path), mqtt=MqttConfig(enabled=True, host="127.0.0.1", device="door1"))
    member = fleet.Fleet(config, Site("office", MEMBER, new_signing_key()[1], "home"))

    class Recorder:
        topics: list[str] = []

        def subscribe(self, topic, qos=0):
            self.topics.append(topic)

    class Connected:
        is_failure = False

    client = Recorder()
    member._on_connect(client, None, None, Connected(), None)
    assert client.topics == ["kiosk/site/office/gallery"] == member.subscriptions
