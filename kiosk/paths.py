"""Where the kiosk keeps things: the layout of the data directory and the runtime directory.

The data directory (config `data_dir`, /var/lib/kiosk under systemd) holds the SQLite store and
the face images it refers to; the runtime directory (/run/kiosk) holds the small state files the
daemon and an import publish for the admin commands (see runtime.py).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DB_NAME = "kiosk.db"
PHOTOS_DIR = "photos"  # kept enrollment photos, photos/<sha256>
UNKNOWNS_DIR = "unknowns"  # faces seen but not recognised (recognition.capture_unknown)
EVENT_FACES_DIR = "event_faces"  # each event's face (recognition.capture_faces)
BACKUPS_DIR = "backups"  # the store as it was before each `kiosk restore` replaced it
CAPTURES_DIR = "captures"  # views of the person in front while `kiosk capture` takes them (deleted after)
WEB_TOKEN = "web-token"  # the secret `kiosk web` asks for (0600), made once by the installer
SYSTEM_RUNTIME_DIR = Path("/run/kiosk")


def model_dir() -> Path:
    """Where installed models that ship in no Python package live: beside the kiosk's own
    environment (scripts/fetch-models puts them there), so each installation has its own."""
    return Path(sys.prefix) / "share" / "kiosk" / "models"

# The only file names the kiosk writes in its folders: a photo's SHA-256, a crop's time and token.
KEPT_NAMES = {
    PHOTOS_DIR: re.compile(r"[0-9a-f]{64}"),
    UNKNOWNS_DIR: re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.jpg"),
    EVENT_FACES_DIR: re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.jpg"),
    BACKUPS_DIR: re.compile(r"before-restore-\d{8}-\d{6}(-\d{1,3})?\.tar"),  # the store before a restore replaced it
}


class UnsafePath(ValueError):
    """A file name from stored data that is not one the kiosk writes, or that leads outside its folder."""


def is_kept_name(folder: str, name: object) -> bool:
    """Whether NAME is of the form the kiosk gives files in FOLDER (photos, unknowns, event_faces)."""
    return isinstance(name, str) and bool(KEPT_NAMES[folder].fullmatch(name))


def kept_file(data_dir: Path, folder: str, name: object) -> Path:
    """DATA_DIR/FOLDER/NAME, for a name of the kiosk's own form that resolves inside DATA_DIR/FOLDER.

    Every path derived from stored data (a sample's photo, a kept crop, a file left to delete)
    comes from here, so a crafted store or backup cannot aim a read or a delete elsewhere.
    """
    if not is_kept_name(folder, name):
        raise UnsafePath(f"{data_dir / folder}: stored file name {str(name)[:80]!r} is not one the kiosk writes")
    path = data_dir / folder / str(name)
    base = (data_dir / folder).resolve()
    if path.resolve().parent != base:  # a link planted in the folder
        raise UnsafePath(f"{path}: leads outside {base}")
    return path


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
