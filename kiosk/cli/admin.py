"""Handlers for looking after the kiosk: status, doctor, tune, backup and restore, the web page."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from kiosk.admin.backup import backup, backup_summary, restore
from kiosk.admin.doctor import FAIL, run_checks
from kiosk.admin.sandbox import DROPIN_DIR, dropins, write_dropins
from kiosk.admin.status import print_status, status_report
from kiosk.admin.tune import print_report as print_tune_report
from kiosk.admin.tune import tune_report
from kiosk.cli.common import UsageError, confirm, open_store
from kiosk.config import Config
from kiosk.outside.door import Door
from kiosk.paths import BACKUPS_DIR, DB_NAME
from kiosk.util import format_time
from kiosk.vision.calibration import rule_for
from kiosk.web import ensure_token


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    report = status_report(config)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_status(report)
    return 0


def cmd_doctor(args: argparse.Namespace, config: Config) -> int:
    checks = run_checks(config)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], ensure_ascii=False))
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            print(f"{check.result:<5} {check.name:<{width}}  {check.detail}")
    return 1 if any(c.result == FAIL for c in checks) else 0


def cmd_tune(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        gallery = store.people.load_gallery(config.recognition.encoder)
    rule, calibration = rule_for(gallery, config.recognition)
    report = tune_report(gallery, rule, calibration)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_tune_report(report, config.source_path or "the built-in defaults")
    return 0


def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    target = Path(args.path)
    if target.is_dir():
        raise UsageError(f"{target}: is a folder, give a file name such as {target / 'kiosk-backup.tar'}")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")
    with open_store(config) as store:
        manifest = backup(store, target)
    print(f"backed up {manifest['people']} people, {manifest['samples']} samples to {target}")
    for digest in manifest["damaged_photos"]:
        print(f"kiosk: warning: left out the kept photo {digest[:12]}…: damaged (does not match its "
              "checksum); its sample is in the backup, but retraining cannot re-encode it", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path}: no such backup file")
    kept: list[Path] = []
    manifest = restore(config, path, lambda: keep_before_restore(args, config, path, kept))
    if manifest is None:
        print("nothing restored")
        return 0
    print(f"restored {manifest.get('people')} people, {manifest.get('samples')} samples from {path}")
    for backup_path in kept:
        print(f"the store it replaced is kept as {backup_path} (kiosk restore {backup_path} to go back)")
    return 0


KEEP_BEFORE_RESTORE = 3  # copies of the store kept before restores; `people remove` deletes them all


def keep_before_restore(args: argparse.Namespace, config: Config, path: Path, kept: list[Path]) -> bool:
    """Show what a restore would replace, ask (or take --yes), and back the current store up under
    DATA_DIR/backups/ (its path added to KEPT); False when the answer is no."""
    data_dir = config.data_path()
    if not (data_dir / DB_NAME).is_file():
        return True
    with open_store(config) as store:
        people, samples = store.people.counts()
        events = store.events.count()
        if not (people or events):
            return True
        claimed = backup_summary(path)
        made = format_time(claimed["created_at"]) if isinstance(claimed.get("created_at"), (int, float)) else "?"
        print(f"{data_dir} now holds {people} people, {samples} samples and {events} events; {path} "
              f"holds {claimed.get('people', '?')} people and {claimed.get('samples', '?')} samples (backed up {made})")
        if not confirm(f"Replace the store with {path}?", f"restoring over {people} people and {events} events "
                       "needs --yes when not run on a terminal", yes=args.yes):
            return False
        folder = data_dir / BACKUPS_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        stamp = time.strftime('%Y%m%d-%H%M%S')
        target = next(path for n in range(1000) if not (path := folder / (
            f"before-restore-{stamp}{f'-{n}' if n else ''}.tar")).exists())
        backup(store, target)
        for old in store.copies_before_restore()[:-KEEP_BEFORE_RESTORE]:
            old.unlink(missing_ok=True)
            print(f"deleted {old}, the oldest copy kept before a restore (at most {KEEP_BEFORE_RESTORE} are kept)")
    kept.append(target)
    return True


def cmd_sandbox(args: argparse.Namespace, config: Config) -> int:
    directory = Path(args.dir) if args.dir else DROPIN_DIR
    if not args.write:
        wanted = dropins(config)
        for name, text in wanted.items():
            print(f"# {directory / name}\n{text}")
        if not wanted:
            print("# none: MQTT and the door are off, so kiosk.service keeps its full sandbox")
        return 0
    try:
        changes = write_dropins(config, directory)
    except PermissionError as exc:
        raise UsageError(f"cannot write {exc.filename}: run it with sudo") from None
    for change in changes:
        print(change)
    print("then: sudo systemctl daemon-reload && sudo systemctl restart kiosk" if changes else "nothing to change")
    return 0


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    port = config.web.port if args.port is None else args.port
    if not 0 <= port <= 65535 or (args.url and port == 0):
        raise UsageError(f"--port: {port} is not a port (1-65535{'' if args.url else ', or 0 for any free one'})")
    data_dir = config.data_path()
    if not data_dir.is_dir():
        raise UsageError(f"{data_dir}: no data directory (data_dir, --data-dir)")
    token = ensure_token(data_dir)
    if args.url:
        print(f"http://localhost:{port}/login?token={token}")
        print(f"from another machine, first: ssh -L {port}:localhost:{port} USER@THIS-KIOSK", file=sys.stderr)
        return 0
    from kiosk.web.app import serve  # late on purpose: bottle and waitress only for serving

    def listening(actual: int) -> None:
        print(f"serving the face library on http://127.0.0.1:{actual}/ (kiosk web --url for the address that "
              "logs in)", flush=True)
    serve(config, port, token, listening)
    return 0


def cmd_door_close(args: argparse.Namespace, config: Config) -> int:
    if not config.door.enabled:
        print("door: off (door.enabled is false)")
        return 0
    Door(config.door).release()  # made closed, then the pin given back
    print(f"door: closed (GPIO {config.door.pin})")
    return 0
