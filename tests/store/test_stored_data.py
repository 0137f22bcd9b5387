"""What a crafted store or backup carries: paths that must stay inside, text that must stay text.

Each crafted value is written into a real store (or a real backup) here; the kiosk's own
commands are then run on it, and files outside the data folder and the terminal output are
checked.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from kiosk.config import RecognitionConfig
from kiosk.paths import UnsafePath, kept_file
from kiosk.store import Store, StoreError, embedding_blob
from kiosk.store.faces import delete_unknown_faces, prune_event_faces
from kiosk.util import printable, spreadsheet_cell
from kiosk.vision.encoders import DlibEncoder

from conftest import crafted_backup, run_kiosk

ESCAPES = "\x1b]0;OWNED\x07\x1b[2J"


# --- paths from stored data stay inside their folder ----------------------------------------------

@pytest.mark.parametrize("name", ["../kiosk.db", "../../precious.txt", "/etc/passwd", "..", "a/b.jpg", ".hidden.jpg"])
def test_kept_file_refuses_any_name_the_kiosk_does_not_write(tmp_path, name):
    with pytest.raises(UnsafePath):
        kept_file(tmp_path, "event_faces", name)
    with pytest.raises(UnsafePath):
        kept_file(tmp_path, "photos", name)


def test_kept_file_refuses_a_planted_link_out_of_its_folder(tmp_path):
    (tmp_path / "unknowns").mkdir()
    (tmp_path / "unknowns" / "face.jpg").symlink_to(tmp_path / "precious.txt")
    with pytest.raises(UnsafePath, match="leads outside"):
        kept_file(tmp_path, "unknowns", "face.jpg")
    assert kept_file(tmp_path, "photos", "a" * 64) == tmp_path / "photos" / ("a" * 64)


def plant(data_dir, outside_name: str) -> None:
    """Rows whose stored file names aim at DATA_DIR/../OUTSIDE_NAME and at the store itself."""
    vector = embedding_blob(np.full(128, 0.01, np.float32))
    with Store(data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO events (at, name, distance, track_id) VALUES (1, 'x', 0.1, 1)")
        event_id = db.execute("SELECT max(id) FROM events").fetchone()[0]
        db.execute("INSERT INTO event_faces (event_id, at, embedding, crop_file, encoder) VALUES (?, 1, ?, ?, ?)",
                   (event_id, vector, f"../../{outside_name}", DlibEncoder.model))
        db.execute("INSERT INTO unknown_faces (at, embedding, crop_file, track_id, encoder) "
                   "VALUES (1, ?, '../kiosk.db', 1, ?)", (vector, DlibEncoder.model))


def test_pruning_purging_and_rejecting_never_touch_a_file_outside(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    data_dir = tmp_path / "data"
    plant(data_dir, outside.name)
    with Store(data_dir) as store:
        prune_event_faces(store, RecognitionConfig(face_max_count=0))  # every event face is due
        delete_unknown_faces(store, [f.id for f in store.unknowns.all()])
        assert store.events.faces() == [] and store.unknowns.all() == []
    assert outside.read_text() == "keep me"
    assert (data_dir / "kiosk.db").is_file()
    with Store(data_dir) as store:  # still the store it was
        assert store.events.query()[0].name == "x"


def test_a_sample_with_a_crafted_digest_is_rejected_without_touching_the_store(enrolled_copy):
    with Store(enrolled_copy) as store, store.transaction() as db:
        db.execute("UPDATE samples SET photo_sha256 = '../kiosk.db' WHERE id = (SELECT min(id) FROM samples)")
    result = run_kiosk("people", "reject", "alex_lacamoire", "--all", data_dir=enrolled_copy)
    assert (enrolled_copy / "kiosk.db").is_file()
    assert "Traceback" not in result.stderr
    with Store(enrolled_copy) as store:
        assert "obama" in {p.name for p in store.people.summaries()}
    with pytest.raises(StoreError, match="not one the kiosk writes"):
        Store(enrolled_copy).photo_path("../kiosk.db")


STORED_PATHS = {
    "sample digest": "UPDATE samples SET photo_sha256 = '../kiosk.db' WHERE id = (SELECT min(id) FROM samples)",
    "rejected digest": "INSERT INTO rejected_photos VALUES ('../../x', 'obama', 'a.jpg', 1)",
    "unknown crop": "INSERT INTO unknown_faces (at, embedding, crop_file, track_id, encoder) "
                    "SELECT 1, embedding, '../kiosk.db', 1, encoder FROM samples LIMIT 1",
    "event crop": "INSERT INTO events (id, at, name, distance, track_id) VALUES (900, 1, 'obama', 0.1, 1); "
                  "INSERT INTO event_faces (event_id, at, embedding, crop_file, encoder) "
                  "SELECT 900, 1, embedding, '../../precious.txt', encoder FROM samples LIMIT 1",
    "file to delete": "INSERT INTO doomed_files (path) VALUES ('photos/../../precious.txt')",
}


@pytest.mark.parametrize("field", STORED_PATHS)
def test_restore_refuses_stored_paths_the_kiosk_would_not_write(enrolled_copy, tmp_path, field):
    crafted = crafted_backup(enrolled_copy, tmp_path, lambda db: db.executescript(STORED_PATHS[field]))
    before = json.loads(run_kiosk("people", "list", "--json", data_dir=enrolled_copy).stdout)
    result = run_kiosk("restore", str(crafted), data_dir=enrolled_copy)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"kiosk: {crafted}: not a kiosk backup (kiosk.db has a ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run_kiosk("people", "list", "--json", data_dir=enrolled_copy).stdout) == before


# --- text from the store stays text ---------------------------------------------------------------------

def test_printable_shows_every_control_and_format_character():
    shown = printable(f"a{ESCAPES}\u202e\x9b\x7f\nb\tc\U000e0001")
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f or ch in "\u202e\U000e0001" for ch in shown)
    assert shown.startswith("a\\u001b]0;OWNED\\u0007") and "\\u202e" in shown and "\\n" in shown
    json.loads(f'"{shown}"')  # still valid inside a JSON string
    assert printable("Zoë Ñúñez") == "Zoë Ñúñez"


def crafted_texts(data_dir) -> None:
    with Store(data_dir) as store, store.transaction() as db:
        db.execute("INSERT INTO events (at, name, distance, track_id, corrected_from) VALUES (?, ?, 0.2, 1, ?)",
                   (2e9, f"evil{ESCAPES}", f"was{ESCAPES}"))
        db.execute("INSERT INTO events (at, name, distance, track_id) VALUES (2e9, '=cmd|''calc''!A0', 0.2, 2)")
        db.execute("UPDATE samples SET source = ? WHERE id = (SELECT min(s.id) FROM samples s JOIN people p "
                   "ON p.id = s.person_id WHERE p.name = 'obama')",
                   (f"obama.jpg{ESCAPES}\n  #99 forged.jpg  hog, 68 landmarks",))


@pytest.mark.parametrize("command", [("events",), ("events", "--json"), ("events", "--daily"),
                                     ("people", "show", "obama"), ("status",)])
def test_no_escape_sequence_or_forged_line_reaches_the_terminal(enrolled_copy, command):
    crafted_texts(enrolled_copy)
    result = run_kiosk(*command, data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert not any(line.startswith("  #99 forged") for line in result.stdout.splitlines())
    if "--json" in command:
        assert any(e["name"] == f"evil{ESCAPES}" for e in json.loads(result.stdout))  # the data, intact


@pytest.mark.parametrize("command", [("events", "--csv"), ("events", "--daily", "--csv")])
def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(enrolled_copy, command):
    crafted_texts(enrolled_copy)
    result = run_kiosk(*command, data_dir=enrolled_copy)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    names = [row["name"] for row in rows]
    assert "'=cmd|'calc'!A0" in names and not any(n.startswith(("=", "+", "-", "@")) for n in names)
    assert spreadsheet_cell(-0.5) == -0.5 and spreadsheet_cell("+1") == "'+1" and spreadsheet_cell("obama") == "obama"

