"""Workers, memory and processes: none is left behind, none outgrows the machine."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from kiosk.config import EnrollmentConfig
from kiosk.enrollment import encoding

from conftest import REPO, require_data


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def test_workers_are_as_many_as_memory_holds(monkeypatch):
    from kiosk.enrollment.encoding import CNN_MB, WORKER_MB, worker_count
    cores = len(os.sched_getaffinity(0))
    per_worker = WORKER_MB + EnrollmentConfig().max_decode_mb
    for free_mb, expected in ((None, cores), (CNN_MB + 100, 1), (CNN_MB + 1.5 * per_worker, min(cores, 1)),
                              (CNN_MB + 2 * per_worker, min(cores, 2)), (100_000, cores)):
        monkeypatch.setattr(encoding, "available_memory_mb", lambda free=free_mb: free)
        assert worker_count(EnrollmentConfig()) == expected
    assert worker_count(EnrollmentConfig(workers=7)) == 7  # the admin's number stands


@pytest.mark.slow
def test_the_cnn_in_strips_finds_the_faces_it_finds_whole():
    from kiosk.vision.boxes import overlap
    from kiosk.vision.engine import EngineSettings, FaceEngine
    from kiosk.vision.images import load_image
    faces = [load_image(require_data("people", *parts).read_bytes()).pixels
             for parts in (("obama", "obama.jpg"), ("biden", "biden.jpg"), ("alex_lacamoire", "img1.jpg"))]
    height = min(face.shape[0] for face in faces)
    import numpy as np
    row = np.ascontiguousarray(np.hstack([face[:height] for face in faces]))  # three people side by side
    cnn = FaceEngine(EngineSettings("cnn", None, 0, 5, 1))
    whole = cnn.detect_scaled(row, 1200)
    strips = cnn.detect_scaled(row, 1200, 250_000)
    assert len(whole) == 3 and len(strips) == 3
    assert all(max(overlap(a, b) for b in whole) > 0.5 for a in strips)


def test_a_tiny_webp_of_a_huge_picture_is_refused_before_decoding():
    from kiosk.vision.images import ImageRejected, load_image
    buffer = io.BytesIO()
    Image.new("RGB", (8800, 6700), (200, 180, 160)).save(buffer, "WEBP", lossless=True)
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageRejected, match=r"too large to decode \(8800x6700 RGB, 236 MB, limit 200 MB\)"):
        load_image(buffer.getvalue())


def test_a_killed_import_leaves_no_worker_behind(tmp_path):
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    for copy in range(40):
        (root / f"{copy}.jpg").write_bytes(good_photo() + bytes([copy]))
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  workers: 2\n")
    command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "data"), "enroll", str(root.parent)]
    assert_killing_leaves_nothing(subprocess.Popen(
        command, cwd=REPO, env={**os.environ, "KIOSK_CONFIG": str(config)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


@pytest.mark.slow
def test_a_killed_daemon_leaves_no_process_behind(enrolled_copy, tmp_path):
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "a.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run", "--source",
                              f"dir:{slides}", "--display", "headless", "--loop"], cwd=REPO,
                             env={**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml"),
                                  "RUNTIME_DIRECTORY": str(tmp_path)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert_killing_leaves_nothing(kiosk)  # its encoder process, and multiprocessing's resource tracker


def assert_killing_leaves_nothing(command: subprocess.Popen) -> None:
    """Once COMMAND has two processes of its own, SIGKILL it: they end within 10 s."""
    try:
        descendants: set[int] = set()
        for _ in range(120):
            descendants = family(command.pid) - {command.pid}
            if len(descendants) >= 2:
                break
            time.sleep(0.5)
        assert len(descendants) >= 2, descendants
        command.send_signal(signal.SIGKILL)
        command.wait(10)
        for _ in range(40):
            if not any(alive(pid) for pid in descendants):
                break
            time.sleep(0.25)
        assert not any(alive(pid) for pid in descendants)
    finally:
        command.kill()


def family(pid: int) -> set[int]:
    """PID and every process below it."""
    found, queue = set(), [pid]
    while queue:
        current = queue.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                queue += [int(child) for child in task.read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running (a zombie holds no memory: it only waits for its parent to note the exit)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
