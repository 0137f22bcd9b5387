"""Hostile and careless input: one bad file or folder never stops an import, and costs only itself.

Every hostile input is built here, from the sample photos or from nothing; none is kept in the
repository.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from kiosk.config import EnrollmentConfig, parse_config
from kiosk.enrollment import encoding
from kiosk.enrollment.enroll import import_folder
from kiosk.enrollment.photos import WalkLimits, scan_people
from kiosk.errors import ConfigError
from kiosk.store import Store

from conftest import REPO, require_data, run_kiosk

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


# --- fuzzing ---------------------------------------------------------------------------------------

FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP", "heic": "HEIF"}


def encoded(image: Image.Image, kind: str) -> bytes:
    if kind == "heic":
        import pillow_heif
        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, FORMATS[kind])
    return buffer.getvalue()


def mutations(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """Bit flips (in the header and anywhere), truncations and a rewritten header field."""
    cases = []
    for flips in (1, 8, 64):
        mutated = bytearray(data)
        for _ in range(flips):
            position = rng.randrange(min(len(data), 64)) if flips == 1 else rng.randrange(len(data))
            mutated[position] ^= 1 << rng.randrange(8)
        cases.append((f"flip{flips}", bytes(mutated)))
    for share in (0.1, 0.5, 0.9):
        cases.append((f"cut{int(share * 100)}", data[:max(1, int(len(data) * share))]))
    header = bytearray(data)
    offset = rng.randrange(4, min(len(data), 40))
    header[offset:offset + 4] = b"\xff\xff\xff\x7f"  # a huge size or count where a field was
    cases.append(("field", bytes(header)))
    return cases


def test_fuzzed_photos_each_enroll_or_are_skipped_and_the_good_ones_go_in(tmp_path, enrolled_copy):
    rng = random.Random(15)
    root = tmp_path / "stick"
    (root / "fuzz").mkdir(parents=True)
    (root / "kit_harington").mkdir()
    (root / "kit_harington" / "good.jpg").write_bytes(
        require_data("probes", "johnsnow_test1.jpg").read_bytes())
    sources = [Image.open(require_data("people", *parts)).convert("RGB")
               for parts in (("obama", "obama.jpg"), ("biden", "biden.jpg"), ("alex_lacamoire", "img1.jpg"))]
    count = 0
    for number, image in enumerate(sources):
        image.thumbnail((400, 400))
        for kind in FORMATS:
            for round_ in range(4):
                for label, data in mutations(encoded(image, kind), rng):
                    (root / "fuzz" / f"{number}-{round_}-{label}.{kind}").write_bytes(data)
                    count += 1
    assert count >= 400
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  fallback_detector: none\n  jitters: 1\n")
    result = run_kiosk("enroll", str(root), "--json", data_dir=tmp_path / "data",
                       env={"KIOSK_CONFIG": str(config)}, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    fuzz_skipped = [file for file in reasons if file.startswith("fuzz/")]
    assert all(reasons[file] for file in fuzz_skipped)
    assert report["added"] + report["duplicates"] + len(fuzz_skipped) == count + 1
    assert "kit_harington/good.jpg" not in reasons
    people = json.loads(run_kiosk("people", "list", "--json", data_dir=tmp_path / "data").stdout)
    assert "kit_harington" in {p["name"] for p in people}
    kinds: dict[str, int] = {}
    for reason in reasons.values():
        kinds[reason.split("(")[0].strip()] = kinds.get(reason.split("(")[0].strip(), 0) + 1
    print(f"fuzz: {count} cases, {report['added']} enrolled, {report['duplicates']} duplicates, "
          f"{len(fuzz_skipped)} skipped: {dict(sorted(kinds.items(), key=lambda kv: -kv[1]))}")


# --- the command line and the config ----------------------------------------------------------------

# log_level: a list of nine lists of nine lists ... (9 levels): 9**9 strings once expanded.
BILLION_LAUGHS = "log_level: [&a [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(
    f"&{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)) + "]\n"


def test_a_billion_laughs_value_gives_one_short_line(tmp_path):
    """Nine levels of aliases, nine each, under a known key: refused at once, in one short line."""
    config = tmp_path / "config.yaml"
    config.write_text(BILLION_LAUGHS)
    result = run_kiosk("status", env={"KIOSK_CONFIG": str(config)}, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr) < 400, result.stderr


def test_bad_command_line_input_is_one_line(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("display:\n  greeting: \"Bienvenue, {name} à l'école\"\n".encode("latin-1"))
    result = run_kiosk("status", env={"KIOSK_CONFIG": str(latin)})
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr
    zero = run_kiosk("identify", "/dev/zero", "--json", data_dir=tmp_path / "data", timeout=60)
    assert zero.returncode == 0 and json.loads(zero.stdout)[0]["error"] == "not a regular file"
    stats = run_kiosk("run", "--source", "dir:/nowhere", "--stats-json", str(tmp_path / "missing" / "s.json"))
    assert stats.returncode == 2 and "--stats-json" in stats.stderr and "Traceback" not in stats.stderr
    since = run_kiosk("events", "--since", "99999999999999d", data_dir=tmp_path / "data")
    assert since.returncode == 2 and "--since" in since.stderr and "Traceback" not in since.stderr


# --- kills leave nothing behind -----------------------------------------------------------------------

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
    result = run_kiosk("restore", str(backup), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert not list(enrolled_copy.glob(".restore-*"))


# --- tutorial pickles and links ------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [0, 1, 2, 4])
def test_tutorial_pickles_of_every_protocol_import(tmp_path, protocol):
    import pickle

    import numpy as np
    rng = np.random.default_rng(protocol)
    gallery = {"encodings": [rng.normal(0, 0.1, 128) for _ in range(2)], "names": ["ada", "grace"]}
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps(gallery, protocol=protocol))
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    people = json.loads(run_kiosk("people", "list", "--json", data_dir=tmp_path / "data").stdout)
    assert {p["name"] for p in people} == {"ada", "grace"}


def test_a_tiny_pickle_of_shared_nested_lists_is_refused_without_expanding_it(tmp_path):
    import pickle
    nested: list = [0.0] * 8
    for _ in range(30):  # 8**30 numbers if expanded; a few hundred bytes on disk
        nested = [nested] * 8
    path = tmp_path / "bomb.pickle"
    path.write_bytes(pickle.dumps({"encodings": [nested], "names": ["ada"]}))
    assert path.stat().st_size < 2000
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data", timeout=60)
    assert result.returncode == 2 and "is not 128 finite numbers" in result.stderr


def test_devices_pipes_and_sockets_on_a_stick_are_never_opened(tmp_path):
    import socket
    import stat
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    (root / "good.jpg").write_bytes(good_photo())
    os.mkfifo(root / "pipe.jpg")  # opening it for reading would wait for a writer
    try:
        os.mknod(root / "tape.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a character device (/dev/null's)
    except PermissionError:  # a container without CAP_MKNOD: a FIFO in its place
        os.mkfifo(root / "tape.jpg")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "socket.jpg"))
        with Store(tmp_path / "data") as store:
            report = import_folder(store, root.parent, FAST, encoder="dlib", workers=1, show_bar=False)
    assert report.added == 1 and skipped_reasons(report) == dict.fromkeys(
        ("obama/pipe.jpg", "obama/socket.jpg", "obama/tape.jpg"), "not a regular file (a device, pipe or socket)")


def test_a_hard_link_on_a_stick_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(good_photo())
    root = tmp_path / "stick"
    (root / "obama").mkdir(parents=True)
    os.link(outside, root / "obama" / "linked.jpg")
    (root / "obama" / "own.jpg").write_bytes(good_photo("biden"))
    with Store(tmp_path / "data") as store:
        report = import_folder(store, root, FAST, encoder="dlib", workers=1, show_bar=False)
    assert "hard link" in skipped_reasons(report)["obama/linked.jpg"] and report.added == 1


# --- memory --------------------------------------------------------------------------------------------

MEASURE_IMPORT = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(result.stderr)
print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, result.stdout, sep="\\n")
"""


@pytest.mark.slow
def test_an_import_of_59_megapixel_photos_stays_within_400_mb(tmp_path):
    """The worst cases of a 59-megapixel picture (16-bit grey, RGBA; four of the first, one per
    worker) beside a good photo, none with a face, so the CNN takes its second look at each that
    decodes: the import's largest process stays under 400 MB, and the good photo is enrolled."""
    import numpy as np
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    (root / "good.jpg").write_bytes(good_photo())
    width, height = 8800, 6700
    ramp = (np.add.outer(np.arange(height, dtype=np.uint32) * 3, np.arange(width, dtype=np.uint32)) % 65536)
    for copy in range(4):
        Image.fromarray((ramp + copy).astype(np.uint16)).save(root / f"grey16-{copy}.png", compress_level=1)
    grey = (ramp >> 8).astype(np.uint8)
    Image.fromarray(np.dstack([grey, grey[::-1], 255 - grey, np.full_like(grey, 200)]), "RGBA").save(
        root / "rgba.png", compress_level=1)
    del ramp, grey
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  workers: 4\n")
    command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "data"), "enroll", str(root.parent),
               "--json"]
    measured = subprocess.run([sys.executable, "-c", MEASURE_IMPORT, *command], capture_output=True, text=True,
                              cwd=REPO, env={**os.environ, "KIOSK_CONFIG": str(config)}, timeout=600)
    status, peak_mb, output = measured.stdout.split("\n", 2)
    assert status == "0", measured.stderr[-2000:]
    report = json.loads(output)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert "obama/good.jpg" not in reasons and report["added"] >= 1
    assert "too large to decode" in reasons["obama/rgba.png"]
    assert all(reasons[f"obama/grey16-{copy}.png"] == "no face found" for copy in range(4))
    print(f"peak RSS of the import's largest process: {peak_mb} MB; skipped: {reasons}")
    assert int(peak_mb) <= 400


def test_an_unreadable_stick_root_is_one_line(tmp_path, monkeypatch):
    """(The tests run as root, who reads everything: the kernel's refusal is played by os.open.)"""
    from kiosk.errors import Refused
    root = tmp_path / "stick"
    (root / "obama").mkdir(parents=True)
    real_open = os.open

    def refused(path, flags, *args, **kwargs):
        if str(path) == str(root):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(Refused, match=r"stick: cannot be read \(permission denied\); nothing was imported"):
        scan_people(root)


# --- time ----------------------------------------------------------------------------------------------

def many_scans(extra: int, size: tuple[int, int]) -> bytes:
    """A flat progressive JPEG with its last scan repeated EXTRA times: each repeat costs the
    decoder a pass over the whole picture, for 48 bytes of file."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 110, 100)).save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    segments, position = [], 2
    while data[position + 1] != 0xD9:  # every segment up to the end marker
        end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if data[position + 1] == 0xDA:  # a scan: its data runs to the next marker
            while data[(end := data.index(b"\xff", end)) + 1] in (0, *range(0xD0, 0xD8)):
                end += 2
        segments.append(data[position:end])
        position = end
    scans = [i for i, segment in enumerate(segments) if segment[1] == 0xDA]
    last = b"".join(segments[scans[-2] + 1:scans[-1] + 1])  # its Huffman tables and the scan
    return data[:2] + b"".join(segments) + last * extra + b"\xff\xd9"


def test_photos_slow_to_decode_are_skipped_and_the_import_goes_on(tmp_path):
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    (root / "good.jpg").write_bytes(good_photo())
    (root / "scans.jpg").write_bytes(many_scans(2000, (4000, 3000)))  # 100 KB, 8 s to decode
    (root / "slow.jpg").write_bytes(many_scans(85, (8800, 6700)))  # 95 scans: allowed, but slow
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  fallback_detector: none\n  max_decode_seconds: 1\n  workers: 2\n")
    result = run_kiosk("enroll", str(root.parent), "--json", data_dir=tmp_path / "data",
                       env={"KIOSK_CONFIG": str(config)}, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert reasons["obama/scans.jpg"] == "JPEG of 2010 scans (limit 100), too slow to decode"
    assert reasons["obama/slow.jpg"] == "took longer than 1 s to decode (enrollment.max_decode_seconds)"
    assert report["added"] == 1


def test_copies_of_a_photo_that_is_not_enrolled_are_not_counted_as_enrolled(tmp_path):
    noise = Image.frombytes("RGB", (300, 200), random.Random(3).randbytes(300 * 200 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG")
    root = tmp_path / "stick"
    for folder in ("obama", "biden"):
        (root / folder).mkdir(parents=True)
        (root / folder / "noise.jpg").write_bytes(buffer.getvalue())
        (root / folder / "noise copy.jpg").write_bytes(buffer.getvalue())
    (root / "obama" / "good.jpg").write_bytes(good_photo())
    for workers in (1, 2):
        with Store(tmp_path / f"data{workers}") as store:
            report = import_folder(store, root, FAST, encoder="dlib", workers=workers, show_bar=False)
        assert report.added == 1 and report.duplicates == 0 and report.people == 1
        assert sorted(skipped_reasons(report)) == ["biden/noise copy.jpg", "biden/noise.jpg",
                                                   "obama/noise copy.jpg", "obama/noise.jpg"]
        assert set(skipped_reasons(report).values()) == {"no face found"}


# --- restore trusts nothing in the archive -----------------------------------------------------------------

def crafted_backup(enrolled_copy: Path, tmp_path: Path, tamper) -> Path:
    """A real backup of the enrolled store, its database changed by TAMPER(connection)."""
    import sqlite3
    import tarfile
    original = tmp_path / "original.tar"
    assert run_kiosk("backup", str(original), data_dir=enrolled_copy).returncode == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(original) as tar:
        tar.extractall(unpacked, filter="data")
    db = sqlite3.connect(unpacked / "kiosk.db")
    tamper(db)
    db.commit()
    db.close()
    crafted = tmp_path / "crafted.tar"
    with tarfile.open(crafted, "w") as tar:
        for member in sorted(unpacked.rglob("*")):
            if member.is_file():
                tar.add(member, member.relative_to(unpacked).as_posix())
    return crafted


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


# --- full disks -----------------------------------------------------------------------------------------

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


# --- the report's table, row by row ----------------------------------------------------------------------

def heic_claiming(width: int, height: int) -> bytes:
    """A real HEIC whose header (the 'ispe' box) claims another size."""
    data = bytearray(encoded(Image.open(require_data("people", "biden", "biden.jpg")).convert("RGB"), "heic"))
    box = data.find(b"ispe")
    data[box + 8:box + 16] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return bytes(data)


def tiff_with_entry(tag: int, type_: int | None = None, count: int | None = None) -> bytes:
    """A real TIFF with one field of its first directory given another type or count."""
    data = bytearray(encoded(Image.open(require_data("people", "biden", "biden.jpg")).convert("RGB"), "tiff"))
    directory = int.from_bytes(data[4:8], "little")
    for entry in range(directory + 2, directory + 2 + 12 * int.from_bytes(data[directory:directory + 2], "little"), 12):
        if int.from_bytes(data[entry:entry + 2], "little") == tag:
            if type_ is not None:
                data[entry + 2:entry + 4] = type_.to_bytes(2, "little")
            if count is not None:
                data[entry + 4:entry + 8] = count.to_bytes(4, "little")
    return bytes(data)


def jpeg_with_rational_make() -> bytes:
    """A photo turned by its EXIF orientation, whose camera make is a fraction instead of text."""
    entries = [(0x010F, 5, 1, 8 + 2 + 2 * 12 + 4), (0x0112, 3, 1, 6)]  # Make: RATIONAL; Orientation: 6
    directory = len(entries).to_bytes(2, "little") + b"".join(
        b"".join(v.to_bytes(n, "little") for v, n in zip(entry, (2, 2, 4, 4), strict=True)) for entry in entries)
    exif = b"Exif\x00\x00II*\x00" + (8).to_bytes(4, "little") + directory + bytes(4) + (1).to_bytes(4, "little") \
        + (3).to_bytes(4, "little")
    buffer = io.BytesIO()
    turned = Image.open(require_data("people", "obama", "obama.jpg")).transpose(Image.Transpose.ROTATE_90)
    turned.save(buffer, "JPEG", exif=exif)  # stored on its side, as a camera held upright writes it
    return buffer.getvalue()


def test_each_file_of_the_hostile_run_costs_only_itself(tmp_path):
    root = tmp_path / "stick"
    for name in ("obama", "biden", "alex_lacamoire"):
        (root / name).mkdir(parents=True)
    alex = require_data("people", "alex_lacamoire", "img1.jpg")
    (root / "alex_lacamoire" / "good.jpg").write_bytes(alex.read_bytes())
    (root / "biden" / "good.jpg").write_bytes(good_photo("biden"))
    (root / "obama" / "good.jpg").write_bytes(good_photo())
    hostile = {
        "biden/huge.heic": heic_claiming(100000, 100000),
        "biden/strips-as-doubles.tif": tiff_with_entry(273, type_=12),
        "biden/strips-as-bytes.tif": tiff_with_entry(273, type_=7),
        "biden/huge-count.tif": tiff_with_entry(258, count=0x7FFFFFFF),
        "biden/width-as-bytes.tif": tiff_with_entry(256, type_=7),
    }
    for file, data in hostile.items():
        (root / file).write_bytes(data)
    (root / "obama" / "odd-exif.jpg").write_bytes(jpeg_with_rational_make())
    result = run_kiosk("enroll", str(root), "--json", data_dir=tmp_path / "data", timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert set(reasons) == set(hostile) and all(reasons.values()), json.dumps(reasons)
    assert report["added"] == 4  # the three good photos, and the one with odd EXIF (upright)
    print(reasons)


# --- as a user who cannot read everything ----------------------------------------------------------------

def as_kiosk_user(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """The command line without the power to read or write what its permissions forbid (the
    tests run as root, who may do anything: the capabilities that allow it are dropped)."""
    command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "kiosk.cli",
               "--data-dir", str(data_dir), *args]
    config = data_dir.parent / "fast.yaml"
    config.write_text("enrollment:\n  fallback_detector: none\n  jitters: 1\n")
    try:
        subprocess.run(command[:2] + ["true"], check=True, capture_output=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("setpriv cannot drop the capabilities here")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "KIOSK_CONFIG": str(config)})


def test_unreadable_folders_and_photos_are_reported_and_skipped(tmp_path):
    stick = tmp_path / "stick"
    faces = stick / "faces"
    for name in ("obama", "biden", "alex_lacamoire"):
        (faces / name).mkdir(parents=True)
    (faces / "obama" / "good.jpg").write_bytes(good_photo())
    (faces / "obama" / "locked.jpg").write_bytes(good_photo("biden"))
    (faces / "obama" / "locked.jpg").chmod(0)
    (faces / "obama" / "more").mkdir()
    (faces / "obama" / "more" / "a.jpg").write_bytes(good_photo("biden"))
    (faces / "obama" / "more").chmod(0)
    (faces / "biden" / "good.jpg").write_bytes(good_photo("biden"))
    (faces / "biden").chmod(0)
    (faces / "alex_lacamoire" / "._good.jpg").write_bytes(b"\x00\x05\x16\x07")  # what a Mac leaves
    (faces / "alex_lacamoire" / "good.jpg").write_bytes(
        require_data("people", "alex_lacamoire", "img1.jpg").read_bytes())
    result = as_kiosk_user("import-usb", str(stick), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert reasons == {"biden/": "folder cannot be read: Permission denied",
                       "obama/more/": "folder cannot be read: Permission denied",
                       "obama/locked.jpg": "cannot open: Permission denied",
                       "alex_lacamoire/._good.jpg": "hidden (name starts with a dot), not read"}, reasons
    assert report["added"] == 2
    faces.chmod(0)
    result = as_kiosk_user("import-usb", str(stick), "--json", data_dir=tmp_path / "data")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{faces}: cannot be read (permission denied)" in result.stderr
    faces.chmod(0o755)


def test_a_data_folder_that_cannot_be_one_is_one_line(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "at-all")
    (tmp_path / "a-file").write_text("x")
    for folder in (tmp_path / "dangling", tmp_path / "a-file", Path("/proc/self/status")):
        result = run_kiosk("people", "list", data_dir=folder)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.strip() == f"kiosk: {folder}: cannot hold the kiosk's data (is not a folder; " \
                                        "see --data-dir or KIOSK_DATA_DIR)"
    (tmp_path / "read-only").mkdir()
    (tmp_path / "read-only").chmod(0o555)
    result = as_kiosk_user("people", "list", data_dir=tmp_path / "read-only")
    assert result.returncode == 2 and "Permission denied" in result.stderr and "Traceback" not in result.stderr


# --- memory and processes ---------------------------------------------------------------------------------

def test_workers_are_as_many_as_memory_holds(monkeypatch):
    from kiosk.enrollment.encoding import CNN_MB, WORKER_MB, worker_count
    cores = len(os.sched_getaffinity(0))
    per_worker = WORKER_MB + EnrollmentConfig().max_decode_mb
    for free_mb, expected in ((None, cores), (CNN_MB + 100, 1), (CNN_MB + 1.5 * per_worker, min(cores, 1)),
                              (CNN_MB + 2 * per_worker, min(cores, 2)), (100_000, cores)):
        monkeypatch.setattr(encoding, "available_memory_mb", lambda free=free_mb: free)
        assert worker_count(EnrollmentConfig()) == expected
    assert worker_count(EnrollmentConfig(workers=7)) == 7  # the admin's number stands


def test_the_cnn_in_strips_finds_the_faces_it_finds_whole():
    from kiosk.vision.boxes import overlap
    from kiosk.vision.engine import EngineSettings, FaceEngine
    from kiosk.vision.images import load_image
    faces = [load_image(require_data("people", *parts).read_bytes()).pixels
             for parts in (("obama", "obama.jpg"), ("biden", "biden.jpg"), ("alex_lacamoire", "img1.jpg"))]
    height = min(face.shape[0] for face in faces)
    import numpy as np
    row = np.ascontiguousarray(np.hstack([face[:height] for face in faces]))  # three people side by side
    cnn = FaceEngine(EngineSettings("cnn", None, 0, 5, 1))
    whole = cnn.detect_scaled(row, 1200)
    strips = cnn.detect_scaled(row, 1200, 250_000)
    assert len(whole) == 3 and len(strips) == 3
    assert all(max(overlap(a, b) for b in whole) > 0.5 for a in strips)


def test_a_tiny_webp_of_a_huge_picture_is_refused_before_decoding():
    from kiosk.vision.images import ImageRejected, load_image
    buffer = io.BytesIO()
    Image.new("RGB", (8800, 6700), (200, 180, 160)).save(buffer, "WEBP", lossless=True)
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ImageRejected, match=r"too large to decode \(8800x6700 RGB, 236 MB, limit 200 MB\)"):
        load_image(buffer.getvalue())


def test_a_killed_import_leaves_no_worker_behind(tmp_path):
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    for copy in range(40):
        (root / f"{copy}.jpg").write_bytes(good_photo() + bytes([copy]))
    config = tmp_path / "config.yaml"
    config.write_text("enrollment:\n  workers: 2\n")
    command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path / "data"), "enroll", str(root.parent)]
    assert_killing_leaves_nothing(subprocess.Popen(
        command, cwd=REPO, env={**os.environ, "KIOSK_CONFIG": str(config)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


@pytest.mark.slow
def test_a_killed_daemon_leaves_no_process_behind(enrolled_copy, tmp_path):
    slides = tmp_path / "slides"
    slides.mkdir()
    (slides / "a.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(enrolled_copy), "run", "--source",
                              f"dir:{slides}", "--display", "headless", "--loop"], cwd=REPO,
                             env={**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml"),
                                  "RUNTIME_DIRECTORY": str(tmp_path)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert_killing_leaves_nothing(kiosk)  # its encoder process, and multiprocessing's resource tracker


def assert_killing_leaves_nothing(command: subprocess.Popen) -> None:
    """Once COMMAND has two processes of its own, SIGKILL it: they end within 10 s."""
    try:
        descendants: set[int] = set()
        for _ in range(120):
            descendants = family(command.pid) - {command.pid}
            if len(descendants) >= 2:
                break
            time.sleep(0.5)
        assert len(descendants) >= 2, descendants
        command.send_signal(signal.SIGKILL)
        command.wait(10)
        for _ in range(40):
            if not any(alive(pid) for pid in descendants):
                break
            time.sleep(0.25)
        assert not any(alive(pid) for pid in descendants)
    finally:
        command.kill()


def family(pid: int) -> set[int]:
    """PID and every process below it."""
    found, queue = set(), [pid]
    while queue:
        current = queue.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                queue += [int(child) for child in task.read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running (a zombie holds no memory: it only waits for its parent to note the exit)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
