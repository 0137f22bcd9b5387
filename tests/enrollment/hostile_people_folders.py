"""Person folders that are not what they seem: skipped with a reason."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from kiosk.store import Store

from conftest import REPO, huge_png_header, require_data, run_kiosk


def _hostile_tree(root: Path, outside: Path) -> None:
    """Every kind of bad input beside valid photos."""
    people = require_data("people")
    good = root / "ada"
    good.mkdir(parents=True)
    (good / "ok.jpg").write_bytes((people / "obama" / "obama.jpg").read_bytes())
    (good / "empty.jpg").write_bytes(b"")
    whole = (people / "biden" / "biden.jpg").read_bytes()
    (good / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (good / "text.jpg").write_text("hello, I am not a photo")
    (good / "huge.png").write_bytes(huge_png_header(30000, 30000))
    (good / "model.pickle").write_bytes(b"\x80\x04K\x01.")
    (good / "two.jpg").write_bytes(require_data("probes", "two_people.jpg").read_bytes())
    secret = outside / "secret.jpg"
    secret.write_bytes((people / "rose_leslie" / "img1.jpg").read_bytes())
    (good / "escape.jpg").symlink_to(secret)
    (good / "escape_dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(good / "pipe.jpg")

    phone = root / "grace"
    (phone / "nested" / "deeper").mkdir(parents=True)
    upright = Image.open(people / "kit_harington" / "john2.jpeg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(phone / "nested" / "rotated.jpg", exif=exif)
    heic = root / "linus"
    heic.mkdir()
    Image.open(people / "lin_manuel_miranda" / "lin-manuel-miranda.png").convert("RGB").save(heic / "photo.heic")

    (root / "new\nline").mkdir()
    (root / "new\nline" / "a.jpg").write_bytes((people / "obama" / "obama2.jpg").read_bytes())
    (root / "nobody").mkdir()
    (root / "nobody" / "notes.txt").write_text("no photos here")
    (root / "loose.jpg").write_bytes((people / "obama" / "obama2.jpg").read_bytes())
    (root / "outside_link").symlink_to(outside, target_is_directory=True)


def test_hostile_folder_reports_everything_and_enrolls_the_good_photos(tmp_path):
    import kiosk.vision.images  # noqa: F401  (registers the HEIF opener used to write the test photo)
    root, outside = tmp_path / "stick", tmp_path / "outside"
    outside.mkdir()
    _hostile_tree(root, outside)
    result = run_kiosk("enroll", "--json", str(root), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert report["added"] == 3 and report["people"] == 3, report
    assert "empty" in reasons["ada/empty.jpg"]
    assert "truncated" in reasons["ada/truncated.jpg"]
    assert "format" in reasons["ada/text.jpg"]
    assert "too large" in reasons["ada/huge.png"]
    assert "not a photo" in reasons["ada/model.pickle"]
    assert "2 faces" in reasons["ada/two.jpg"]
    assert "symbolic link" in reasons["ada/escape.jpg"]
    assert "symbolic link" in reasons["ada/escape_dir"]
    assert "regular file" in reasons["ada/pipe.jpg"]
    assert "control characters" in reasons["new\\nline/"]
    assert "no photos" in reasons["nobody/"]
    assert "person folder" in reasons["loose.jpg"]
    assert "symbolic link" in reasons["outside_link"]
    with Store(tmp_path / "data") as store:
        assert {p.name: p.samples for p in store.people.summaries()} == {"ada": 1, "grace": 1, "linus": 1}


def test_kill_mid_enroll_keeps_committed_photos_and_no_half_person(tmp_path, people_dir):
    data_dir = tmp_path / "data"
    env = dict(os.environ, KIOSK_CONFIG=str(REPO / "config.yaml"))
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir),
                                "enroll", str(people_dir)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and committed < 2:
        time.sleep(0.05)
        if (data_dir / "kiosk.db").exists():
            try:
                with sqlite3.connect(data_dir / "kiosk.db", timeout=5) as db:
                    committed = db.execute("SELECT count(*) FROM samples").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 2 <= committed < 11, "the import should be killed part-way"
    db = sqlite3.connect(data_dir / "kiosk.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = db.execute("SELECT count(*) FROM people p WHERE NOT EXISTS "
                         "(SELECT 1 FROM samples s WHERE s.person_id = p.id)").fetchone()[0]
    kept = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    db.close()
    assert orphans == 0 and kept >= committed
    result = run_kiosk("enroll", "--json", str(people_dir), data_dir=data_dir)
    report = json.loads(result.stdout)
    assert report["duplicates"] == kept and report["added"] == 11 - kept
