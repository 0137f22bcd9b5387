"""`kiosk import-usb` on folder trees shaped like operators' sticks, hostile ones included."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from pathlib import Path

from kiosk.config import Config, EnrollmentConfig
from kiosk.enrollment import usb
from kiosk.enrollment.usb import ProgressPublisher, import_stick
from kiosk.runtime import ImportProgress, read_record
from kiosk.store import Store

from conftest import run_kiosk


def _config(data_dir: Path) -> Config:
    return dataclasses.replace(Config(), data_dir=str(data_dir), enrollment=EnrollmentConfig(workers=1))


def _copy_person(people: Path, name: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for photo in sorted((people / name).iterdir()):
        (target / photo.name).write_bytes(photo.read_bytes())


def _tree_snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_faces_folder_layout_with_remove_list(tmp_path, people_dir, enrolled_copy, monkeypatch):
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    stick = tmp_path / "stick"
    _copy_person(people_dir, "rose_leslie", stick / "faces" / "Rose")
    (stick / "faces" / "broken").mkdir()
    (stick / "faces" / "broken" / "bad.jpg").write_text("not a photo")
    (stick / "remove.txt").write_text("# people to forget\nbiden\n\nnobody here\n../etc\n")
    before = _tree_snapshot(stick)
    result = run_kiosk("import-usb", "--json", str(stick), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # rose_leslie's photos are already enrolled under that name: duplicates, reported as such.
    assert report["added"] == 0 and report["duplicates"] == 2
    assert report["removed"] == ["biden"] and report["remove_not_found"] == ["nobody here"]
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert "accepted format" in reasons["broken/bad.jpg"]
    assert any(key.startswith("remove.txt:5") for key in reasons)
    assert "USB import from" in result.stderr  # the journal summary
    with Store(enrolled_copy) as store:
        names = {p.name for p in store.people.summaries()}
    assert "biden" not in names and "rose_leslie" in names
    assert _tree_snapshot(stick) == before, "nothing is written to the stick by default"
    progress = read_record(enrolled_copy / "import.json", ImportProgress)
    assert progress.state == "done" and progress.total == 3 and progress.removed == 1


def test_top_level_person_folders_when_no_faces_folder(tmp_path, people_dir):
    stick = tmp_path / "stick"
    _copy_person(people_dir, "obama", stick / "Barack")
    report = import_stick(_config(tmp_path / "data"), stick)
    assert report.imported.added == 2
    with Store(tmp_path / "data") as store:
        assert [p.name for p in store.people.summaries()] == ["Barack"]


def test_faces_symlink_leading_off_the_stick_is_not_followed(tmp_path, people_dir):
    outside = tmp_path / "outside"
    _copy_person(people_dir, "obama", outside / "Barack")
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "faces").symlink_to(outside, target_is_directory=True)
    report = import_stick(_config(tmp_path / "data"), stick)
    assert report.imported.added == 0
    assert any("symbolic link" in s.reason for s in report.imported.skipped)


def test_stick_pulled_mid_import_keeps_what_was_committed(tmp_path, people_dir, monkeypatch):
    stick = tmp_path / "stick"
    for name in ("obama", "biden", "rose_leslie"):
        _copy_person(people_dir, name, stick / "faces" / name)
    real_publish = ProgressPublisher.publish

    def pull_after_two(self, progress, force=False):
        if progress.processed == 2:  # the stick disappears after two photos were committed
            for photo in (stick / "faces").rglob("*.jpg"):
                photo.unlink()
        real_publish(self, progress, force)

    monkeypatch.setattr(ProgressPublisher, "publish", pull_after_two)
    report = import_stick(_config(tmp_path / "data"), stick)
    assert report.imported.added == 2
    gone = [s for s in report.imported.skipped if "drive removed" in s.reason]
    assert len(gone) == 4
    db = sqlite3.connect(tmp_path / "data" / "kiosk.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 2
    db.close()


def test_write_report_only_when_asked(tmp_path, people_dir):
    stick = tmp_path / "stick"
    _copy_person(people_dir, "obama", stick / "faces" / "obama")
    import_stick(_config(tmp_path / "data"), stick, write_report=True)
    text = (stick / "kiosk-import-report.txt").read_text()
    assert text.startswith("added 2,")


def test_missing_mountpoint_is_a_usage_error(tmp_path):
    result = run_kiosk("import-usb", str(tmp_path / "gone"), data_dir=tmp_path / "data")
    assert result.returncode == 2 and "gone" in result.stderr and "Traceback" not in result.stderr


def test_a_stick_in_the_wrong_layout_says_which_layout_it_expects(tmp_path, people_dir, monkeypatch):
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    loose = tmp_path / "loose"
    loose.mkdir()
    for photo in sorted((people_dir / "obama").iterdir()):
        (loose / photo.name).write_bytes(photo.read_bytes())
    empty = tmp_path / "empty"
    empty.mkdir()
    data = tmp_path / "data"
    for stick, found in ((loose, "2 photo(s) lie loose, outside any person folder"),
                         (empty, "no person folder with photos")):
        result = run_kiosk("import-usb", str(stick), data_dir=data)
        assert result.returncode == 0, result.stderr
        expected = f"nothing to import: {found}; expected one folder per person, faces/<name>/<photos> on the stick"
        assert expected in result.stdout
        progress = read_record(data / "import.json", ImportProgress)
        assert progress.state == "done" and progress.hint == expected


def test_remove_list_names_are_matched_as_typed_and_a_typo_gets_a_suggestion(tmp_path, enrolled_copy):
    stick = tmp_path / "stick"
    (stick / "faces").mkdir(parents=True)
    (stick / "remove.txt").write_text("Kit Harington\nRose Lesly\n")
    result = run_kiosk("import-usb", str(stick), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert "not removed Rose Lesly: nobody of that name (did you mean rose_leslie?)" in result.stdout
    assert "nothing to import" not in result.stdout  # a stick that only removes people is laid out right
    with Store(enrolled_copy) as store:
        assert store.people.find("kit_harington") is None and store.people.find("rose_leslie") == "rose_leslie"


def test_progress_stays_fresh_while_one_photo_takes_long(tmp_path, monkeypatch):
    """On a slow processor one photo can take longer than the screen waits before it takes an
    import for dead; the running record is rewritten meanwhile, and a finished one is left be."""
    monkeypatch.setattr(usb, "STALE_AFTER_SECONDS", 0.3)
    path = tmp_path / "import.json"
    with ProgressPublisher(path) as progress:
        progress.publish(ImportProgress("running", "/stick", 0, 3), force=True)
        first = json.loads(path.read_text())["updated_at"]
        time.sleep(0.6)
        refreshed = json.loads(path.read_text())
        assert refreshed["updated_at"] > first
        assert (refreshed["state"], refreshed["processed"], refreshed["total"]) == ("running", 0, 3)
        progress.publish(ImportProgress("done", "/stick", 3, 3, added=3), force=True)
        done = json.loads(path.read_text())["updated_at"]
        time.sleep(0.4)
        assert json.loads(path.read_text())["updated_at"] == done
