"""The attendance log reads well and test runs can be deleted from it; commands fail loudly on a
typo and never end in a traceback on a closed pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from kiosk.store import Store

from conftest import REPO, run_kiosk


def test_the_log_has_headers_and_counts_unknown_faces_apart_per_day(enrolled_copy):
    with Store(enrolled_copy) as store:
        for name in ("obama", "unknown", "unknown", "biden"):
            store.events.add(name, 0.4, 1)
    table = run_kiosk("events", data_dir=enrolled_copy).stdout.splitlines()
    assert table[0].split() == ["event", "time", "what", "name", "distance", "track"]
    assert len(table) == 5 and table[1].split()[0] == "#1"
    daily = run_kiosk("events", "--daily", data_dir=enrolled_copy).stdout.splitlines()
    assert daily[0].split()[:2] == ["day", "name"]
    assert [line.split()[1] for line in daily[1:3]] == ["obama", "biden"]
    assert daily[3].endswith("2 visit(s) by faces nobody could name (unknown)") and len(daily) == 4
    as_json = json.loads(run_kiosk("events", "--daily", "--json", data_dir=enrolled_copy).stdout)
    assert [row["name"] for row in as_json["people"]] == ["obama", "biden"]
    assert [row["visits"] for row in as_json["unknown"]] == [2]


def test_events_are_deleted_by_id_or_range_and_the_log_says_so(enrolled_copy):
    with Store(enrolled_copy) as store:
        ids = [store.events.add("obama", 0.4, i) for i in range(5)]
    asked = run_kiosk("events", "delete", f"{ids[0]}-{ids[2]}", data_dir=enrolled_copy, stdin=subprocess.DEVNULL)
    assert asked.returncode == 2 and "--yes" in asked.stderr
    deleted = run_kiosk("events", "delete", f"{ids[0]}-{ids[2]}", str(ids[4]), "--yes", data_dir=enrolled_copy)
    assert deleted.returncode == 0 and "deleted 4 event(s)" in deleted.stdout, deleted.stderr
    with Store(enrolled_copy) as store:
        assert [e.id for e in store.events.query()] == [ids[3]]
        (deletion,) = store.events.deletions()
        assert deletion[1:] == (f"{ids[0]}-{ids[2]} {ids[4]}", 4)
    listed = run_kiosk("events", data_dir=enrolled_copy).stdout
    assert "4 event(s) deleted by an admin on " in listed
    for bad in ("7-3", "x", "99"):
        refused = run_kiosk("events", "delete", bad, "--yes", data_dir=enrolled_copy)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, bad


def test_a_missing_photo_or_a_source_that_cannot_exist_is_one_line_and_exit_2(enrolled_copy, tmp_path):
    cases = [(["identify", "nothere.jpg"], "kiosk: nothere.jpg: no such file or folder"),
             (["identify", str(tmp_path)], f"kiosk: {tmp_path}: no photos in this folder"),
             (["run", "--source", "file:nothere.mp4", "--display", "headless"],
              "kiosk: camera source nothere.mp4: no such video file"),
             (["run", "--source", f"dir:{tmp_path / 'gone'}", "--display", "headless"],
              f"kiosk: camera source {tmp_path / 'gone'}: no such folder"),
             (["run", "--source", "usb:video0", "--display", "headless"],
              "kiosk: --source: 'usb:video0' is not allowed")]
    for command, line in cases:
        result = run_kiosk(*command, data_dir=enrolled_copy, timeout=60)
        assert result.returncode == 2, command
        assert result.stderr.strip().startswith(line) and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_absent_camera_is_retried_without_opencv_warnings(enrolled_copy):
    env = {**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml")}
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run",
                                "--source", "usb:57", "--display", "headless"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)  # the first open and at least one retry
        assert process.poll() is None, "an absent camera must be retried, not fatal"
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert "camera unavailable: USB camera 57 cannot be opened" in errors
    assert "[ WARN" not in errors and "cap_v4l" not in errors, errors


def test_no_traceback_on_a_closed_pipe(enrolled_copy):
    with Store(enrolled_copy) as store:
        for i in range(3000):
            store.events.add("obama", 0.4, i)
    env = {**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml")}
    kiosk = f"{sys.executable} -m kiosk.cli --data-dir {enrolled_copy}"
    for command in ("events --json", "events", "events --csv", "status", "people list"):
        result = subprocess.run(f"{kiosk} {command} | head -c 20 >/dev/null", shell=True, cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, (command, result.stderr)
