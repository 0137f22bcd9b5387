"""What other kiosks put on the site's broker, as the home reads it: `applied/<kiosk>` reports
(`kiosk fleet status`) and event messages (`kiosk events --site`). Each is checked into plain
data or refused with one line, so one bad message costs nothing else, and no text that reaches
the admin's terminal can act on it (util.printable); and each must be signed by the key of the
kiosk it names, as admitted on the home (signing.py)."""

from __future__ import annotations

import json
import re

from kiosk.errors import KioskError
from kiosk.outside.bundle import MAX_VERSION
from kiosk.outside.signing import signed_by
from kiosk.util import finite, printable, whole_number

DEVICE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a kiosk's name as device_name makes it


def check_signature(body: dict, kiosk: str, keys: dict[str, str], what: str) -> None:
    """KioskError unless BODY is signed by KIOSK's key among the admitted KEYS."""
    if kiosk not in keys:
        raise KioskError(f"{what}: {kiosk} is not admitted on this home (kiosk fleet admit)")
    if not signed_by(body, keys[kiosk]):
        raise KioskError(f"{what}: not signed by {kiosk}'s key")


def read_report(topic: str, payload: bytes | bytearray, keys: dict[str, str]) -> dict:
    """An `applied/<kiosk>` report as plain checked data; KioskError with one line when it is not
    one (not JSON, not an object, fields of the wrong kind, naming another kiosk than its topic, or
    not signed by that kiosk's key among the admitted KEYS)."""
    device = topic.rsplit("/", 1)[-1]
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise KioskError(f"applied/{printable(device)}: not JSON") from None
    if not isinstance(body, dict):
        raise KioskError(f"applied/{printable(device)}: not a report")
    kiosk, role, version, applied_at = body.get("kiosk"), body.get("role"), body.get("version"), body.get("applied_at")
    if kiosk != device or not DEVICE.fullmatch(device):
        raise KioskError(f"applied/{printable(device)}: names the kiosk {printable(str(kiosk)[:64])!r}")
    if role not in ("home", "member") or not whole_number(version) or not 0 <= version <= MAX_VERSION \
            or not (applied_at is None or finite(applied_at)):
        raise KioskError(f"applied/{device}: its role, version or time is not a report's")
    check_signature(body, device, keys, f"applied/{device}")
    return {"kiosk": device, "role": role, "version": version, "applied_at": applied_at}


def read_event(topic: str, payload: bytes | bytearray, site: str, keys: dict[str, str]) -> dict | None:
    """An event message of SITE as plain checked data for the site's log, None when it is another
    site's; KioskError with one line when it is not an event signed by the kiosk it names (one of
    the admitted KEYS), so one bad message costs nothing else."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise KioskError(f"{printable(topic[:120])}: not JSON") from None
    if not isinstance(body, dict) or body.get("site") != site:
        return None
    kiosk = str(body.get("kiosk") or body.get("camera") or "")
    device = topic.rsplit("/", 2)[-2] if topic.count("/") >= 2 else ""
    event_id, at, name, kind = body.get("id"), body.get("at"), body.get("name"), body.get("kind", "seen")
    if kiosk != device or not DEVICE.fullmatch(kiosk):
        raise KioskError(f"{printable(topic[:120])}: names the kiosk {printable(kiosk[:64])!r}")
    if not (whole_number(event_id) and 0 < event_id <= MAX_VERSION):
        raise KioskError(f"{topic}: its id is not a positive whole number")
    if not finite(at) or not isinstance(name, str) or not isinstance(kind, str) or len(name) > 200 or \
            len(kind) > 40 or printable(name) != name or printable(kind) != kind:
        raise KioskError(f"{topic}: its time, name or kind is not an event's")
    check_signature(body, kiosk, keys, topic)
    distance, version = body.get("distance"), body.get("gallery_version")
    return {"kiosk": kiosk, "id": event_id, "at": float(at), "kind": kind, "name": name,
            "distance": float(distance) if finite(distance) else None,
            "gallery_version": version if whole_number(version) else None}
