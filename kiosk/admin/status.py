"""`kiosk status`: is the daemon running, what does it see, how big is the store, how full the disk.

The daemon's part comes from the DaemonStatus record it publishes twice a second (runtime.py),
judged here: running, stale (no update for a while: hung, or stopped without cleaning up) or not
running (no file, or its process is gone).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from kiosk.config import DOOR_WITHOUT_LIVENESS, Config
from kiosk.errors import StoreError
from kiosk.paths import DB_NAME, PHOTOS_DIR, status_file_path
from kiosk.runtime import STALE_AFTER_SECONDS, DaemonStatus, age, pid_alive, read_record
from kiosk.store import Store, waiting_for_retrain
from kiosk.store.site import read_site
from kiosk.util import format_bytes, format_time, printable
from kiosk.vision.calibration import rule_for
from kiosk.vision.encoders import encoder_class


def daemon_state(data_dir: Path) -> dict:
    """The daemon's record, judged: running, stale (no update for a while) or not running."""
    path = status_file_path(data_dir)
    status = read_record(path, DaemonStatus)
    if status is None or not pid_alive(status.pid):
        return {"state": "not running", "status_file": str(path)}
    since = age(status)
    state = "running" if since is not None and since <= STALE_AFTER_SECONDS else "stale"
    fields = {key: value for key, value in dataclasses.asdict(status).items() if key != "updated_at"}
    return {"state": state, "status_file": str(path), "age_seconds": None if since is None else round(since, 1),
            **fields}


FULL_DRIVE_BYTES = 1 << 20  # below this, a stale status is a full drive, not a hung daemon


def store_sizes(data_dir: Path) -> dict:
    """Bytes used by the database, its write-ahead log and the kept photos."""
    def size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0
    photos = data_dir / PHOTOS_DIR
    photo_bytes = sum(size(p) for p in photos.iterdir()) if photos.is_dir() else 0
    return {"db": size(data_dir / DB_NAME), "wal": size(data_dir / f"{DB_NAME}-wal"), "photos": photo_bytes}


def free_space(path: Path) -> int:
    """Free bytes on the file system holding PATH (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def status_report(config: Config) -> dict:
    """Everything `kiosk status` shows, as one JSON-ready object."""
    data_dir = config.data_path()
    report: dict = {"daemon": daemon_state(data_dir), "data_dir": str(data_dir)}
    try:
        with Store(data_dir, create=False) as store:
            people, samples = store.people.counts()
            gallery = store.people.load_gallery(config.recognition.encoder)
            _, calibration = rule_for(gallery, config.recognition)
            if calibration is not None:
                report["recognition"] = {"expectation": calibration.expectation(), "warning": calibration.warning,
                                         "tolerance": calibration.tolerance,
                                         "kept": calibration.kept.as_dict() if calibration.kept else None,
                                         "kept_line": calibration.as_dict()["kept_line"]}
            report["encoder"] = {"name": config.recognition.encoder,
                                 "unavailable": encoder_class(config.recognition.encoder).unavailable() or "",
                                 "waiting_for_retrain": waiting_for_retrain(store, config.recognition.encoder)}
            events = store.events.query(limit=5)
            waiting, dropped = store.events.outbox_state()
    except StoreError as exc:
        if (data_dir / DB_NAME).exists():
            raise
        people, samples, events, waiting, dropped = 0, 0, [], 0, 0
        report["store_note"] = str(exc)
    daemon = report["daemon"]
    free = free_space(data_dir)
    if daemon["state"] == "stale" and free < FULL_DRIVE_BYTES:  # alive, but cannot write its status
        daemon["why_stale"] = f"the data drive is full ({format_bytes(free)} free)"
    report["mqtt"] = {"enabled": config.mqtt.enabled, "broker": f"{config.mqtt.host}:{config.mqtt.port}",
                      "state": daemon.get("mqtt") if daemon["state"] == "running" else None,
                      "outbox_waiting": waiting, "outbox_dropped": dropped}
    site = read_site(data_dir)
    report["site"] = None if site is None else {
        "name": site.name, "role": site.role, "home": site.home, "version": site.version, "made_at": site.made_at,
        "applied_at": site.applied_at, "sync": daemon.get("fleet") if daemon["state"] == "running" else None}
    report["door"] = {"enabled": config.door.enabled, "pin": config.door.pin,
                      "state": daemon.get("door") if daemon["state"] == "running" else None,
                      "warning": DOOR_WITHOUT_LIVENESS if config.door_without_liveness else ""}
    sizes = store_sizes(data_dir)
    report.update(people=people, samples=samples, store_bytes={**sizes, "total": sum(sizes.values())},
                  disk_free_bytes=free,
                  last_events=[{"at": e.at, "name": e.name, "distance": e.distance, "kind": e.kind,
                                "liveness": e.liveness} for e in events])
    return report


def status_lines(report: dict) -> list[str]:
    """What `kiosk status` prints, line by line (the web page's status shows the same)."""
    lines: list[str] = []
    daemon = report["daemon"]
    state = daemon["state"]
    if state == "stale":
        age = daemon["age_seconds"]
        state = f"stale (last update {age:.0f} s ago)" if age is not None else "stale (no update time)"
        if daemon.get("why_stale"):
            state = f"running (pid {daemon['pid']}) but its status is {age or 0:.0f} s old: {daemon['why_stale']}"
    elif state == "running":
        state = f"running (pid {daemon['pid']})"
    lines.append(f"daemon:     {state}")
    if daemon["state"] != "not running":
        camera = daemon.get("camera_state") or "-"
        if daemon.get("camera_error"):
            camera += f" ({daemon['camera_error']})"
        resting = ", resting (nobody in view)" if daemon.get("resting") else ""
        lines.append(f"camera:     {camera}, source {daemon.get('source') or '-'}{resting}")
        lines.append(f"display:    {daemon.get('display') or '-'}, {_fps(daemon.get('display_fps'))} fps on screen, "
              f"{_fps(daemon.get('recognition_fps'))} fps recognition, "
              f"face detector {_fps(daemon.get('detector_fps'))} runs/s")
        if daemon.get("pace"):
            lines.append(f"warning:    {daemon['pace']}")
        if daemon.get("message"):
            lines.append(f"message:    {printable(daemon['message'])}")
        if daemon.get("events_waiting") or daemon.get("events_dropped"):
            dropped = f", {daemon['events_dropped']} dropped (memory full)" if daemon.get("events_dropped") else ""
            problem = f": {daemon['store_problem']}" if daemon.get("store_problem") else ""
            lines.append(f"events:     {daemon.get('events_waiting', 0)} waiting to be saved{dropped}{problem}")
    lines.append(f"store:      {report['people']} people, {report['samples']} samples in {report['data_dir']}")
    encoder = report.get("encoder")
    if encoder:
        lines.append(f"encoder:    {encoder['name']}")
        for problem in (encoder["unavailable"], encoder["waiting_for_retrain"]):
            if problem:
                lines.append(f"warning:    {problem}")
    if report.get("recognition"):
        lines.append(f"expect:     {report['recognition']['expectation']}")
        if report["recognition"]["kept_line"]:
            lines.append(f"            {report['recognition']['kept_line']}")
        if report["recognition"]["warning"] and report["recognition"]["warning"] not in report["recognition"][
                "expectation"]:
            lines.append(f"warning:    {report['recognition']['warning']}")
    if report.get("store_note"):
        lines.append(f"            {report['store_note']}")
    sizes = report["store_bytes"]
    lines.append(f"store size: {format_bytes(sizes['total'])} (database {format_bytes(sizes['db'])}, "
          f"log {format_bytes(sizes['wal'])}, photos {format_bytes(sizes['photos'])})")
    lines.append(f"disk free:  {format_bytes(report['disk_free_bytes'])}")
    mqtt = report["mqtt"]
    if mqtt["enabled"] or mqtt["outbox_waiting"]:
        dropped = f", {mqtt['outbox_dropped']} dropped unsent (outbox full)" if mqtt["outbox_dropped"] else ""
        lines.append(f"mqtt:       {mqtt['state'] or 'not running'}, broker {mqtt['broker']}, "
              f"outbox {mqtt['outbox_waiting']} waiting{dropped}")
    else:
        lines.append("mqtt:       off")
    site = report.get("site")
    if site:
        lines.append(f"site:       {site_line(site)}")
    door = report["door"]
    lines.append(f"door:       {door['state'] or 'not running'}, GPIO {door['pin']}" if door["enabled"]
                 else "door:       off")
    if door.get("warning"):
        lines.append(f"warning:    {door['warning']}")
    lines.append("last events:" if report["last_events"] else "last events: none")
    ahead = time.time() + 300
    for event in report["last_events"]:
        distance = f" (distance {event['distance']:.2f})" if event["distance"] is not None else ""
        name = printable(event["name"])
        what = f"door opened for {name}" if event.get("kind") == "door" else name
        what += " (not live: a picture?)" if event.get("liveness") == "failed" else ""
        what += " (dated ahead of this clock: it was set wrong then, or is now)" if event["at"] > ahead else ""
        lines.append(f"  {format_time(event['at'])}  {what}{distance}")
    return lines


def site_line(site: dict, now: float | None = None) -> str:
    """ "member of site office: gallery v17 from kiosk-a, 3 days old; broker unreachable" """
    now = time.time() if now is None else now
    role = "home" if site["role"] == "home" else "member"
    if not site["version"]:
        gallery = "no gallery version yet" + ("" if role == "home" else f" from {site['home']}")
    else:
        age = now - site["made_at"]
        old = (f"{age / 86400:.0f} days old" if age >= 2 * 86400 else f"{age / 3600:.0f} hours old"
               if age >= 2 * 3600 else "made within the last 2 hours")
        gallery = f"gallery v{site['version']} from {site['home']}, {old}"
    sync = site["sync"] or "not running"
    return f"{role} of site {site['name']}: {gallery}; {sync}"


def print_status(report: dict) -> None:
    for line in status_lines(report):
        print(line)


def _fps(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "-"
