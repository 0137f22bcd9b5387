"""Events to an MQTT broker, with Home Assistant discovery, and nothing lost while it is away.

Topics, under <mqtt.topic_prefix>/<device>:
- status          retained: online, or offline (sent on a clean stop, else by the broker as our will)
- event           one JSON message per event, QoS 1: id, time, kind, name, known, distance, camera
                  (and kiosk, site, gallery_version, signature: which kiosk of which site, with
                  which version of its gallery, signed by that kiosk; fleet.py, signing.py)
- last_seen       retained: the latest event of a face seen (Home Assistant's "last seen" sensor)
- person/<key>    retained: present, or away once mqtt.away_seconds have passed without them
Discovery (retained, under mqtt.discovery_prefix): one device per kiosk, a sensor for the last
person seen and a presence binary sensor per enrolled person; a person no longer enrolled gets an
empty config message, which removes their entity.

Events travel through the store's outbox: the event writer queues each event in the transaction
that logs it. The Publisher thread sends the outbox oldest first, one message at a time, and takes
an event off only once the broker has acknowledged it (PUBACK). A broker that is away, or a kiosk
restart, only delays events; one whose acknowledgement was lost goes out once more, so receivers
de-duplicate by event id.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from kiosk.config import Config, MqttConfig
from kiosk.errors import ConfigError, StoreError
from kiosk.names import UNKNOWN
from kiosk.outside.broker import BoundedClient, read_password
from kiosk.outside.signing import signed
from kiosk.store import Store, person_key
from kiosk.store.records import Event
from kiosk.store.site import kiosk_key, read_site
from kiosk.util import write_atomically

log = logging.getLogger("kiosk.mqtt")

PUBACK_TIMEOUT = 10.0  # seconds to wait for the broker to acknowledge one message
BATCH = 50  # outbox events read per pass
ANNOUNCED_FILE = "mqtt-announced.json"  # person keys with a discovery config on the broker
MODEL = "Face-recognition kiosk"
RECONNECT_MAX_SECONDS = 2


def device_name(settings: MqttConfig) -> str:
    """This kiosk's name in topics and in Home Assistant: mqtt.device, else the host name."""
    return settings.device or re.sub(r"[^A-Za-z0-9_.-]+", "_", socket.gethostname()) or "kiosk"


@dataclass(frozen=True)
class Topics:
    base: str  # <topic_prefix>/<device>
    node: str  # Home Assistant node id
    discovery: str

    @classmethod
    def of(cls, settings: MqttConfig, device: str) -> Topics:
        node = "kiosk_" + re.sub(r"[^A-Za-z0-9_-]+", "_", device)
        return cls(f"{settings.topic_prefix}/{device}", node, settings.discovery_prefix)

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def last_seen(self) -> str:
        return f"{self.base}/last_seen"

    def person(self, name: str) -> str:
        return self.person_state(person_key(name))

    def person_state(self, key: str) -> str:
        return f"{self.base}/person/{key}"

    def person_config(self, key: str) -> str:
        return f"{self.discovery}/binary_sensor/{self.node}/{key}/config"

    @property
    def last_seen_config(self) -> str:
        return f"{self.discovery}/sensor/{self.node}/last_seen/config"


def event_message(event: Event, device: str, site: str = "") -> dict:
    """The JSON body of one event (and of the retained last_seen topic): which kiosk decided it,
    of which site, with which version of the site's gallery."""
    return {"id": event.id, "time": datetime.fromtimestamp(event.at, UTC).isoformat(timespec="milliseconds"),
            "at": event.at, "kind": event.kind, "name": event.name, "known": event.name != UNKNOWN,
            "distance": None if event.distance is None else round(event.distance, 4), "camera": device,
            "kiosk": device, "site": site or None, "gallery_version": event.gallery_version,
            "liveness": event.liveness}


def discovery_messages(topics: Topics, device: str, people: Iterable[str]) -> dict[str, dict]:
    """Home Assistant discovery configs by topic: the last-seen sensor and one presence sensor per person."""
    common = {"availability_topic": topics.status, "payload_available": "online",
              "payload_not_available": "offline",
              "device": {"identifiers": [topics.node], "name": f"Kiosk {device}", "manufacturer": "kiosk",
                         "model": MODEL}}
    messages = {topics.last_seen_config: {
        **common, "name": "Last seen", "unique_id": f"{topics.node}_last_seen", "state_topic": topics.last_seen,
        "value_template": "{{ value_json.name }}", "json_attributes_topic": topics.last_seen,
        "icon": "mdi:account-eye"}}
    for name in sorted(people):
        key = person_key(name)
        messages[topics.person_config(key)] = {
            **common, "name": name.replace("_", " "), "unique_id": f"{topics.node}_{key}",
            "state_topic": topics.person(name), "payload_on": "present", "payload_off": "away",
            "device_class": "presence"}
    return messages


def make_client(settings: MqttConfig, topics: Topics, device: str, *, will: bool = True,
                clean_session: bool = True) -> BoundedClient:
    """A paho client set up from the mqtt section (bounded: broker.py), with the offline last will; not yet connected.
    CLEAN_SESSION false: the broker keeps the client's subscriptions and queues for its next visit."""
    client = BoundedClient(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id or f"kiosk-{device}",
                           protocol=mqtt.MQTTv311, clean_session=clean_session,
                           max_bytes=int(settings.max_message_mb * 1e6))
    if will:
        client.will_set(topics.status, "offline", qos=1, retain=True)
    if settings.username:
        client.username_pw_set(settings.username, read_password(settings.password_file)
                               if settings.password_file else None)
    if settings.tls:
        try:
            client.tls_set(ca_certs=settings.ca_file or None)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"mqtt.ca_file: cannot use {settings.ca_file or 'the system CA bundle'}: {exc}") from None
    # Tries again after 1 s, then every RECONNECT_MAX_SECONDS: a broker that restarts again and
    # again is still caught in the second or two it is up, and a try costs one TCP handshake.
    client.reconnect_delay_set(1, RECONNECT_MAX_SECONDS)
    return client


class NotDelivered(Exception):
    """The broker did not acknowledge a message (gone away meanwhile); it is sent again later."""


@dataclass(frozen=True)
class PublisherState:
    """For status.json and `kiosk status`."""
    connected: bool
    waiting: int  # events in the outbox
    dropped: int  # events dropped unsent because the outbox was full
    error: str = ""


class Publisher:
    """Sends the outbox, the availability, discovery and presence to the broker from its own thread."""

    def __init__(self, config: Config, people: Iterable[str]):
        self.settings = config.mqtt
        self.data_dir = config.data_path()
        self.device = device_name(self.settings)
        self.topics = Topics.of(self.settings, self.device)
        site = read_site(self.data_dir)
        self.site = site.name if site is not None else ""
        self.key = kiosk_key(self.data_dir) if site is not None else None  # signs its events (signing.py)
        self.client = make_client(self.settings, self.topics, self.device)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self._said = ""  # the connection state last logged: each change is one line, never a flood
        self._dropped_said = 0
        self._lock = threading.Lock()
        self._people = set(people)
        self._announce = False  # set on every connect: availability, discovery and presence again
        self._present: dict[str, bool] = {}
        self._last_seen: dict[str, float] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._state = PublisherState(False, 0, 0)
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)

    # --- called from the daemon --------------------------------------------------------------

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive)
        self.client.loop_start()
        self._thread.start()

    def wake(self) -> None:
        """An event joined the outbox."""
        self._wake.set()

    def set_people(self, names: Iterable[str]) -> None:
        """The enrolled people changed: their discovery configs follow."""
        with self._lock:
            self._people = set(names)
            self._announce = True
        self._wake.set()

    def state(self) -> PublisherState:
        with self._lock:
            return self._state

    def stop(self, timeout: float = 2.0) -> None:
        """Say offline (a clean stop sends no last will), then disconnect."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self.client.is_connected():
            try:
                self._publish(self.topics.status, "offline", retain=True, timeout=timeout)
            except NotDelivered:
                pass
        self.client.disconnect()
        self.client.loop_stop()

    # --- paho's network thread ---------------------------------------------------------------

    def _say(self, state: str, level: int, message: str) -> None:
        """Log MESSAGE when the connection's state differs from the one last logged."""
        if state != self._said:
            self._said = state
            log.log(level, "MQTT broker %s:%d %s", self.settings.host, self.settings.port, message)

    def _on_connect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self._set_state(connected=False, error=f"broker refused: {reason_code}")
            self._say(f"refused {reason_code}", logging.WARNING, f"refused the connection: {reason_code}")
            return
        self._say("connected", logging.INFO, "connected" if not self._said else "connected again")
        with self._lock:
            self._announce = True
        self._set_state(connected=True, error="")
        self._wake.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if not self._stopping:
            self._say("lost", logging.WARNING, f"connection lost ({reason_code}); retrying")
        self._set_state(connected=False, error="" if self._stopping else f"connection lost: {reason_code}")

    def _on_connect_fail(self, _client, _userdata) -> None:
        """No TCP connection (the broker down, a wrong host): paho tries again by itself."""
        self._set_state(connected=False, error="broker not reachable")
        self._say("unreachable", logging.WARNING,
                  f"not reachable; trying again every {RECONNECT_MAX_SECONDS} s (events wait in the outbox)")

    def _set_state(self, **changes) -> None:
        with self._lock:
            self._state = dataclasses.replace(self._state, **changes)

    # --- the publisher thread ----------------------------------------------------------------

    def _run(self) -> None:
        with Store(self.data_dir) as store:
            self._last_seen = store.events.last_seen()
            while not self._stopping:
                self._wake.wait(1.0)
                self._wake.clear()
                try:
                    self._pass(store)
                except NotDelivered:
                    pass  # the connection went; everything unsent goes after the reconnect
                except Exception:  # the store busy, a bad row: log it and go on next pass
                    log.exception("MQTT publishing failed")

    def _pass(self, store: Store) -> None:
        waiting, dropped = store.events.outbox_state()
        self._set_state(waiting=waiting, dropped=dropped)
        if dropped > self._dropped_said:
            log.warning("MQTT outbox full (mqtt.outbox_limit): %d event(s) dropped unsent so far, %d waiting",
                        dropped, waiting)
            self._dropped_said = dropped
        if not self.client.is_connected():
            return
        with self._lock:
            announce, self._announce = self._announce, False
            people = set(self._people)
        if announce:
            try:
                self._announce_all(people)
            except NotDelivered:
                with self._lock:
                    self._announce = True
                raise
        while not self._stopping and (events := store.events.outbox(BATCH)):
            for event in events:
                self._send_event(store, event)
            self._set_state(waiting=store.events.outbox_state()[0])
        self._update_presence(people, force=False)

    def _announce_all(self, people: set[str]) -> None:
        self._publish(self.topics.status, "online", retain=True)
        announced_path = self.data_dir / ANNOUNCED_FILE
        if self.settings.discovery:
            for topic, config in discovery_messages(self.topics, self.device, people).items():
                self._publish(topic, json.dumps(config), retain=True)
            keys = {person_key(name) for name in people}
            for gone in sorted(self._announced(announced_path) - keys):
                self._publish(self.topics.person_config(gone), "", retain=True)  # removes the entity
                self._publish(self.topics.person_state(gone), "", retain=True)
            write_atomically(announced_path, json.dumps(sorted(keys)).encode())
        self._present = {}
        self._update_presence(people, force=True)

    @staticmethod
    def _announced(path: Path) -> set[str]:
        try:
            return set(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def _send_event(self, store: Store, event: Event) -> None:
        message = signed(event_message(event, self.device, self.site), self.key)
        face = self._face_jpeg(store, event) if self.settings.publish_faces and event.has_face else None
        self._publish(self.topics.event, json.dumps(message if face is None else signed(
            {**message, "face_jpeg": base64.b64encode(face).decode("ascii")}, self.key)))
        store.events.outbox_sent(event.id)
        if event.kind == "seen":
            self._publish(self.topics.last_seen, json.dumps(message), retain=True)
            if event.name != UNKNOWN:
                self._last_seen[event.name] = max(event.at, self._last_seen.get(event.name, 0.0))

    @staticmethod
    def _face_jpeg(store: Store, event: Event) -> bytes | None:
        kept = store.events.face(event.id)
        try:
            return store.event_face_path(kept.crop_file).read_bytes() if kept else None
        except (OSError, StoreError):  # a crop gone, or a stored name that is not the kiosk's
            return None

    def _update_presence(self, people: set[str], force: bool) -> None:
        now = time.time()
        for name in sorted(people):
            present = now - self._last_seen.get(name, float("-inf")) < self.settings.away_seconds
            if force or self._present.get(name) != present:
                self._publish(self.topics.person(name), "present" if present else "away", retain=True)
                self._present[name] = present

    def _publish(self, topic: str, payload: str, retain: bool = False, timeout: float = PUBACK_TIMEOUT) -> None:
        publish_acknowledged(self.client, topic, payload, retain=retain, timeout=timeout)


def publish_acknowledged(client: mqtt.Client, topic: str, payload: str | bytes, *, retain: bool = False,
                         timeout: float = PUBACK_TIMEOUT) -> None:
    """Send one QoS 1 message and wait for the broker's acknowledgement; NotDelivered without it."""
    info = client.publish(topic, payload, qos=1, retain=retain)
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as exc:
        raise NotDelivered(str(exc)) from None
    if not info.is_published():
        raise NotDelivered(f"no acknowledgement for {topic} within {timeout:.0f} s")


def check_broker(config: Config, timeout: float = 5.0) -> str:
    """Connect to the configured broker once; returns "" or what went wrong (for `kiosk doctor`)."""
    settings = config.mqtt
    device = device_name(settings)
    client = make_client(dataclasses.replace(settings, client_id=f"{settings.client_id or 'kiosk-' + device}-doctor"),
                         Topics.of(settings, device), device, will=False)
    result: dict[str, str] = {}
    connected = threading.Event()

    def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
        result["error"] = f"broker refused: {reason_code}" if reason_code.is_failure else ""
        connected.set()
    client.on_connect = on_connect
    try:
        client.connect(settings.host, settings.port, keepalive=10)
    except (OSError, ValueError) as exc:
        return f"cannot reach {settings.host}:{settings.port}: {exc}"
    client.loop_start()
    try:
        if not connected.wait(timeout):
            return f"no answer from {settings.host}:{settings.port} within {timeout:.0f} s"
        return result["error"]
    finally:
        client.disconnect()
        client.loop_stop()
