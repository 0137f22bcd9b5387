"""Shared fixtures: the sample data beside the repository and a store enrolled from it."""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KIOSK_SAMPLE_DATA", REPO.parent / "shared" / "data"))
FAKES_DIR = REPO / "tests" / "fakes"  # stand-ins for hardware modules (picamera2)

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def pytest_collection_modifyitems(items) -> None:
    """The slow end-to-end tests first, the longest of them (`slow(minutes=N)`) at the head, so the
    parallel workers (pytest-xdist) finish together instead of one starting the longest test last."""
    def order(item) -> tuple[bool, float]:
        slow = item.get_closest_marker("slow")
        return slow is None, -(slow.kwargs.get("minutes", 0) if slow is not None else 0)
    items.sort(key=order)


# --- system packages some tests need -------------------------------------------------------------

SYSTEM_PACKAGE_SKIP = "needs the Debian package "  # how such a skip's reason starts


def found(command: str) -> str | None:
    """COMMAND on PATH, or the absolute path it names when that file exists."""
    if command.startswith("/"):
        return command if Path(command).exists() else None
    return shutil.which(command)


def needs_package(package: str, *commands: str) -> pytest.MarkDecorator:
    """Skip unless every one of COMMANDS (names on PATH or absolute paths) is there; PACKAGE is the
    Debian package that brings them. Such skips are counted in one line at the end of the run
    (pytest_terminal_summary), so a run on a machine without them says what it did not cover."""
    missing = [command for command in commands if found(command) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{SYSTEM_PACKAGE_SKIP}{package} ({', '.join(missing)} not found)")


def pytest_terminal_summary(terminalreporter) -> None:
    """One line naming the Debian packages whose absence skipped tests (.ci/run installs them)."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if SYSTEM_PACKAGE_SKIP in reason:
            package = reason.split(SYSTEM_PACKAGE_SKIP, 1)[1].split(" ", 1)[0]
            counts[package] = counts.get(package, 0) + 1
    if counts:
        listed = ", ".join(f"{package} ({count} test{'s' if count > 1 else ''})"
                           for package, count in sorted(counts.items()))
        terminalreporter.write_line(f"skipped for want of Debian packages: {listed}; "
                                    f"apt install {' '.join(sorted(counts))} to run them")


def require_data(*parts: str) -> Path:
    """Path inside the sample data, skipping the test when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data not found: {path}")
    return path


@pytest.fixture(scope="session")
def people_dir() -> Path:
    return require_data("people")


def built_once(tmp_path_factory, worker_id: str, name: str, build) -> tuple[Path, object]:
    """BUILD(data_dir) run once per test run however many workers run the tests (pytest-xdist):
    the first worker to get here builds into a folder all of them share, under a lock, and the
    others wait and use it. Returns (data_dir, what BUILD returned, as JSON)."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the run's folder, above each worker's own
    folder = root / f"built-{name}"
    with open(root / f"built-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = folder / "built.json"
        if not record.exists():
            folder.mkdir(exist_ok=True)
            record.write_text(json.dumps(build(folder / "data")))
    return folder / "data", json.loads(record.read_text())


@pytest.fixture(scope="session")
def enrolled_store_dir(tmp_path_factory, worker_id, people_dir) -> Path:
    """A data directory with people/ enrolled once per test run (read-only for tests)."""
    def enroll(data_dir: Path) -> dict:
        from kiosk.config import EnrollmentConfig
        from kiosk.enrollment.enroll import import_folder
        from kiosk.store import Store
        with Store(data_dir) as store:
            report = import_folder(store, people_dir, EnrollmentConfig(), encoder="dlib", show_bar=False)
        assert report.added == 11, report.as_dict()
        return report.as_dict()
    return built_once(tmp_path_factory, worker_id, "people", enroll)[0]


@pytest.fixture(scope="session")
def faces_dev() -> Path:
    return require_data("faces_dev")


@pytest.fixture(scope="session")
def dev_enrolled(tmp_path_factory, worker_id, faces_dev) -> tuple[Path, dict]:
    """faces_dev/enroll enrolled once per test run through `kiosk enroll --json`: (data dir, its
    report); read-only for tests."""
    def enroll(data_dir: Path) -> dict:
        result = run_kiosk("enroll", "--json", str(faces_dev / "enroll"), data_dir=data_dir)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    data_dir, report = built_once(tmp_path_factory, worker_id, "faces-dev", enroll)
    return data_dir, report  # type: ignore[return-value]


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


# --- photos made in the tests ------------------------------------------------------------------

FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP", "heic": "HEIF"}


def encoded(image, kind: str) -> bytes:
    """IMAGE (a PIL image) saved in the format KIND names."""
    if kind == "heic":
        import pillow_heif
        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, FORMATS[kind])
    return buffer.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG that declares a picture of WIDTH x HEIGHT pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def crafted_backup(enrolled_copy: Path, tmp_path: Path, tamper) -> Path:
    """A real backup of the enrolled store, its database changed by TAMPER(connection)."""
    import sqlite3
    import tarfile
    original = tmp_path / "original.tar"
    assert run_kiosk("backup", str(original), data_dir=enrolled_copy).returncode == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(original) as tar:  # the kiosk's own backup: its regular files, one by one
        for member in tar.getmembers():  # (no extractall(filter=): Debian 12's Python 3.11.2 lacks it)
            source = tar.extractfile(member) if member.isfile() else None
            if source is not None:
                (unpacked / member.name).parent.mkdir(parents=True, exist_ok=True)
                (unpacked / member.name).write_bytes(source.read())
    db = sqlite3.connect(unpacked / "kiosk.db")
    tamper(db)
    db.commit()
    db.close()
    crafted = tmp_path / "crafted.tar"
    with tarfile.open(crafted, "w") as tar:
        for member in sorted(unpacked.rglob("*")):
            if member.is_file():
                tar.add(member, member.relative_to(unpacked).as_posix())
    return crafted
