"""Admin commands on a real enrolled store: people, retrain, status, doctor, tune, backup, unknowns, pickles."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pickle
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from kiosk.cli.parser import build_parser
from kiosk.config import Config, RecognitionConfig
from kiosk.store import Store

from conftest import REPO, require_data, run_kiosk


def raw_embeddings(data_dir, name: str) -> list[bytes]:
    with Store(data_dir) as store:
        return [blob for (blob,) in store.db.execute(
            "SELECT s.embedding FROM samples s JOIN people p ON p.id = s.person_id WHERE p.name = ?", (name,))]


def test_every_admin_command_has_help(capsys):
    parser = build_parser()
    for command in (["people", "show"], ["people", "rename"], ["people", "remove"], ["retrain"], ["status"],
                    ["doctor"], ["tune"], ["backup"], ["restore"], ["unknowns"], ["unknowns", "list"],
                    ["unknowns", "label"], ["unknowns", "purge"], ["import-pickle"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(command + ["--help"])
        assert exited.value.code == 0 and "usage: kiosk" in capsys.readouterr().out


# --- people -------------------------------------------------------------------------------

def test_people_show_lists_samples_with_settings(enrolled_copy):
    result = run_kiosk("people", "show", "obama", "--json", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert sorted(s["source"] for s in shown["samples"]) == ["obama/obama.jpg", "obama/obama2.jpg"]
    assert all(s["detector"] == "hog" and s["jitters"] == 5 and s["photo_kept"] for s in shown["samples"])
    missing = run_kiosk("people", "show", "nobody", data_dir=enrolled_copy)
    assert missing.returncode == 2 and "nobody" in missing.stderr and "Traceback" not in missing.stderr


def test_rename_moves_events_and_refuses_bad_names(enrolled_copy):
    with Store(enrolled_copy) as store:
        store.events.add("obama", 0.3, 1)
    result = run_kiosk("people", "rename", "obama", "barack", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    with Store(enrolled_copy) as store:
        names = {p.name for p in store.people.summaries()}
        assert "barack" in names and "obama" not in names
        assert [e.name for e in store.events.query()] == ["barack"]
    for old, new, word in [("barack", "biden", "already"), ("ghost", "casper", "ghost"), ("barack", "a/b", "a/b")]:
        refused = run_kiosk("people", "rename", old, new, data_dir=enrolled_copy)
        assert refused.returncode == 2 and word in refused.stderr and "Traceback" not in refused.stderr


def test_remove_needs_yes_off_a_terminal_and_leaves_no_embedding_bytes(enrolled_copy):
    blobs = raw_embeddings(enrolled_copy, "biden")
    assert blobs
    refused = run_kiosk("people", "remove", "biden", data_dir=enrolled_copy, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    result = run_kiosk("people", "remove", "biden", "--yes", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    on_disk = b"".join(p.read_bytes() for p in enrolled_copy.glob("kiosk.db*"))
    for blob in blobs:
        assert blob not in on_disk
    with Store(enrolled_copy) as store:
        assert "biden" not in {p.name for p in store.people.summaries()}


READER = """
import sys, time
from pathlib import Path
from kiosk.store import Store
data_dir, stop = sys.argv[1], Path(sys.argv[2])
loads = errors = 0
with Store(data_dir, create=False) as store:
    while not stop.exists():
        try:
            store.people.load_gallery()
            loads += 1
        except Exception as exc:
            errors += 1
            print("error:", exc, flush=True)
print("loads", loads, "errors", errors)
"""


def test_a_reader_sees_no_errors_during_rename_and_remove(enrolled_copy, tmp_path):
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(enrolled_copy), str(stop)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for args in (["people", "rename", "obama", "barack"], ["people", "remove", "barack", "--yes"],
                     ["people", "rename", "biden", "joe"], ["people", "remove", "joe", "--yes", "--events"]):
            result = run_kiosk(*args, data_dir=enrolled_copy)
            assert result.returncode == 0, result.stderr
    finally:
        stop.touch()
        output, _ = reader.communicate(timeout=60)
    assert "error" not in output.replace("errors 0", ""), output
    assert int(output.split()[-3]) > 0, output


# --- retrain ------------------------------------------------------------------------------

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


# --- events ----------------------------------------------------------------------------------

def test_events_filter_by_date_and_person_in_local_time(enrolled_copy):
    tokyo = timezone(timedelta(hours=9))
    env = {"env": {"TZ": "JST-9"}}  # a POSIX zone string: no tz database needed

    def at(day: int, hour: int, minute: int = 0) -> float:
        return datetime(2026, 3, day, hour, minute, tzinfo=tokyo).timestamp()
    with Store(enrolled_copy) as store:
        for name, when in [("obama", at(2, 8)), ("biden", at(2, 9)), ("obama", at(2, 17, 45)), ("obama", at(3, 10))]:
            store.events.add(name, 0.4, 1, at=when)
        store.events.add("biden", 0.35, 2, at=time.time() - 3600)

    def events(*args: str) -> list[dict]:
        result = run_kiosk("events", *args, data_dir=enrolled_copy, **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    one_day = events("--json", "--since", "2026-03-02", "--until", "2026-03-03", "--person", "obama")
    assert [e["time"] for e in one_day] == ["2026-03-02T08:00:00+09:00", "2026-03-02T17:45:00+09:00"]
    afternoon = events("--json", "--since", "2026-03-02T12:00", "--until", "2026-03-04")
    assert [(e["name"], e["time"][11:16]) for e in afternoon] == [("obama", "17:45"), ("obama", "10:00")]
    assert [e["name"] for e in events("--json", "--since", "2h")] == ["biden"]
    daily = events("--json", "--daily", "--until", "2026-03-04")
    assert [(d["day"], d["name"], d["first_seen"][11:16], d["last_seen"][11:16], d["visits"]) for d in daily] == [
        ("2026-03-02", "obama", "08:00", "17:45", 2), ("2026-03-02", "biden", "09:00", "09:00", 1),
        ("2026-03-03", "obama", "10:00", "10:00", 1)]
    table = run_kiosk("events", "--csv", "--person", "biden", "--until", "2026-03-04", data_dir=enrolled_copy, **env)
    assert list(csv.DictReader(io.StringIO(table.stdout))) == [
        {"id": "2", "time": "2026-03-02T09:00:00+09:00", "kind": "seen", "name": "biden", "distance": "0.4",
         "threshold": "", "frames": "", "track": "1", "face_kept": "False", "corrected_from": "", "liveness": ""}]
    bad = run_kiosk("events", "--since", "last tuesday", data_dir=enrolled_copy)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


# --- status, doctor, tune ------------------------------------------------------------------

def test_status_reports_not_running_stale_and_running(enrolled_copy, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"env": {"RUNTIME_DIRECTORY": str(runtime)}}
    result = run_kiosk("status", "--json", data_dir=enrolled_copy, **env)
    report = json.loads(result.stdout)
    assert report["daemon"]["state"] == "not running"
    assert (report["people"], report["samples"]) == (6, 11) and report["store_bytes"]["photos"] > 0
    state = {"pid": os.getpid(), "camera_state": "ok", "display_fps": 12.5, "recognition_fps": 4.0,
             "updated_at": time.time() - 60}
    (runtime / "status.json").write_text(json.dumps(state))
    stale = run_kiosk("status", data_dir=enrolled_copy, **env)
    assert "stale (last update 6" in stale.stdout, stale.stdout
    (runtime / "status.json").write_text(json.dumps({**state, "updated_at": time.time() + 5}))
    running = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy, **env).stdout)
    assert running["daemon"]["state"] == "running" and running["daemon"]["display_fps"] == 12.5
    (runtime / "status.json").write_text(json.dumps({**state, "pid": 2**22 + 12345}))
    dead = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy, **env).stdout)
    assert dead["daemon"]["state"] == "not running"


def test_doctor_fails_on_a_damaged_store(enrolled_copy):
    result = run_kiosk("doctor", "--json", data_dir=enrolled_copy)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["store"]["result"] == "OK" and checks["models"]["result"] == "OK"
    assert "integrity ok" in checks["store"]["detail"] and checks["data directory"]["result"] == "OK"
    assert result.returncode == (1 if any(c["result"] == "FAIL" for c in checks.values()) else 0)
    exposed = next((enrolled_copy / "photos").iterdir())
    exposed.chmod(0o644)
    warned = {c["name"]: c for c in json.loads(run_kiosk("doctor", "--json", data_dir=enrolled_copy).stdout)}
    assert warned["data directory"]["result"] == "WARN" and exposed.name in warned["data directory"]["detail"]
    (enrolled_copy / "kiosk.db").write_bytes(b"this is not a database" * 100)
    for extra in enrolled_copy.glob("kiosk.db-*"):
        extra.unlink()
    damaged = run_kiosk("doctor", "--json", data_dir=enrolled_copy)
    assert damaged.returncode == 1
    assert {c["name"]: c["result"] for c in json.loads(damaged.stdout)}["store"] == "FAIL"


def test_tune_separates_the_sample_people(enrolled_store_dir, tmp_path):
    result = run_kiosk("tune", "--json", data_dir=enrolled_store_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same_person"]["count"] == 5 and report["different_person"]["count"] == 50
    assert report["same_person"]["max"] < report["different_person"]["min"]
    assert 0.4 <= report["suggested_tolerance"] <= 0.6
    at_06 = next(row for row in report["expected"] if row["tolerance"] == 0.6)
    assert at_06["false_accepts"] == 0 and at_06["false_rejects"] == 0
    text = run_kiosk("tune", data_dir=enrolled_store_dir).stdout
    assert "these pairs alone would suggest tolerance" in text and "same person" in text
    assert "raise recognition.false_accept_target" in text  # the tolerance follows the curve, not the pairs
    assert "suggested: recognition.margin" in text and "suggested: recognition.tolerance" not in text
    config = tmp_path / "config.yaml"
    config.write_text("recognition:\n  false_accept_target: 0\n")  # the fixed tolerance of before
    fixed = run_kiosk("tune", data_dir=enrolled_store_dir, env={"KIOSK_CONFIG": str(config)}).stdout
    assert "suggested tolerance:" in fixed and "suggested: recognition.tolerance" in fixed


def test_tune_warns_about_people_too_close_together(tmp_path):
    from kiosk.admin.tune import suggest_tolerance, tune_report
    from kiosk.vision.matcher import Gallery
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.05, 128)
    near = base + 0.01
    gallery = Gallery(["a", "b"], [2, 1], np.vstack([base, base + 0.6 / np.sqrt(128) * 1.5, near]))
    report = tune_report(gallery, 0.6)
    assert any("a:" in w and "spread" in w for w in report["warnings"])
    assert any("b:" in w and "from a" in w for w in report["warnings"])
    # Every tolerance from 0.50 to 0.60 separates these pairs; the middle of that range is suggested.
    assert suggest_tolerance(np.array([0.45, 0.5]), np.array([0.7, 0.8])) == pytest.approx(0.55)


# --- backup / restore ------------------------------------------------------------------------

def test_backup_and_restore_round_trip(enrolled_copy, tmp_path):
    archive = tmp_path / "kiosk.tar"
    result = run_kiosk("backup", str(archive), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with Store(enrolled_copy) as store:
        store.people.remove("obama")
        generation = store.people.generation()
    restored = run_kiosk("restore", str(archive), data_dir=enrolled_copy)
    assert restored.returncode == 0, restored.stderr
    with Store(enrolled_copy) as store:
        assert store.people.counts() == (6, 11) and store.people.generation() > generation
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for sample in store.people.samples_of("obama"):
            assert stat.S_IMODE(store.photo_path(sample.photo_sha256).stat().st_mode) == 0o600


def test_restore_refuses_what_is_not_a_kiosk_backup(enrolled_copy, tmp_path):
    escape = tmp_path / "escape.tar"
    with tarfile.open(escape, "w") as tar:
        payload = tmp_path / "payload"
        payload.write_text("x")
        tar.add(payload, arcname="../outside.txt")
    foreign = tmp_path / "foreign.tar"
    db_path = tmp_path / "kiosk.db"
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE something (x)")
    (tmp_path / "kiosk-backup.json").write_text(json.dumps({"format": "kiosk-backup"}))
    with tarfile.open(foreign, "w") as tar:
        tar.add(tmp_path / "kiosk-backup.json", arcname="kiosk-backup.json")
        tar.add(db_path, arcname="kiosk.db")
    plain = tmp_path / "plain.tar"
    plain.write_text("not a tar")
    genuine = tmp_path / "genuine.tar"
    assert run_kiosk("backup", str(genuine), data_dir=enrolled_copy).returncode == 0
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(genuine) as source, tarfile.open(tampered, "w") as target:
        for member in source:
            data = source.extractfile(member).read()
            if member.name.startswith("photos/") and not any(m.startswith("photos/") for m in target.getnames()):
                data = data[:-1] + bytes([data[-1] ^ 1])
            target.addfile(member, io.BytesIO(data))
    before = (enrolled_copy / "kiosk.db").read_bytes()
    for archive in (escape, foreign, plain, tampered):
        result = run_kiosk("restore", str(archive), data_dir=enrolled_copy)
        assert result.returncode == 2 and str(archive) in result.stderr and "not a kiosk backup" in result.stderr
        assert "Traceback" not in result.stderr
    assert "checksum" in result.stderr
    assert not (tmp_path / "outside.txt").exists()
    assert (enrolled_copy / "kiosk.db").read_bytes() == before
    assert not list(enrolled_copy.glob(".restore-*"))


# --- unknown faces -----------------------------------------------------------------------------

def test_unknown_crops_are_bounded_labelled_and_purged(enrolled_copy, people_dir):
    from kiosk.store.faces import save_unknown_face
    config = dataclasses.replace(Config(data_dir=str(enrolled_copy)),
                                 recognition=RecognitionConfig(unknown_max_count=2))
    crop = np.asarray(Image.open(people_dir / "obama" / "obama.jpg").convert("RGB"))[50:200, 50:200]
    with Store(enrolled_copy) as store:
        embedding = store.people.load_gallery().encodings[0]
        ids = [save_unknown_face(store, config.recognition, crop, embedding + i * 0.001, track_id=i) for i in range(3)]
        kept = store.unknowns.all()
    assert [f.id for f in kept] == ids[1:]
    crops = sorted((enrolled_copy / "unknowns").iterdir())
    assert len(crops) == 2 and all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in crops)
    listed = json.loads(run_kiosk("unknowns", "list", "--json", data_dir=enrolled_copy).stdout)
    assert [row["id"] for row in listed] == ids[1:]
    labelled = run_kiosk("unknowns", "label", str(ids[1]), "visitor", data_dir=enrolled_copy)
    assert labelled.returncode == 0, labelled.stderr
    with Store(enrolled_copy) as store:
        sample = store.people.samples_of("visitor")[0]
        assert store.photo_path(sample.photo_sha256).is_file() and [f.id for f in store.unknowns.all()] == ids[2:]
    assert run_kiosk("unknowns", "label", "9999", "x", data_dir=enrolled_copy).returncode == 2
    purged = run_kiosk("unknowns", "purge", data_dir=enrolled_copy)
    assert purged.returncode == 0 and not any((enrolled_copy / "unknowns").iterdir())
    with Store(enrolled_copy) as store:
        assert store.unknowns.all() == []


# --- legacy pickles ------------------------------------------------------------------------------

def test_import_pickle_adds_encodings_once(tmp_path):
    rng = np.random.default_rng(1)
    encodings = [rng.normal(0, 0.1, 128) for _ in range(3)]
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": ["ada", "grace", "ada"]}, protocol=4))
    first = run_kiosk("import-pickle", str(path), "--json", data_dir=tmp_path / "data")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"people": 2, "added": 3, "duplicates": 0}
    again = run_kiosk("import-pickle", str(path), "--json", data_dir=tmp_path / "data")
    assert json.loads(again.stdout)["added"] == 0
    with Store(tmp_path / "data") as store:
        gallery = store.people.load_gallery()
        assert gallery.names == ["ada", "grace"]
        assert np.allclose(gallery.encodings[2], encodings[1], atol=1e-6)
        assert store.people.samples_of("ada")[0].source == "import-pickle:encodings.pickle#0"


def test_import_pickle_of_real_encodings_recognizes_a_probe(enrolled_store_dir, tmp_path):
    """The tutorials' file: a list of float64 arrays from face_recognition and a list of names."""
    with Store(enrolled_store_dir) as store:
        gallery = store.people.load_gallery()
    ends = [*gallery.starts[1:], len(gallery)]
    names = [name for name, start, end in zip(gallery.names, gallery.starts, ends, strict=True)
             for _ in range(end - start)]
    encodings = [row.astype(np.float64) for row in gallery.encodings]
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": names}))
    data_dir = tmp_path / "data"
    imported = run_kiosk("import-pickle", str(path), "--json", data_dir=data_dir)
    assert json.loads(imported.stdout) == {"people": 6, "added": 11, "duplicates": 0}, imported.stderr
    with Store(data_dir) as store:
        settings = store.people.samples_of("obama")[0].settings
    assert (settings.detector, settings.landmarks, settings.jitters) == ("unknown", 68, 1)
    probe = require_data("probes", "obama1.jpg")
    identified = json.loads(run_kiosk("identify", "--json", str(probe), data_dir=data_dir).stdout)
    assert [face["name"] for face in identified[0]["faces"]] == ["obama"]


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_import_pickle_refuses_code_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"encodings": [RunsACommand(marker)], "names": ["x"]}))
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"refusing to load {path}: it references" in result.stderr and "system" in result.stderr
    assert not marker.exists() and not (tmp_path / "data" / "kiosk.db").exists()
    wrong = tmp_path / "wrong.pickle"
    wrong.write_bytes(pickle.dumps({"encodings": [np.zeros(64)], "names": ["x"]}))
    refused = run_kiosk("import-pickle", str(wrong), data_dir=tmp_path / "data")
    assert refused.returncode == 2 and "128" in refused.stderr


def test_import_pickle_accepts_protocol_5(tmp_path):
    """Python 3.14 writes protocol 5 by default; numpy rebuilds arrays from raw buffers there."""
    import pickle

    from kiosk.enrollment.legacy_pickle import load_legacy_pickle
    path = tmp_path / "encodings.pickle"
    encodings = [np.random.default_rng(1).random(128) for _ in range(2)]
    path.write_bytes(pickle.dumps({"encodings": encodings, "names": ["ada", "ada"]}, protocol=5))
    names, matrix = load_legacy_pickle(path)
    assert names == ["ada", "ada"] and matrix.shape == (2, 128)
    assert np.allclose(matrix, np.vstack(encodings))
