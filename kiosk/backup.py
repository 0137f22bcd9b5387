"""`kiosk backup PATH` and `kiosk restore PATH`: the store, kept photos and unknown crops in one .tar.

Backup copies the live database with SQLite's online backup API (a consistent snapshot even while
the daemon or an import writes), then adds the photos and crops the copy refers to. Restore
accepts only a file with exactly this layout, checks the database inside is a kiosk store and the
photos match their checksums, and copies it into the live file with the backup API, so a running
daemon sees the change as one commit and reloads its gallery.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path

from kiosk.cli import UsageError
from kiosk.config import Config
from kiosk.store import DB_NAME, PHOTOS_DIR, SCHEMA_VERSION, Store, StoreError, sha256_hex, write_private_file
from kiosk.unknowns import UNKNOWNS_DIR

MANIFEST = "kiosk-backup.json"
BACKUP_FORMAT = "kiosk-backup"
PHOTO_MEMBER = re.compile(rf"{PHOTOS_DIR}/[0-9a-f]{{64}}")
CROP_MEMBER = re.compile(rf"{UNKNOWNS_DIR}/[A-Za-z0-9][A-Za-z0-9._-]*\.jpg")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def backup(store: Store, target: Path) -> dict:
    """Write a backup of STORE to TARGET (mode 0600, replaced atomically); returns the manifest."""
    with tempfile.TemporaryDirectory(prefix="kiosk-backup-") as scratch:
        copy_path = Path(scratch) / DB_NAME
        copy = sqlite3.connect(copy_path)
        try:
            store.db.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            digests = [d for (d,) in copy.execute("SELECT photo_sha256 FROM samples")]
            crops = [c for (c,) in copy.execute("SELECT crop_file FROM unknown_faces")]
            people, samples = (copy.execute("SELECT count(*) FROM people").fetchone()[0], len(digests))
            schema = copy.execute("PRAGMA user_version").fetchone()[0]
        finally:
            copy.close()
        manifest = {"format": BACKUP_FORMAT, "schema": schema, "created_at": time.time(),
                    "people": people, "samples": samples}
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                with tarfile.open(fileobj=handle, mode="w") as tar:
                    _add_bytes(tar, MANIFEST, json.dumps(manifest).encode())
                    _add_bytes(tar, DB_NAME, copy_path.read_bytes())
                    for digest in digests:
                        photo = store.photo_path(digest)
                        if photo.is_file():
                            _add_bytes(tar, f"{PHOTOS_DIR}/{digest}", photo.read_bytes())
                    for crop in crops:
                        path = store.data_dir / UNKNOWNS_DIR / crop
                        if path.is_file():
                            _add_bytes(tar, f"{UNKNOWNS_DIR}/{crop}", path.read_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return manifest


def read_backup(path: Path) -> tuple[dict, dict[str, bytes]]:
    """The manifest and members of a kiosk backup; UsageError naming PATH for anything else."""
    def refuse(reason: str) -> UsageError:
        return UsageError(f"{path}: not a kiosk backup ({reason})")
    try:
        tar = tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as exc:
        raise refuse(getattr(exc, "strerror", None) or "not a tar file") from None
    members: dict[str, bytes] = {}
    with tar:
        for member in tar:
            name = member.name
            allowed = name in (MANIFEST, DB_NAME) or PHOTO_MEMBER.fullmatch(name) or CROP_MEMBER.fullmatch(name)
            if not allowed or not member.isfile() or name in members:
                raise refuse(f"unexpected member {name!r}")
            members[name] = tar.extractfile(member).read()
    if MANIFEST not in members or DB_NAME not in members:
        raise refuse(f"{MANIFEST} or {DB_NAME} missing")
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError:
        raise refuse(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise refuse(f"{MANIFEST} has the wrong format")
    for name, data in members.items():
        if name.startswith(f"{PHOTOS_DIR}/") and sha256_hex(data) != name.split("/")[1]:
            raise refuse(f"{name} does not match its checksum")
    return manifest, members


def check_backup_database(path: Path, db_path: Path) -> sqlite3.Connection:
    """Open the database from a backup, refusing anything that is not an intact kiosk store."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        generation = db.execute("SELECT value FROM meta WHERE key = 'gallery_generation'").fetchone() \
            if "meta" in tables else None
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a kiosk backup ({DB_NAME}: {exc})") from None
    if not 1 <= version <= SCHEMA_VERSION or generation is None or not {"people", "samples"} <= tables:
        db.close()
        raise UsageError(f"{path}: not a kiosk backup ({DB_NAME} is not a kiosk store of schema 1-{SCHEMA_VERSION})")
    if integrity != "ok":
        db.close()
        raise UsageError(f"{path}: the backup's database is damaged ({integrity})")
    return db


def restore(config: Config, path: Path) -> dict:
    """Replace the store in config's data directory with the backup at PATH; returns the manifest."""
    manifest, members = read_backup(path)
    data_dir = config.data_path()
    with tempfile.TemporaryDirectory(prefix="kiosk-restore-") as scratch:
        db_path = Path(scratch) / DB_NAME
        db_path.write_bytes(members.pop(DB_NAME))
        source = check_backup_database(path, db_path)
        try:
            with Store(data_dir) as store:
                for name, data in members.items():  # files first: the restored rows refer to them
                    if name.startswith(f"{PHOTOS_DIR}/"):
                        store.keep_photo(name.split("/")[1], data)
                    else:
                        write_private_file(data_dir / name, data)
                generation = store.gallery_generation()
                try:
                    source.backup(store.db)
                except sqlite3.Error as exc:
                    raise StoreError(f"{store.path}: cannot restore into the store ({exc})") from None
        finally:
            source.close()
    with Store(data_dir) as store:  # reopen: migrates a backup from an older schema
        # A generation above any the daemon has seen, so it reloads even if the numbers collide.
        with store.transaction() as db:
            db.execute("UPDATE meta SET value = max(value, ?) + 1 WHERE key = 'gallery_generation'", (generation,))
        remove_leftovers(store)
    return manifest


def remove_leftovers(store: Store) -> None:
    """Delete kept photos and crops that the restored store no longer refers to."""
    digests = store.photo_digests()
    crops = {f.crop_file for f in store.unknowns()}
    for folder, keep in ((store.data_dir / PHOTOS_DIR, digests), (store.data_dir / UNKNOWNS_DIR, crops)):
        if folder.is_dir():
            for file in folder.iterdir():
                if file.is_file() and file.name not in keep:
                    file.unlink(missing_ok=True)


def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    from kiosk.admin import existing_store
    target = Path(args.path)
    if target.is_dir():
        raise UsageError(f"{target}: is a folder, give a file name such as {target / 'kiosk-backup.tar'}")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")
    with existing_store(config) as store:
        manifest = backup(store, target)
    print(f"backed up {manifest['people']} people, {manifest['samples']} samples to {target}")
    return 0


def cmd_restore(args: argparse.Namespace, config: Config) -> int:
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path}: no such backup file")
    manifest = restore(config, path)
    print(f"restored {manifest.get('people')} people, {manifest.get('samples')} samples from {path}")
    return 0
