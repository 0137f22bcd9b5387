"""Administration over SSH: people show/rename/remove, status, and the registry of admin commands.

Every command here is safe while the daemon runs: each change is one SQLite transaction in WAL
mode, and the triggers on people and samples bump meta.gallery_generation, so the daemon reloads
its gallery on its next check. The longer commands live in their own modules (retrain, tune,
doctor, backup, unknowns, legacy_pickle) and are imported only when run, to keep the CLI quick.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
from pathlib import Path

from kiosk.cli import UsageError, open_store
from kiosk.config import Config
from kiosk.photos import validate_person_name
from kiosk.status import STALE_AFTER_SECONDS, pid_alive, read_json_file, status_file_path
from kiosk.store import DB_NAME, PHOTOS_DIR, Store, StoreError


def register_admin_commands(commands: argparse._SubParsersAction, people_commands: argparse._SubParsersAction) -> None:
    """Add the admin subcommands to the `kiosk` parser and to `kiosk people`."""
    show = people_commands.add_parser("show", help="a person's samples: source photo, settings, when added",
                                      description="Show one person's samples.")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=cmd_people_show)

    for action, verb in (("accept", "use for matching"), ("reject", "delete, and refuse in later imports")):
        decide = people_commands.add_parser(
            action, help=f"held-back photos of a person: {verb}",
            description=f"Decide about photos the consistency check held back: {verb}. "
                        "FILE is the photo as listed by `kiosk people show NAME` (or #ID).")
        decide.add_argument("name", metavar="NAME")
        target = decide.add_mutually_exclusive_group(required=True)
        target.add_argument("file", metavar="FILE", nargs="?")
        target.add_argument("--all", action="store_true", help="every held-back photo of NAME")
        decide.set_defaults(handler=cmd_people_decide, action=action)

    check = people_commands.add_parser(
        "check", help="run the check for wrong photos again (everyone, or NAME)",
        description="Check whether each person's photos show one person; photos that look like "
                    "someone else are held back from matching.")
    check.add_argument("name", metavar="NAME", nargs="?")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=cmd_people_check)

    rename = people_commands.add_parser("rename", help="rename a person (their events too)",
                                        description="Rename a person; their recognition events follow.")
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")
    rename.set_defaults(handler=cmd_people_rename)

    remove = people_commands.add_parser(
        "remove", help="forget a person: samples and kept photos, overwritten on disk",
        description="Forget a person. Their samples are overwritten in the database file, their kept "
                    "photos deleted. Asks for confirmation on a terminal.")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    remove.add_argument("--events", action="store_true", help="also delete the person's recognition events")
    remove.set_defaults(handler=cmd_people_remove)

    retrain = commands.add_parser(
        "retrain", help="re-encode the kept photos with new settings",
        description="Re-encode the kept photos (all cores) and replace each person's samples in one "
                    "transaction. Samples whose photo was not kept are reported and left as they are.")
    retrain.add_argument("--person", metavar="NAME", help="only this person")
    retrain.add_argument("--jitters", type=int, metavar="N", help="re-sampled encodings per photo, 1-100")
    retrain.add_argument("--landmarks", type=int, choices=(5, 68), help="landmark model")
    retrain.add_argument("--detector", choices=("hog", "cnn"), help="face detector")
    retrain.add_argument("--json", action="store_true", help="print one JSON object")
    retrain.set_defaults(handler=_deferred("kiosk.retrain", "cmd_retrain"))

    status = commands.add_parser("status", help="is the daemon running, fps, camera, store size, disk",
                                 description="Show the daemon's state and the store's size.")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=cmd_status)

    doctor = commands.add_parser("doctor", help="check models, camera, display, store, disk and service",
                                 description="Check the installation; exit status 1 when a check fails.")
    doctor.add_argument("--json", action="store_true", help="print a JSON list of checks")
    doctor.set_defaults(handler=_deferred("kiosk.doctor", "cmd_doctor"))

    tune = commands.add_parser("tune", help="distance distributions and a suggested tolerance",
                               description="Compare same-person and different-person distances between "
                                           "the enrolled samples and suggest recognition.tolerance.")
    tune.add_argument("--json", action="store_true", help="print one JSON object")
    tune.set_defaults(handler=_deferred("kiosk.tune", "cmd_tune"))

    backup = commands.add_parser("backup", help="write the store and kept photos to one .tar file",
                                 description="Write a consistent copy of the store and kept photos to PATH.")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(handler=_deferred("kiosk.backup", "cmd_backup"))

    restore = commands.add_parser("restore", help="replace the store with a backup made by `kiosk backup`",
                                  description="Replace the store and kept photos with a kiosk backup.")
    restore.add_argument("path", metavar="PATH")
    restore.set_defaults(handler=_deferred("kiosk.backup", "cmd_restore"))

    unknowns = commands.add_parser("unknowns", help="faces seen but not recognised (recognition.capture_unknown)",
                                   description="List, label or purge the faces kept by capture_unknown.")
    unknown_commands = unknowns.add_subparsers(dest="unknowns_command", metavar="ACTION", required=True)
    unknown_list = unknown_commands.add_parser("list", help="each kept face: id, when, crop file")
    unknown_list.add_argument("--json", action="store_true")
    unknown_list.set_defaults(handler=_deferred("kiosk.unknowns", "cmd_unknowns_list"))
    label = unknown_commands.add_parser("label", help="enroll a kept face as NAME",
                                        description="Enroll kept face ID as a sample of NAME.")
    label.add_argument("id", type=int, metavar="ID")
    label.add_argument("name", metavar="NAME")
    label.set_defaults(handler=_deferred("kiosk.unknowns", "cmd_unknowns_label"))
    purge = unknown_commands.add_parser("purge", help="delete every kept face")
    purge.set_defaults(handler=_deferred("kiosk.unknowns", "cmd_unknowns_purge"))

    legacy = commands.add_parser("import-pickle", help="migrate an encodings.pickle from older face scripts",
                                 description='Import {"encodings": [...], "names": [...]} from a pickle file, '
                                             "allowing nothing in it but numpy arrays.")
    legacy.add_argument("path", metavar="PATH")
    legacy.add_argument("--json", action="store_true", help="print one JSON object")
    legacy.set_defaults(handler=_deferred("kiosk.legacy_pickle", "cmd_import_pickle"))


def _deferred(module: str, function: str):
    """A handler that imports its module only when the command runs."""
    def handler(args: argparse.Namespace, config: Config) -> int:
        return getattr(importlib.import_module(module), function)(args, config)
    return handler


def format_time(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at is not None else "-"


def format_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def checked_name(name: str) -> str:
    """A valid person name, or a UsageError naming the bad value."""
    try:
        return validate_person_name(name)
    except ValueError as exc:
        raise UsageError(f"{name!r}: {exc}") from None


def existing_store(config: Config) -> Store:
    """The store, which must already exist (admin commands never create an empty one)."""
    return open_store(config, create=False)


# --- people -------------------------------------------------------------------------------

def cmd_people_show(args: argparse.Namespace, config: Config) -> int:
    with existing_store(config) as store:
        samples = store.samples_of(args.name)
        if samples is None:
            raise UsageError(f"{args.name}: nobody of that name")
        created_at = next(p.created_at for p in store.people() if p.name == args.name)
        confusions = store.confusions_of(args.name)
        rows = [{"id": s.id, "source": s.source, "encoder": s.settings.encoder, "detector": s.settings.detector,
                 "landmarks": s.settings.landmarks, "jitters": s.settings.jitters, "added_at": s.created_at,
                 "photo_kept": store.photo_path(s.photo_sha256).is_file(), "status": s.status,
                 "reason": s.status_reason} for s in samples]
    if args.json:
        print(json.dumps({"name": args.name, "created_at": created_at, "samples": rows,
                          "confusions": confusions}, ensure_ascii=False))
        return 0
    held = [row for row in rows if row["status"] in HELD_STATUSES]
    print(f"{args.name}: {len(rows) - len(held)} sample(s) used for matching, {len(held)} held back, "
          f"enrolled {format_time(created_at)}")
    for row in rows:
        kept = "photo kept" if row["photo_kept"] else "photo not kept"
        accepted = "  accepted by an admin" if row["status"] == "accepted" else ""
        print(f"  #{row['id']} {row['source']}  {row['detector']}, {row['landmarks']} landmarks, "
              f"{row['jitters']} jitter(s)  added {format_time(row['added_at'])}  {kept}{accepted}")
    if held:
        print("held back from matching (kiosk people accept / reject NAME FILE):")
        for row in held:
            reason = row["reason"] if row["status"] == "suspect" else "waiting for the check (kiosk people check)"
            print(f"  #{row['id']} {row['source']}: {reason}")
    if confusions:
        print(f"{confusions} face(s) recorded as not {args.name} (kiosk events correct --not)")
    return 0


HELD_STATUSES = ("suspect", "pending")


def cmd_people_decide(args: argparse.Namespace, config: Config) -> int:
    """kiosk people accept|reject NAME FILE|--all."""
    with existing_store(config) as store:
        samples = store.samples_of(args.name)
        if samples is None:
            raise UsageError(f"{args.name}: nobody of that name")
        if args.all:
            chosen = [s for s in samples if s.status in HELD_STATUSES]
            if not chosen:
                raise UsageError(f"{args.name}: no photo is held back")
        else:
            chosen = [s for s in samples if args.file in (s.source, f"#{s.id}", str(s.id))
                      or s.source.rsplit("/", 1)[-1] == args.file]
            if not chosen:
                raise UsageError(f"{args.file}: no photo of {args.name} by that name (see kiosk people show "
                                 f"{args.name})")
            if len(chosen) > 1:
                raise UsageError(f"{args.file}: several photos of {args.name} match, give the full name or #ID")
        ids = [s.id for s in chosen]
        if args.action == "accept":
            done = store.accept_samples(args.name, ids)
            print(f"accepted {done} photo(s) of {args.name}: used for matching from now on")
        else:
            done = store.reject_samples(args.name, ids)
            print(f"rejected {done} photo(s) of {args.name}: deleted, and refused if imported again as "
                  f"{args.name}")
    return 0


def cmd_people_check(args: argparse.Namespace, config: Config) -> int:
    from kiosk.consistency import MIN_PHOTOS, check_people
    with existing_store(config) as store:
        names = [p.name for p in store.people()]
        if args.name is not None:
            if args.name not in names:
                raise UsageError(f"{args.name}: nobody of that name")
            names = [args.name]
        result = check_people(store, names, config.enrollment)
    if args.json:
        print(json.dumps({"checked": names, "suspects": [s.as_dict() for s in result.suspects],
                          "too_few_to_check": result.too_few}, ensure_ascii=False))
        return 0
    print(f"checked {len(names)} people: {len(result.suspects)} photo(s) held back as suspects")
    for suspect in result.suspects:
        print(f"  {suspect.file}: {suspect.reason}")
    for name in result.too_few:
        print(f"  {name}: fewer than {MIN_PHOTOS} photos, the check for wrong photos needs more")
    return 0


def cmd_people_rename(args: argparse.Namespace, config: Config) -> int:
    new = checked_name(args.new)
    with existing_store(config) as store:
        try:
            store.rename_person(args.old, new)
        except KeyError:
            raise UsageError(f"{args.old}: nobody of that name") from None
        except ValueError:
            raise UsageError(f"{new}: already enrolled, choose another name") from None
    print(f"renamed {args.old} to {new}")
    return 0


def cmd_people_remove(args: argparse.Namespace, config: Config) -> int:
    with existing_store(config) as store:
        samples = store.samples_of(args.name)
        if samples is None:
            raise UsageError(f"{args.name}: nobody of that name")
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError(f"removing {args.name} needs --yes when not run on a terminal")
            what = " and their events" if args.events else ""
            try:
                answer = input(f"Remove {args.name} ({len(samples)} sample(s)){what}? [y/N] ")
            except EOFError:  # Ctrl-D counts as no
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing removed")
                return 0
        removed = store.remove_person(args.name, events=args.events)
    print(f"removed {args.name}: {removed} sample(s)" + (" and their events" if args.events else ""))
    return 0


# --- status -------------------------------------------------------------------------------

def daemon_state(config: Config) -> dict:
    """What status.json says, judged: running, stale (no update for a while) or not running."""
    path = status_file_path(config)
    status = read_json_file(path)
    if status is None or not pid_alive(status.get("pid")):
        return {"state": "not running", "status_file": str(path)}
    updated_at = status.get("updated_at")
    age = time.time() - updated_at if isinstance(updated_at, (int, float)) else None
    state = "running" if age is not None and age <= STALE_AFTER_SECONDS else "stale"
    keys = ("pid", "camera_state", "camera_error", "source", "display", "display_fps", "recognition_fps",
            "people", "samples", "message")
    return {"state": state, "status_file": str(path), "age_seconds": None if age is None else round(age, 1),
            **{key: status.get(key) for key in keys}}


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


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    data_dir = config.data_path()
    report: dict = {"daemon": daemon_state(config), "data_dir": str(data_dir)}
    try:
        with existing_store(config) as store:
            people, samples = store.counts()
            events = store.events(limit=5)
    except StoreError as exc:
        if (data_dir / DB_NAME).exists():
            raise
        people, samples, events = 0, 0, []
        report["store_note"] = str(exc)
    sizes = store_sizes(data_dir)
    report.update(people=people, samples=samples, store_bytes={**sizes, "total": sum(sizes.values())},
                  disk_free_bytes=free_space(data_dir),
                  last_events=[{"at": e.at, "name": e.name, "distance": e.distance} for e in events])
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_status(report)
    return 0


def print_status(report: dict) -> None:
    daemon = report["daemon"]
    state = daemon["state"]
    if state == "stale":
        age = daemon["age_seconds"]
        state = f"stale (last update {age:.0f} s ago)" if age is not None else "stale (no update time)"
    elif state == "running":
        state = f"running (pid {daemon['pid']})"
    print(f"daemon:     {state}")
    if daemon["state"] != "not running":
        camera = daemon.get("camera_state") or "-"
        if daemon.get("camera_error"):
            camera += f" ({daemon['camera_error']})"
        print(f"camera:     {camera}, source {daemon.get('source') or '-'}")
        print(f"display:    {daemon.get('display') or '-'}, {_fps(daemon.get('display_fps'))} fps on screen, "
              f"{_fps(daemon.get('recognition_fps'))} fps recognition")
        if daemon.get("message"):
            print(f"message:    {daemon['message']}")
    print(f"store:      {report['people']} people, {report['samples']} samples in {report['data_dir']}")
    if report.get("store_note"):
        print(f"            {report['store_note']}")
    sizes = report["store_bytes"]
    print(f"store size: {format_bytes(sizes['total'])} (database {format_bytes(sizes['db'])}, "
          f"log {format_bytes(sizes['wal'])}, photos {format_bytes(sizes['photos'])})")
    print(f"disk free:  {format_bytes(report['disk_free_bytes'])}")
    print("last events:" if report["last_events"] else "last events: none")
    for event in report["last_events"]:
        distance = f" (distance {event['distance']:.2f})" if event["distance"] is not None else ""
        print(f"  {format_time(event['at'])}  {event['name']}{distance}")


def _fps(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) else "-"
