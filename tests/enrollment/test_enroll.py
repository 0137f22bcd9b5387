"""Enrolling the sample people and naming the probes, through the command line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.enroll import import_folder
from kiosk.store import Store

from conftest import REPO, require_data, run_kiosk


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


@pytest.mark.slow
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


def test_a_folder_joins_an_enrolled_person_by_its_name_never_by_likeness(enrolled_copy, tmp_path):
    """`Obama` beside an enrolled `obama` is obama; a folder `barack` whose photos are all
    recognised as obama stays a person of its own, reported with its distance and the merge line
    to type; a stranger's folder stays new and is no look-alike."""
    stick = tmp_path / "photos"
    for folder, probes in (("Obama", ["obama1.jpg"]), ("barack", ["obama3.jpg", "obama-720p.jpg"])):
        (stick / folder).mkdir(parents=True)
        for probe in probes:
            (stick / folder / probe).write_bytes(require_data("probes", probe).read_bytes())
    madonna = sorted(require_data("faces_dev", "enroll", "madonna").iterdir())[:3]
    (stick / "Madonna").mkdir()
    for photo in madonna:
        (stick / "Madonna" / photo.name).write_bytes(photo.read_bytes())
    result = run_kiosk("enroll", "--json", str(stick), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["joined"] == {"Obama": "obama"} and report["people"] == 3
    (alike,) = report["look_alikes"]
    assert (alike["folder"], alike["person"], alike["like"], alike["merge"]) == \
        ("barack", "barack", "obama", "kiosk people merge barack obama")
    assert 0 < alike["distance"] < 0.6
    with Store(enrolled_copy) as store:
        assert {"Madonna", "obama", "barack"} <= set(store.people.names())
        assert len(store.people.samples_of("obama")) == 3 and len(store.people.samples_of("barack")) == 2
    merged = run_kiosk("people", "merge", "barack", "obama", "--yes", data_dir=enrolled_copy)
    assert merged.returncode == 0, merged.stderr
    identified = run_kiosk("identify", str(require_data("probes", "obama1.jpg")), data_dir=enrolled_copy)
    assert ": obama (distance" in identified.stdout  # one person once the admin said so


def test_the_summary_names_a_look_alike_and_the_line_to_merge_it(enrolled_copy, tmp_path):
    stick = tmp_path / "photos"
    (stick / "Barack H").mkdir(parents=True)
    (stick / "Barack H" / "obama3.jpg").write_bytes(require_data("probes", "obama3.jpg").read_bytes())
    result = run_kiosk("enroll", str(stick), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "look like" in line).strip()
    assert line.startswith("Barack H/: enrolled as Barack H, whose photos look like obama (distance 0.")
    assert line.endswith("if they are one person: kiosk people merge 'Barack H' obama")


def test_an_empty_or_loose_folder_gets_the_expected_layout(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(require_data("probes", "obama1.jpg").read_bytes())
    result = run_kiosk("enroll", str(tmp_path / "photos"), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert (f"nothing to import: 1 photo(s) lie loose, outside any person folder; expected one folder per person, "
            f"{tmp_path / 'photos'}/<name>/<photos>") in result.stdout
