"""The encodings store: one SQLite file (standard library) in the data directory, plus kept photos.

- WAL mode with synchronous=FULL: readers (the daemon) never block the writer (an admin command),
  and a committed enrollment survives a power cut of the SD card.
- Every write is one transaction; a person row is only ever created together with its first
  sample, so a crash mid-import leaves committed photos intact and no half-written person.
- Embeddings are raw little-endian float32 BLOBs (never pickle).
- `meta.gallery_generation` is bumped by triggers on any change to people or samples, so a
  running daemon notices any writer's change with one cheap query.
- A sample's status says whether it is matched: `ok` and `accepted` (an admin's word) are;
  `pending` (imported, consistency check not run yet) and `suspect` (held back) are not.
- Kept photos are stored as `photos/<sha256>` with mode 0600, written before the sample that
  refers to them is committed.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.errors import NotFound, Refused, StoreError
from kiosk.paths import DB_NAME, EVENT_FACES_DIR, PHOTOS_DIR, UNKNOWNS_DIR, UnsafePath, kept_file
from kiosk.store.schema import DLIB_MODEL, MIGRATIONS, SCHEMA_VERSION, split_sql
from kiosk.util import write_atomically
from kiosk.vision.encoders import DEFAULT as DEFAULT_ENCODER
from kiosk.vision.encoders import encoder_class, encoder_of_model, model_of
from kiosk.vision.matcher import Gallery

EMBEDDING_DTYPE = "<f4"
log = logging.getLogger("kiosk.store")



@dataclass(frozen=True)
class SampleSettings:
    """How an embedding was made, recorded with every sample so retraining can compare."""
    encoder: str
    detector: str
    landmarks: int
    jitters: int


MATCHED_STATUSES = ("ok", "accepted")


@dataclass(frozen=True)
class PersonSummary:
    name: str
    samples: int  # matched samples
    created_at: float
    held: int = 0  # samples held back (suspect or pending)


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    name: str
    distance: float | None
    track_id: int | None
    corrected_from: str | None = None
    has_face: bool = False
    kind: str = "seen"  # "seen" (a face confirmed) or "door" (the door opened for them)
    liveness: str | None = None  # None (not checked), "passed" or "failed" (a picture, not a person)
    threshold: float | None = None  # the live threshold the track's evidence was held to
    frames: int | None = None  # encodings the evidence was made of (agreeing frames for the door)


@dataclass(frozen=True)
class Sample:
    """One stored sample of a person, without its embedding (for listings and retraining)."""
    id: int
    source: str
    photo_sha256: str
    settings: SampleSettings
    created_at: float
    status: str = "ok"
    status_reason: str = ""


@dataclass(frozen=True)
class CheckedSample:
    """A sample as the consistency check sees it."""
    id: int
    source: str
    status: str
    embedding: np.ndarray


@dataclass(frozen=True)
class EventFace:
    """The face kept with an event (recognition.capture_faces); its crop is event_faces/<crop_file>."""
    event_id: int
    at: float
    embedding: np.ndarray
    crop_file: str
    encoder: str = DLIB_MODEL  # the model that made the embedding


@dataclass(frozen=True)
class UnknownFace:
    """A face the daemon saw but could not name; its crop is unknowns/<crop_file>."""
    id: int
    at: float
    embedding: np.ndarray
    crop_file: str
    track_id: int | None
    encoder: str = DLIB_MODEL  # the model that made the embedding


HASHED_KEY = re.compile(r"_[0-9a-f]{6}$")


def person_key(name: str) -> str:
    """NAME as a topic level and Home Assistant id: lower-case letters, digits and _, with a short
    hash of the name whenever that changed it or the name itself ends like a hash. A plain key
    never ends like a hash and a hashed key always does, so "José" (jos_8f72d2) and a person
    literally named jos_8f72d2 get different keys; the store refuses the rare hash clash."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if slug == name and not HASHED_KEY.search(slug):
        return slug
    return f"{slug or 'person'}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def _refuse_key_clash(db: sqlite3.Connection, name: str, leaving: str | None = None) -> None:
    """Refuse a new name whose key another person already has (checked at enroll and rename)."""
    key = person_key(name)
    for (other,) in db.execute("SELECT name FROM people WHERE name != ?", (leaving or name,)):
        if other != name and person_key(other) == key:
            raise Refused(f"{name}: would share the key {key!r} (MQTT topics, Home Assistant) with {other}; "
                          "choose another name")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    """A connection to the store in one data directory. Not shared between threads."""

    def __init__(self, data_dir: str | os.PathLike, *, create: bool = True):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self._open(create)

    def _open(self, create: bool) -> None:
        try:
            if create:
                self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not self.path.exists():
                    # Create the file ourselves so it is 0600 from the start; SQLite gives the
                    # -wal and -shm files the same mode.
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
            elif not self.path.exists():
                raise StoreError(f"{self.path}: no store here (enroll someone first)")
        except OSError as exc:  # a file, a dangling link, /proc, a read-only or full drive
            what = "is not a folder" if exc.errno in (errno.EEXIST, errno.ENOTDIR) else exc.strerror
            raise StoreError(f"{exc.filename or self.data_dir}: cannot hold the kiosk's data ({what}; "
                             "see --data-dir or KIOSK_DATA_DIR)") from None
        self.identity = self._file_identity()
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 30000")
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            self.delete_doomed_files()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable kiosk store ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def replaced(self) -> bool:
        """Whether kiosk.db was deleted or replaced (a restore by hand, a copy) since this opened it:
        this connection would then read and write a file nobody else sees."""
        return self._file_identity() != self.identity

    def reopen(self) -> None:
        """Close this connection and open the store at the same path again (creating it if gone)."""
        self.db.close()
        self._open(create=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self, write: bool = True):
        """BEGIN IMMEDIATE (or a plain read snapshot) ... COMMIT, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:  # SQLite ends it by itself on some errors (a full disk)
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {version} is newer than this program ({SCHEMA_VERSION})")
        if version == 0:
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"{self.path}: this SQLite file is not a kiosk store")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as db:
                for statement in split_sql(MIGRATIONS[target - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    # --- gallery -------------------------------------------------------------------------

    def gallery_generation(self) -> int:
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
            generation = self.gallery_generation()
            rows = self.db.execute(
                "SELECT p.name, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
                f"WHERE s.status IN {MATCHED_STATUSES} AND s.encoder = ? ORDER BY p.name, s.id", (encoder,)).fetchall()
            negative_rows = self.db.execute(
                "SELECT p.name, c.embedding FROM confusions c JOIN people p ON p.id = c.person_id "
                "WHERE c.encoder = ?", (encoder,)).fetchall()
            stranger_rows = self.db.execute("SELECT embedding FROM unknown_faces WHERE encoder = ?",
                                            (encoder,)).fetchall()
        if not rows:
            return Gallery.empty(generation, dimensions)
        negatives: dict[str, list[np.ndarray]] = {}
        for name, blob in negative_rows:
            negatives.setdefault(name, []).append(np.frombuffer(blob, dtype=EMBEDDING_DTYPE))
        names: list[str] = []
        counts: list[int] = []
        for name, _ in rows:
            if names and names[-1] == name:
                counts[-1] += 1
            else:
                names.append(name)
                counts.append(1)
        matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=EMBEDDING_DTYPE).reshape(-1, dimensions)
        strangers = np.frombuffer(b"".join(blob for (blob,) in stranger_rows),
                                  dtype=EMBEDDING_DTYPE).reshape(-1, dimensions)
        return Gallery(names, counts, matrix, generation, {n: np.vstack(v) for n, v in negatives.items()}, strangers)

    def encoders(self) -> dict[str, int]:
        """How many matched samples each encoder model made (more than one after a change of
        recognition.encoder, until `kiosk retrain`)."""
        return dict(self.db.execute(f"SELECT encoder, count(*) FROM samples WHERE status IN {MATCHED_STATUSES} "
                                    "GROUP BY encoder ORDER BY encoder").fetchall())

    # --- enrollment ----------------------------------------------------------------------

    def owner_of_photo(self, sha256: str) -> str | None:
        row = self.db.execute(
            "SELECT p.name FROM samples s JOIN people p ON p.id = s.person_id WHERE s.photo_sha256 = ?",
            (sha256,)).fetchone()
        return row[0] if row else None

    def add_sample(self, person: str, embedding: np.ndarray, settings: SampleSettings,
                   photo_sha256: str, source: str, photo: bytes | None = None, status: str = "ok") -> None:
        """Add one sample (creating the person if new) in one transaction; keep the photo if given."""
        if photo is not None:
            self.keep_photo(photo_sha256, photo)
        with self.transaction() as db:
            self._insert_sample(db, person, embedding, settings, photo_sha256, source, status)

    def add_samples(self, samples: list[tuple[str, np.ndarray, SampleSettings, str, str]], status: str = "ok") -> int:
        """Add many (person, embedding, settings, photo_sha256, source) in one transaction.

        Samples whose photo_sha256 is already stored are skipped; returns how many were added.
        """
        added = 0
        with self.transaction() as db:
            for person, embedding, settings, digest, source in samples:
                if db.execute("SELECT 1 FROM samples WHERE photo_sha256 = ?", (digest,)).fetchone():
                    continue
                self._insert_sample(db, person, embedding, settings, digest, source, status)
                added += 1
        return added

    @staticmethod
    def _insert_sample(db: sqlite3.Connection, person: str, embedding: np.ndarray,
                       settings: SampleSettings, photo_sha256: str, source: str, status: str = "ok") -> None:
        """Insert one sample inside the caller's transaction, creating the person if new."""
        blob = embedding_blob(embedding)
        now = time.time()
        if db.execute("SELECT 1 FROM people WHERE name = ?", (person,)).fetchone() is None:
            _refuse_key_clash(db, person)
        db.execute("INSERT INTO people (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
                   (person, now))
        person_id = db.execute("SELECT id FROM people WHERE name = ?", (person,)).fetchone()[0]
        db.execute(
            "INSERT INTO samples (person_id, embedding, encoder, detector, landmarks, jitters, "
            "photo_sha256, source, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (person_id, blob, settings.encoder, settings.detector, settings.landmarks,
             settings.jitters, photo_sha256, source, now, status))

    def photo_path(self, sha256: str) -> Path:
        """photos/<sha256>; StoreError for a stored digest that is not one (see paths.kept_file)."""
        return self._kept(PHOTOS_DIR, sha256)

    def event_face_path(self, crop_file: str) -> Path:
        return self._kept(EVENT_FACES_DIR, crop_file)

    def unknown_face_path(self, crop_file: str) -> Path:
        return self._kept(UNKNOWNS_DIR, crop_file)

    def _kept(self, folder: str, name: str) -> Path:
        try:
            return kept_file(self.data_dir, folder, name)
        except UnsafePath as exc:
            raise StoreError(str(exc)) from None

    def delete_kept_files(self, folder: str, names: list[str]) -> int:
        """Delete kept files by their stored names; a name that is not the kiosk's is skipped and logged."""
        deleted = 0
        for name in names:
            try:
                kept_file(self.data_dir, folder, name).unlink(missing_ok=True)
                deleted += 1
            except UnsafePath as exc:
                log.warning("not deleted: %s", exc)
        return deleted

    def keep_photo(self, sha256: str, data: bytes) -> Path:
        """Write the photo as photos/<sha256> (0600), durably, unless it is already there intact."""
        target = self.photo_path(sha256)
        if not (target.exists() and sha256_hex(target.read_bytes()) == sha256):
            write_private_file(target, data)
        return target

    def people(self) -> list[PersonSummary]:
        rows = self.db.execute(
            f"SELECT p.name, count(s.id) FILTER (WHERE s.status IN {MATCHED_STATUSES}), p.created_at, "
            f"count(s.id) FILTER (WHERE s.status NOT IN {MATCHED_STATUSES}) "
            "FROM people p LEFT JOIN samples s ON s.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [PersonSummary(*row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """(people, samples)."""
        return (self.db.execute("SELECT count(*) FROM people").fetchone()[0],
                self.db.execute("SELECT count(*) FROM samples").fetchone()[0])

    def remove_person(self, name: str, *, events: bool = False) -> int | None:
        """Forget a person: samples, kept photos and (optionally) events; None if unknown.

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
            db.executemany("INSERT OR IGNORE INTO doomed_files (path) VALUES (?)", [(p,) for p in doomed])
        self.delete_doomed_files()
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(digests)

    def delete_doomed_files(self) -> int:
        """Delete the files of people already removed (left by a removal that was cut short)."""
        paths = [p for (p,) in self.db.execute("SELECT path FROM doomed_files")]
        for path in paths:
            folder, _, name = path.partition("/")
            # Only a kept photo or face, by its plain name: a crafted store cannot aim elsewhere.
            if folder in (PHOTOS_DIR, EVENT_FACES_DIR):
                self.delete_kept_files(folder, [name])
            else:
                log.warning("not deleted: %r is not a file the kiosk keeps", path[:80])
        if paths:
            with self.transaction() as db:
                db.executemany("DELETE FROM doomed_files WHERE path = ?", [(p,) for p in paths])
        return len(paths)

    def samples_of(self, name: str) -> list[Sample] | None:
        """The person's samples, oldest first; None if nobody has that name."""
        row = self.db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        rows = self.db.execute(
            "SELECT id, source, photo_sha256, encoder, detector, landmarks, jitters, created_at, status, status_reason "
            "FROM samples WHERE person_id = ? ORDER BY created_at, id", row).fetchall()
        return [Sample(r[0], r[1], r[2], SampleSettings(*r[3:7]), r[7], r[8], r[9]) for r in rows]

    # --- the consistency check of a person's photos -------------------------------------------

    def samples_to_check(self, name: str, encoder: str) -> list[CheckedSample]:
        """Every sample of a person made by model ENCODER, with its embedding and status, oldest first."""
        rows = self.db.execute(
            "SELECT s.id, s.source, s.status, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
            "WHERE p.name = ? AND s.encoder = ? ORDER BY s.created_at, s.id", (name, encoder)).fetchall()
        return [CheckedSample(r[0], r[1], r[2], np.frombuffer(r[3], EMBEDDING_DTYPE)) for r in rows]

    def people_with_pending(self) -> list[str]:
        return [name for (name,) in self.db.execute(
            "SELECT DISTINCT p.name FROM samples s JOIN people p ON p.id = s.person_id "
            "WHERE s.status = 'pending' ORDER BY p.name")]

    def set_statuses(self, statuses: dict[int, tuple[str, str]]) -> None:
        """Set (status, reason) of samples by id, in one transaction; accepted samples keep theirs."""
        with self.transaction() as db:
            for sample_id, (status, reason) in statuses.items():
                db.execute("UPDATE samples SET status = ?, status_reason = ? WHERE id = ? AND status != 'accepted' "
                           "AND (status != ? OR status_reason != ?)", (status, reason, sample_id, status, reason))

    def accept_samples(self, name: str, ids: list[int]) -> int:
        """Mark held-back samples of NAME as accepted by an admin (matched, never flagged again)."""
        with self.transaction() as db:
            return sum(db.execute(
                "UPDATE samples SET status = 'accepted', status_reason = '' WHERE id = ? AND status != 'accepted' "
                "AND person_id = (SELECT id FROM people WHERE name = ?)", (i, name)).rowcount for i in ids)

    def reject_samples(self, name: str, ids: list[int]) -> int:
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
        self.delete_kept_files(PHOTOS_DIR, digests)
        self.checkpoint()
        return len(digests)

    def rejected_at(self, sha256: str, person: str) -> float | None:
        """When an admin rejected this photo as a photo of PERSON, or None."""
        row = self.db.execute("SELECT at FROM rejected_photos WHERE photo_sha256 = ? AND person = ?",
                              (sha256, person)).fetchone()
        return row[0] if row else None

    def rename_person(self, old: str, new: str) -> None:
        """Rename a person and their events in one transaction."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (old,)).fetchone()
            if row is None:
                raise NotFound(f"{old}: nobody of that name")
            if db.execute("SELECT 1 FROM people WHERE name = ?", (new,)).fetchone():
                raise Refused(f"{new}: already enrolled, choose another name")
            _refuse_key_clash(db, new, leaving=old)
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

    def photo_digests(self) -> set[str]:
        """The photo_sha256 of every sample (to tell kept photos in use from leftovers)."""
        return {digest for (digest,) in self.db.execute("SELECT photo_sha256 FROM samples")}

    # --- faces seen but not recognised -------------------------------------------------------

    def add_unknown(self, at: float, embedding: np.ndarray, crop_file: str, track_id: int | None,
                    encoder: str = DLIB_MODEL) -> int:
        with self.transaction() as db:
            return db.execute("INSERT INTO unknown_faces (at, embedding, crop_file, track_id, encoder) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (at, embedding_blob(embedding), crop_file, track_id, encoder)).lastrowid

    def unknowns(self) -> list[UnknownFace]:
        """Every kept unknown face, oldest first."""
        rows = self.db.execute("SELECT id, at, embedding, crop_file, track_id, encoder FROM unknown_faces "
                               "ORDER BY at, id").fetchall()
        return [UnknownFace(r[0], r[1], np.frombuffer(r[2], EMBEDDING_DTYPE), r[3], r[4], r[5]) for r in rows]

    def delete_unknowns(self, ids: list[int]) -> list[str]:
        """Delete unknown faces by id, overwriting their rows on disk; returns their crop files."""
        self.db.execute("PRAGMA secure_delete = ON")
        crops: list[str] = []
        with self.transaction() as db:
            for unknown_id in ids:
                rows = db.execute("DELETE FROM unknown_faces WHERE id = ? RETURNING crop_file",
                                  (unknown_id,)).fetchall()
                crops.extend(crop for (crop,) in rows)
        return crops

    def checkpoint(self) -> None:
        """Move the write-ahead log into the main file and truncate it (no deleted data left in it)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def label_unknown(self, unknown_id: int, person: str, settings: SampleSettings,
                      photo_sha256: str, source: str) -> bool:
        """Turn an unknown face into a sample of PERSON in one transaction; False if no such id.
        Refused when another encoder than SETTINGS' made the face (it would never be matched)."""
        with self.transaction() as db:
            rows = db.execute("DELETE FROM unknown_faces WHERE id = ? RETURNING embedding, encoder",
                              (unknown_id,)).fetchall()
            if not rows:
                return False
            _refuse_other_encoder(f"unknown face {unknown_id}", rows[0][1], settings)
            self._insert_sample(db, person, np.frombuffer(rows[0][0], EMBEDDING_DTYPE), settings,
                                photo_sha256, source)
        return True

    # --- recognition events --------------------------------------------------------------

    def add_event(self, name: str, distance: float | None, track_id: int | None, at: float | None = None,
                  face: tuple[np.ndarray, str, str] | None = None, *, kind: str = "seen",
                  liveness: str | None = None, outbox_limit: int = 0, threshold: float | None = None,
                  frames: int | None = None) -> int:
        """Log one event; with face=(embedding, crop_file, encoder model) its face is kept for corrections.

        With an outbox_limit the event also joins the outbox (events still to be published) in
        the same transaction, so none is logged without being sent or sent without being logged;
        beyond the limit the oldest unsent ones are dropped, and counted."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            at = time.time() if at is None else at
            event_id = db.execute(
                "INSERT INTO events (at, person_id, name, distance, track_id, kind, liveness, threshold, frames) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (at, row[0] if row else None, name, distance, track_id, kind,
                                                       liveness, threshold, frames)).lastrowid
            if face is not None:
                db.execute("INSERT INTO event_faces (event_id, at, embedding, crop_file, encoder) "
                           "VALUES (?, ?, ?, ?, ?)", (event_id, at, embedding_blob(face[0]), face[1], face[2]))
            if outbox_limit:
                db.execute("INSERT INTO outbox (event_id, queued_at) VALUES (?, ?)", (event_id, time.time()))
                dropped = db.execute(
                    "DELETE FROM outbox WHERE event_id IN (SELECT event_id FROM outbox ORDER BY event_id "
                    "LIMIT max(0, (SELECT count(*) FROM outbox) - ?))", (outbox_limit,)).rowcount
                if dropped:
                    db.execute("UPDATE meta SET value = value + ? WHERE key = 'outbox_dropped'", (dropped,))
            return event_id

    def outbox(self, limit: int = 100) -> list[Event]:
        """Events still to be published, oldest first."""
        return self._event_rows("JOIN outbox o ON o.event_id = e.id", [], f"ORDER BY e.id LIMIT {int(limit)}")

    def outbox_sent(self, event_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))

    def outbox_state(self) -> tuple[int, int]:
        """(events waiting to be published, events dropped unsent because the outbox was full)."""
        waiting = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        dropped = self.db.execute("SELECT value FROM meta WHERE key = 'outbox_dropped'").fetchone()[0]
        return waiting, dropped

    def last_seen(self) -> dict[str, float]:
        """When each enrolled person was last seen (people never seen are left out)."""
        return dict(self.db.execute(
            "SELECT p.name, max(e.at) FROM events e JOIN people p ON p.id = e.person_id "
            "WHERE e.kind = 'seen' AND e.liveness IS NOT 'failed' GROUP BY p.name").fetchall())

    def event(self, event_id: int) -> Event | None:
        rows = self._event_rows("WHERE e.id = ?", [event_id], "")
        return rows[0] if rows else None

    def event_face(self, event_id: int) -> EventFace | None:
        row = self.db.execute("SELECT event_id, at, embedding, crop_file, encoder FROM event_faces WHERE event_id = ?",
                              (event_id,)).fetchone()
        return EventFace(row[0], row[1], np.frombuffer(row[2], EMBEDDING_DTYPE), row[3], row[4]) if row else None

    def event_faces(self) -> list[EventFace]:
        """Every kept event face, oldest first."""
        rows = self.db.execute("SELECT event_id, at, embedding, crop_file, encoder FROM event_faces "
                               "ORDER BY at, event_id")
        return [EventFace(r[0], r[1], np.frombuffer(r[2], EMBEDDING_DTYPE), r[3], r[4]) for r in rows]

    def delete_events_before(self, cutoff: float) -> int:
        """Delete events dated before CUTOFF with their kept faces and outbox entries (retention)."""
        self.db.execute("PRAGMA secure_delete = ON")
        with self.transaction() as db:
            crops = [c for (c,) in db.execute("SELECT f.crop_file FROM event_faces f JOIN events e "
                                              "ON e.id = f.event_id WHERE e.at < ?", (cutoff,))]
            deleted = db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
        self.delete_kept_files(EVENT_FACES_DIR, crops)
        return deleted

    def kept_faces_beyond(self, table: str, oldest_allowed: float, max_count: int) -> list[int]:
        """Ids of kept faces (TABLE: event_faces or unknown_faces) older than OLDEST_ALLOWED, then
        the earliest kept beyond MAX_COUNT. Counted by the order they were kept (their ids), not
        by their times, which a clock step can reorder; both queries use indexes, so the cost
        stays flat up to the largest allowed count."""
        key = {"event_faces": "event_id", "unknown_faces": "id"}[table]
        expired = [k for (k,) in self.db.execute(f"SELECT {key} FROM {table} WHERE at < ?", (oldest_allowed,))]
        remaining = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - len(expired)
        if remaining <= max_count:
            return expired
        excess = self.db.execute(f"SELECT {key} FROM {table} WHERE at >= ? ORDER BY {key} LIMIT ?",
                                 (oldest_allowed, remaining - max_count))
        return expired + [k for (k,) in excess]

    def delete_event_faces(self, event_ids: list[int]) -> list[str]:
        """Forget the faces of these events (the events stay); returns their crop files."""
        self.db.execute("PRAGMA secure_delete = ON")
        crops = []
        with self.transaction() as db:
            for event_id in event_ids:
                crops += [c for (c,) in db.execute("DELETE FROM event_faces WHERE event_id = ? RETURNING crop_file",
                                                   (event_id,)).fetchall()]
        return crops

    def correct_event(self, event_id: int, name: str, *, sample: tuple[SampleSettings, str, str] | None,
                      not_person: str | None) -> None:
        """Rename an event (keeping what it said before) in one transaction, and learn from it.

        sample=(settings, photo_sha256, source) adds the event's face as an accepted sample of
        NAME; not_person records the face as a known confusion with that person. Learning is
        refused when another encoder than the sample's made the face (it would never be matched).
        """
        with self.transaction() as db:
            event = db.execute("SELECT e.name, f.embedding, f.encoder FROM events e JOIN event_faces f "
                               "ON f.event_id = e.id WHERE e.id = ?", (event_id,)).fetchone()
            if event is None:
                raise NotFound(f"event {event_id}: no such event with a kept face")
            old_name, blob, encoder = event
            embedding = np.frombuffer(blob, EMBEDDING_DTYPE)
            if sample is not None:
                _refuse_other_encoder(f"event {event_id}'s face", encoder, sample[0])
                self._insert_sample(db, name, embedding, *sample, status="accepted")
            person = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            db.execute("UPDATE events SET name = ?, person_id = ?, corrected_from = coalesce(corrected_from, ?) "
                       "WHERE id = ?", (name, person[0] if person else None, old_name, event_id))
            if not_person is not None:
                wrong = db.execute("SELECT id FROM people WHERE name = ?", (not_person,)).fetchone()
                if wrong is not None:
                    db.execute("INSERT INTO confusions (person_id, embedding, event_id, created_at, encoder) "
                               "VALUES (?, ?, ?, ?, ?)", (wrong[0], blob, event_id, time.time(), encoder))

    def confusions_of(self, name: str) -> int:
        return self.db.execute("SELECT count(*) FROM confusions c JOIN people p ON p.id = c.person_id "
                               "WHERE p.name = ?", (name,)).fetchone()[0]

    def events(self, since: float | None = None, until: float | None = None,
               person: str | None = None, limit: int | None = None) -> list[Event]:
        """Events in time order; with LIMIT, the last LIMIT written, newest first (by id: a clock
        set back and forth cannot put an event dated in the future at the top)."""
        clauses: list[str] = []
        params: list[object] = []
        if since is not None:
            clauses.append("e.at >= ?")
            params.append(since)
        if until is not None:
            clauses.append("e.at < ?")
            params.append(until)
        if person is not None:
            clauses.append("e.name = ?")
            params.append(person)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ORDER BY e.id DESC LIMIT ?" if limit else "ORDER BY e.at, e.id"
        if limit:
            params.append(limit)
        return self._event_rows(where, params, order)

    def _event_rows(self, where: str, params: list, order: str) -> list[Event]:
        rows = self.db.execute(
            "SELECT e.id, e.at, e.name, e.distance, e.track_id, e.corrected_from, f.event_id IS NOT NULL, e.kind, "
            f"e.liveness, e.threshold, e.frames FROM events e LEFT JOIN event_faces f ON f.event_id = e.id "
            f"{where} {order}", params).fetchall()
        return [Event(event_id, at, name, distance, track_id, corrected_from, bool(has_face), kind, liveness,
                      threshold, frames)
                for event_id, at, name, distance, track_id, corrected_from, has_face, kind, liveness, threshold, frames
                in rows]


EMBEDDING_VALUES = (16, 2048)  # the lengths schema.EMBEDDING_CHECK allows


def waiting_for_retrain(store: Store, encoder: str) -> str:
    """A line when samples made by another encoder than ENCODER (recognition.encoder) are in the
    store: they are not matched until `kiosk retrain` re-encodes their photos; "" otherwise."""
    made_by = store.encoders()
    others = {model: count for model, count in made_by.items() if model != model_of(encoder)}
    if not others:
        return ""
    total = sum(made_by.values())
    listed = ", ".join(f"{count} by {encoder_of_model(model) or model}" for model, count in others.items())
    return (f"{sum(others.values())} of {total} samples were made by another encoder ({listed}) than "
            f"recognition.encoder {encoder}: they are not matched until `kiosk retrain`")


def embedding_blob(embedding: np.ndarray) -> bytes:
    """The stored form of an embedding: its little-endian float32 values (128 for dlib's encoder)."""
    values = np.asarray(embedding, dtype=EMBEDDING_DTYPE).reshape(-1)
    if not EMBEDDING_VALUES[0] <= len(values) <= EMBEDDING_VALUES[1]:
        raise ValueError(f"an embedding of {len(values)} values")
    return values.tobytes()


def is_embedding_blob(value: object) -> bool:
    """Whether VALUE (read from a database we did not write) is that form, every number finite."""
    return isinstance(value, bytes) and len(value) % 4 == 0 and \
        EMBEDDING_VALUES[0] <= len(value) // 4 <= EMBEDDING_VALUES[1] and bool(
            np.isfinite(np.frombuffer(value, dtype=EMBEDDING_DTYPE)).all())


def _refuse_other_encoder(what: str, made_by: str, settings: SampleSettings) -> None:
    if made_by != settings.encoder:
        raise Refused(f"{what} was encoded by {made_by}, the samples now by {settings.encoder} "
                      "(recognition.encoder): it cannot become a sample")


def write_private_file(path: Path, data: bytes) -> None:
    """Write PATH (mode 0600, in a 0700 folder) atomically and durably: biometric data at rest."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(path, data, 0o600, durable=True)
