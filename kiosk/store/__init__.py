"""The store: everything the kiosk remembers, in the data directory.

- db.py: the Store, the connection with its parts (store.people, store.events, store.unknowns);
- database.py: the connection, transactions, migrations and the files kept beside rows;
- people.py: people, samples, kept photos and the gallery; events.py: events, their faces and
  the MQTT outbox; unknowns.py: faces seen but not recognised; captures.py: requests to
  enroll the person in front of the running kiosk; site.py: which site this kiosk is of;
  site_gallery.py: the gallery as a site's home sends it and a member takes it;
- records.py: the plain records the store hands out, and the stored form of an embedding;
- schema.py: the SQLite schema, as migrations;
- faces.py: face crops the daemon keeps on disk beside their rows, bounded in count and age.
"""

from kiosk.errors import StoreError
from kiosk.store.db import Store, waiting_for_retrain
from kiosk.store.records import (
    CheckedSample,
    Event,
    EventFace,
    PersonSummary,
    Sample,
    SampleSettings,
    UnknownFace,
    embedding_blob,
    is_embedding_blob,
    person_key,
    sha256_hex,
)
from kiosk.store.schema import SCHEMA_QUERY, SCHEMA_VERSION, schema_objects

__all__ = ["SCHEMA_QUERY", "SCHEMA_VERSION", "CheckedSample", "Event", "EventFace", "PersonSummary", "Sample",
           "SampleSettings", "Store", "StoreError", "UnknownFace", "embedding_blob", "is_embedding_blob",
           "person_key", "schema_objects", "sha256_hex", "waiting_for_retrain"]
