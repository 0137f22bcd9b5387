"""Somebody who may publish on the site's broker, without its key (outside/fleet.py): an erasure on
the home is not undone by replaying an older signed gallery, nor by garbage, however many arrive;
nor by an admin restoring an older backup on a member."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import Broker
from test_fleet import MODEL, Kiosk, empty_hall, join_all, needs_mosquitto, publish, wait_until

from kiosk.config import Config
from kiosk.outside.bundle import new_signing_key
from kiosk.outside.fleet import apply_bundle
from kiosk.store import SampleSettings, Store
from kiosk.store.site import MEMBER, Site, read_site, write_site

from conftest import REPO

TOPIC = "kiosk/site/office/gallery"


def retained(port: int, topic: str = TOPIC) -> bytes:
    """The message the broker keeps on TOPIC, as a kiosk joining now would get it."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-reader-{time.monotonic_ns()}")

    def on_message(_client, _userdata, message) -> None:
        got.append(bytes(message.payload))
        arrived.set()
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        arrived.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[-1] if got else b""


def latest_is_kept(home: Kiosk, port: int) -> bool:
    return hashlib.sha256(retained(port)).hexdigest() == read_site(home.data).digest


@needs_mosquitto
def test_a_replayed_older_gallery_or_garbage_cannot_hold_an_erasure_back(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    home = Kiosk(tmp_path, "home", broker.port)
    late = tmp_path / "late"  # a member joining after the attack
    try:
        join_all(home)
        rng = np.random.default_rng(0)
        with Store(home.data) as store:
            for name in ("biden", "obama"):
                for sample in range(2):
                    store.people.add_sample(name, rng.normal(0, 0.1, 128).astype(np.float32),
                                            SampleSettings(MODEL, "hog", 5, 1), f"{name}{sample}" * 8,
                                            f"{name}{sample}.jpg")
        home.run(empty_hall(tmp_path))
        wait_until(lambda: read_site(home.data).version >= 1 and latest_is_kept(home, broker.port),
                   what="the first version on the broker")
        with_biden = retained(broker.port)
        removed = home("people", "remove", "biden", "--yes")
        assert removed.returncode == 0, removed.stderr
        wait_until(lambda: read_site(home.data).version >= 2 and latest_is_kept(home, broker.port),
                   what="the erasure on the broker")
        erased = read_site(home.data).version

        # The old version replayed, garbage twice within a second, and the old version once more.
        for message in (with_biden, b"garbage", b"\x00" * 1000, with_biden):
            publish(broker.port, TOPIC, message)
        assert retained(broker.port) == with_biden
        wait_until(lambda: latest_is_kept(home, broker.port), timeout=40, what="the home putting its latest back")
        time.sleep(12)  # past the answer interval: nothing left unanswered, nothing published in between
        assert latest_is_kept(home, broker.port)
        assert read_site(home.data).version == erased  # put back, not a new version for members to apply
        assert "putting version" in home.log.read_text()

        # A member that joins now takes the gallery without biden.
        late.mkdir()
        write_site(late, Site("office", MEMBER, read_site(home.data).public_key, "home"))
        with Store(late) as store:
            bundle, _, _ = apply_bundle(store, Config(data_dir=str(late)), read_site(late), retained(broker.port))
            assert store.people.names() == ["obama"] and bundle.version == erased
    finally:
        home.stop()
        broker.stop()


def test_a_member_refuses_a_restore_that_would_bring_back_people_the_home_erased(tmp_path):
    """A backup made before an erasure holds the erased person: on a member, whose gallery is the
    home's, `kiosk restore` is refused as enrollment is, and nothing changes."""
    data = tmp_path / "member"
    with Store(data) as store:
        store.people.add_sample("biden", np.zeros(128, np.float32), SampleSettings(MODEL, "hog", 5, 1), "b" * 64,
                                "biden.jpg")

    def kiosk(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    assert kiosk("backup", str(tmp_path / "before.tar")).returncode == 0
    with Store(data) as store:
        store.people.remove("biden", events=False)
    write_site(data, Site("office", MEMBER, new_signing_key()[1], "home"))
    refused = kiosk("restore", "--yes", str(tmp_path / "before.tar"))
    assert refused.returncode == 2 and "member of site office" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    with Store(data) as store:
        assert store.people.names() == []


def test_an_encoder_switch_half_done_on_the_home_sends_no_version(tmp_path):
    """README's encoder switch: recognition.encoder changed, `kiosk retrain` not yet done for
    everyone. A version then would hold only the people already retrained; none is made."""
    from kiosk.config import RecognitionConfig
    from kiosk.errors import Refused
    from kiosk.outside.fleet import build_bundle
    from kiosk.store.site import HOME
    from kiosk.vision.encoders import model_of

    site = Site("office", HOME, new_signing_key()[1], "home")
    switched = Config(data_dir=str(tmp_path), recognition=RecognitionConfig(encoder="mobilefacenet"))
    mfn = "mobilefacenet"
    with Store(tmp_path) as store:
        for name in ("ada", "grace"):
            store.people.add_sample(name, np.zeros(128, np.float32), SampleSettings(MODEL, "hog", 5, 1),
                                    name[0] * 64, f"{name}.jpg")
        assert len(build_bundle(store, Config(data_dir=str(tmp_path)), site, 1).people) == 2
        model = model_of(mfn)
        with pytest.raises(Refused, match="not whole: 2 people \\(ada, grace\\)"):
            build_bundle(store, switched, site, 2)
        store.people.add_sample("ada", np.zeros(192, np.float32), SampleSettings(model, "hog", 5, 1), "c" * 64,
                                "ada.jpg")
        with pytest.raises(Refused, match="not whole: 1 people \\(grace\\)"):
            build_bundle(store, switched, site, 2)
        store.people.add_sample("grace", np.zeros(192, np.float32), SampleSettings(model, "hog", 5, 1), "d" * 64,
                                "grace.jpg")
        assert sorted(build_bundle(store, switched, site, 2).people) == ["ada", "grace"]


def test_a_member_forgets_many_people_at_once_only_when_the_home_erased_them(tmp_path):
    from kiosk.errors import Refused
    from kiosk.outside.bundle import Bundle, seal

    secret, public = new_signing_key()
    write_site(tmp_path, Site("office", MEMBER, public, "home"))
    config = Config(data_dir=str(tmp_path))
    rng = np.random.default_rng(0)
    everyone = {name: rng.normal(0, 0.1, (2, 128)).astype(np.float32) for name in ("ada", "grace", "hedy", "joan")}
    ids = {name: index + 1 for index, name in enumerate(everyone)}

    def version(number: int, names: list[str], erased: int | None) -> bytes:
        return seal(Bundle("office", number, "home", time.time(), MODEL, {n: everyone[n] for n in names},
                           {n: ids[n] for n in names}, erased), secret)
    with Store(tmp_path) as store:
        for name in ("kept", "before"):  # enrolled here before joining: the first version replaces them
            store.people.add_sample(name, np.ones(128, np.float32), SampleSettings(MODEL, "hog", 5, 1), name[0] * 64,
                                    f"{name}.jpg")
        assert apply_bundle(store, config, read_site(tmp_path), version(1, list(everyone), 0))[1] == ["before", "kept"]
        # The home's gallery emptied by an encoder switch (or a bug): nobody erased there.
        for number, names in ((2, []), (3, ["ada"]), (4, ["ada", "grace"])):
            with pytest.raises(Refused, match=f"would forget {4 - len(names)} of 4 people at once, and the home "
                                              "erased 0 since version 1"):
                apply_bundle(store, config, read_site(tmp_path), version(number, names, 0))
            assert store.people.names() == sorted(everyone) and read_site(tmp_path).version == 1
        # One person removed on the home: applied as always.
        assert apply_bundle(store, config, read_site(tmp_path), version(5, ["ada", "grace", "hedy"], 1))[1] == ["joan"]
        # Everyone the home erased, counted there: applied.
        assert apply_bundle(store, config, read_site(tmp_path), version(6, [], 4))[1] == ["ada", "grace", "hedy"]
        assert store.people.names() == []


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@needs_mosquitto
def test_a_message_too_large_is_never_held_and_the_home_puts_its_gallery_back(tmp_path):
    """20 MB of garbage, retained on the gallery topic, with mqtt.max_message_mb at 1: neither the
    home nor a member reads it (their peak memory does not grow by its size); the home puts its
    own gallery back over it, the member says once that it refused one."""
    broker = Broker(tmp_path)
    broker.start()
    home, member = Kiosk(tmp_path, "home", broker.port), Kiosk(tmp_path, "member", broker.port)
    for kiosk in (home, member):
        kiosk.config.write_text(kiosk.config.read_text().replace("  max_message_mb: 64", "  max_message_mb: 1"))
    try:
        join_all(home, member)
        with Store(home.data) as store:
            store.people.add_sample("ada", np.zeros(128, np.float32), SampleSettings(MODEL, "hog", 5, 1), "a" * 64,
                                    "ada.jpg")
        hall = empty_hall(tmp_path)
        home.run(hall)
        member.run(hall)
        wait_until(lambda: member.people() == ["ada"], what="the member taking the gallery")
        time.sleep(2)
        before = {kiosk.device: peak_rss_mb(kiosk.process.pid) for kiosk in (home, member)}
        publish(broker.port, TOPIC, b"\x00" * 20_000_000)
        wait_until(lambda: latest_is_kept(home, broker.port), timeout=60, what="the home putting its gallery back")
        wait_until(lambda: "over mqtt.max_message_mb" in member.log.read_text(), what="the member's refusal")
        time.sleep(3)
        for kiosk in (home, member):
            grown = peak_rss_mb(kiosk.process.pid) - before[kiosk.device]
            assert grown < 10, f"{kiosk.device}: peak memory grew {grown:.0f} MB"
        assert member.people() == ["ada"] and "putting version" in home.log.read_text()
        assert member.log.read_text().count("over mqtt.max_message_mb") == 1
    finally:
        member.stop()
        home.stop()
        broker.stop()
