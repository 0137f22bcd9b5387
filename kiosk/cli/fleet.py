"""Handlers for several kiosks as one site: fleet init, join, status, publish, and events --site."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys

from kiosk.cli.common import UsageError, confirm, open_store
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.outside.bundle import new_signing_key, public_key_of
from kiosk.outside.fleet import applied_topic, collect, publish_version, site_topic
from kiosk.outside.mqtt import NotDelivered, Topics, device_name, make_client
from kiosk.outside.reports import DEVICE, read_event, read_report
from kiosk.store.site import (
    HOME,
    KIOSK_KEY_FILE,
    MEMBER,
    Site,
    kiosk_key,
    read_site,
    updated,
    write_signing_key,
    write_site,
)
from kiosk.util import format_time

SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


def needs_broker(config: Config) -> None:
    if not (config.mqtt.enabled and config.mqtt.host):
        raise UsageError("a site talks through the MQTT broker: set mqtt.enabled and mqtt.host first "
                         f"(in {config.source_path or 'config.yaml'})")


def site_events_client(config: Config) -> str:
    """The home's session for the site's events: the broker queues them for it between visits."""
    return f"kiosk-{device_name(config.mqtt)}-site"


def cmd_fleet_init(args: argparse.Namespace, config: Config) -> int:
    needs_broker(config)
    if not SITE_NAME.fullmatch(args.site):
        raise UsageError(f"--site {args.site!r}: letters, digits, '.', '_' and '-' only, up to 64")
    data_dir = config.data_path()
    data_dir.mkdir(parents=True, exist_ok=True)
    if (site := read_site(data_dir)) is not None:
        raise UsageError(f"this kiosk is already the {site.role} of site {site.name}")
    secret, public = new_signing_key()
    write_signing_key(data_dir, secret)
    home = device_name(config.mqtt)
    write_site(data_dir, Site(args.site, HOME, public, home, kiosks={home: own_kiosk_key(data_dir)}))
    try:  # the session that keeps the other kiosks' events for `kiosk events --site`
        collect(config, f"{config.mqtt.topic_prefix}/+/event", client_id=site_events_client(config), clean=False,
                quiet_seconds=0.2, timeout=5)
        note = ""
    except KioskError as exc:
        note = f" ({exc}; the site's events are kept from the first `kiosk events --site` on)"
    print(f"this kiosk ({home}) is the home of site {args.site}: its gallery goes to the others with every change"
          f"{note}")
    print("on each other kiosk, with its mqtt: section pointing at the same broker, run:")
    print(f"  kiosk fleet join --site {args.site} --home {home} --key {public}")
    return 0


def cmd_fleet_join(args: argparse.Namespace, config: Config) -> int:
    needs_broker(config)
    if not SITE_NAME.fullmatch(args.site) or not PUBLIC_KEY.fullmatch(args.key):
        raise UsageError("--site or --key is not as `kiosk fleet init` printed it (the key: 64 hex digits)")
    data_dir = config.data_path()
    data_dir.mkdir(parents=True, exist_ok=True)
    if (site := read_site(data_dir)) is not None:
        raise UsageError(f"this kiosk is already the {site.role} of site {site.name}")
    with open_store(config, create=True) as store:
        people = len(store.people.names())
    if people and not confirm(f"The {people} people enrolled here will be replaced by the home's gallery. Join?",
                              f"{people} people are enrolled here and would be replaced by the home's gallery: "
                              "add --yes to join anyway", yes=args.yes):
        print("not joined")
        return 0
    write_site(data_dir, Site(args.site, MEMBER, args.key, args.home))
    device = device_name(config.mqtt)
    print(f"this kiosk ({device}) is a member of site {args.site}: the running kiosk takes "
          f"the gallery from {args.home} through {config.mqtt.host}:{config.mqtt.port}")
    print(f"on the home ({args.home}), so that it trusts this kiosk's reports and events, run:")
    print(f"  kiosk fleet admit {device} --key {own_kiosk_key(data_dir)}")
    return 0


def own_kiosk_key(data_dir) -> str:
    """This kiosk's public key, its key made first when it has none (signing.py)."""
    secret = kiosk_key(data_dir)
    if secret is None:
        secret, _ = new_signing_key()
        write_signing_key(data_dir, secret, KIOSK_KEY_FILE)
    return public_key_of(secret)


def cmd_fleet_admit(args: argparse.Namespace, config: Config) -> int:
    """On the home: trust the reports and events signed by KIOSK's key (the line fleet join printed)."""
    site = read_site(config.data_path())
    if site is None or not site.is_home:
        raise UsageError("only a site's home admits kiosks (kiosk fleet init)")
    if not DEVICE.fullmatch(args.device) or not PUBLIC_KEY.fullmatch(args.key):
        raise UsageError("the kiosk's name or --key is not as `kiosk fleet join` printed it (the key: 64 hex digits)")
    before = site.kiosks.get(args.device)
    updated(config.data_path(), kiosks={**site.kiosks, args.device: args.key})
    change = "" if before in (None, args.key) else " (its earlier key is no longer trusted)"
    print(f"site {site.name}: {args.device}'s reports and events are trusted when signed by its key{change}")
    return 0


def cmd_fleet_publish(args: argparse.Namespace, config: Config) -> int:
    """Publish the home's gallery now (the running kiosk does so by itself after every change)."""
    needs_broker(config)
    data_dir = config.data_path()
    site = read_site(data_dir)
    if site is None or not site.is_home:
        raise UsageError("only a site's home publishes its gallery (kiosk fleet init)")
    device = device_name(config.mqtt)
    client = make_client(dataclasses.replace(config.mqtt, client_id=f"kiosk-{device}-publish"),
                         Topics.of(config.mqtt, device), device, will=False)
    try:
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=30)
    except OSError as exc:
        raise UsageError(f"mqtt: cannot reach the broker {config.mqtt.host}:{config.mqtt.port}: {exc}") from None
    client.loop_start()
    try:
        with open_store(config) as store:
            bundle, message, _ = publish_version(store, config, site, client)
    except NotDelivered as exc:
        raise UsageError(f"mqtt: the broker did not take the gallery ({exc})") from None
    finally:
        client.disconnect()
        client.loop_stop()
    print(f"site {site.name}: gallery version {bundle.version} published ({len(bundle.people)} people, "
          f"{bundle.samples} samples, {len(message)} bytes)")
    return 0


def cmd_fleet_status(args: argparse.Namespace, config: Config) -> int:
    needs_broker(config)
    site = read_site(config.data_path())
    if site is None:
        raise UsageError("this kiosk belongs to no site (kiosk fleet init, or kiosk fleet join)")
    if not site.is_home:
        raise UsageError(f"fleet status checks each kiosk's signed report against the keys admitted on the "
                         f"home: run it on {site.home}")
    messages = collect(config, applied_topic(config.mqtt, site.name, "+"),
                       client_id=f"kiosk-{device_name(config.mqtt)}-fleet-status")
    kiosks = []
    for message in messages:
        try:
            kiosks.append(read_report(message.topic, message.payload, site.kiosks))
        except KioskError as exc:
            print(f"kiosk: a report left out: {exc}", file=sys.stderr)
    newest = site.version  # the home's own: a report claiming a later one is not believed
    rows = [{**k, "current": k["version"] == newest} for k in kiosks]
    rows.sort(key=lambda row: (row["role"] != HOME, row["kiosk"]))
    if args.json:
        print(json.dumps({"site": site.name, "newest": newest, "kiosks": rows}))
        return 0
    print(f"site {site.name} ({site_topic(config.mqtt, site.name)}): newest gallery version {newest}")
    for row in rows:
        state = "current" if row["current"] else f"behind ({newest - row['version']} version(s))" \
            if row["version"] < newest else "claims a version the home has not made"
        print(f"  {row['kiosk']:<20} {row['role']:<7} version {row['version']:<5} applied "
              f"{format_time(row['applied_at'])}  {state}")
    if not rows:
        print("  no kiosk has reported yet (each reports once its `kiosk run` reaches the broker)")
    return 0


def site_log(config: Config) -> list[dict]:
    """`kiosk events --site`: the events the broker kept for the home, added to its site log."""
    needs_broker(config)
    site = read_site(config.data_path())
    if site is None or not site.is_home:
        raise UsageError("--site reads the site's events on its home (kiosk fleet init)")
    messages = collect(config, f"{config.mqtt.topic_prefix}/+/event", client_id=site_events_client(config),
                       clean=False)
    events, left_out = [], []
    for message in messages:
        try:
            if (event := read_event(message.topic, message.payload, site.name, site.kiosks)) is not None:
                events.append(event)
        except KioskError as exc:  # one bad message costs nothing else: the good ones are kept
            left_out.append(str(exc))
    for reason in sorted(set(left_out)):
        print(f"kiosk: an event message left out ({left_out.count(reason)}x): {reason}", file=sys.stderr)
    with open_store(config, create=True) as store:
        store.events.add_site_events(events)
        return store.events.site_events()
