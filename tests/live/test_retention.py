"""Kept faces and events over time: clock steps, retention, look-alike names."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import Config, RecognitionConfig
from kiosk.live.events import EventWriter
from kiosk.live.policy import Confirmation, Outcome
from kiosk.runtime import DaemonStatus, read_record
from kiosk.store import Store

from conftest import REPO, require_data, run_kiosk


def config_for(data_dir: Path, **recognition) -> Config:
    return dataclasses.replace(Config(), data_dir=str(data_dir),
                               recognition=RecognitionConfig(**recognition))


def confirmation(index: int, crop: bool = False) -> Confirmation:
    face = np.full((40, 40, 3), 128, np.uint8) if crop else None
    return Confirmation(track_id=index, name=f"person{index}", distance=0.3, crop=face,
                        embedding=np.full(128, 0.01, np.float32) if crop else None)


def add(writer: EventWriter, seen: Confirmation) -> None:
    """Log SEEN as the policy would with capture_faces on: its face kept when it has one."""
    writer.add(seen, Outcome(face_kept=seen.crop is not None))


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stored_tracks(data_dir: Path) -> list[int]:
    with Store(data_dir) as store:
        return [e.track_id for e in sorted(store.events.query(), key=lambda e: (e.at, e.id))]


def test_a_clock_set_40_days_ahead_does_not_age_the_faces_just_kept(tmp_path, monkeypatch, caplog):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    writer = EventWriter(config_for(data_dir, capture_faces=True, face_max_age_days=30))
    try:
        for index in range(3):
            add(writer, confirmation(index, crop=True))
        wait_until(lambda: len(stored_tracks(data_dir)) == 3)
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 40 * 86400)
        with caplog.at_level(logging.WARNING, "kiosk.daemon"):
            add(writer, confirmation(3, crop=True))
            wait_until(lambda: len(stored_tracks(data_dir)) == 4)
    finally:
        writer.close()
    with Store(data_dir) as store:
        assert len(store.events.faces()) == 4  # none pruned as "older than 30 days"
        latest = store.events.query(limit=2)
    assert [e.track_id for e in latest] == [3, 2]  # by the order they were written
    assert any("clock moved" in r.message for r in caplog.records)


def test_events_past_the_retention_go_with_their_faces(tmp_path):
    data_dir = tmp_path / "data"
    with Store(data_dir) as store:
        old = store.events.add("obama", 0.3, 1, time.time() - 100 * 86400)
        store.events.add("obama", 0.3, 2, time.time() - 10 * 86400)
    writer = EventWriter(config_for(data_dir, event_retention_days=90, capture_faces=True))
    try:
        add(writer, confirmation(3, crop=True))
        wait_until(lambda: 3 in stored_tracks(data_dir))
        wait_until(lambda: 1 not in stored_tracks(data_dir))
    finally:
        writer.close()
    assert stored_tracks(data_dir) == [2, 3]
    with Store(data_dir) as store:
        assert store.events.get(old) is None


def test_retention_is_off_by_default_and_checked_like_every_setting(tmp_path):
    from kiosk.config import parse_config
    from kiosk.errors import ConfigError
    assert Config().recognition.event_retention_days == 0
    with pytest.raises(ConfigError, match="event_retention_days"):
        parse_config("recognition:\n  event_retention_days: -1\n")


def test_a_name_mixing_look_alike_scripts_is_warned_about_at_enroll(tmp_path):
    from kiosk.names import mixed_scripts
    assert mixed_scripts("\u041ebama")  # a Cyrillic О
    assert not mixed_scripts("Zoë Ñúñez") and not mixed_scripts("Борис") and not mixed_scripts("山田たろう")
    stick = tmp_path / "stick" / "\u041ebama"
    stick.mkdir(parents=True)
    shutil.copy(require_data("people", "obama", "obama.jpg"), stick / "a.jpg")
    result = subprocess.run([sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "data"), "enroll",
                             str(tmp_path / "stick")], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml")), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "mixes Cyrillic and Latin letters" in result.stdout + result.stderr


def test_the_daemon_notices_its_store_replaced_and_follows_the_new_one(enrolled_copy, tmp_path):
    """An admin copies an older store into place by hand while the kiosk runs."""
    other = tmp_path / "other"
    shutil.copytree(enrolled_copy, other)
    assert run_kiosk("people", "remove", "obama", "--yes", data_dir=other).returncode == 0
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"), RUNTIME_DIRECTORY=str(tmp_path))
    clip = require_data("video", "short_hamilton_clip.mp4")
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run",
                                "--source", f"file:{clip}", "--loop", "--display", "headless"],
                               env=env, stderr=subprocess.PIPE, text=True)
    status = tmp_path / "status.json"
    try:
        wait_until(lambda: (read_record(status, DaemonStatus) or DaemonStatus()).people == 6, timeout=60)
        for name in ("kiosk.db-wal", "kiosk.db-shm"):
            (enrolled_copy / name).unlink(missing_ok=True)
        os.replace(other / "kiosk.db", enrolled_copy / "kiosk.db")
        wait_until(lambda: (read_record(status, DaemonStatus) or DaemonStatus()).people == 5, timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert stderr.count("was replaced or deleted under the daemon") == 1, stderr
