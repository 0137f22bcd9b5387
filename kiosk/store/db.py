"""The Store: the connection (database.py) with its parts, each a room of its own on that connection.

    store.people    people, samples, kept photos, the gallery (people.py)
    store.events    the event log, kept event faces, the MQTT outbox (events.py)
    store.unknowns  faces seen but not recognised (unknowns.py)
    store.captures  requests to enroll the person in front of the running kiosk (captures.py)

One SQLite file in the data directory (standard library); embeddings are raw little-endian
float32 BLOBs, never pickle.
"""

from __future__ import annotations

import os

from kiosk.store.captures import Captures
from kiosk.store.database import Database
from kiosk.store.events import Events
from kiosk.store.people import People
from kiosk.store.site_gallery import SiteGallery
from kiosk.store.unknowns import Unknowns
from kiosk.vision.encoders import encoder_of_model, model_of


class Store(Database):
    """The store in one data directory, with its parts. Not shared between threads."""

    def __init__(self, data_dir: str | os.PathLike, *, create: bool = True):
        super().__init__(data_dir, create=create)
        self.people = People(self)
        self.events = Events(self)
        self.unknowns = Unknowns(self)
        self.captures = Captures(self)
        self.site_gallery = SiteGallery(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the site's gallery version (kiosk fleet; store/site.py) ---------------------------------

    def site_version(self) -> int:
        """The site gallery version this store holds (0 off a site); events record it."""
        return self.db.execute("SELECT value FROM meta WHERE key = 'site_gallery_version'").fetchone()[0]

    def site_generation(self) -> int | None:
        """On the home: the gallery generation its newest version was made from."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'site_generation'").fetchone()
        return row[0] if row else None

    def set_site_version(self, version: int, generation: int) -> None:
        """On the home: VERSION was published, made from gallery GENERATION."""
        with self.transaction() as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'site_gallery_version'", (version,))
            db.execute("INSERT INTO meta VALUES ('site_generation', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                       (generation, generation))


def waiting_for_retrain(store: Store, encoder: str) -> str:
    """A line when samples made by another encoder than ENCODER (recognition.encoder) are in the
    store: they are not matched until `kiosk retrain` re-encodes their photos; "" otherwise."""
    made_by = store.people.encoders()
    others = {model: count for model, count in made_by.items() if model != model_of(encoder)}
    if not others:
        return ""
    total = sum(made_by.values())
    listed = ", ".join(f"{count} by {encoder_of_model(model) or model}" for model, count in others.items())
    return (f"{sum(others.values())} of {total} samples were made by another encoder ({listed}) than "
            f"recognition.encoder {encoder}: they are not matched until `kiosk retrain`")
