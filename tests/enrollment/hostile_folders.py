"""Hostile folders and names on a stick: each bad file or name costs only itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kiosk.config import EnrollmentConfig, parse_config
from kiosk.enrollment import encoding
from kiosk.enrollment.enroll import import_folder
from kiosk.enrollment.photos import WalkLimits, scan_people
from kiosk.errors import ConfigError
from kiosk.store import Store

from conftest import require_data, run_kiosk

FAST = EnrollmentConfig(fallback_detector="none", jitters=1)  # no CNN second look: hundreds of photos


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def skipped_reasons(report) -> dict[str, str]:
    return {item.file: item.reason for item in report.skipped}


def test_names_that_are_not_utf8_are_skipped_with_a_readable_name(tmp_path):
    root = bytes(tmp_path / "stick")
    os.makedirs(root + b"/caf\xe9", exist_ok=True)  # Latin-1, as an old camera writes it
    os.makedirs(root + b"/obama", exist_ok=True)
    Path(os.fsdecode(root + b"/caf\xe9/a.jpg")).write_bytes(good_photo())
    Path(os.fsdecode(root + b"/obama/photo\xff.jpg")).write_bytes(good_photo())
    Path(os.fsdecode(root + b"/obama/good.jpg")).write_bytes(good_photo())
    with Store(tmp_path / "data") as store:
        report = import_folder(store, os.fsdecode(root), FAST, encoder="dlib", workers=1, show_bar=False)
        assert [person.name for person in store.people.summaries()] == ["obama"]
    reasons = skipped_reasons(report)
    assert "not valid UTF-8" in reasons["caf\\xe9/"] and "not valid UTF-8" in reasons["obama/photo\\xff.jpg"]
    assert report.added == 1


def test_deep_nesting_and_too_many_files_are_reported_not_fatal(tmp_path):
    root = tmp_path / "stick"
    deep = root / "obama"
    deep.mkdir(parents=True)
    (deep / "top.jpg").write_bytes(good_photo())
    level = deep
    for _ in range(1000):  # deeper than any recursion or file descriptor limit would allow
        level = level / "d"
        level.mkdir()
    (level / "bottom.jpg").write_bytes(good_photo())
    try:
        people, skipped = scan_people(root)
    finally:  # removed bottom up: the test runner's own clean-up recurses, and would not get down
        (level / "bottom.jpg").unlink()
        while level != deep:
            level.rmdir()
            level = level.parent
    assert [p.photo_files for p in people] == [["obama/top.jpg"]]
    assert any("nested more than 8 levels" in s.reason for s in skipped)
    many = root / "biden"
    many.mkdir()
    for index in range(30):
        (many / f"{index:02}.jpg").write_bytes(b"x")
    people, skipped = scan_people(root, WalkLimits(max_files=20))
    assert sum(len(p.photo_files) for p in people) == 20
    assert sum("more than 20 photos" in s.reason for s in skipped) == 11


def test_unknown_is_a_reserved_name(tmp_path, enrolled_copy):
    root = tmp_path / "stick"
    (root / "Unknown").mkdir(parents=True)
    (root / "Unknown" / "a.jpg").write_bytes(good_photo())
    with Store(tmp_path / "data") as store:
        report = import_folder(store, root, FAST, encoder="dlib", workers=1, show_bar=False)
    assert report.added == 0 and "reserved" in skipped_reasons(report)["Unknown/"]
    result = run_kiosk("people", "rename", "obama", "UNKNOWN", data_dir=enrolled_copy)
    assert result.returncode == 2 and "reserved" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_numbers_must_be_finite(value):
    with pytest.raises(ConfigError, match=r"recognition\.tolerance: expected a finite number"):
        parse_config(f"recognition:\n  tolerance: {value}\n")
    with pytest.raises(ConfigError, match=r"enrollment\.max_file_mb: expected a finite number"):
        parse_config(f"enrollment:\n  max_file_mb: {value}\n")


def test_remove_list_saved_with_a_byte_order_mark(tmp_path, enrolled_copy):
    stick = tmp_path / "stick"
    (stick / "faces").mkdir(parents=True)
    (stick / "remove.txt").write_bytes("\ufeffbiden\r\n".encode())  # Windows Notepad
    result = run_kiosk("import-usb", str(stick), "--json", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["removed"] == ["biden"]


def test_a_worker_that_dies_costs_only_its_photo(tmp_path, monkeypatch):
    """A photo whose decoding kills the worker process (as the kernel's OOM killer would)."""
    root = tmp_path / "stick"
    for name in ("obama", "biden"):
        (root / name).mkdir(parents=True)
        (root / name / "good.jpg").write_bytes(good_photo(name))
    (root / "obama" / "killer.jpg").write_bytes(b"KILL" + good_photo())
    real = encoding._encode_photo

    def dies_on_the_killer(data: bytes):
        if data.startswith(b"KILL"):
            os._exit(137)
        return real(data)
    monkeypatch.setattr(encoding, "_encode_photo", dies_on_the_killer)  # inherited by the forked workers
    with Store(tmp_path / "data") as store:
        report = import_folder(store, root, FAST, encoder="dlib", workers=2, show_bar=False)
    assert report.added == 2
    assert skipped_reasons(report) == {"obama/killer.jpg": "its decoding process died (out of memory, or stuck)"}
