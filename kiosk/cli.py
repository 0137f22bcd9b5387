"""The `kiosk` command line: one entry point, a subcommand per task.

Usage errors (bad arguments, a missing folder, a bad config) print one line on stderr and exit 2;
a command that ran exits 0 even when some photos were skipped (they are reported).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from kiosk.config import CameraConfig, Config, ConfigError, DisplayConfig, check_setting, load_config
from kiosk.store import Store, StoreError

log = logging.getLogger("kiosk")


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def setup_logging(level: str) -> None:
    """Level, component and message on stderr: journald adds the time and keeps it readable."""
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)


def open_store(config: Config, *, create: bool = False) -> Store:
    return Store(config.data_path(), create=create)


# --- enroll / identify / people ---------------------------------------------------------

def cmd_enroll(args: argparse.Namespace, config: Config) -> int:
    from kiosk.enroll import import_folder
    folder = Path(args.photos_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of person folders")
    with open_store(config, create=True) as store:
        report = import_folder(store, folder, config.enrollment)
        total_people, total_samples = store.counts()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(f"added {report.added} photo(s) for {report.people} people, "
              f"{report.duplicates} duplicate(s), {len(report.skipped)} skipped, "
              f"{len(report.suspects)} held back as suspects")
        for line in report.summary_lines():
            print(line)
        print(f"store: {total_people} people, {total_samples} samples")
    return 0


def cmd_identify(args: argparse.Namespace, config: Config) -> int:
    from kiosk.engine import EngineSettings, FaceEngine
    from kiosk.enroll import image_limits
    from kiosk.images import ImageRejected, load_image
    from kiosk.matcher import MatchRule
    with open_store(config, create=True) as store:
        gallery = store.load_gallery()
    engine = FaceEngine(EngineSettings.identification(config))
    limits = image_limits(config.enrollment)
    results = []
    for name in args.images:
        entry = {"image": name, "faces": [], "error": None}
        try:
            path = Path(name)
            if path.is_file() and path.stat().st_size > limits.max_bytes:
                raise ImageRejected(f"file too large (limit {limits.max_bytes / 1e6:.1f} MB)")
            image = load_image(path.read_bytes(), limits)
        except (OSError, ImageRejected) as exc:
            entry["error"] = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            results.append(entry)
            continue
        boxes, encodings = engine.detect_and_encode(image.pixels)
        for box, match in zip(boxes, gallery.match(encodings, MatchRule.from_config(config.recognition))):
            full_box = [round(v * image.scale) for v in box]
            entry["faces"].append({"name": match.name, "distance": round(match.distance, 4), "box": full_box})
        results.append(entry)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for entry in results:
            if entry["error"]:
                print(f"{entry['image']}: error: {entry['error']}")
            elif not entry["faces"]:
                print(f"{entry['image']}: no face found")
            for face in entry["faces"]:
                print(f"{entry['image']}: {face['name']} (distance {face['distance']:.2f}) at {face['box']}")
    return 0


def cmd_people_list(args: argparse.Namespace, config: Config) -> int:
    with open_store(config, create=True) as store:
        people = store.people()
    if args.json:
        print(json.dumps([{"name": p.name, "samples": p.samples, "held_back": p.held} for p in people],
                         ensure_ascii=False))
    else:
        for person in people:
            held = f", {person.held} held back" if person.held else ""
            print(f"{person.name}\t{person.samples} sample(s){held}")
        if not people:
            print("nobody enrolled yet")
    return 0


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be at least 1")
    try:
        if args.source:
            check_setting(CameraConfig, "source", args.source, "--source")
        if args.display:
            check_setting(DisplayConfig, "mode", args.display, "--display")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    from kiosk.daemon import RunOptions, run
    options = RunOptions(source=args.source, display=args.display, snapshot=args.snapshot,
                         max_frames=args.max_frames, fast=args.fast, loop=args.loop, stats_json=args.stats_json)
    return run(config, options)


def cmd_import_usb(args: argparse.Namespace, config: Config) -> int:
    from kiosk.usb import import_stick
    mount = Path(args.mountpoint)
    if not mount.is_dir():
        raise UsageError(f"{mount}: not a mounted folder")
    report = import_stick(config, mount, write_report=args.write_report)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        imported = report.imported
        print(f"added {imported.added} photo(s) for {imported.people} people, {imported.duplicates} duplicate(s), "
              f"{len(imported.skipped)} skipped, {len(imported.suspects)} held back as suspects, "
              f"{len(report.removed)} removed")
        for line in imported.summary_lines():
            print(line)
        for name in report.not_found:
            print(f"  not removed {name}: nobody of that name")
    return 0


def cmd_events_correct(args: argparse.Namespace, config: Config) -> int:
    from kiosk.corrections import CorrectionError, correct_event
    from kiosk.photos import validate_person_name
    if (args.name is None) == (args.not_name is None):
        raise UsageError("events correct: give the right NAME, or --not NAME")
    name = args.name
    if name is not None:
        try:
            name = validate_person_name(name)
        except ValueError as exc:
            raise UsageError(f"{name!r}: {exc}") from None
    with open_store(config) as store:
        try:
            print(correct_event(store, config, args.event_id, name, args.not_name))
        except CorrectionError as exc:
            raise UsageError(str(exc)) from None
    return 0


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    from kiosk.events import daily_summary, event_rows, parse_when, print_rows
    try:
        since = parse_when(args.since, "--since") if args.since else None
        until = parse_when(args.until, "--until") if args.until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with open_store(config, create=True) as store:
        events = store.events(since=since, until=until, person=args.person)
    rows = daily_summary(events) if args.daily else event_rows(events)
    print_rows(rows, "json" if args.json else "csv" if args.csv else "text")
    return 0


# --- parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Face-recognition kiosk.")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $KIOSK_CONFIG, ./config.yaml, /etc/kiosk/config.yaml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default: $KIOSK_DATA_DIR or config)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    enroll = commands.add_parser("enroll", help="add people from PHOTOS_DIR/<name>/<photos>",
                                 description="Enroll people from a folder holding one folder per person.")
    enroll.add_argument("photos_dir", metavar="PHOTOS_DIR")
    enroll.add_argument("--json", action="store_true", help="print one JSON object")
    enroll.set_defaults(handler=cmd_enroll)

    identify = commands.add_parser("identify", help="name the faces in photos",
                                   description="Name each face found in each image.")
    identify.add_argument("images", metavar="IMAGE", nargs="+")
    identify.add_argument("--json", action="store_true", help="print a JSON list, one object per image")
    identify.set_defaults(handler=cmd_identify)

    people = commands.add_parser("people", help="list and manage enrolled people",
                                 description="List and manage enrolled people.")
    people_commands = people.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    people_list = people_commands.add_parser("list", help="each person with their number of samples")
    people_list.add_argument("--json", action="store_true")
    people_list.set_defaults(handler=cmd_people_list)

    usb = commands.add_parser("import-usb", help="enroll from a mounted USB stick (faces/<name>/<photos>)",
                              description="Import faces/<name>/<photos> from a stick and apply remove.txt.")
    usb.add_argument("mountpoint", metavar="MOUNTPOINT")
    usb.add_argument("--json", action="store_true", help="print one JSON object")
    usb.add_argument("--write-report", action="store_true",
                     help="also write a summary file onto the stick (only if it is mounted writable)")
    usb.set_defaults(handler=cmd_import_usb)

    run = commands.add_parser("run", help="the live kiosk: camera, recognition, screen",
                              description="Run the kiosk: recognize faces from the camera and show names.")
    run.add_argument("--source", help="auto, picamera, usb:N, usb:/dev/videoN, file:PATH or dir:PATH "
                                      "(default: camera.source)")
    run.add_argument("--display", help="fullscreen, window, headless or fb:/dev/fbN (default: display.mode)")
    run.add_argument("--snapshot", metavar="PATH.png", help="save what the screen shows every few seconds")
    run.add_argument("--max-frames", type=int, metavar="N", help="exit after N frames")
    run.add_argument("--fast", action="store_true",
                     help="process every frame of a video file as fast as the pipeline can (benchmarks)")
    run.add_argument("--loop", action="store_true", help="play a video file or photo folder forever")
    run.add_argument("--stats-json", metavar="PATH", help="write run figures to PATH on exit")
    run.set_defaults(handler=cmd_run)

    events = commands.add_parser("events", help="who was seen, and when",
                                 description="List recognition events (the attendance log).")
    events.add_argument("--since", metavar="DATE", help="YYYY-MM-DD, ISO time, today, or an age like 2h / 7d")
    events.add_argument("--until", metavar="DATE")
    events.add_argument("--person", metavar="NAME")
    events.add_argument("--daily", action="store_true", help="first and last seen per person per day")
    form = events.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    events.set_defaults(handler=cmd_events)
    event_commands = events.add_subparsers(dest="events_command", metavar="ACTION")
    correct = event_commands.add_parser(
        "correct", help="say who an event really showed (needs recognition.capture_faces)",
        description="Correct a logged event: NAME adds its face to that person; --not NAME records that "
                    "faces like it are not NAME.")
    correct.add_argument("event_id", type=int, metavar="EVENT_ID")
    correct.add_argument("name", metavar="NAME", nargs="?", help="who it really was")
    correct.add_argument("--not", dest="not_name", metavar="NAME", help="it was not this person")
    correct.set_defaults(handler=cmd_events_correct)

    from kiosk.admin import register_admin_commands
    register_admin_commands(commands, people_commands)
    from kiosk.bench import register_measure_commands
    register_measure_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.data_dir)
        setup_logging(config.log_level)
        return args.handler(args, config)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kiosk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kiosk events | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    # Under `python -m kiosk.cli`, let `import kiosk.cli` find this module, so there is one UsageError.
    sys.modules.setdefault("kiosk.cli", sys.modules[__name__])
    sys.exit(main())
