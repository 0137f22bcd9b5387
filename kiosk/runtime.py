"""The records the daemon, a USB import and the admin commands exchange through small files.

The daemon publishes a DaemonStatus (`status.json`) for `kiosk status`; a running USB import
publishes its ImportProgress (`import.json`) so the screen can show "Importing 12/40…". Files
live in the runtime directory (see paths.py), are replaced atomically, and carry the time they
were written, so a reader can tell a stale file from a live one. A reader takes what it knows
from a file and uses defaults for anything missing or of the wrong type: a file written by an
older or newer version never breaks `kiosk status`.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kiosk.util import write_atomically

STALE_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class DaemonStatus:
    """What `kiosk run` is doing, twice a second."""
    pid: int = 0
    camera_state: str = ""  # starting, ok, unavailable, finished
    camera_error: str = ""
    source: str = ""
    display: str = ""
    display_fps: float = 0.0
    recognition_fps: float = 0.0
    detector_fps: float = 0.0  # frames per second the face detector searched
    people: int = 0
    samples: int = 0
    message: str = ""  # the banner on screen, e.g. import progress
    mqtt: str = ""  # off, connected, or what is wrong with the broker connection
    outbox_waiting: int = 0  # events not yet acknowledged by the broker
    outbox_dropped: int = 0  # events dropped unsent because the outbox was full
    door: str = ""  # off, closed or open
    events_waiting: int = 0  # events kept in memory because the store could not take them yet
    events_dropped: int = 0  # events lost because that memory was full
    store_problem: str = ""  # why the store cannot take events now (a full drive, a lock), or ""
    fleet: str = ""  # off, or the site gallery's sync: connected, broker unreachable, a refused version
    pace: str = ""  # "" at full pace, else what a slow processor made recognition give up (live/pace.py)
    resting: bool = False  # nobody in view and nothing moving: the camera runs at camera.rest_fps
    updated_at: float | None = None


@dataclass(frozen=True)
class ImportProgress:
    """How far a USB import is; `state` is "running" until it is "done"."""
    state: str = "running"
    source: str = ""
    processed: int = 0
    total: int = 0
    added: int = 0
    duplicates: int = 0
    skipped: int = 0
    removed: int = 0
    suspects: int = 0
    hint: str = ""  # nothing imported: the layout that was expected
    updated_at: float | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


Record = TypeVar("Record", DaemonStatus, ImportProgress)


def publish(path: Path, record: DaemonStatus | ImportProgress) -> None:
    """Replace PATH atomically with RECORD stamped with the current time, readable by the admin.

    On a full drive there is no room for the new copy, so the file is rewritten in place: its
    blocks are already allocated, and `kiosk status` keeps seeing a live daemon, not a stale one.
    """
    data = json.dumps(dataclasses.asdict(record) | {"updated_at": time.time()}, ensure_ascii=False).encode()
    try:
        write_atomically(path, data, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not path.is_file():
            raise
        with open(path, "r+b") as handle:
            handle.write(data)
            handle.truncate()


def read_record(path: Path, kind: type[Record]) -> Record | None:
    """The record in PATH, or None when the file is missing or not a JSON object."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    hints = typing.get_type_hints(kind)
    values = {}
    for field in dataclasses.fields(kind):
        value = data.get(field.name)
        allowed = typing.get_args(hints[field.name]) or (hints[field.name],)
        if isinstance(value, int) and not isinstance(value, bool) and float in allowed:
            value = float(value)
        if value is not None and isinstance(value, allowed) and (bool in allowed or not isinstance(value, bool)):
            values[field.name] = value
    return kind(**values)


def age(record: DaemonStatus | ImportProgress, now: float | None = None) -> float | None:
    """Seconds since the record was written, or None when it carries no time."""
    if record.updated_at is None:
        return None
    return (time.time() if now is None else now) - record.updated_at


class ReloadSignal:
    """SIGHUP ("reload the gallery") caught from the command line's first instant: before the
    daemon has loaded its models, a SIGHUP would otherwise end the process. The daemon takes
    the request from here; other commands put the default back (see cli.main)."""
    requested = False

    @classmethod
    def catch(cls) -> None:
        signal.signal(signal.SIGHUP, cls._caught)

    @classmethod
    def _caught(cls, _signum, _frame) -> None:
        cls.requested = True

    @classmethod
    def take(cls) -> bool:
        """Whether a reload was asked for since the last take."""
        requested, cls.requested = cls.requested, False
        return requested

    @staticmethod
    def release() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
