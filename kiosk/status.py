"""Small JSON files through which the daemon and admin commands talk without a network.

The daemon publishes its state (`status.json`) for `kiosk status`; a running USB import publishes
its progress (`import.json`) so the screen can show "Importing 12/40…". Files live in the
service's runtime directory (/run/kiosk), are replaced atomically, and carry a timestamp so a
reader can tell a stale file from a live one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from kiosk.config import Config

STALE_AFTER_SECONDS = 10.0


def runtime_dir(config: Config) -> Path:
    """$RUNTIME_DIRECTORY (set by systemd), else /run/kiosk when writable, else the data dir."""
    if os.environ.get("RUNTIME_DIRECTORY"):
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    system = Path("/run/kiosk")
    if system.is_dir() and os.access(system, os.W_OK):
        return system
    return config.data_path()


def status_file_path(config: Config) -> Path:
    return runtime_dir(config) / "status.json"


def import_progress_path(config: Config) -> Path:
    return runtime_dir(config) / "import.json"


def write_json_file(path: Path, state: dict) -> None:
    """Replace PATH atomically with STATE plus `updated_at`, readable by the admin (0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.fchmod(fd, 0o644)  # the service runs with UMask=0077; the admin must still read it
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({**state, "updated_at": time.time()}, handle, ensure_ascii=False)
    os.replace(temporary, path)


def read_json_file(path: Path) -> dict | None:
    """The file's contents, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
