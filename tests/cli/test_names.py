"""Names as people type them: any case, no accents needed, a hint for a typo, and nobody created
by accident; corrections that can be undone; one person enrolled twice, merged."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.names import close_names, display_name, first_name, name_key
from kiosk.store import Store
from kiosk.store.schema import DLIB_MODEL

from conftest import run_kiosk


def test_a_name_has_a_key_anyone_can_type_and_a_name_to_show():
    assert name_key("José Núñez") == name_key("jose nunez") == name_key("JOSE_NUNEZ") == "jose_nunez"
    assert name_key("Lin-Manuel Miranda") == "lin_manuel_miranda"
    assert display_name("lin_manuel_miranda") == "Lin Manuel Miranda" and display_name("obama") == "Obama"
    assert display_name("José Núñez") == "José Núñez" and display_name("k.d. lang") == "k.d. lang"
    assert first_name("maria_guadalupe") == "Maria"
    assert close_names("obma", ["obama", "biden"]) == ["obama"]
    assert close_names("Madonna", ["madonna_ciccone", "obama"]) == ["madonna_ciccone"]  # a whole word
    assert close_names("zzz", ["obama"]) == []


@pytest.mark.parametrize("typed", ["Lin-Manuel Miranda", "LIN MANUEL MIRANDA", "lin_manuel_miranda"])
def test_every_command_finds_a_person_however_the_name_is_typed(enrolled_copy, typed):
    shown = run_kiosk("people", "show", typed, data_dir=enrolled_copy)
    assert shown.returncode == 0 and shown.stdout.startswith("lin_manuel_miranda:"), shown.stderr
    checked = run_kiosk("people", "check", typed, data_dir=enrolled_copy)
    assert checked.returncode == 0, checked.stderr
    with Store(enrolled_copy) as store:
        store.events.add("lin_manuel_miranda", 0.4, 1)
    events = run_kiosk("events", "--person", typed, "--json", data_dir=enrolled_copy)
    assert events.returncode == 0 and '"lin_manuel_miranda"' in events.stdout, events.stderr


def test_an_unknown_name_is_an_error_that_suggests_the_right_one(enrolled_copy):
    for command in (["people", "show", "obma"], ["events", "--person", "obma"], ["people", "remove", "obma", "--yes"],
                    ["people", "rename", "obma", "Barack Obama"], ["people", "accept", "obma", "--all"]):
        result = run_kiosk(*command, data_dir=enrolled_copy)
        assert result.returncode == 2, (command, result.stdout)
        assert result.stderr.strip() == "kiosk: obma: nobody of that name; did you mean obama?", command
    nothing = run_kiosk("people", "show", "Zebedee", data_dir=enrolled_copy)
    assert nothing.returncode == 2 and "kiosk people list" in nothing.stderr


def test_rename_gives_a_display_name_and_the_old_key_still_finds_the_person(enrolled_copy):
    renamed = run_kiosk("people", "rename", "jose", "x", data_dir=enrolled_copy)
    assert renamed.returncode == 2
    renamed = run_kiosk("people", "rename", "lin_manuel_miranda", "Lin-Manuel Miranda", data_dir=enrolled_copy)
    assert renamed.returncode == 0 and "shown as Lin-Manuel Miranda" in renamed.stdout, renamed.stderr
    shown = run_kiosk("people", "show", "lin manuel miranda", data_dir=enrolled_copy)
    assert shown.returncode == 0 and shown.stdout.startswith("Lin-Manuel Miranda:")
    clash = run_kiosk("people", "rename", "biden", "OBAMA", data_dir=enrolled_copy)
    assert clash.returncode == 2 and "people merge" in clash.stderr


def event_with_face(store: Store, name: str, owner: str) -> int:
    """An event naming NAME whose kept face is one of OWNER's samples (a real encoding)."""
    gallery = store.people.load_gallery()
    start = gallery.starts[gallery.names.index(owner)]
    return store.events.add(name, 0.5, 7, face=(gallery.encodings[start], f"face-{name}.jpg", DLIB_MODEL))


def test_a_typo_in_a_correction_creates_nobody_and_a_correction_can_be_undone(enrolled_copy):
    with Store(enrolled_copy) as store:
        event = event_with_face(store, "obama", "lin_manuel_miranda")
        before = {p.name: p.samples for p in store.people.summaries()}
    typo = run_kiosk("events", "correct", str(event), "Lin-Manuel Mirand", data_dir=enrolled_copy)
    assert typo.returncode == 2 and "did you mean lin_manuel_miranda?" in typo.stderr and "--new" in typo.stderr
    with Store(enrolled_copy) as store:
        assert {p.name: p.samples for p in store.people.summaries()} == before
    right = run_kiosk("events", "correct", str(event), "Lin-Manuel Miranda", data_dir=enrolled_copy)
    assert right.returncode == 0 and "now lin_manuel_miranda" in right.stdout and "not obama" in right.stdout
    with Store(enrolled_copy) as store:
        assert store.events.get(event).name == "lin_manuel_miranda"
        assert store.events.confusions_of("obama") == 1
        assert len(store.people.samples_of("lin_manuel_miranda")) == before["lin_manuel_miranda"] + 1
    undone = run_kiosk("events", "correct", str(event), "--undo", data_dir=enrolled_copy)
    assert undone.returncode == 0 and "names obama again" in undone.stdout, undone.stderr
    with Store(enrolled_copy) as store:
        assert store.events.get(event).name == "obama" and store.events.get(event).corrected_from is None
        assert store.events.confusions_of("obama") == 0
        assert {p.name: p.samples for p in store.people.summaries()} == before
    again = run_kiosk("events", "correct", str(event), "--undo", data_dir=enrolled_copy)
    assert again.returncode == 2 and "never corrected" in again.stderr
    new = run_kiosk("events", "correct", str(event), "Ada Lovelace", "--new", data_dir=enrolled_copy)
    assert new.returncode == 0, new.stderr
    with Store(enrolled_copy) as store:
        assert store.people.find("ada lovelace") == "Ada Lovelace"


def test_a_not_can_be_undone(enrolled_copy):
    with Store(enrolled_copy) as store:
        event = event_with_face(store, "obama", "lin_manuel_miranda")
    result = run_kiosk("events", "correct", str(event), "--not", "OBAMA", data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    with Store(enrolled_copy) as store:
        assert store.events.get(event).name == "unknown" and store.events.confusions_of("obama") == 1
    assert run_kiosk("events", "correct", str(event), "--undo", data_dir=enrolled_copy).returncode == 0
    with Store(enrolled_copy) as store:
        assert store.events.get(event).name == "obama" and store.events.confusions_of("obama") == 0


def test_unknowns_label_needs_new_for_a_name_nobody_has(enrolled_copy):
    with Store(enrolled_copy) as store:
        gallery = store.people.load_gallery()
        face = store.unknowns.add(0.0, gallery.encodings[0], "face.jpg", 3)
    typo = run_kiosk("unknowns", "label", str(face), "Alex Lacamore", data_dir=enrolled_copy)
    assert typo.returncode == 2 and "did you mean alex_lacamoire?" in typo.stderr
    result = run_kiosk("unknowns", "label", str(face), "Alex Lacamoire", data_dir=enrolled_copy)
    assert result.returncode == 0 and "as alex_lacamoire" in result.stdout, result.stderr


def test_people_merge_moves_samples_events_and_corrections(enrolled_copy):
    with Store(enrolled_copy) as store:
        store.events.add("kit_harington", 0.4, 1)
        event = event_with_face(store, "biden", "kit_harington")
        store.events.correct(event, "unknown", sample=None, not_person="kit_harington")
        kit, rose = len(store.people.samples_of("kit_harington")), len(store.people.samples_of("rose_leslie"))
    refused = run_kiosk("people", "merge", "Kit Harington", "Rose Leslie", data_dir=enrolled_copy)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    merged = run_kiosk("people", "merge", "Kit Harington", "Rose Leslie", "--yes", data_dir=enrolled_copy)
    assert merged.returncode == 0 and f"{kit} sample(s)" in merged.stdout, merged.stderr
    with Store(enrolled_copy) as store:
        assert store.people.find("kit_harington") is None
        assert len(store.people.samples_of("rose_leslie")) == kit + rose
        assert [e.name for e in store.events.query(person="rose_leslie")] == ["rose_leslie"]
        assert store.events.confusions_of("rose_leslie") == 1
    same = run_kiosk("people", "merge", "rose leslie", "Rose_Leslie", "--yes", data_dir=enrolled_copy)
    assert same.returncode == 2 and "same person" in same.stderr


def test_the_stored_key_keeps_case_variants_one_person(enrolled_copy):
    with Store(enrolled_copy) as store:
        encoding = np.asarray(store.people.load_gallery().encodings[0])
        store.people.add_sample("OBAMA", encoding, store.people.samples_of("obama")[0].settings, "f" * 64, "x.jpg")
        assert store.people.find("Obama") == "obama" and "OBAMA" not in store.people.names()
