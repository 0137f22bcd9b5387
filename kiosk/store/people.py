"""The people part of the store: people, their samples and kept photos, and the gallery made of them.

- A person row is only ever created together with its first sample (insert_sample), so a crash
  mid-import leaves committed photos intact and no half-written person.
- A sample's status says whether it is matched: `ok` and `accepted` (an admin's word) are;
  `pending` (imported, consistency check not run yet) and `suspect` (held back) are not.
- `meta.gallery_generation` is bumped by triggers on any change to people or samples, so a
  running daemon notices any writer's change with one cheap query.
- Kept photos are stored as `photos/<sha256>` with mode 0600, written before the sample that
  refers to them is committed.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from kiosk.errors import NotFound, Refused
from kiosk.names import close_names, name_key
from kiosk.paths import BACKUPS_DIR, EVENT_FACES_DIR, PHOTOS_DIR
from kiosk.store.database import Part
from kiosk.store.records import (
    CheckedSample,
    PersonSummary,
    Sample,
    SampleSettings,
    as_embedding,
    embedding_blob,
    person_key,
    sha256_hex,
    write_private_file,
)
from kiosk.vision.encoders import DEFAULT as DEFAULT_ENCODER
from kiosk.vision.encoders import encoder_class
from kiosk.vision.matcher import Gallery
from kiosk.vocabulary import MATCHED_STATUSES, SampleStatus

MATCHED_SQL = "(" + ", ".join(f"'{status}'" for status in MATCHED_STATUSES) + ")"  # for IN clauses


class People(Part):
    """`store.people`: who is enrolled, with what, and the gallery recognition matches against."""

    def generation(self) -> int:
        return self.db.execute("SELECT value FROM meta WHERE key = 'gallery_generation'").fetchone()[0]

    def load_gallery(self, encoder: str = DEFAULT_ENCODER) -> Gallery:
        """The samples ENCODER (recognition.encoder) made, as one matrix with rows grouped by
        person, read in one consistent snapshot, with the known confusions and the kept unknown
        faces (real strangers, for calibration.py) it made. Samples of another encoder wait for
        `kiosk retrain`."""
        cls = encoder_class(encoder)
        dimensions = cls.dimensions
        encoder = cls.model
        with self.transaction(write=False):
            generation = self.generation()
            rows = self.db.execute(
                "SELECT p.name, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
                f"WHERE s.status IN {MATCHED_SQL} AND s.encoder = ? ORDER BY p.name, s.id", (encoder,)).fetchall()
            negative_rows = self.db.execute(
                "SELECT p.name, c.embedding FROM confusions c JOIN people p ON p.id = c.person_id "
                "WHERE c.encoder = ?", (encoder,)).fetchall()
            stranger_rows = self.db.execute("SELECT id, embedding FROM unknown_faces WHERE encoder = ? "
                                            "ORDER BY at, id", (encoder,)).fetchall()
        if not rows:
            return Gallery.empty(generation, dimensions)
        negatives: dict[str, list[np.ndarray]] = {}
        for name, blob in negative_rows:
            negatives.setdefault(name, []).append(as_embedding(blob))
        names: list[str] = []
        counts: list[int] = []
        for name, _ in rows:
            if names and names[-1] == name:
                counts[-1] += 1
            else:
                names.append(name)
                counts.append(1)
        matrix = as_embedding(b"".join(blob for _, blob in rows)).reshape(-1, dimensions)
        strangers = as_embedding(b"".join(blob for _, blob in stranger_rows)).reshape(-1, dimensions)
        return Gallery(names, counts, matrix, generation, {n: np.vstack(v) for n, v in negatives.items()}, strangers,
                       [face_id for face_id, _ in stranger_rows])

    def encoders(self) -> dict[str, int]:
        """How many matched samples each encoder model made (more than one after a change of
        recognition.encoder, until `kiosk retrain`)."""
        return dict(self.db.execute(f"SELECT encoder, count(*) FROM samples WHERE status IN {MATCHED_SQL} "
                                    "GROUP BY encoder ORDER BY encoder").fetchall())

    def summaries(self) -> list[PersonSummary]:
        rows = self.db.execute(
            f"SELECT p.name, count(s.id) FILTER (WHERE s.status IN {MATCHED_SQL}), p.created_at, "
            f"count(s.id) FILTER (WHERE s.status NOT IN {MATCHED_SQL}) "
            "FROM people p LEFT JOIN samples s ON s.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [PersonSummary(*row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """(people, samples)."""
        return (self.db.execute("SELECT count(*) FROM people").fetchone()[0],
                self.db.execute("SELECT count(*) FROM samples").fetchone()[0])

    def names(self) -> list[str]:
        return [name for (name,) in self.db.execute("SELECT name FROM people ORDER BY name")]

    def find(self, typed: str) -> str | None:
        """The stored name of the person TYPED names (exactly, or by names.name_key), or None."""
        return find_person(self.db, typed)

    def resolve(self, typed: str) -> str:
        """The stored name of the person TYPED names; NotFound says who was perhaps meant."""
        if (found := self.find(typed)) is not None:
            return found
        guesses = close_names(typed, self.names())
        hint = f"; did you mean {' or '.join(guesses)}?" if guesses else " (see kiosk people list)"
        raise NotFound(f"{typed}: nobody of that name{hint}")

    def merge(self, source: str, target: str) -> int:
        """Make SOURCE's samples, confusions, rejected photos and events TARGET's, and forget
        SOURCE, in one transaction (one person enrolled twice); returns the samples moved."""
        with self.transaction() as db:
            ids = [db.execute("SELECT id FROM people WHERE name = ?", (n,)).fetchone() for n in (source, target)]
            if ids[0] is None or ids[1] is None:
                raise NotFound(f"{source if ids[0] is None else target}: nobody of that name")
            if ids[0] == ids[1]:
                raise Refused(f"{source} and {target} are one person already")
            (old,), (new,) = ids
            moved = db.execute("UPDATE samples SET person_id = ? WHERE person_id = ?", (new, old)).rowcount
            db.execute("UPDATE confusions SET person_id = ? WHERE person_id = ?", (new, old))
            db.execute("UPDATE OR IGNORE rejected_photos SET person = ? WHERE person = ?", (target, source))
            db.execute("DELETE FROM rejected_photos WHERE person = ?", (source,))
            db.execute("UPDATE events SET person_id = ?, name = ? WHERE person_id = ? OR name = ?",
                       (new, target, old, source))
            db.execute("DELETE FROM people WHERE id = ?", (old,))
        return moved

    def samples_of(self, name: str) -> list[Sample] | None:
        """The person's samples, oldest first; None if nobody has that name."""
        row = self.db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        rows = self.db.execute(
            "SELECT id, source, photo_sha256, encoder, detector, landmarks, jitters, created_at, status, status_reason "
            "FROM samples WHERE person_id = ? ORDER BY created_at, id", row).fetchall()
        return [Sample(r[0], r[1], r[2], SampleSettings(*r[3:7]), r[7], r[8], r[9]) for r in rows]

    def sample(self, sample_id: int) -> tuple[str, Sample] | None:
        """Whose sample SAMPLE_ID is, and the sample; None when there is no such sample."""
        row = self.db.execute("SELECT p.name FROM samples s JOIN people p ON p.id = s.person_id WHERE s.id = ?",
                              (sample_id,)).fetchone()
        if row is None:
            return None
        found = [s for s in self.samples_of(row[0]) or [] if s.id == sample_id]
        return (row[0], found[0]) if found else None

    def owner_of_photo(self, sha256: str) -> str | None:
        row = self.db.execute(
            "SELECT p.name FROM samples s JOIN people p ON p.id = s.person_id WHERE s.photo_sha256 = ?",
            (sha256,)).fetchone()
        return row[0] if row else None

    def add_sample(self, person: str, embedding: np.ndarray, settings: SampleSettings,
                   photo_sha256: str, source: str, photo: bytes | None = None, status: str = "ok",
                   create: bool = True) -> bool:
        """Add one sample (creating the person if new) in one transaction; keep the photo if given.
        False, with nothing added, when the photo is a sample already: another import of the same
        photo took it since this one looked (the check and the insert share one write transaction).
        CREATE false: NotFound, with nothing added, when PERSON is not enrolled (removed meanwhile)."""
        if photo is not None:
            self.keep_photo(photo_sha256, photo)
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM samples WHERE photo_sha256 = ?", (photo_sha256,)).fetchone():
                return False
            if not create and find_person(db, person) is None:
                gone = NotFound(f"{person}: removed while the photos were being imported; nothing more was added")
            else:
                insert_sample(db, person, embedding, settings, photo_sha256, source, status)
                return True
        if photo is not None:  # no sample refers to the photo just kept
            self.database.delete_kept_files(PHOTOS_DIR, [photo_sha256])
        raise gone

    def add_samples(self, samples: list[tuple[str, np.ndarray, SampleSettings, str, str]], status: str = "ok") -> int:
        """Add many (person, embedding, settings, photo_sha256, source) in one transaction.

        Samples whose photo_sha256 is already stored are skipped; returns how many were added.
        """
        added = 0
        with self.transaction() as db:
            for person, embedding, settings, digest, source in samples:
                if db.execute("SELECT 1 FROM samples WHERE photo_sha256 = ?", (digest,)).fetchone():
                    continue
                insert_sample(db, person, embedding, settings, digest, source, status)
                added += 1
        return added

    def keep_photo(self, sha256: str, data: bytes) -> Path:
        """Write the photo as photos/<sha256> (0600), durably, unless it is already there intact."""
        target = self.database.photo_path(sha256)
        if not (target.exists() and sha256_hex(target.read_bytes()) == sha256):
            write_private_file(target, data)
        return target

    def photo_digests(self) -> set[str]:
        """The photo_sha256 of every sample (to tell kept photos in use from leftovers)."""
        return {digest for (digest,) in self.db.execute("SELECT photo_sha256 FROM samples")}

    def remove(self, name: str, *, events: bool = False) -> int | None:
        """Forget a person: samples, kept photos, (optionally) events, and the copies of the store
        kept before restores (backups/before-restore-*.tar), which hold everybody as they were;
        None if unknown.

        secure_delete overwrites the freed pages and the WAL checkpoint moves them into the main
        file and truncates the WAL, so the removed encodings are not left readable on disk.
        """
        self.db.execute("PRAGMA secure_delete = ON")
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            digests = [d for (d,) in db.execute("SELECT photo_sha256 FROM samples WHERE person_id = ?", row)]
            db.execute("DELETE FROM samples WHERE person_id = ?", row)
            db.execute("DELETE FROM people WHERE id = ?", row)
            db.execute("DELETE FROM rejected_photos WHERE person = ?", (name,))
            crops = []
            if events:
                crops = [c for (c,) in db.execute(
                    "SELECT f.crop_file FROM event_faces f JOIN events e ON e.id = f.event_id "
                    "WHERE e.person_id = ? OR e.name = ?", (row[0], name))]
                db.execute("DELETE FROM events WHERE person_id = ? OR name = ?", (row[0], name))
            # The files go after the commit; noted in the same transaction, so a kill in between
            # leaves a list the next opening of the store finishes, never forgotten photos.
            doomed = [f"{PHOTOS_DIR}/{d}" for d in digests] + [f"{EVENT_FACES_DIR}/{c}" for c in crops]
            doomed += [f"{BACKUPS_DIR}/{p.name}" for p in self.database.copies_before_restore()]
            db.executemany("INSERT OR IGNORE INTO doomed_files (path) VALUES (?)", [(p,) for p in doomed])
        self.database.delete_doomed_files()
        self.database.checkpoint()
        return len(digests)

    def rename(self, old: str, new: str) -> None:
        """Rename a person and their events in one transaction."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (old,)).fetchone()
            if row is None:
                raise NotFound(f"{old}: nobody of that name")
            if db.execute("SELECT 1 FROM people WHERE name = ?", (new,)).fetchone():
                raise Refused(f"{new}: already enrolled, choose another name")
            if (other := find_person(db, new)) not in (None, old):
                raise Refused(f"{new}: {other} is enrolled under that name; kiosk people merge {old} {other} "
                              "if they are one person")
            refuse_key_clash(db, new, leaving=old)
            db.execute("UPDATE people SET name = ? WHERE id = ?", (new, row[0]))
            db.execute("UPDATE events SET name = ? WHERE person_id = ? OR name = ?", (new, row[0], old))

    def replace_embeddings(self, name: str, embeddings: dict[int, np.ndarray], settings: SampleSettings) -> int:
        """Give samples (by id) of one person new embeddings and settings, all in one transaction.

        The old embeddings are overwritten in place (secure_delete), so a reader sees either all
        of the person's old samples or all of the new ones. Returns how many were replaced.
        """
        self.db.execute("PRAGMA secure_delete = ON")
        replaced = 0
        with self.transaction() as db:
            for sample_id, embedding in embeddings.items():
                replaced += db.execute(
                    "UPDATE samples SET embedding = ?, encoder = ?, detector = ?, landmarks = ?, jitters = ? "
                    "WHERE id = ? AND person_id = (SELECT id FROM people WHERE name = ?)",
                    (embedding_blob(embedding), settings.encoder, settings.detector, settings.landmarks,
                     settings.jitters, sample_id, name)).rowcount
        return replaced

    # The consistency check of a person's photos (enrollment/consistency.py) and an admin's word on it.

    def samples_to_check(self, name: str, encoder: str) -> list[CheckedSample]:
        """Every sample of a person made by model ENCODER, with its embedding and status, oldest first."""
        rows = self.db.execute(
            "SELECT s.id, s.source, s.status, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
            "WHERE p.name = ? AND s.encoder = ? ORDER BY s.created_at, s.id", (name, encoder)).fetchall()
        return [CheckedSample(r[0], r[1], r[2], as_embedding(r[3])) for r in rows]

    def with_pending(self) -> list[str]:
        return [name for (name,) in self.db.execute(
            "SELECT DISTINCT p.name FROM samples s JOIN people p ON p.id = s.person_id "
            "WHERE s.status = 'pending' ORDER BY p.name")]

    def set_statuses(self, statuses: dict[int, tuple[str, str]]) -> None:
        """Set (status, reason) of samples by id, in one transaction; accepted samples keep theirs."""
        with self.transaction() as db:
            for sample_id, (status, reason) in statuses.items():
                db.execute("UPDATE samples SET status = ?, status_reason = ? WHERE id = ? AND status != 'accepted' "
                           "AND (status != ? OR status_reason != ?)", (status, reason, sample_id, status, reason))

    def accept(self, name: str, ids: list[int]) -> int:
        """Mark held-back samples of NAME as accepted by an admin (matched, never flagged again)."""
        with self.transaction() as db:
            return sum(db.execute(
                "UPDATE samples SET status = 'accepted', status_reason = '' WHERE id = ? AND status != 'accepted' "
                "AND person_id = (SELECT id FROM people WHERE name = ?)", (i, name)).rowcount for i in ids)

    def reject(self, name: str, ids: list[int]) -> int:
        """Delete samples of NAME (and their kept photos); their photos are refused by later imports."""
        self.db.execute("PRAGMA secure_delete = ON")
        digests = []
        with self.transaction() as db:
            for sample_id in ids:
                rows = db.execute(
                    "DELETE FROM samples WHERE id = ? AND person_id = (SELECT id FROM people WHERE name = ?) "
                    "RETURNING photo_sha256, source", (sample_id, name)).fetchall()
                for digest, source in rows:
                    db.execute("INSERT OR REPLACE INTO rejected_photos VALUES (?, ?, ?, ?)",
                               (digest, name, source, time.time()))
                    digests.append(digest)
            db.execute("DELETE FROM people WHERE name = ? AND NOT EXISTS "
                       "(SELECT 1 FROM samples s WHERE s.person_id = people.id)", (name,))
        self.database.delete_kept_files(PHOTOS_DIR, digests)
        self.database.checkpoint()
        return len(digests)


    def rejected_at(self, sha256: str, person: str) -> float | None:
        """When an admin rejected this photo as a photo of PERSON, or None."""
        row = self.db.execute("SELECT at FROM rejected_photos WHERE photo_sha256 = ? AND person = ?",
                              (sha256, person)).fetchone()
        return row[0] if row else None


def insert_sample(db: sqlite3.Connection, person: str, embedding: np.ndarray,
                  settings: SampleSettings, photo_sha256: str, source: str, status: str = SampleStatus.OK) -> None:
    """Insert one sample inside the caller's transaction, creating the person if new."""
    blob = embedding_blob(embedding)
    now = time.time()
    person = find_person(db, person) or person  # `Obama` beside an enrolled `obama` is obama
    if db.execute("SELECT 1 FROM people WHERE name = ?", (person,)).fetchone() is None:
        refuse_key_clash(db, person)
    db.execute("INSERT INTO people (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
               (person, now))
    person_id = db.execute("SELECT id FROM people WHERE name = ?", (person,)).fetchone()[0]
    db.execute(
        "INSERT INTO samples (person_id, embedding, encoder, detector, landmarks, jitters, "
        "photo_sha256, source, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (person_id, blob, settings.encoder, settings.detector, settings.landmarks,
         settings.jitters, photo_sha256, source, now, status))


def find_person(db: sqlite3.Connection, typed: str) -> str | None:
    """The stored name TYPED stands for: itself when stored, else the one person with its name_key."""
    if db.execute("SELECT 1 FROM people WHERE name = ?", (typed,)).fetchone():
        return typed
    key = name_key(typed)
    found = [name for (name,) in db.execute("SELECT name FROM people") if key and name_key(name) == key]
    if len(found) > 1:  # enrolled apart before keys were compared: only the exact name will do
        raise Refused(f"{typed}: could be {' or '.join(sorted(found))}; type the exact name, "
                      f"or kiosk people merge them")
    return found[0] if found else None


def refuse_key_clash(db: sqlite3.Connection, name: str, leaving: str | None = None) -> None:
    """Refuse a new name whose key another person already has (checked at enroll and rename)."""
    key = person_key(name)
    for (other,) in db.execute("SELECT name FROM people WHERE name != ?", (leaving or name,)):
        if other != name and person_key(other) == key:
            raise Refused(f"{name}: would share the key {key!r} (MQTT topics, Home Assistant) with {other}; "
                          "choose another name")


def refuse_other_encoder(what: str, made_by: str, settings: SampleSettings) -> None:
    if made_by != settings.encoder:
        raise Refused(f"{what} was encoded by {made_by}, the samples now by {settings.encoder} "
                      "(recognition.encoder): it cannot become a sample")
