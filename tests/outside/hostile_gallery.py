"""A signed site gallery is held to the rules the home holds its own input to (outside/bundle.py,
fleet.py): every header field checked, one line per refusal, nothing applied from a refused one."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from nacl.signing import SigningKey

from kiosk.config import Config
from kiosk.errors import Refused
from kiosk.outside.bundle import FORMAT, MAGIC, new_signing_key, open_bundle
from kiosk.outside.fleet import apply_bundle
from kiosk.store import Store
from kiosk.store.site import MEMBER, Site, read_site, write_site

MODEL = "dlib_face_recognition_resnet_model_v1"


def signed(secret: bytes, people: list, *, version: object = 2, made_at: object = None, rows: int | None = None,
           values: np.ndarray | None = None, **fields: object) -> bytes:
    """A message signed with the site's key whose header is exactly what the caller says: what an
    attacker holding the key, or a home with a bug, could send."""
    header = {"format": FORMAT, "site": "office", "version": version, "home": "home",
              "made_at": time.time() if made_at is None else made_at, "encoder": MODEL, "people": people}
    header.update(fields)
    raw = json.dumps(header).encode()
    if values is None:
        entries = [e for e in people if isinstance(e, list)] if isinstance(people, list) else []
        count = rows if rows is not None else sum(e[1] for e in entries if isinstance(e[1], int) and e[1] > 0)
        values = np.random.default_rng(0).normal(0, 0.1, (count, 128))
    body = struct.pack(">I", len(raw)) + raw + np.asarray(values, "<f4").tobytes()
    return MAGIC + SigningKey(secret).sign(body).signature + body


@pytest.fixture
def member(tmp_path):
    secret, public = new_signing_key()
    write_site(tmp_path, Site("office", MEMBER, public, "home"))
    return secret, public, tmp_path


HOSTILE = {
    "negative samples": ([["a", -2, 1], ["b", 2, 2]], {}, "has '-2' samples"),
    "no samples": ([["a", 0, 1]], {}, "has '0' samples"),
    "empty name": ([["", 1, 1]], {}, "empty person name"),
    "reserved name": ([["Unknown", 1, 1]], {}, "reserved"),
    "path in a name": ([["a/b", 1, 1]], {}, "path separator"),
    "newline in a name": ([["a\nb", 1, 1]], {}, "control characters"),
    "one person twice": ([["Ada", 1, 1], ["ada", 1, 2]], {}, "there twice"),
    "one id twice": ([["a", 1, 7], ["b", 1, 7]], {}, "not a new positive whole number"),
    "a version too large to be a number": ([["a", 1, 1]], {"version": 1e400}, "not a whole number"),
    "a version in a string": ([["a", 1, 1]], {"version": "3"}, "not a whole number"),
    "a version beyond any home's": ([["a", 1, 1]], {"version": 2 ** 60}, "not a whole number"),
    "made a year from now": ([["a", 1, 1]], {"made_at": time.time() + 365 * 86400}, "days from now"),
    "made at no time": ([["a", 1, 1]], {"made_at": "soon"}, "is not a time"),
    "a home with a newline": ([["a", 1, 1]], {"home": "home\nkiosk"}, "its home is not a printable name"),
    "people not a list": ({"a": 1}, {}, "not a list"),
    "a person not a list": ([7], {}, "is not \\[name, samples, id\\]"),
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_a_signed_gallery_breaking_the_homes_own_rules_is_refused_in_one_line(member, what):
    secret, public, data = member
    people, fields, reason = HOSTILE[what]
    message = signed(secret, people, **fields)
    with pytest.raises(Refused, match=reason) as refused:
        open_bundle(message, "office", public, 128)
    assert "\n" not in str(refused.value)
    with Store(data) as store:
        with pytest.raises(Refused):
            apply_bundle(store, Config(data_dir=str(data)), read_site(data), message)
        assert store.people.counts() == (0, 0) and read_site(data).version == 0


def test_embeddings_that_are_not_numbers_are_refused(member):
    secret, public, _ = member
    values = np.zeros((2, 128))
    values[1, 5] = np.nan
    with pytest.raises(Refused, match="not numbers"):
        open_bundle(signed(secret, [["a", 2, 1]], values=values), "office", public, 128)


def test_a_valid_gallery_still_opens_after_all_these_checks(member):
    secret, public, data = member
    message = signed(secret, [["Ada Lovelace", 2, 1], ["grace", 1, 2]])
    assert sorted(open_bundle(message, "office", public, 128).people) == ["Ada Lovelace", "grace"]
    with Store(data) as store:
        apply_bundle(store, Config(data_dir=str(data)), read_site(data), message)
        assert store.people.counts() == (2, 3)
