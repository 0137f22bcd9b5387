"""People's keys (MQTT topics, Home Assistant ids) never collide."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.store import Store, person_key
from kiosk.store.records import SampleSettings


def test_a_name_that_looks_like_another_persons_key_gets_its_own():
    assert person_key("José") != person_key(person_key("José"))
    assert person_key("obama") == "obama"
    literal = person_key("José")
    assert person_key(literal) != literal and person_key(person_key(literal)) != person_key(literal)


def test_enroll_and_rename_refuse_a_name_whose_key_is_taken(tmp_path, monkeypatch):
    import kiosk.store.people as people
    monkeypatch.setattr(people, "person_key", lambda name: "same")  # a hash clash, forced
    settings = SampleSettings("dlib", "hog", 5, 1)
    with Store(tmp_path / "data") as store:
        store.people.add_sample("ada", np.full(128, 0.01, np.float32), settings, "a" * 64, "a.jpg")
        with pytest.raises(people.Refused, match="would share the key 'same'.*with ada"):
            store.people.add_sample("grace", np.full(128, 0.02, np.float32), settings, "b" * 64, "b.jpg")
        store.people.add_sample("ada", np.full(128, 0.03, np.float32), settings, "c" * 64, "c.jpg")  # her own key
    monkeypatch.undo()
    with Store(tmp_path / "data") as store:
        store.people.add_sample("grace", np.full(128, 0.02, np.float32), settings, "b" * 64, "b.jpg")
        monkeypatch.setattr(people, "person_key", lambda name: "same")
        with pytest.raises(people.Refused, match="would share the key"):
            store.people.rename("grace", "hopper")
