"""The store's connection: one SQLite file in the data directory, its transactions and migrations,
and the files kept beside its rows (photos, face crops), which only it names and deletes.

- WAL mode with synchronous=FULL: readers (the daemon) never block the writer (an admin command),
  and a committed enrollment survives a power cut of the SD card.
- Every write is one transaction (`transaction`); the parts of the store (people.py, events.py,
  unknowns.py) use this one connection, so a write that spans them is still one transaction.
- Files are removed after the commit that forgets them, from a list written in that commit
  (doomed_files), so a kill in between leaves nothing behind for good.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from kiosk.errors import StoreError
from kiosk.paths import (
    BACKUPS_DIR,
    DB_NAME,
    EVENT_FACES_DIR,
    PHOTOS_DIR,
    UNKNOWNS_DIR,
    UnsafePath,
    is_kept_name,
    kept_file,
)
from kiosk.store.schema import MIGRATIONS, SCHEMA_VERSION, split_sql

log = logging.getLogger("kiosk.store")


class Database:
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
        """Bring the schema to SCHEMA_VERSION. Each step re-reads the version inside its write
        transaction, so two processes opening a new or older store at once (two imports) migrate
        it once: the second waits for the first and finds the step done."""
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{self.path}: this SQLite file is not a kiosk store")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {version} is newer than this program ({SCHEMA_VERSION})")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as db:
                if db.execute("PRAGMA user_version").fetchone()[0] >= target:
                    continue  # another process took this step meanwhile
                for statement in split_sql(MIGRATIONS[target - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    def checkpoint(self) -> None:
        """Move the write-ahead log into the main file and truncate it (no deleted data left in it)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

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

    def copies_before_restore(self) -> list[Path]:
        """The copies of the store `kiosk restore` kept (backups/before-restore-*.tar), oldest first."""
        folder = self.data_dir / BACKUPS_DIR
        return sorted(p for p in folder.iterdir() if is_kept_name(BACKUPS_DIR, p.name)) if folder.is_dir() else []

    def delete_doomed_files(self) -> int:
        """Delete the files of people already removed (left by a removal that was cut short)."""
        paths = [p for (p,) in self.db.execute("SELECT path FROM doomed_files")]
        for path in paths:
            folder, _, name = path.partition("/")
            # Only a kept photo or face, by its plain name: a crafted store cannot aim elsewhere.
            if folder in (PHOTOS_DIR, EVENT_FACES_DIR, BACKUPS_DIR):
                self.delete_kept_files(folder, [name])
            else:
                log.warning("not deleted: %r is not a file the kiosk keeps", path[:80])
        if paths:
            with self.transaction() as db:
                db.executemany("DELETE FROM doomed_files WHERE path = ?", [(p,) for p in paths])
        return len(paths)

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


class Part:
    """One part of the store (its own tables and records) on the Database's connection."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def db(self) -> sqlite3.Connection:
        return self.database.db  # looked up each time: reopen() makes a new connection

    def transaction(self, write: bool = True):
        return self.database.transaction(write)
