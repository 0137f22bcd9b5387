"""The store and the matcher on their own: samples in, names out."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from kiosk.store import Store, StoreError
from kiosk.vision.matcher import Gallery, MatchRule


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
