"""The store's SQLite schema, as the list of migrations that builds it (PRAGMA user_version).

A store of any older version is brought up to date when opened; a store newer than this program
is refused (see db.py).
"""

from __future__ import annotations

import sqlite3

# An embedding: little-endian float32 values, 16 to 2048 of them (each encoder has its own length).
EMBEDDING_CHECK = "length(embedding) BETWEEN 64 AND 8192 AND length(embedding) % 4 = 0"
DLIB_MODEL = "dlib_face_recognition_resnet_model_v1"  # the only encoder before schema 8

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS = [
    """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE samples (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL CHECK (length(embedding) = 512),
        encoder TEXT NOT NULL,
        detector TEXT NOT NULL,
        landmarks INTEGER NOT NULL,
        jitters INTEGER NOT NULL,
        photo_sha256 TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX samples_person ON samples(person_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        distance REAL,
        track_id INTEGER
    );
    CREATE INDEX events_at ON events(at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta VALUES ('gallery_generation', 0);
    CREATE TRIGGER people_insert AFTER INSERT ON people BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER people_update AFTER UPDATE ON people BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER people_delete AFTER DELETE ON people BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER samples_insert AFTER INSERT ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER samples_update AFTER UPDATE ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER samples_delete AFTER DELETE ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    """,
    """
    CREATE TABLE unknown_faces (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        embedding BLOB NOT NULL CHECK (length(embedding) = 512),
        crop_file TEXT NOT NULL UNIQUE,
        track_id INTEGER
    );
    CREATE INDEX unknown_faces_at ON unknown_faces(at);
    """,
    """
    ALTER TABLE samples ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'
        CHECK (status IN ('pending', 'ok', 'suspect', 'accepted'));
    ALTER TABLE samples ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
    CREATE TABLE rejected_photos (
        photo_sha256 TEXT NOT NULL,
        person TEXT NOT NULL,
        source TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (photo_sha256, person)
    );
    CREATE TABLE confusions (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL CHECK (length(embedding) = 512),
        event_id INTEGER,
        created_at REAL NOT NULL
    );
    CREATE INDEX confusions_person ON confusions(person_id);
    CREATE TRIGGER confusions_insert AFTER INSERT ON confusions BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER confusions_delete AFTER DELETE ON confusions BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    ALTER TABLE events ADD COLUMN corrected_from TEXT;
    CREATE TABLE event_faces (
        event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        embedding BLOB NOT NULL CHECK (length(embedding) = 512),
        crop_file TEXT NOT NULL UNIQUE
    );
    CREATE INDEX event_faces_at ON event_faces(at);
    """,
    """
    ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'seen' CHECK (kind IN ('seen', 'door'));
    CREATE TABLE outbox (
        event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
        queued_at REAL NOT NULL
    );
    INSERT INTO meta VALUES ('outbox_dropped', 0);
    """,
    """
    ALTER TABLE events ADD COLUMN liveness TEXT CHECK (liveness IN ('passed', 'failed'));
    """,
    """
    CREATE TABLE doomed_files (path TEXT PRIMARY KEY);
    """,
    """
    ALTER TABLE events ADD COLUMN threshold REAL;
    ALTER TABLE events ADD COLUMN frames INTEGER;
    """,
    # Encoders other than dlib's (vision/encoders/): an embedding of any encoder's length, and
    # every kept face says which encoder made it. SQLite changes a CHECK only by rebuilding the
    # table; nothing refers to these four tables, so each is copied, dropped and renamed.
    f"""
    CREATE TABLE new_samples (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL CHECK ({EMBEDDING_CHECK}),
        encoder TEXT NOT NULL,
        detector TEXT NOT NULL,
        landmarks INTEGER NOT NULL,
        jitters INTEGER NOT NULL,
        photo_sha256 TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        created_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('pending', 'ok', 'suspect', 'accepted')),
        status_reason TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO new_samples SELECT id, person_id, embedding, encoder, detector, landmarks, jitters, photo_sha256,
        source, created_at, status, status_reason FROM samples;
    DROP TABLE samples;
    ALTER TABLE new_samples RENAME TO samples;
    CREATE INDEX samples_person ON samples(person_id);
    CREATE INDEX samples_encoder ON samples(encoder);
    CREATE TRIGGER samples_insert AFTER INSERT ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER samples_update AFTER UPDATE ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER samples_delete AFTER DELETE ON samples BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TABLE new_unknown_faces (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        embedding BLOB NOT NULL CHECK ({EMBEDDING_CHECK}),
        crop_file TEXT NOT NULL UNIQUE,
        track_id INTEGER,
        encoder TEXT NOT NULL
    );
    INSERT INTO new_unknown_faces SELECT id, at, embedding, crop_file, track_id, '{DLIB_MODEL}' FROM unknown_faces;
    DROP TABLE unknown_faces;
    ALTER TABLE new_unknown_faces RENAME TO unknown_faces;
    CREATE INDEX unknown_faces_at ON unknown_faces(at);
    CREATE TABLE new_confusions (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL CHECK ({EMBEDDING_CHECK}),
        event_id INTEGER,
        created_at REAL NOT NULL,
        encoder TEXT NOT NULL
    );
    INSERT INTO new_confusions SELECT id, person_id, embedding, event_id, created_at, '{DLIB_MODEL}' FROM confusions;
    DROP TABLE confusions;
    ALTER TABLE new_confusions RENAME TO confusions;
    CREATE INDEX confusions_person ON confusions(person_id);
    CREATE TRIGGER confusions_insert AFTER INSERT ON confusions BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TRIGGER confusions_delete AFTER DELETE ON confusions BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'gallery_generation'; END;
    CREATE TABLE new_event_faces (
        event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
        at REAL NOT NULL,
        embedding BLOB NOT NULL CHECK ({EMBEDDING_CHECK}),
        crop_file TEXT NOT NULL UNIQUE,
        encoder TEXT NOT NULL
    );
    INSERT INTO new_event_faces SELECT event_id, at, embedding, crop_file, '{DLIB_MODEL}' FROM event_faces;
    DROP TABLE event_faces;
    ALTER TABLE new_event_faces RENAME TO event_faces;
    CREATE INDEX event_faces_at ON event_faces(at);
    """,
    # Events an admin deleted (`kiosk events delete`: test runs), so the log says that some were.
    """
    CREATE TABLE event_deletions (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        ids TEXT NOT NULL,
        count INTEGER NOT NULL
    );
    """,
    # `kiosk capture NAME`: a request to the running daemon to enroll the person in front, and
    # its progress as the daemon reports it (store/captures.py).
    """
    CREATE TABLE capture_requests (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        views INTEGER NOT NULL CHECK (views BETWEEN 1 AND 50),
        timeout REAL NOT NULL CHECK (timeout > 0),
        requested_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'waiting',
        taken INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL
    );
    """,
    # Several kiosks as one site (store/site.py): the gallery version each event was decided with,
    # and the other kiosks' events as the home reads them from the broker (`kiosk events --site`).
    """
    ALTER TABLE events ADD COLUMN gallery_version INTEGER;
    INSERT INTO meta VALUES ('site_gallery_version', 0);
    CREATE TABLE site_events (
        kiosk TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        distance REAL,
        gallery_version INTEGER,
        received_at REAL NOT NULL,
        PRIMARY KEY (kiosk, event_id)
    );
    """,
    # A member's people by their home's person id (store/site_gallery.py), so a rename on the
    # home renames here instead of forgetting the person.
    """
    CREATE TABLE site_people (
        home_id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL UNIQUE REFERENCES people(id) ON DELETE CASCADE
    );
    """,
    # People erased here, counted for ever: a home's site versions carry the count, so a member
    # forgets many people at once only when the home erased that many (outside/fleet.py).
    """
    INSERT INTO meta VALUES ('people_erased', 0);
    CREATE TRIGGER people_erased AFTER DELETE ON people BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'people_erased'; END;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (triggers contain inner semicolons)."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def schema_objects(version: int) -> set[tuple[str, str, str]]:
    """(type, name, SQL) of every table, index, trigger and view a store of VERSION has: what a
    database from elsewhere (a backup) is held to, so it can bring no trigger or view of its own."""
    db = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS[:version]:
            for statement in split_sql(script):
                db.execute(statement)
        return set(db.execute(SCHEMA_QUERY))
    finally:
        db.close()


# sqlite_stat* tables hold the query planner's figures (ANALYZE), not the store's design.
SCHEMA_QUERY = "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
