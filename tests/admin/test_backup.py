"""`kiosk backup` and `kiosk restore`."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import tarfile

from kiosk.store import Store

from conftest import run_kiosk


def test_backup_and_restore_round_trip(enrolled_copy, tmp_path):
    archive = tmp_path / "kiosk.tar"
    result = run_kiosk("backup", str(archive), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with Store(enrolled_copy) as store:
        store.people.remove("obama")
        generation = store.people.generation()
    asked = run_kiosk("restore", str(archive), data_dir=enrolled_copy)
    assert asked.returncode == 2 and "--yes" in asked.stderr
    assert "now holds 5 people, 9 samples and 0 events" in asked.stdout
    assert "holds 6 people and 11 samples" in asked.stdout
    with Store(enrolled_copy) as store:
        assert store.people.counts() == (5, 9)  # nothing replaced without an answer
    restored = run_kiosk("restore", "--yes", str(archive), data_dir=enrolled_copy)
    assert restored.returncode == 0, restored.stderr
    with Store(enrolled_copy) as store:
        assert store.people.counts() == (6, 11) and store.people.generation() > generation
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        for sample in store.people.samples_of("obama"):
            assert stat.S_IMODE(store.photo_path(sample.photo_sha256).stat().st_mode) == 0o600
    (kept,) = (enrolled_copy / "backups").glob("before-restore-*.tar")
    assert f"kept as {kept}" in restored.stdout
    back = run_kiosk("restore", "--yes", str(kept), data_dir=enrolled_copy)
    assert back.returncode == 0, back.stderr
    with Store(enrolled_copy) as store:
        assert store.people.counts() == (5, 9) and store.people.find("obama") is None  # the replaced store


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
