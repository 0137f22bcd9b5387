"""`kiosk retrain`: kept photos encoded again, in one transaction per person."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from kiosk.store import Store

from conftest import REPO, run_kiosk


def test_retrain_reports_missing_photos_and_keeps_their_samples(enrolled_copy):
    with Store(enrolled_copy) as store:
        samples = store.people.samples_of("obama")
        store.photo_path(samples[0].photo_sha256).unlink()
    result = run_kiosk("retrain", "--person", "obama", "--jitters", "1", "--landmarks", "68", "--json",
                       data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["replaced"] == 1 and report["missing_photos"] == [{"person": "obama", "source": samples[0].source}]
    with Store(enrolled_copy) as store:
        after = {s.source: s.settings for s in store.people.samples_of("obama")}
    assert after[samples[0].source].jitters == 5 and after[samples[1].source].landmarks == 68
    assert run_kiosk("retrain", "--jitters", "0", data_dir=enrolled_copy).returncode == 2


def test_kill_mid_retrain_leaves_each_person_all_old_or_all_new(enrolled_copy):
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"))
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy),
                                "retrain", "--jitters", "2"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    retrained = 0
    while time.monotonic() < deadline and retrained == 0 and process.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(enrolled_copy / "kiosk.db", timeout=5) as db:
                retrained = db.execute("SELECT count(*) FROM samples WHERE jitters = 2").fetchone()[0]
        except sqlite3.OperationalError:
            pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    db = sqlite3.connect(enrolled_copy / "kiosk.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    per_person = db.execute("SELECT p.name, count(*), group_concat(DISTINCT s.jitters) FROM people p "
                            "JOIN samples s ON s.person_id = p.id GROUP BY p.id").fetchall()
    db.close()
    assert len(per_person) == 6 and sum(count for _, count, _ in per_person) == 11
    mixes = {jitters for _, _, jitters in per_person}
    assert mixes <= {"2", "5"}, per_person  # never a person with both old and new samples
    assert mixes == {"2", "5"}, "the retrain should be killed part-way"
