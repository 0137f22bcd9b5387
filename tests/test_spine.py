"""The recognition core on real photos: config, loading, enroll, identify, store, hostile input."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kiosk.config import ConfigError, EnrollmentConfig, load_config, parse_config
from kiosk.enrollment.enroll import import_folder
from kiosk.names import validate_person_name
from kiosk.store import Store, StoreError
from kiosk.vision.images import ImageLimits, ImageRejected, load_image
from kiosk.vision.matcher import Gallery, MatchRule

from conftest import REPO, require_data, run_kiosk

# --- config ------------------------------------------------------------------------------

def test_repo_config_is_the_documented_default():
    from kiosk.config import Config
    loaded = load_config(str(REPO / "config.yaml"))
    assert {k: v for k, v in vars(loaded).items() if k != "source_path"} == \
        {k: v for k, v in vars(Config()).items() if k != "source_path"}


@pytest.mark.parametrize("text, key", [
    ("camera:\n  sorce: auto\n", "camera.sorce"),
    ("recognition:\n  tolerance: 1.5\n", "recognition.tolerance"),
    ("recognition:\n  tolerance: close\n", "recognition.tolerance"),
    ("detection:\n  landmarks: 7\n", "detection.landmarks"),
    ("display:\n  mode: hdmi\n", "display.mode"),
    ("enrollment:\n  keep_photos: maybe\n", "enrollment.keep_photos"),
    ("bogus: 1\n", "bogus"),
    ("camera:\n  source: usb:front\n", "camera.source"),
])
def test_bad_config_names_the_key(text, key):
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test.yaml")
    message = str(error.value)
    assert message.startswith("test.yaml: ") and f" {key}:" in message
    assert "\n" not in message


@pytest.mark.parametrize("text, key, lines", [
    ("recognition:\n  tolerance: 0.5\nlog_level: info\nrecognition:\n  margin: 0.1\n", "recognition", (1, 4)),
    ("recognition:\n  tolerance: 0.5\n  neighbors: 3\n  tolerance: 0.4\n", "recognition.tolerance", (2, 4)),
])
def test_a_key_given_twice_is_refused_with_both_lines(text, key, lines):
    """YAML keeps the last of two equal keys: a second block would silently drop the first's settings."""
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test.yaml")
    assert str(error.value) == f"test.yaml: {key}: given twice, on line {lines[0]} and line {lines[1]}"


def test_config_lookup_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("data_dir: /from/explicit\n")
    env_file = tmp_path / "env.yaml"
    env_file.write_text("data_dir: /from/env\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIOSK_CONFIG", str(env_file))
    monkeypatch.delenv("KIOSK_DATA_DIR", raising=False)
    assert load_config(str(explicit)).data_dir == "/from/explicit"
    assert load_config().data_dir == "/from/env"
    monkeypatch.setenv("KIOSK_DATA_DIR", "/from/data-env")
    assert load_config().data_dir == "/from/data-env"
    assert load_config(None, "/from/flag").data_dir == "/from/flag"
    monkeypatch.delenv("KIOSK_CONFIG")
    monkeypatch.delenv("KIOSK_DATA_DIR")
    (tmp_path / "config.yaml").write_text("data_dir: /from/cwd\n")
    assert load_config().data_dir == "/from/cwd"


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recognition:\n  tolerance: 3\n")
    result = run_kiosk("--config", str(bad), "people", "list")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "recognition.tolerance" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_folder_exits_2(tmp_path):
    result = run_kiosk("enroll", str(tmp_path / "nope"), data_dir=tmp_path / "d")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_help():
    for command in (["enroll"], ["identify"], ["people"], ["people", "list"]):
        result = run_kiosk(*command, "--help")
        assert result.returncode == 0 and "usage: kiosk" in result.stdout


# --- image loading -----------------------------------------------------------------------

def _jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **kwargs)
    return out.getvalue()


def test_exif_orientation_is_applied():
    upright = Image.new("RGB", (40, 20), (200, 30, 30))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 20x40, as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    loaded = load_image(_jpeg_bytes(stored, exif=exif))
    assert loaded.pixels.shape == (20, 40, 3)


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "L", "I;16", "CMYK", "1"])
def test_every_mode_becomes_8bit_rgb(mode):
    source = Image.new("RGB", (32, 24), (10, 120, 250)).convert(mode) if mode != "I;16" else \
        Image.fromarray(np.full((24, 32), 40000, np.uint16))
    out = io.BytesIO()
    source.save(out, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
    pixels = load_image(out.getvalue()).pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (24, 32, 3)


def test_large_photo_is_resized_and_scale_reported():
    big = Image.new("RGB", (4000, 2000), (90, 90, 90))
    loaded = load_image(_jpeg_bytes(big), ImageLimits(max_side=1000))
    assert max(loaded.pixels.shape[:2]) <= 1000 and loaded.scale == pytest.approx(4.0, rel=0.01)


def _huge_png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"this is plain text, not a photo\n", "accepted format"),
    (_huge_png_header(30000, 30000), "too large"),
])
def test_hostile_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        load_image(data)


def test_truncated_jpeg_is_refused_even_after_face_recognition_import():
    import kiosk.vision.engine  # noqa: F401  (importing face_recognition flips a Pillow global)
    whole = _jpeg_bytes(Image.effect_noise((300, 300), 60).convert("RGB"))
    with pytest.raises(ImageRejected, match="truncated|corrupt|unreadable"):
        load_image(whole[: len(whole) // 2])


def test_person_names_are_validated():
    assert validate_person_name("Zoë O'Brien") == "Zoë O'Brien"
    for bad in ["..", ".", "", "a/b", "new\nline", "x" * 65, ".hidden", " padded"]:
        with pytest.raises(ValueError):
            validate_person_name(bad)


# --- enroll / identify on the sample data -------------------------------------------------

def test_enroll_people_gives_6_people_and_11_samples(enrolled_store_dir):
    with Store(enrolled_store_dir) as store:
        assert store.people.counts() == (6, 11)
        assert {p.name for p in store.people.summaries()} == {
            "alex_lacamoire", "biden", "kit_harington", "lin_manuel_miranda", "obama", "rose_leslie"}
    photos = list((enrolled_store_dir / "photos").iterdir())
    assert len(photos) == 11
    for photo in photos + [enrolled_store_dir / "kiosk.db"]:
        assert stat.S_IMODE(photo.stat().st_mode) == 0o600


def test_identify_names_every_probe_as_expected(enrolled_store_dir):
    probes = require_data("probes")
    expected = json.loads((probes / "expected.json").read_text())
    result = run_kiosk("identify", "--json", *[str(probes / name) for name in expected],
                       data_dir=enrolled_store_dir)
    assert result.returncode == 0, result.stderr
    for entry in json.loads(result.stdout):
        names = sorted(face["name"] for face in entry["faces"])
        assert entry["error"] is None
        assert names == expected[Path(entry["image"]).name], entry
        for face in entry["faces"]:
            top, right, bottom, left = face["box"]
            assert bottom > top and right > left and 0 <= face["distance"] < 2


def test_identify_of_a_folder_on_every_core_gives_what_one_core_gives(enrolled_store_dir, tmp_path):
    probes = require_data("probes")
    one_core = tmp_path / "one.yaml"
    one_core.write_text((REPO / "config.yaml").read_text().replace("\n  workers: 0\n", "\n  workers: 1\n"))
    assert "\n  workers: 1\n" in one_core.read_text()
    folder = run_kiosk("identify", "--json", str(probes), data_dir=enrolled_store_dir)
    serial = run_kiosk("identify", "--json", *sorted(str(p) for p in probes.iterdir() if p.suffix != ".json"),
                       data_dir=enrolled_store_dir, env={"KIOSK_CONFIG": str(one_core)})
    assert folder.returncode == 0 and serial.returncode == 0, folder.stderr + serial.stderr
    by_folder, by_one = json.loads(folder.stdout), json.loads(serial.stdout)
    assert [e["image"] for e in by_folder] == [e["image"] for e in by_one]  # in order, expected.json left out
    assert [[f["name"] for f in e["faces"]] for e in by_folder] == [[f["name"] for f in e["faces"]] for e in by_one]


def test_identify_reports_an_unreadable_image_and_goes_on(enrolled_store_dir, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    good = require_data("probes", "obama1.jpg")
    result = run_kiosk("identify", "--json", str(broken), str(good), data_dir=enrolled_store_dir)
    entries = json.loads(result.stdout)
    assert result.returncode == 0
    assert entries[0]["error"] and entries[0]["faces"] == []
    assert entries[1]["error"] is None and entries[1]["faces"][0]["name"] == "obama"


def test_enroll_is_incremental(enrolled_copy, people_dir):
    result = run_kiosk("enroll", "--json", str(people_dir), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("people", "added", "duplicates", "skipped", "suspects")} == {
        "people": 6, "added": 0, "duplicates": 11, "skipped": [], "suspects": []}


def test_keep_photos_off_keeps_encodings_only(tmp_path, people_dir):
    with Store(tmp_path) as store:
        report = import_folder(store, people_dir / ".." / "people", EnrollmentConfig(keep_photos=False), encoder="dlib",
                               workers=1, show_bar=False)
        assert report.added == 11
    assert not (tmp_path / "photos").exists() or not any((tmp_path / "photos").iterdir())


# --- hostile folders ----------------------------------------------------------------------

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
    (good / "huge.png").write_bytes(_huge_png_header(30000, 30000))
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


# --- store and matcher -------------------------------------------------------------------

def test_store_refuses_a_foreign_sqlite_file(tmp_path):
    with sqlite3.connect(tmp_path / "kiosk.db") as db:
        db.execute("CREATE TABLE something (x)")
    with pytest.raises(StoreError, match="not a kiosk store"):
        Store(tmp_path)


def test_store_uses_wal_full_sync_and_versioned_schema(tmp_path):
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.db.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_gallery_matches_like_a_brute_force_loop():
    rng = np.random.default_rng(7)
    counts = [3, 1, 5, 2, 4]
    names = ["a", "b", "c", "d", "e"]
    encodings = rng.normal(0, 0.1, (sum(counts), 128)).astype(np.float32)
    encodings[11:15] = encodings[5:9] + rng.normal(0, 0.004, (4, 128))  # e is c's look-alike
    faces = np.vstack([encodings[[0, 4, 9, 6]] + 0.005, rng.normal(0, 0.1, (30, 128))]).astype(np.float32)
    gallery = Gallery(names, counts, encodings)
    owners = np.array([n for n, c in zip(names, counts, strict=True) for _ in range(c)])
    outcomes = set()
    for rule in (MatchRule(0.6, 0.0, 1), MatchRule(0.6, 0.05, 3), MatchRule(1.5, 0.02, 2)):
        for face, match in zip(faces, gallery.match(faces, rule), strict=True):
            distances = np.linalg.norm(encodings - face, axis=1)
            scores = {n: np.sort(distances[owners == n])[:rule.neighbors].mean() for n in names}
            ranked = sorted(scores, key=scores.get)
            best, second = scores[ranked[0]], scores[ranked[1]]
            assert match.distance == pytest.approx(best, abs=1e-4)
            assert match.second == pytest.approx(second, abs=1e-4)
            named = best <= rule.tolerance and second - best >= rule.margin
            assert match.name == (ranked[0] if named else "unknown")
            outcomes.add((match.name == "unknown", match.reason))
    assert outcomes == {(False, ""), (True, "too far"), (True, "ambiguous")}  # every branch was taken
    assert Gallery.empty(0, 128).match(faces, 0.6)[0].name == "unknown"
