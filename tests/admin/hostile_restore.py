"""A restore trusts nothing in the archive it is given."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import crafted_backup, run_kiosk

TAMPERING = {
    "trigger": ("CREATE TRIGGER wipe AFTER INSERT ON events BEGIN DELETE FROM people; END",
                "has a trigger 'wipe' that is not the kiosk's"),
    "view": ("CREATE VIEW everyone AS SELECT * FROM people", "has a view 'everyone' that is not the kiosk's"),
    "short embedding": ("PRAGMA ignore_check_constraints = ON; UPDATE samples SET embedding = x'00000000' "
                        "WHERE id = (SELECT min(id) FROM samples)",
                        "has an embedding in samples that is not 128 finite numbers"),
    "nan embedding": ("UPDATE samples SET embedding = CAST(x'0000c07f' || substr(embedding, 5) AS BLOB) "
                      "WHERE id = (SELECT min(id) FROM samples)",
                      "has an embedding in samples that is not 128 finite numbers"),
    "reserved name": ("UPDATE people SET name = 'Unknown' WHERE name = 'obama'",
                      "has a person's name the kiosk does not accept ('Unknown')"),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_restore_refuses_a_database_the_kiosk_did_not_write(enrolled_copy, tmp_path, kind):
    sql, reason = TAMPERING[kind]
    crafted = crafted_backup(enrolled_copy, tmp_path, lambda db: db.executescript(sql))
    before = json.loads(run_kiosk("people", "list", "--json", data_dir=enrolled_copy).stdout)
    result = run_kiosk("restore", str(crafted), data_dir=enrolled_copy)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"kiosk: {crafted}: not a kiosk backup (kiosk.db {reason})"
    assert json.loads(run_kiosk("people", "list", "--json", data_dir=enrolled_copy).stdout) == before
    assert not list(enrolled_copy.glob(".restore-*"))


def test_restore_refuses_sparse_members_and_deep_manifests_before_writing(enrolled_copy, tmp_path):
    sparse_dir = tmp_path / "sparse"
    (sparse_dir / "photos").mkdir(parents=True)
    (sparse_dir / "kiosk-backup.json").write_text('{"format": "kiosk-backup"}')
    (sparse_dir / "kiosk.db").write_bytes((enrolled_copy / "kiosk.db").read_bytes())
    with open(sparse_dir / "photos" / ("0" * 64), "wb") as hole:
        hole.truncate(2 << 30)  # 2 GB of nothing: a few KB in a sparse tar
    sparse = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "-cf", str(sparse), "-C", str(sparse_dir), "kiosk-backup.json", "kiosk.db",
                    f"photos/{'0' * 64}"], check=True)
    assert sparse.stat().st_size < 1 << 20
    result = run_kiosk("restore", str(sparse), data_dir=enrolled_copy)
    assert result.returncode == 2 and f"photos/{'0' * 64} is a sparse file" in result.stderr
    crop_dir = tmp_path / "crop"
    (crop_dir / "unknowns").mkdir(parents=True)
    (crop_dir / "kiosk-backup.json").write_text('{"format": "kiosk-backup"}')
    (crop_dir / "kiosk.db").write_bytes((enrolled_copy / "kiosk.db").read_bytes())
    (crop_dir / "unknowns" / "face.jpg").write_bytes(bytes(11 << 20))
    crop = tmp_path / "crop.tar"
    subprocess.run(["tar", "-cf", str(crop), "-C", str(crop_dir), "kiosk-backup.json", "kiosk.db",
                    "unknowns/face.jpg"], check=True)
    result = run_kiosk("restore", str(crop), data_dir=enrolled_copy)
    assert result.returncode == 2 and "unknowns/face.jpg is larger than such a file can be" in result.stderr
    deep_dir = tmp_path / "deep"
    deep_dir.mkdir()
    (deep_dir / "kiosk-backup.json").write_text("[" * 400_000 + "]" * 400_000)
    (deep_dir / "kiosk.db").write_bytes((enrolled_copy / "kiosk.db").read_bytes())
    deep = tmp_path / "deep.tar"
    subprocess.run(["tar", "-cf", str(deep), "-C", str(deep_dir), "kiosk-backup.json", "kiosk.db"], check=True)
    result = run_kiosk("restore", str(deep), data_dir=enrolled_copy)
    assert result.returncode == 2 and "kiosk-backup.json is not JSON" in result.stderr
    assert "Traceback" not in result.stderr and not list(enrolled_copy.glob(".restore-*"))


def test_copies_kept_before_restores_are_bounded_and_go_with_a_removed_person(enrolled_copy, tmp_path):
    """Each restore keeps the store it replaced under backups/; at most 3 are kept, and removing
    a person deletes them all, since they hold that person as they were."""
    backup_file = tmp_path / "now.tar"
    assert run_kiosk("backup", str(backup_file), data_dir=enrolled_copy).returncode == 0
    for _ in range(5):
        restored = run_kiosk("restore", "--yes", str(backup_file), data_dir=enrolled_copy)
        assert restored.returncode == 0, restored.stderr
    copies = sorted((enrolled_copy / "backups").glob("before-restore-*.tar"))
    assert len(copies) == 3
    removed = run_kiosk("people", "remove", "obama", "--yes", data_dir=enrolled_copy)
    assert removed.returncode == 0 and "deleted the 3 copies of the store kept before restores" in removed.stdout
    assert not list((enrolled_copy / "backups").glob("*.tar"))
