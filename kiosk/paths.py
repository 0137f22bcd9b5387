"""Where the kiosk keeps things: the layout of the data directory and the runtime directory.

The data directory (config `data_dir`, /var/lib/kiosk under systemd) holds the SQLite store and
the face images it refers to; the runtime directory (/run/kiosk) holds the small state files the
daemon and an import publish for the admin commands (see runtime.py).
"""

from __future__ import annotations

import os
from pathlib import Path

DB_NAME = "kiosk.db"
PHOTOS_DIR = "photos"  # kept enrollment photos, photos/<sha256>
UNKNOWNS_DIR = "unknowns"  # faces seen but not recognised (recognition.capture_unknown)
EVENT_FACES_DIR = "event_faces"  # each event's face (recognition.capture_faces)
SYSTEM_RUNTIME_DIR = Path("/run/kiosk")


def runtime_dir(data_dir: Path) -> Path:
    """$RUNTIME_DIRECTORY (set by systemd), else /run/kiosk when writable, else the data dir."""
    if os.environ.get("RUNTIME_DIRECTORY"):
        return Path(os.environ["RUNTIME_DIRECTORY"].split(":")[0])
    if SYSTEM_RUNTIME_DIR.is_dir() and os.access(SYSTEM_RUNTIME_DIR, os.W_OK):
        return SYSTEM_RUNTIME_DIR
    return data_dir


def status_file_path(data_dir: Path) -> Path:
    """The daemon's state, for `kiosk status`."""
    return runtime_dir(data_dir) / "status.json"


def import_progress_path(data_dir: Path) -> Path:
    """A running import's progress, for the screen."""
    return runtime_dir(data_dir) / "import.json"


# A source checkout: measurements default to the sample data kept beside it (../shared/data).
SOURCE_TREE = Path(__file__).resolve().parents[1]
SAMPLE_DATA = SOURCE_TREE.parent / "shared" / "data"
