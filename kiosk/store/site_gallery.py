"""The site's gallery in the store: what a home sends and how a member takes it (outside/fleet.py).

A member's people are its home's: each version replaces everyone's samples in one transaction
and forgets whoever the home no longer has (an erasure on the home reaches every member). People
are known across kiosks by the home's person id, which a rename on the home keeps: the member
remembers which of its people each home id is (table site_people), so a person renamed on the
home is renamed here too, with their events and event faces, instead of forgotten and enrolled
again under the new name.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from kiosk.paths import EVENT_FACES_DIR, PHOTOS_DIR
from kiosk.store.database import Part
from kiosk.store.people import MATCHED_SQL
from kiosk.store.records import SampleSettings, as_embedding, embedding_blob, sha256_hex
from kiosk.vocabulary import SampleStatus


class SiteGallery(Part):
    """`store.site_gallery`: the gallery as a home sends it and as a member takes it."""

    def outgoing(self, model: str) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Per person, the embeddings MODEL made that recognition matches, and each person's id
        (what a site's home sends)."""
        rows = self.db.execute(
            "SELECT p.name, p.id, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
            f"WHERE s.status IN {MATCHED_SQL} AND s.encoder = ? ORDER BY p.name, s.id", (model,)).fetchall()
        found: dict[str, list[np.ndarray]] = {}
        ids: dict[str, int] = {}
        for name, person_id, blob in rows:
            found.setdefault(name, []).append(as_embedding(blob))
            ids[name] = person_id
        return {name: np.stack(rows) for name, rows in found.items()}, ids

    def erased(self) -> int:
        """How many people were ever erased here (removed, merged away): a home's versions carry it."""
        return self.db.execute("SELECT value FROM meta WHERE key = 'people_erased'").fetchone()[0]

    def without(self, model: str) -> list[str]:
        """People recognition would match with another model's samples but has none of MODEL's
        (recognition.encoder changed, `kiosk retrain` not yet done for them): a home holds its
        versions back until there are none, so no member forgets them meanwhile."""
        return [name for (name,) in self.db.execute(
            f"SELECT p.name FROM people p WHERE EXISTS (SELECT 1 FROM samples s WHERE s.person_id = p.id AND "
            f"s.status IN {MATCHED_SQL}) AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.person_id = p.id AND "
            f"s.status IN {MATCHED_SQL} AND s.encoder = ?) ORDER BY p.name", (model,))]

    def take(self, people: dict[str, np.ndarray], home_ids: dict[str, int], settings: SampleSettings, source: str,
             version: int, may_forget: Callable[[list[str], int], None] | None = None
             ) -> tuple[list[str], dict[str, str]]:
        """Make the gallery exactly PEOPLE, the site's gallery VERSION (a member taking its home's),
        in one transaction: a person whose home id (HOME_IDS) is known here under another name is
        renamed first; then everyone's samples are replaced, and anybody not in PEOPLE is
        forgotten with their kept photos and event faces. Returns (who was forgotten, old name ->
        new name of who was renamed). MAY_FORGET(who would be forgotten, how many people there are)
        may refuse by raising: then nothing changes."""
        self.db.execute("PRAGMA secure_delete = ON")
        renamed: dict[str, str] = {}
        with self.transaction() as db:
            known = dict(db.execute("SELECT home_id, person_id FROM site_people").fetchall())
            names = {person_id: name for person_id, name in db.execute("SELECT id, name FROM people")}
            for name, home_id in sorted(home_ids.items()):
                person_id = known.get(home_id)
                old = names.get(person_id) if person_id is not None else None
                if old is not None and old != name and name in people and name not in names.values():
                    db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))
                    db.execute("UPDATE events SET name = ? WHERE person_id = ? OR name = ?", (name, person_id, old))
                    names[person_id] = name
                    renamed[old] = name
            present = list(names.items())
            gone = [(person_id, name) for person_id, name in present if name not in people]
            if may_forget is not None and gone:
                may_forget([name for _, name in gone], len(present))
            doomed: list[str] = []
            for person_id, _ in present:
                doomed += [f"{PHOTOS_DIR}/{d}" for (d,) in db.execute(
                    "SELECT photo_sha256 FROM samples WHERE person_id = ?", (person_id,))]
                db.execute("DELETE FROM samples WHERE person_id = ?", (person_id,))
            for person_id, name in gone:
                crops = [c for (c,) in db.execute(
                    "SELECT f.crop_file FROM event_faces f JOIN events e ON e.id = f.event_id "
                    "WHERE e.person_id = ? OR e.name = ?", (person_id, name))]
                db.execute("DELETE FROM event_faces WHERE event_id IN (SELECT id FROM events WHERE person_id = ? "
                           "OR name = ?)", (person_id, name))
                db.execute("DELETE FROM people WHERE id = ?", (person_id,))
                doomed += [f"{EVENT_FACES_DIR}/{c}" for c in crops]
            now = time.time()
            for name, rows in people.items():  # the home's names, each already one person's there
                db.execute("INSERT INTO people (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                           (name, now))
                (person_id,) = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
                blobs = {sha256_hex(blob): blob for blob in map(embedding_blob, rows)}  # equal rows once
                db.executemany(
                    "INSERT OR IGNORE INTO samples (person_id, embedding, encoder, detector, landmarks, jitters, "
                    "photo_sha256, source, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(person_id, blob, settings.encoder, settings.detector, settings.landmarks, settings.jitters,
                      digest, source, now, SampleStatus.OK) for digest, blob in blobs.items()])
                if name in home_ids:
                    db.execute("DELETE FROM site_people WHERE home_id = ? OR person_id = ?",
                               (home_ids[name], person_id))
                    db.execute("INSERT INTO site_people (home_id, person_id) VALUES (?, ?)",
                               (home_ids[name], person_id))
            db.executemany("INSERT OR IGNORE INTO doomed_files (path) VALUES (?)", [(p,) for p in doomed])
            db.execute("UPDATE meta SET value = ? WHERE key = 'site_gallery_version'", (version,))
        self.database.delete_doomed_files()
        if gone:
            self.database.checkpoint()
        return [name for _, name in gone], renamed
