"""A process killed half-way: the next opening of the store finishes what was started."""

from __future__ import annotations

from kiosk.store import Store

from conftest import run_kiosk


def test_a_removal_cut_short_after_its_commit_is_finished_by_the_next_opening(enrolled_copy, monkeypatch):
    with Store(enrolled_copy) as store:
        photos = [store.photo_path(sample.photo_sha256) for sample in store.people.samples_of("obama")]
        assert photos and all(p.exists() for p in photos)
        with monkeypatch.context() as patched:  # killed right after the commit: no file deleted yet
            patched.setattr(Store, "delete_doomed_files", lambda self: 0)
            store.people.remove("obama")
        assert all(p.exists() for p in photos)
    with Store(enrolled_copy):  # the next command, whichever it is
        pass
    assert not any(p.exists() for p in photos)


def test_a_crafted_store_cannot_aim_the_clean_up_outside_its_folders(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    with Store(tmp_path / "data") as store, store.transaction() as db:
        db.executemany("INSERT INTO doomed_files (path) VALUES (?)",
                       [(f"photos/../../{outside.name}",), (str(outside),), ("photos/..",)])
    with Store(tmp_path / "data"):
        pass
    assert outside.read_text() == "keep me"


def test_restore_clears_what_a_killed_restore_left(enrolled_copy, tmp_path):
    backup = tmp_path / "backup.tar"
    assert run_kiosk("backup", str(backup), data_dir=enrolled_copy).returncode == 0
    stale = enrolled_copy / ".restore-killed"
    (stale / "photos").mkdir(parents=True)
    (stale / "photos" / "x").write_bytes(b"0" * 1000)
    result = run_kiosk("restore", "--yes", str(backup), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert not list(enrolled_copy.glob(".restore-*"))
