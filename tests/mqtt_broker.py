"""A real MQTT broker on 127.0.0.1 for the tests, and a subscriber that keeps everything it hears.

The broker is Debian's mosquitto when installed (keeping sessions and retained messages across a
restart, as a broker in a building does), else amqtt from the dev dependencies in a process of its
own. Either can be stopped and started again on the same port.

Run as a script, this module is the amqtt broker: `python mqtt_broker.py PORT`.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# KIOSK_TEST_BROKER=amqtt uses amqtt even where mosquitto is installed.
MOSQUITTO = None if os.environ.get("KIOSK_TEST_BROKER") == "amqtt" else shutil.which("mosquitto") or next(
    (path for path in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(path).exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.kind = "mosquitto" if MOSQUITTO else "amqtt"
        # mosquitto keeps a persistent session's subscriptions and queued messages across its
        # restart; amqtt forgets them, so a subscriber hears only what is sent after it subscribes again.
        self.keeps_sessions = self.kind == "mosquitto"
        self.process: subprocess.Popen | None = None

    def start(self, extra: str = "") -> None:
        """EXTRA: more lines for mosquitto's config (a bridge to another broker)."""
        log = open(self.workdir / f"{self.kind}.log", "ab")
        if MOSQUITTO:
            config = self.workdir / "mosquitto.conf"
            config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                              f"persistence_location {self.workdir}/\nuser {getpass.getuser()}\n{extra}")
            command = [MOSQUITTO, "-c", str(config)]
        else:
            command = [sys.executable, __file__, str(self.port)]
        self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the {self.kind} broker did not start: {(self.workdir / f'{self.kind}.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass(frozen=True)
class Message:
    at: float  # time.time() when it arrived
    topic: str
    payload: str
    retain: bool

    def json(self):
        return json.loads(self.payload)


class Listener:
    """Subscribed to every topic with QoS 1 and a persistent session (which a broker that keeps
    sessions holds across its restart); reconnects within half a second and subscribes again.
    `subscribed_at` holds when each subscription was acknowledged."""

    def __init__(self, port: int, client_id: str = "test-listener"):
        import paho.mqtt.client as mqtt
        self.messages: list[Message] = []
        self.subscribed_at: list[float] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda client, *_: client.subscribe("#", qos=1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed_at.append(time.time())
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.messages.append(Message(time.time(), message.topic, message.payload.decode(), bool(message.retain)))

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, condition, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _serve_amqtt(port: int) -> None:
    import asyncio

    from amqtt.broker import Broker as AmqttBroker

    async def serve() -> None:
        broker = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                              "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                                          {"allow_anonymous": True}}})
        await broker.start()
        await asyncio.Event().wait()
    asyncio.run(serve())


if __name__ == "__main__":
    _serve_amqtt(int(sys.argv[1]))
