"""A full drive: one line, and everything done before it is kept."""

from __future__ import annotations

import json

from kiosk.store import Store

from conftest import require_data, run_kiosk


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def test_a_full_drive_is_one_line_and_keeps_what_was_done(small_drive, tmp_path):
    root = tmp_path / "stick"
    for index, name in enumerate(("obama", "biden", "alex_lacamoire")):
        (root / name).mkdir(parents=True)
        source = require_data("people", name, "img1.jpg" if name == "alex_lacamoire" else f"{name}.jpg")
        for copy in range(12):  # different bytes, the same face: each one a kept photo
            (root / name / f"{copy}.jpg").write_bytes(source.read_bytes() + bytes([index, copy]) * 10)
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  fallback_detector: none\n  jitters: 1\n")
    data = small_drive / "data"
    result = run_kiosk("enroll", str(root), data_dir=data, env={"KIOSK_CONFIG": str(config)}, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No space left on device" in result.stderr or "disk is full" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    listed = run_kiosk("people", "list", "--json", data_dir=data)
    assert listed.returncode == 0 and json.loads(listed.stdout), listed.stderr
    doctor = run_kiosk("doctor", data_dir=data, env={"KIOSK_CONFIG": str(config)})
    assert "damaged" not in doctor.stdout
    backup = small_drive / "backup.tar"
    result = run_kiosk("backup", str(backup), data_dir=data)
    assert result.returncode == 2 and "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert not backup.exists() and not list(small_drive.glob(".backup.tar.*"))
    removed = run_kiosk("people", "remove", "obama", "--yes", data_dir=data)
    assert removed.returncode in (0, 2) and "Traceback" not in removed.stderr, removed.stderr
    assert len(removed.stderr.strip().splitlines()) <= 1


def test_a_damaged_kept_photo_is_left_out_of_a_backup_that_restores(enrolled_copy, tmp_path):
    with Store(enrolled_copy) as store:
        photo = store.photo_path(store.people.samples_of("obama")[0].photo_sha256)
    photo.write_bytes(photo.read_bytes()[:1000])  # cut short, as a full card once left it
    backup = tmp_path / "backup.tar"
    result = run_kiosk("backup", str(backup), data_dir=enrolled_copy)
    assert result.returncode == 0 and f"left out the kept photo {photo.name[:12]}" in result.stderr
    restored = run_kiosk("restore", str(backup), data_dir=tmp_path / "elsewhere")
    assert restored.returncode == 0, restored.stderr
    with Store(enrolled_copy) as store:  # the same photo enrolled again: the damaged copy is replaced
        store.people.keep_photo(photo.name, good_photo())
    assert photo.read_bytes() == good_photo()
