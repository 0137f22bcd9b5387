"""The systemd drop-ins that let the kiosk reach the broker and the GPIO chips, and no more."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import subprocess
import time

import pytest
from mqtt_broker import Broker, Listener
from PIL import Image
from test_systemd import SYSTEMD_ANALYZE, copies_for_verify, needs_systemd_analyze

from kiosk.admin.sandbox import dropins, write_dropins
from kiosk.config import Config, DoorConfig, MqttConfig
from kiosk.outside.mqtt import Publisher
from kiosk.store import Store

from conftest import require_data

DEVICE = "hall"
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


@pytest.mark.slow
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
