"""Several kiosks as one site, through the MQTT broker they already use (kiosk fleet, store/site.py).

Topics, under <mqtt.topic_prefix>/site/<site>:
- gallery            retained, QoS 1: the newest gallery version, signed by the home (bundle.py)
- applied/<device>   retained: the version each kiosk runs on and since when (`kiosk fleet status`)

In `kiosk run`, a Fleet thread beside the event publisher:
- on the home, every change to the gallery (enroll, a stick, capture, the web page, retrain, a
  correction, a removal) becomes the next version, sealed and published; the broker keeps the
  newest, so a kiosk that was off for a week gets it on connecting;
- on a member, each version received is opened (signature, site, wholeness), must be newer than
  the one applied, and replaces the gallery in one transaction (store.site_gallery.take, which
  also renames whom the home renamed and forgets the people no longer in it); the daemon then
  reloads as after any enrollment.
  A refused version is logged once. Without the broker the kiosk keeps its last gallery;
- the home listens to the gallery topic as well: any message there that is not byte for byte its
  latest version (garbage, another key's, or one of its own older versions replayed to bring
  back a person it erased) is answered by publishing its latest again, at most every
  ANSWER_SECONDS however many arrive, and the last one is always answered; so the broker keeps
  the real gallery for the members that were off and the kiosks that join later.
Nothing here subscribes to events: a replayed event message reaches no door.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from kiosk.config import Config, MqttConfig
from kiosk.errors import KioskError, Refused
from kiosk.outside.bundle import Bundle, open_bundle, seal
from kiosk.outside.mqtt import NotDelivered, Topics, device_name, make_client, publish_acknowledged
from kiosk.outside.signing import signed
from kiosk.store import SampleSettings, Store
from kiosk.store.site import Site, kiosk_key, read_signing_key, read_site, updated
from kiosk.vision.encoders import encoder_class, model_of

log = logging.getLogger("kiosk.fleet")

PUBLISH_TIMEOUT = 30.0  # seconds for the broker to take a gallery version (several MB for a big site)
ANSWER_SECONDS = 10.0  # the home answers a foreign gallery message at most this often


def site_topic(settings: MqttConfig, site: str) -> str:
    return f"{settings.topic_prefix}/site/{site}"


def gallery_topic(settings: MqttConfig, site: str) -> str:
    return f"{site_topic(settings, site)}/gallery"


def applied_topic(settings: MqttConfig, site: str, device: str) -> str:
    return f"{site_topic(settings, site)}/applied/{device}"


def build_bundle(store: Store, config: Config, site: Site, version: int) -> Bundle:
    """The home's gallery as version VERSION."""
    model = model_of(config.recognition.encoder)
    if waiting := store.site_gallery.without(model):
        raise Refused(f"the gallery is not whole: {len(waiting)} people ({', '.join(waiting[:3])}"
                      f"{', ...' if len(waiting) > 3 else ''}) have no samples of recognition.encoder "
                      f"{config.recognition.encoder} yet; versions wait until `kiosk retrain` is done")
    people, ids = store.site_gallery.outgoing(model)
    return Bundle(site.name, version, site.home, time.time(), model, people, ids, store.site_gallery.erased())


def digest(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def publish_version(store: Store, config: Config, site: Site,
                    client: mqtt.Client) -> tuple[Bundle, bytes, Site]:
    """On the home: seal the gallery as the next version, have the broker keep it, and record it;
    returns the bundle, the message and the site record as it is now."""
    generation = store.people.generation()
    bundle = build_bundle(store, config, site, site.version + 1)
    message = seal(bundle, read_signing_key(store.data_dir))
    publish_acknowledged(client, gallery_topic(config.mqtt, site.name), message, retain=True,
                         timeout=PUBLISH_TIMEOUT)
    store.set_site_version(bundle.version, generation)
    site = updated(store.data_dir, version=bundle.version, made_at=bundle.made_at, applied_at=time.time(),
                   digest=digest(message))
    return bundle, message, site


class AlreadyApplied(KioskError):
    """The version this kiosk runs on already (the broker hands the retained one on every connect)."""


def apply_bundle(store: Store, config: Config, site: Site,
                 message: bytes) -> tuple[Bundle, list[str], dict[str, str]]:
    """Check MESSAGE and make it this member's gallery; (the bundle, who was forgotten, old name
    -> new name of who was renamed on the home)."""
    encoder = encoder_class(config.recognition.encoder)
    bundle = open_bundle(message, site.name, site.public_key, encoder.dimensions)
    if bundle.encoder != encoder.model:
        raise KioskError(f"version {bundle.version} was made by {bundle.encoder}, this kiosk's recognition.encoder "
                         f"is {config.recognition.encoder}; set the home's encoder here too")
    if bundle.version == site.version:
        raise AlreadyApplied(f"version {bundle.version} is applied already")
    if bundle.version < site.version:
        raise KioskError(f"version {bundle.version} is older than version {site.version}, applied already")
    settings = SampleSettings(bundle.encoder, "site", 5, 1)

    def may_forget(gone: list[str], present: int) -> None:
        """Many people at once (everyone, or half and at least two) only when the home erased as
        many; the first version after joining replaces whoever was here (fleet join asked)."""
        if site.version == 0:
            return
        erased = None if bundle.erased is None or site.erased is None else bundle.erased - site.erased
        many = len(gone) == present or (len(gone) >= 2 and 2 * len(gone) >= present)
        if many and (erased is None or len(gone) > erased):
            raise Refused(f"version {bundle.version} would forget {len(gone)} of {present} people at once, and the "
                          f"home erased {erased if erased is not None else 'an unknown number'} since version "
                          f"{site.version}: kept the gallery as it is (on the home: kiosk status)")
    forgotten, renamed = store.site_gallery.take(bundle.people, bundle.ids, settings,
                                                 f"site/{bundle.home}/v{bundle.version}", bundle.version, may_forget)
    updated(store.data_dir, version=bundle.version, made_at=bundle.made_at, applied_at=time.time(),
            erased=bundle.erased)
    return bundle, forgotten, renamed


@dataclass(frozen=True)
class FleetState:
    """For status.json and `kiosk status`."""
    site: str
    role: str
    version: int
    made_at: float
    connected: bool
    problem: str = ""  # the last refused version's reason


class Fleet:
    """The site's gallery in `kiosk run`: published (home) or applied (member), from its own thread."""

    def __init__(self, config: Config, site: Site):
        self.config, self.site = config, site
        self.settings = config.mqtt
        self.device = device_name(self.settings)
        self.data_dir = config.data_path()
        topics = Topics.of(self.settings, self.device)
        self.client = make_client(dataclasses.replace(self.settings, client_id=f"kiosk-{self.device}-fleet"),
                                  topics, self.device, will=False)
        self.gallery_topic = gallery_topic(self.settings, site.name)
        self.client.on_connect = self._on_connect
        self.client.on_oversize = self._on_oversize  # a message over mqtt.max_message_mb, refused unread
        self._oversize = 0
        self.client.on_message = self._on_message
        self.subscriptions: list[str] = []
        self._received: bytes | None = None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._stopping = False
        self._connected = False
        self._refused: set[str] = set()  # reasons logged already: each refusal is one line
        self._report_due = True
        self._published_generation: int | None = None
        self._force = False  # publish a new version even with the gallery unchanged
        self._latest: bytes | None = None  # on the home: the message of its latest version, once sealed here
        self._foreign = 0  # messages heard on the gallery topic that are not the latest, not yet answered
        self._answer_after = 0.0
        self.problem = ""
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def start(self) -> None:
        self.client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(5)
        self.client.disconnect()
        self.client.loop_stop()

    def state(self) -> FleetState:
        site = self.site  # as the fleet thread last read it (another command may change the file)
        return FleetState(site.name, site.role, site.version, site.made_at, self._connected, self.problem)

    def changed(self) -> None:
        """The daemon saw the gallery change (on the home: a new version is due)."""
        self._wake.set()

    # --- paho's network thread ---------------------------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            return
        self._connected = True
        self._report_due = True
        # The home listens too: a message that is not its latest is answered (see the module
        # docstring). After one too large to read it first puts its latest back, then listens,
        # or the broker would hand it the same message again at once.
        self.subscriptions = [self.gallery_topic]
        if not (self.site.is_home and (self._foreign or self._oversize)):
            client.subscribe(self.gallery_topic, qos=1)
        self._wake.set()

    def _on_oversize(self, size: int) -> None:
        self._oversize = size
        self._wake.set()

    def _on_message(self, _client, _userdata, message) -> None:
        if message.topic == self.gallery_topic:
            with self._lock:
                self._received = bytes(message.payload)
            self._wake.set()

    # --- the fleet thread --------------------------------------------------------------------

    def _run(self) -> None:
        with Store(self.data_dir) as store:
            while not self._stopping:
                self._wake.wait(1.0)
                self._wake.clear()
                self._connected = self.client.is_connected()
                try:
                    self.site = read_site(self.data_dir) or self.site
                    if self.site.is_home:
                        self._publish_if_changed(store)
                    else:
                        self._apply_received(store)
                    if self._report_due and self._connected:
                        self._report()
                except NotDelivered:
                    pass  # the broker went away; tried again once it is back
                except Exception:  # a busy store: the next pass tries again
                    log.exception("site gallery sync failed")

    def _publish_if_changed(self, store: Store) -> None:
        generation = store.people.generation()
        site = self.site
        with self._lock:
            heard, self._received = self._received, None
        if heard is not None and digest(heard) != site.digest:
            self._foreign += 1
        if self._oversize:
            self._foreign, self._oversize = self._foreign + 1, 0
        if self._foreign and self._connected and time.monotonic() >= self._answer_after:
            self._answer_foreign(site)
        if (generation == self._published_generation and not self._force) or not self._connected:
            return
        if (self._published_generation is None and not self._force and site.version
                and store.site_generation() == generation):
            self._published_generation = generation  # published before this start, unchanged since
            return
        try:
            bundle, self._latest, self.site = publish_version(store, self.config, site, self.client)
        except Refused as exc:  # not whole (an encoder switch half retrained): held, said once
            if str(exc) not in self._refused:
                self._refused.add(str(exc))
                log.warning("site %s: no new version: %s", site.name, exc)
            self.problem = f"no new version: {exc}"
            self._published_generation = generation
            return
        self.problem = ""
        self._published_generation = generation
        self._force = False
        self._report_due = True
        log.info("site %s: gallery version %d published (%d people, %d samples, %d bytes)", site.name,
                 bundle.version, len(bundle.people), bundle.samples, len(self._latest))

    def _answer_foreign(self, site: Site) -> None:
        """Put the latest version back over what the broker was handed instead (see the module
        docstring): the same message when this run sealed it, else a new version of the same gallery."""
        log.warning("site %s: %d gallery message(s) on the broker that are not version %d as this home sealed "
                    "it (a replay, another key's, or garbage); putting version %d back", site.name, self._foreign,
                    site.version, site.version)
        self._foreign = 0
        self._answer_after = time.monotonic() + ANSWER_SECONDS
        if self._latest is not None and digest(self._latest) == site.digest:
            publish_acknowledged(self.client, self.gallery_topic, self._latest, retain=True, timeout=PUBLISH_TIMEOUT)
        else:  # sealed before this start: the message itself is not kept, so the gallery goes out anew
            self._published_generation = None
            self._force = True
        self.client.subscribe(self.gallery_topic, qos=1)  # again, if an oversized message held it back

    def _apply_received(self, store: Store) -> None:
        if self._oversize:
            self._refuse(f"a message of {self._oversize / 1e6:.0f} MB, over mqtt.max_message_mb "
                         f"({self.settings.max_message_mb:g}), not read", self.site)
            self._oversize = 0
        with self._lock:
            message, self._received = self._received, None
        if not message:
            return
        site = self.site
        try:
            bundle, forgotten, renamed = apply_bundle(store, self.config, site, message)
        except AlreadyApplied:
            return
        except KioskError as exc:
            self._refuse(str(exc), site)
            return
        self.problem = ""
        self._report_due = True
        self.site = read_site(self.data_dir) or site
        gone = f"; forgotten: {', '.join(forgotten)}" if forgotten else ""
        gone += "".join(f"; renamed: {old} -> {new}" for old, new in renamed.items())
        log.info("site %s: gallery version %d from %s applied (%d people, %d samples)%s", site.name, bundle.version,
                 bundle.home, len(bundle.people), bundle.samples, gone)

    def _refuse(self, reason: str, site: Site) -> None:
        if reason not in self._refused:  # each refusal is one line, however often it comes
            self._refused.add(reason)
            log.warning("site %s: gallery refused: %s", site.name, reason)
        self.problem = f"refused a gallery: {reason}"

    def _report(self) -> None:
        site = self.site
        publish_acknowledged(self.client, applied_topic(self.settings, site.name, self.device), json.dumps(signed(
            {"kiosk": self.device, "role": site.role, "version": site.version, "made_at": site.made_at,
             "applied_at": site.applied_at}, kiosk_key(self.data_dir))), retain=True)
        self._report_due = False


def collect(config: Config, topic: str, *, client_id: str, clean: bool = True, quiet_seconds: float = 1.0,
            timeout: float = 10.0) -> list[mqtt.MQTTMessage]:
    """The messages on TOPIC (a filter) the broker hands a short-lived client: the retained ones,
    or with CLEAN false those queued for CLIENT_ID's session; until QUIET_SECONDS pass without one."""
    settings = config.mqtt
    device = device_name(settings)
    client = make_client(dataclasses.replace(settings, client_id=client_id), Topics.of(settings, device), device,
                         will=False, clean_session=clean)
    received: list[mqtt.MQTTMessage] = []
    last = [time.monotonic()]
    subscribed = threading.Event()

    def on_connect(client, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure:
            client.subscribe(topic, qos=1)

    def on_subscribe(*_args) -> None:
        last[0] = time.monotonic()
        subscribed.set()

    def on_message(_client, _userdata, message) -> None:
        received.append(message)
        last[0] = time.monotonic()
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(settings.host, settings.port, keepalive=10)
    except (OSError, ValueError) as exc:
        raise KioskError(f"mqtt: cannot reach the broker {settings.host}:{settings.port}: {exc}") from None
    client.loop_start()
    try:
        if not subscribed.wait(timeout):
            raise KioskError(f"mqtt: no answer from the broker {settings.host}:{settings.port}")
        deadline = time.monotonic() + timeout
        while time.monotonic() - last[0] < quiet_seconds and time.monotonic() < deadline:
            time.sleep(0.05)
        return received
    finally:
        client.disconnect()
        client.loop_stop()
