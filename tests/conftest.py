"""Shared fixtures: the sample data beside the repository and a store enrolled from it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KIOSK_SAMPLE_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def require_data(*parts: str) -> Path:
    """Path inside the sample data, skipping the test when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data not found: {path}")
    return path


@pytest.fixture(scope="session")
def people_dir() -> Path:
    return require_data("people")


@pytest.fixture(scope="session")
def enrolled_store_dir(tmp_path_factory, people_dir) -> Path:
    """A data directory with people/ enrolled once per test session (read-only for tests)."""
    from kiosk.config import EnrollmentConfig
    from kiosk.enrollment.enroll import import_folder
    from kiosk.store import Store
    data_dir = tmp_path_factory.mktemp("enrolled")
    with Store(data_dir) as store:
        report = import_folder(store, people_dir, EnrollmentConfig(), encoder="dlib", show_bar=False)
    assert report.added == 11, report.as_dict()
    return data_dir


@pytest.fixture
def enrolled_copy(enrolled_store_dir, tmp_path) -> Path:
    """A private copy of the enrolled data directory, for tests that change it."""
    target = tmp_path / "data"
    shutil.copytree(enrolled_store_dir, target)
    return target


@pytest.fixture
def restore_signals():
    """For tests that run the daemon in this process: its signal handlers are undone afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def run_kiosk(*args: str, data_dir: Path | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `kiosk` command line in a subprocess with the repository config."""
    env = {**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml"), **kwargs.pop("env", {})}
    command = [sys.executable, "-m", "kiosk.cli"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=kwargs.pop("cwd", REPO), **kwargs)


@pytest.fixture
def small_drive(tmp_path):
    """A 3 MB file system of its own (tmpfs; mounting needs root, skipped otherwise)."""
    drive = tmp_path / "drive"
    drive.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(drive)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield drive
    subprocess.run(["umount", "--lazy", str(drive)], check=True)
