"""The event writer: no event lost to a full drive, a lock or a store replaced under it."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np

from kiosk.config import Config, RecognitionConfig
from kiosk.live.events import EventWriter
from kiosk.live.policy import Confirmation, Outcome
from kiosk.runtime import DaemonStatus, publish, read_record
from kiosk.store import Store
from kiosk.store.events import Events


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
