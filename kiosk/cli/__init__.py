"""The `kiosk` command line: one entry point, a subcommand per task.

parser.py declares every command; one module per command group holds the handlers (enroll,
recognize, people, events, admin, measure). Handlers turn arguments into calls on the packages
below and print the result. Errors from below are KioskErrors with a one-line message: `main`
prints it and exits with the status in EXIT_STATUS, so no traceback reaches a user for a
problem they can fix. Everything printed passes through util.printable, so text from the
store, a stick or a backup never reaches the terminal as escape sequences. A command that ran
exits 0 even when some photos were skipped (they are reported).
"""

# ruff: noqa: E402  (SIGHUP is caught before the imports below, which take a second or two)
from __future__ import annotations

from kiosk.runtime import ReloadSignal

ReloadSignal.catch()

import errno
import logging
import os
import sqlite3
import sys

from kiosk.cli.parser import build_parser
from kiosk.config import load_config
from kiosk.errors import KioskError
from kiosk.store.site import refuse_on_member
from kiosk.util import PrintableStream

USAGE_OR_DATA_PROBLEM = 2  # a bad argument, config, store, name or file: the message says which
INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
# Commands that change who is enrolled: on a site's member kiosk the gallery is the home's.
CHANGES_GALLERY = {"cmd_enroll", "cmd_import_usb", "cmd_capture", "cmd_retrain", "cmd_import_pickle",
                   "cmd_people_decide", "cmd_people_check", "cmd_people_rename", "cmd_people_merge",
                   "cmd_people_remove", "cmd_events_correct", "cmd_unknowns_label", "cmd_restore"}


def setup_logging(level: str) -> None:
    """Level, component and message on stderr: journald adds the time and keeps it readable."""
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)


DRIVE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


def drive_problem(exc: Exception) -> str:
    """One line for a drive that is full, read-only or failing, wherever the write was; "" otherwise."""
    if isinstance(exc, OSError) and exc.errno in DRIVE_ERRORS:
        return f"{exc.filename or 'a file'}: {exc.strerror}"
    if isinstance(exc, sqlite3.OperationalError) and any(
            words in str(exc) for words in ("disk is full", "readonly", "disk I/O error")):
        return f"the store's database: {exc}"
    return ""


def main(argv: list[str] | None = None) -> int:
    if not isinstance(sys.stdout, PrintableStream):
        sys.stdout, sys.stderr = PrintableStream(sys.stdout), PrintableStream(sys.stderr)
    args = build_parser().parse_args(argv)
    if getattr(args.handler, "__name__", "") != "cmd_run":  # only the daemon reloads on SIGHUP
        ReloadSignal.release()
    try:
        config = load_config(args.config, args.data_dir)
        setup_logging(config.log_level)
        if getattr(args.handler, "__name__", "") in CHANGES_GALLERY:
            refuse_on_member(config.data_path(), f"kiosk {args.command}")
        return args.handler(args, config)
    except KioskError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return USAGE_OR_DATA_PROBLEM
    except BrokenPipeError:  # `kiosk events | head`: the reader has all it wanted (before OSError)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, sqlite3.OperationalError) as exc:
        if not (problem := drive_problem(exc)):
            raise
        print(f"kiosk: {problem}; everything finished before it is kept", file=sys.stderr)
        return USAGE_OR_DATA_PROBLEM
    except KeyboardInterrupt:
        print("kiosk: interrupted", file=sys.stderr)
        return INTERRUPTED
