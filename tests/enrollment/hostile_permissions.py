"""Folders and files the kiosk user cannot read: reported and skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, require_data, run_kiosk


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def as_kiosk_user(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """The command line without the power to read or write what its permissions forbid (the
    tests run as root, who may do anything: the capabilities that allow it are dropped)."""
    command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "kiosk.cli",
               "--data-dir", str(data_dir), *args]
    config = data_dir.parent / "fast.yaml"
    config.write_text("enrollment:\n  fallback_detector: none\n  jitters: 1\n")
    try:
        subprocess.run(command[:2] + ["true"], check=True, capture_output=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("setpriv cannot drop the capabilities here")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "KIOSK_CONFIG": str(config)})


def test_unreadable_folders_and_photos_are_reported_and_skipped(tmp_path):
    stick = tmp_path / "stick"
    faces = stick / "faces"
    for name in ("obama", "biden", "alex_lacamoire"):
        (faces / name).mkdir(parents=True)
    (faces / "obama" / "good.jpg").write_bytes(good_photo())
    (faces / "obama" / "locked.jpg").write_bytes(good_photo("biden"))
    (faces / "obama" / "locked.jpg").chmod(0)
    (faces / "obama" / "more").mkdir()
    (faces / "obama" / "more" / "a.jpg").write_bytes(good_photo("biden"))
    (faces / "obama" / "more").chmod(0)
    (faces / "biden" / "good.jpg").write_bytes(good_photo("biden"))
    (faces / "biden").chmod(0)
    (faces / "alex_lacamoire" / "._good.jpg").write_bytes(b"\x00\x05\x16\x07")  # what a Mac leaves
    (faces / "alex_lacamoire" / "good.jpg").write_bytes(
        require_data("people", "alex_lacamoire", "img1.jpg").read_bytes())
    result = as_kiosk_user("import-usb", str(stick), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert reasons == {"biden/": "folder cannot be read: Permission denied",
                       "obama/more/": "folder cannot be read: Permission denied",
                       "obama/locked.jpg": "cannot open: Permission denied",
                       "alex_lacamoire/._good.jpg": "hidden (name starts with a dot), not read"}, reasons
    assert report["added"] == 2
    faces.chmod(0)
    result = as_kiosk_user("import-usb", str(stick), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{faces}: cannot be read (permission denied)" in result.stderr
    faces.chmod(0o755)


def test_a_data_folder_that_cannot_be_one_is_one_line(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "at-all")
    (tmp_path / "a-file").write_text("x")
    for folder in (tmp_path / "dangling", tmp_path / "a-file", Path("/proc/self/status")):
        result = run_kiosk("people", "list", data_dir=folder)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == f"kiosk: {folder}: cannot hold the kiosk's data (is not a folder; " \
                                        "see --data-dir or KIOSK_DATA_DIR)"
    (tmp_path / "read-only").mkdir()
    (tmp_path / "read-only").chmod(0o555)
    result = as_kiosk_user("people", "list", data_dir=tmp_path / "read-only")
    assert result.returncode == 2 and "Permission denied" in result.stderr and "Traceback" not in result.stderr
