"""Reloading: SIGHUP, and a store replaced under the daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import REPO


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_sighup_right_after_start_does_not_kill_kiosk_run(enrolled_copy, tmp_path):
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"), RUNTIME_DIRECTORY=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run",
                                "--source", "usb:57", "--display", "headless"],  # an absent camera
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        for _ in range(50):  # a burst, as a script in a loop would send
            process.send_signal(signal.SIGHUP)
        wait_until(lambda: (tmp_path / "status.json").exists(), timeout=60)
        time.sleep(1.0)
        assert process.poll() is None, "kiosk run ended on SIGHUP"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stderr.count("gallery reloaded") == 1, stderr  # the burst is one reload
