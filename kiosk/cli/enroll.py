"""Handlers for adding people: enroll, import-usb, retrain, import-pickle."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from kiosk.admin import capture
from kiosk.cli.common import UsageError, open_store, person, person_or_new
from kiosk.config import Config, EnrollmentConfig, check_setting
from kiosk.enrollment.enroll import import_folder, live_rule
from kiosk.enrollment.legacy_pickle import legacy_samples
from kiosk.enrollment.retrain import retrain
from kiosk.enrollment.usb import import_stick
from kiosk.errors import Refused
from kiosk.store.captures import CaptureRequest
from kiosk.vocabulary import CaptureState


def cmd_enroll(args: argparse.Namespace, config: Config) -> int:
    folder = Path(args.photos_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of person folders")
    with open_store(config, create=True) as store:
        report = import_folder(store, folder, config.enrollment, encoder=config.recognition.encoder,
                               layout=f"{folder}/<name>/<photos>",
                               same_face=live_rule(store, config))
        total_people, total_samples = store.people.counts()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 0
    print(f"added {report.added} photo(s) for {report.people} people, {report.duplicates} duplicate(s), "
          f"{len(report.skipped)} skipped, {len(report.suspects)} held back as suspects")
    for line in report.summary_lines():
        print(line)
    print(f"store: {total_people} people, {total_samples} samples")
    return 0


def cmd_import_usb(args: argparse.Namespace, config: Config) -> int:
    mount = Path(args.mountpoint)
    if not mount.is_dir():
        raise UsageError(f"{mount}: not a mounted folder")
    report = import_stick(config, mount, write_report=args.write_report)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 0
    imported = report.imported
    print(f"added {imported.added} photo(s) for {imported.people} people, {imported.duplicates} duplicate(s), "
          f"{len(imported.skipped)} skipped, {len(imported.suspects)} held back as suspects, "
          f"{len(report.removed)} removed")
    for line in imported.summary_lines():
        print(line)
    for name, guesses in report.not_found.items():
        maybe = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
        print(f"  not removed {name}: nobody of that name{maybe}")
    return 0


def cmd_capture(args: argparse.Namespace, config: Config) -> int:
    """kiosk capture NAME: asks the running kiosk, then prints its progress until it is done."""
    with open_store(config, create=True) as store:
        name = person_or_new(store, args.name, new=args.new)
        request_id = capture.ask(store, name, args.views, args.timeout)
        print(f"asked the kiosk for {args.views} views of {name}: stand in front of it, one person at a time",
              flush=True)

        def show(request: CaptureRequest) -> None:
            if request.state == CaptureState.TAKING:
                print(f"  {request.taken} of {request.views} view(s)", flush=True)
            elif request.state == CaptureState.ENROLLING:
                print("  enrolling the views", flush=True)

        try:
            request = capture.follow(store, request_id, show)
        except KeyboardInterrupt:
            capture.cancel(store, request_id)
            raise
    if request.state != CaptureState.DONE:
        raise Refused(f"capture of {name}: {request.message}")
    print(request.message)
    return 0


def retrain_settings(args: argparse.Namespace, config: EnrollmentConfig) -> EnrollmentConfig:
    """config.enrollment with the command-line overrides, each checked like the config file."""
    overrides: dict[str, Any] = {  # Any: check_setting has checked each value against its field's type
        name: check_setting(EnrollmentConfig, name, getattr(args, name), f"--{name}")
        for name in ("jitters", "landmarks", "detector") if getattr(args, name) is not None}
    return dataclasses.replace(config, **overrides)


def cmd_retrain(args: argparse.Namespace, config: Config) -> int:
    enrollment = retrain_settings(args, config.enrollment)
    with open_store(config) as store:
        name = person(store, args.person) if args.person is not None else None  # refuses a name nobody has
        report = retrain(store, enrollment, name, encoder=config.recognition.encoder)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
        return 0
    s = report.settings
    print(f"retrained {report.replaced} sample(s) of {report.people} people "
          f"({s['detector']}, {s['landmarks']} landmarks, {s['jitters']} jitter(s))")
    for item in report.missing_photos:
        print(f"  kept as it was {item['person']}: {item['source']}: photo not kept (enrollment.keep_photos)")
    for item in report.failed:
        print(f"  kept as it was {item['person']}: {item['source']}: {item['reason']}")
    for item in report.suspects:
        print(f"  held back as a suspect {item['file']}: {item['reason']}")
    return 0


def cmd_import_pickle(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.path)
    samples = legacy_samples(path)  # before opening the store: a refused file changes nothing
    with open_store(config, create=True) as store:
        added = store.people.add_samples(samples)
    report = {"people": len({s[0] for s in samples}), "added": added, "duplicates": len(samples) - added}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"added {report['added']} encoding(s) for {report['people']} people, "
              f"{report['duplicates']} duplicate(s)")
    return 0
