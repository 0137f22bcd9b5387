"""`kiosk backup PATH` and `kiosk restore PATH`: the store, kept photos and unknown crops in one .tar.

Backup copies the live database with SQLite's online backup API (a consistent snapshot even while
the daemon or an import writes), then adds the photos and crops the copy refers to. Restore
accepts only a file with exactly this layout, checks the database inside is a kiosk store and the
photos match their checksums, and copies it into the live file with the backup API, so a running
daemon sees the change as one commit and reloads its gallery.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.config import Config
from kiosk.errors import Refused, StoreError
from kiosk.names import validate_person_name
from kiosk.paths import DB_NAME, EVENT_FACES_DIR, PHOTOS_DIR, UNKNOWNS_DIR, is_kept_name
from kiosk.store import SCHEMA_QUERY, SCHEMA_VERSION, Store, is_embedding_blob, schema_objects
from kiosk.store.schema import DLIB_MODEL
from kiosk.util import printable, replaced_atomically
from kiosk.vision.encoders import encoder_class, encoder_of_model

MANIFEST = "kiosk-backup.json"
BACKUP_FORMAT = "kiosk-backup"
PHOTO_MEMBER = re.compile(rf"{PHOTOS_DIR}/[0-9a-f]{{64}}")
CROP_MEMBER = re.compile(rf"{UNKNOWNS_DIR}/[A-Za-z0-9][A-Za-z0-9._-]*\.jpg")
MAX_MANIFEST_BYTES = 1 << 20
MAX_CROP_BYTES = 10 << 20  # a kept face crop is a small JPEG
COPY_CHUNK_BYTES = 1 << 20


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path, sha256: str = "") -> bool:
    """Stream the file at PATH into the archive as NAME; skipped when it is gone (not kept, or
    removed), or when it does not match its SHA256 (damaged): a restore would refuse it."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return True
    with handle:
        if sha256 and _digest(handle) != sha256:
            return False
        handle.seek(0)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = os.fstat(handle.fileno()).st_size, 0o600, int(time.time())
        tar.addfile(info, handle)
    return True


def _digest(handle) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(COPY_CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def verify_archive(path: Path) -> None:
    """Read a backup just written back from the drive: a tar whose every photo matches its checksum."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                source = tar.extractfile(member)
                digest = _digest(source) if source is not None else ""
                if PHOTO_MEMBER.fullmatch(member.name) and digest != member.name.split("/")[1]:
                    raise StoreError(f"{path}: the backup read back differs from what was written ({member.name})")
    except tarfile.TarError as exc:
        raise StoreError(f"{path}: the backup read back is not a whole tar file ({exc})") from None


def backup(store: Store, target: Path) -> dict:
    """Write a backup of STORE to TARGET (mode 0600, read back, then put in place atomically);
    returns the manifest, and the kept photos left out as damaged (their samples are kept)."""
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
        damaged = []
        with replaced_atomically(target, 0o600, durable=True, check=verify_archive) as handle, \
                tarfile.open(fileobj=handle, mode="w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest).encode())
            _add_bytes(tar, DB_NAME, copy_path.read_bytes())
            for digest in digests:
                if not _add_file(tar, f"{PHOTOS_DIR}/{digest}", store.photo_path(digest), digest):
                    damaged.append(digest)
            for crop in crops:
                _add_file(tar, f"{UNKNOWNS_DIR}/{crop}", store.unknown_face_path(crop))
    return {**manifest, "damaged_photos": damaged}


def backup_summary(path: Path) -> dict:
    """The manifest of the backup at PATH as it claims to be, for showing before a restore (the
    restore itself checks everything); {} when it has none that can be read."""
    try:
        with tarfile.open(path) as tar:
            member = tar.getmember(MANIFEST)
            handle = tar.extractfile(member) if member.isfile() and member.size <= MAX_MANIFEST_BYTES else None
            manifest = json.loads(handle.read()) if handle else {}
    except (OSError, tarfile.TarError, KeyError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def unpack_backup(path: Path, scratch: Path, max_photo_bytes: int) -> dict:
    """Check the members of the backup at PATH, then unpack them into SCRATCH; returns the manifest.

    Only the manifest, the database, photos/<sha256> and unknowns/<crop>.jpg are accepted, each once,
    as a regular file that is not sparse and not larger than such a file can be, and each photo
    must match its checksum; anything else is refused with a Refused error naming PATH, before
    anything is written when the headers show it. Members are streamed to disk, so a large
    backup needs no memory, and must fit on the data directory's drive.
    """
    def refuse(reason: str) -> Refused:
        return Refused(f"{path}: not a kiosk backup ({reason})")
    try:
        tar = tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as exc:
        raise refuse(getattr(exc, "strerror", None) or "not a tar file") from None
    seen: set[str] = set()
    with tar:
        try:
            members = tar.getmembers()
            for member in members:
                name = member.name
                allowed = name in (MANIFEST, DB_NAME) or PHOTO_MEMBER.fullmatch(name) or CROP_MEMBER.fullmatch(name)
                if not allowed or not member.isfile() or name in seen:
                    raise refuse(f"unexpected member {name!r}")
                if member.issparse():
                    raise refuse(f"{name} is a sparse file")
                limit = {MANIFEST: MAX_MANIFEST_BYTES, DB_NAME: member.size}.get(
                    name, max_photo_bytes if name.startswith(f"{PHOTOS_DIR}/") else MAX_CROP_BYTES)
                if member.size > limit:
                    raise refuse(f"{name} is larger than such a file can be ({member.size / 1e6:.1f} MB)")
                seen.add(name)
            needed, free = sum(m.size for m in members), free_bytes(scratch)
            if needed > free:
                raise Refused(f"{path}: needs {needed / 1e6:.0f} MB to restore, only {free / 1e6:.0f} MB "
                              f"free beside the store in {scratch.parent}")
            for member in members:
                name = member.name
                digest = unpack_member(tar, member, scratch / name)
                if name.startswith(f"{PHOTOS_DIR}/") and digest != name.split("/")[1]:
                    raise refuse(f"{name} does not match its checksum")
        except tarfile.TarError as exc:
            raise refuse(f"damaged tar file: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{scratch}: cannot unpack {path} ({exc.strerror})") from None
    if MANIFEST not in seen or DB_NAME not in seen:
        raise refuse(f"{MANIFEST} or {DB_NAME} missing")
    try:
        manifest = json.loads((scratch / MANIFEST).read_bytes())
    except (ValueError, RecursionError):  # nested deeper than the parser goes
        raise refuse(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise refuse(f"{MANIFEST} has the wrong format")
    return manifest


def unpack_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> str:
    """Copy one member to TARGET (new file, 0600, fsynced) in chunks; returns its SHA-256."""
    target.parent.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    assert source is not None  # unpack_backup passes regular files only, and those always extract
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


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
        raise Refused(f"{path}: not a kiosk backup ({DB_NAME}: {exc})") from None
    if not 1 <= version <= SCHEMA_VERSION or generation is None or not {"people", "samples"} <= tables:
        db.close()
        raise Refused(f"{path}: not a kiosk backup ({DB_NAME} is not a kiosk store of schema 1-{SCHEMA_VERSION})")
    if integrity != "ok":
        db.close()
        raise Refused(f"{path}: the backup's database is damaged ({integrity})")
    if problem := foreign_content(db, version):
        db.close()
        raise Refused(f"{path}: not a kiosk backup ({DB_NAME} {problem})")
    return db


EMBEDDING_TABLES = ("samples", "unknown_faces", "confusions", "event_faces")
# (table, column, folder): stored names the kiosk turns into paths, or compares with photos' digests.
STORED_FILE_NAMES = (("samples", "photo_sha256", PHOTOS_DIR), ("rejected_photos", "photo_sha256", PHOTOS_DIR),
                     ("unknown_faces", "crop_file", UNKNOWNS_DIR), ("event_faces", "crop_file", EVENT_FACES_DIR))


def foreign_content(db: sqlite3.Connection, version: int) -> str:
    """What in a backup's database the kiosk itself would never have written, or "": a table,
    index, trigger or view that is not exactly the kiosk's, an embedding that is not finite float32
    numbers of its encoder's length (an encoder this kiosk does not have included), a person's name
    the kiosk does not accept."""
    ours, theirs = schema_objects(version), set(db.execute(SCHEMA_QUERY))
    for kind, name, _ in sorted(theirs - ours):
        return f"has a {kind} {printable(name)[:40]!r} that is not the kiosk's"
    for kind, name, _ in sorted(ours - theirs):
        return f"lacks the kiosk's {kind} {name!r}"
    tables = {name for kind, name, _ in ours if kind == "table"}
    for table in (t for t in EMBEDDING_TABLES if t in tables):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}  # names from the list above
        made_by = "encoder" if "encoder" in columns else f"'{DLIB_MODEL}'"  # before schema 8: dlib's only
        for blob, model in db.execute(f"SELECT embedding, {made_by} FROM {table}"):
            name = encoder_of_model(model) if isinstance(model, str) else None
            if name is None:
                return f"has an embedding in {table} made by an encoder this kiosk does not have " \
                       f"({printable(str(model))[:40]!r})"
            if not is_embedding_blob(blob) or len(blob) != 4 * encoder_class(name).dimensions:
                return f"has an embedding in {table} that is not {encoder_class(name).dimensions} finite numbers"
    for table, column, folder in STORED_FILE_NAMES:
        if table in tables:
            for (value,) in db.execute(f"SELECT {column} FROM {table}"):  # names from the list above
                if not is_kept_name(folder, value):
                    return f"has a {table}.{column} that is not a file name the kiosk writes " \
                           f"({printable(str(value))[:40]!r})"
    if "doomed_files" in tables:
        for (value,) in db.execute("SELECT path FROM doomed_files"):
            folder, _, name = str(value).partition("/")
            if folder not in (PHOTOS_DIR, EVENT_FACES_DIR) or not is_kept_name(folder, name):
                return f"has a file to delete that is not one the kiosk keeps ({printable(str(value))[:40]!r})"
    for (name,) in db.execute("SELECT name FROM people"):
        try:
            valid = isinstance(name, str) and validate_person_name(name) == name
        except ValueError:
            valid = False
        if not valid:
            return f"has a person's name the kiosk does not accept ({printable(str(name))[:40]!r})"
    return ""


def free_bytes(folder: Path) -> int:
    usage = os.statvfs(folder)
    return usage.f_bavail * usage.f_frsize


def restore(config: Config, path: Path, before_replacing: Callable[[], bool] | None = None) -> dict | None:
    """Replace the store in config's data directory with the backup at PATH; returns the manifest.
    BEFORE_REPLACING runs once the backup has passed every check and before anything is replaced
    (to ask, and to keep the current store); when it says no, nothing changes and this is None."""
    data_dir = config.data_path()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in data_dir.glob(".restore-*"):  # left by a restore that was killed
        shutil.rmtree(stale, ignore_errors=True)
    # Unpacked beside the store (same file system), so the photos move into place without copying.
    scratch = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
    try:
        manifest = unpack_backup(path, scratch, int(config.enrollment.max_file_mb * 1e6))
        source = check_backup_database(path, scratch / DB_NAME)
        if before_replacing is not None and not before_replacing():
            source.close()
            return None
        try:
            with Store(data_dir) as store:
                move_files_into_place(scratch, data_dir)  # files first: the restored rows refer to them
                generation = store.people.generation()
                last_event = store.events.last_id()
                try:
                    source.backup(store.db)
                except sqlite3.Error as exc:
                    raise StoreError(f"{store.path}: cannot restore into the store ({exc})") from None
        finally:
            source.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with Store(data_dir) as store:  # reopen: migrates a backup from an older schema
        # A generation above any the daemon has seen, so it reloads even if the numbers collide.
        with store.transaction() as db:
            db.execute("UPDATE meta SET value = max(value, ?) + 1 WHERE key = 'gallery_generation'", (generation,))
            store.events.keep_counting_from(last_event)  # event ids go on from the newest ever given here
        remove_leftovers(store)
    return manifest


def move_files_into_place(scratch: Path, data_dir: Path) -> None:
    """Move the unpacked photos and crops into the data directory (a photo already there is the same)."""
    for folder in (PHOTOS_DIR, UNKNOWNS_DIR):
        unpacked = scratch / folder
        if not unpacked.is_dir():
            continue
        (data_dir / folder).mkdir(mode=0o700, exist_ok=True)
        for file in unpacked.iterdir():
            target = data_dir / folder / file.name
            if not (folder == PHOTOS_DIR and target.exists()):
                os.replace(file, target)


def remove_leftovers(store: Store) -> None:
    """Delete kept photos and crops (unknown faces', events' faces) the restored store no longer refers to."""
    digests = store.people.photo_digests()
    crops = {f.crop_file for f in store.unknowns.all()}
    event_crops = {f.crop_file for f in store.events.faces()}
    for folder, keep in ((store.data_dir / PHOTOS_DIR, digests), (store.data_dir / UNKNOWNS_DIR, crops),
                         (store.data_dir / EVENT_FACES_DIR, event_crops)):
        if folder.is_dir():
            for file in folder.iterdir():
                if file.is_file() and file.name not in keep:
                    file.unlink(missing_ok=True)
