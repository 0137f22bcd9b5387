"""The store: everything the kiosk remembers, in the data directory.

- db.py: the Store (one SQLite file: people, samples, events, kept and confused faces) and the
  records it returns;
- schema.py: the SQLite schema, as migrations;
- faces.py: face crops the daemon keeps on disk beside their rows, bounded in count and age.
"""

from kiosk.errors import StoreError
from kiosk.store.db import (
    CheckedSample,
    Event,
    EventFace,
    PersonSummary,
    Sample,
    SampleSettings,
    Store,
    UnknownFace,
    embedding_blob,
    is_embedding_blob,
    person_key,
    sha256_hex,
    waiting_for_retrain,
)
from kiosk.store.schema import SCHEMA_QUERY, SCHEMA_VERSION, schema_objects

__all__ = ["SCHEMA_QUERY", "SCHEMA_VERSION", "CheckedSample", "Event", "EventFace", "PersonSummary", "Sample",
           "SampleSettings", "Store", "StoreError", "UnknownFace", "embedding_blob", "is_embedding_blob",
           "person_key", "schema_objects", "sha256_hex", "waiting_for_retrain"]
