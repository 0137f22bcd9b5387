"""The daemon's event writer: nothing lost to a full drive, a long lock or a replaced store.

The drive is a real small tmpfs (root only, else skipped), filled with a real file; the store
is replaced or deleted on disk as an admin would do it by hand.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.config import Config, RecognitionConfig
from kiosk.live.events import EventWriter
from kiosk.live.policy import Confirmation, Outcome
from kiosk.runtime import DaemonStatus, publish, read_record
from kiosk.store import Store, person_key
from kiosk.store.events import Events
from kiosk.store.records import SampleSettings

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


def fill(drive: Path) -> Path:
    filler = drive / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_events_during_a_full_drive_wait_in_memory_and_are_all_saved_in_order(small_drive, caplog):
    data_dir = small_drive / "data"
    Store(data_dir).close()
    writer = EventWriter(config_for(data_dir, capture_faces=True, face_max_count=1000))
    try:
        add(writer, confirmation(0, crop=True))
        wait_until(lambda: stored_tracks(data_dir) == [0])
        filler = fill(small_drive)
        with caplog.at_level(logging.INFO, "kiosk.daemon"):
            for index in range(1, 18):
                add(writer, confirmation(index, crop=index % 2 == 0))
            wait_until(lambda: writer.state().problem != "" and writer.state().waiting == 17)
            time.sleep(1.5)  # several tries, all refused
            assert writer.state().waiting == 17
            filler.unlink()
            wait_until(lambda: writer.state().waiting == 0, timeout=30)
        assert stored_tracks(data_dir) == list(range(18))
        assert writer.state() .dropped == 0 and writer.state().problem == ""
        warnings = [r.message for r in caplog.records if "cannot save events now" in r.message]
        assert len(warnings) == 1  # said once, not once per try
        assert any("takes events again" in r.message for r in caplog.records)
    finally:
        writer.close()


def test_events_behind_a_write_lock_longer_than_the_busy_timeout_are_kept(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    real_add = Events.add
    refusals = {"left": 3}

    def locked_for_a_while(self, *args, **kwargs):  # what SQLite raises after its 30 s busy timeout
        if refusals["left"]:
            refusals["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(Events, "add", locked_for_a_while)
    writer = EventWriter(config_for(data_dir))
    try:
        for index in range(11):
            add(writer, confirmation(index))
        wait_until(lambda: writer.state().waiting == 0 and not refusals["left"], timeout=30)
    finally:
        writer.close()
    assert stored_tracks(data_dir) == list(range(11))


def test_a_store_replaced_or_deleted_under_the_writer_gets_the_later_events(tmp_path, caplog):
    data_dir = tmp_path / "data"
    Store(data_dir).close()
    spare = tmp_path / "spare.db"
    shutil.copy(data_dir / "kiosk.db", spare)
    writer = EventWriter(config_for(data_dir))
    try:
        add(writer, confirmation(0))
        wait_until(lambda: stored_tracks(data_dir) == [0])
        with caplog.at_level(logging.WARNING, "kiosk.daemon"):
            os.replace(spare, data_dir / "kiosk.db")  # a copy put in place by hand
            for name in ("kiosk.db-wal", "kiosk.db-shm"):
                (data_dir / name).unlink(missing_ok=True)
            for index in range(1, 12):
                add(writer, confirmation(index))
            wait_until(lambda: len(stored_tracks(data_dir)) == 11)
    finally:
        writer.close()
    assert stored_tracks(data_dir) == list(range(1, 12))  # on the file on disk, none to the unlinked one
    assert sum("replaced or deleted; the event log reopened it" in r.message for r in caplog.records) == 1


def test_status_is_rewritten_in_place_when_the_drive_is_full(small_drive):
    path = small_drive / "status.json"
    publish(path, DaemonStatus(pid=os.getpid(), people=1))
    fill(small_drive)
    publish(path, DaemonStatus(pid=os.getpid(), people=2, store_problem="database or disk is full"))
    status = read_record(path, DaemonStatus)
    assert status is not None and status.people == 2 and status.store_problem


# --- keys that cannot collide ---------------------------------------------------------------------------

def test_a_name_that_looks_like_another_persons_key_gets_its_own():
    assert person_key("José") != person_key(person_key("José"))
    assert person_key("obama") == "obama"
    literal = person_key("José")
    assert person_key(literal) != literal and person_key(person_key(literal)) != person_key(literal)


def test_enroll_and_rename_refuse_a_name_whose_key_is_taken(tmp_path, monkeypatch):
    import kiosk.store.people as people
    monkeypatch.setattr(people, "person_key", lambda name: "same")  # a hash clash, forced
    settings = SampleSettings("dlib", "hog", 5, 1)
    with Store(tmp_path / "data") as store:
        store.people.add_sample("ada", np.full(128, 0.01, np.float32), settings, "a" * 64, "a.jpg")
        with pytest.raises(people.Refused, match="would share the key 'same'.*with ada"):
            store.people.add_sample("grace", np.full(128, 0.02, np.float32), settings, "b" * 64, "b.jpg")
        store.people.add_sample("ada", np.full(128, 0.03, np.float32), settings, "c" * 64, "c.jpg")  # her own key
    monkeypatch.undo()
    with Store(tmp_path / "data") as store:
        store.people.add_sample("grace", np.full(128, 0.02, np.float32), settings, "b" * 64, "b.jpg")
        monkeypatch.setattr(people, "person_key", lambda name: "same")
        with pytest.raises(people.Refused, match="would share the key"):
            store.people.rename("grace", "hopper")


# --- SIGHUP ---------------------------------------------------------------------------------------------

def test_a_sighup_right_after_start_does_not_kill_kiosk_run(enrolled_copy, tmp_path):
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"), RUNTIME_DIRECTORY=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run",
                                "--source", "dir:/nonexistent-folder", "--display", "headless"],
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


# --- the clock, retention, look-alike names ---------------------------------------------------------------

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
