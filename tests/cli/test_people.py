"""The admin commands for people and events, run as an admin types them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.cli.parser import build_parser
from kiosk.store import Store

from conftest import REPO, run_kiosk


def raw_embeddings(data_dir, name: str) -> list[bytes]:
    with Store(data_dir) as store:
        return [blob for (blob,) in store.db.execute(
            "SELECT s.embedding FROM samples s JOIN people p ON p.id = s.person_id WHERE p.name = ?", (name,))]


def test_every_admin_command_has_help(capsys):
    parser = build_parser()
    for command in (["people", "show"], ["people", "rename"], ["people", "remove"], ["retrain"], ["status"],
                    ["doctor"], ["tune"], ["backup"], ["restore"], ["unknowns"], ["unknowns", "list"],
                    ["unknowns", "label"], ["unknowns", "purge"], ["import-pickle"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(command + ["--help"])
        assert exited.value.code == 0 and "usage: kiosk" in capsys.readouterr().out


def test_people_show_lists_samples_with_settings(enrolled_copy):
    result = run_kiosk("people", "show", "obama", "--json", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert sorted(s["source"] for s in shown["samples"]) == ["obama/obama.jpg", "obama/obama2.jpg"]
    assert all(s["detector"] == "hog" and s["jitters"] == 5 and s["photo_kept"] for s in shown["samples"])
    missing = run_kiosk("people", "show", "nobody", data_dir=enrolled_copy)
    assert missing.returncode == 2 and "nobody" in missing.stderr and "Traceback" not in missing.stderr


def test_rename_moves_events_and_refuses_bad_names(enrolled_copy):
    with Store(enrolled_copy) as store:
        store.events.add("obama", 0.3, 1)
    result = run_kiosk("people", "rename", "obama", "barack", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    with Store(enrolled_copy) as store:
        names = {p.name for p in store.people.summaries()}
        assert "barack" in names and "obama" not in names
        assert [e.name for e in store.events.query()] == ["barack"]
    for old, new, word in [("barack", "biden", "already"), ("ghost", "casper", "ghost"), ("barack", "a/b", "a/b")]:
        refused = run_kiosk("people", "rename", old, new, data_dir=enrolled_copy)
        assert refused.returncode == 2 and word in refused.stderr and "Traceback" not in refused.stderr


def test_remove_needs_yes_off_a_terminal_and_leaves_no_embedding_bytes(enrolled_copy):
    blobs = raw_embeddings(enrolled_copy, "biden")
    assert blobs
    refused = run_kiosk("people", "remove", "biden", data_dir=enrolled_copy, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    result = run_kiosk("people", "remove", "biden", "--yes", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    on_disk = b"".join(p.read_bytes() for p in enrolled_copy.glob("kiosk.db*"))
    for blob in blobs:
        assert blob not in on_disk
    with Store(enrolled_copy) as store:
        assert "biden" not in {p.name for p in store.people.summaries()}


READER = """
import sys, time
from pathlib import Path
from kiosk.store import Store
data_dir, stop = sys.argv[1], Path(sys.argv[2])
loads = errors = 0
with Store(data_dir, create=False) as store:
    while not stop.exists():
        try:
            store.people.load_gallery()
            loads += 1
        except Exception as exc:
            errors += 1
            print("error:", exc, flush=True)
print("loads", loads, "errors", errors)
"""


def test_a_reader_sees_no_errors_during_rename_and_remove(enrolled_copy, tmp_path):
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(enrolled_copy), str(stop)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for args in (["people", "rename", "obama", "barack"], ["people", "remove", "barack", "--yes"],
                     ["people", "rename", "biden", "joe"], ["people", "remove", "joe", "--yes", "--events"]):
            result = run_kiosk(*args, data_dir=enrolled_copy)
            assert result.returncode == 0, result.stderr
    finally:
        stop.touch()
        output, _ = reader.communicate(timeout=60)
    assert "error" not in output.replace("errors 0", ""), output
    assert int(output.split()[-3]) > 0, output


def test_events_filter_by_date_and_person_in_local_time(enrolled_copy):
    tokyo = timezone(timedelta(hours=9))
    env = {"env": {"TZ": "JST-9"}}  # a POSIX zone string: no tz database needed

    def at(day: int, hour: int, minute: int = 0) -> float:
        return datetime(2026, 3, day, hour, minute, tzinfo=tokyo).timestamp()
    with Store(enrolled_copy) as store:
        for name, when in [("obama", at(2, 8)), ("biden", at(2, 9)), ("obama", at(2, 17, 45)), ("obama", at(3, 10))]:
            store.events.add(name, 0.4, 1, at=when)
        store.events.add("biden", 0.35, 2, at=time.time() - 3600)

    def events(*args: str):
        result = run_kiosk("events", *args, data_dir=enrolled_copy, **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
    one_day = events("--json", "--since", "2026-03-02", "--until", "2026-03-03", "--person", "obama")
    assert [e["time"] for e in one_day] == ["2026-03-02T08:00:00+09:00", "2026-03-02T17:45:00+09:00"]
    afternoon = events("--json", "--since", "2026-03-02T12:00", "--until", "2026-03-04")
    assert [(e["name"], e["time"][11:16]) for e in afternoon] == [("obama", "17:45"), ("obama", "10:00")]
    assert [e["name"] for e in events("--json", "--since", "2h")] == ["biden"]
    daily = events("--json", "--daily", "--until", "2026-03-04")["people"]
    assert [(d["day"], d["name"], d["first_seen"][11:16], d["last_seen"][11:16], d["visits"]) for d in daily] == [
        ("2026-03-02", "obama", "08:00", "17:45", 2), ("2026-03-02", "biden", "09:00", "09:00", 1),
        ("2026-03-03", "obama", "10:00", "10:00", 1)]
    table = run_kiosk("events", "--csv", "--person", "biden", "--until", "2026-03-04", data_dir=enrolled_copy, **env)
    assert list(csv.DictReader(io.StringIO(table.stdout))) == [
        {"id": "2", "time": "2026-03-02T09:00:00+09:00", "kind": "seen", "name": "biden", "distance": "0.4",
         "threshold": "", "frames": "", "track": "1", "face_kept": "False", "corrected_from": "", "liveness": ""}]
    bad = run_kiosk("events", "--since", "last tuesday", data_dir=enrolled_copy)
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr
