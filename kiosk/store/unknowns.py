"""The unknowns part of the store: faces the daemon saw but could not name (recognition.capture_unknown).

An admin labels one as a person (it becomes a sample) or deletes it; the gallery also reads them
as real strangers, so calibration.py holds the threshold against the faces this kiosk meets.
"""

from __future__ import annotations

import numpy as np

from kiosk.store.database import Part
from kiosk.store.people import insert_sample, refuse_other_encoder
from kiosk.store.records import SampleSettings, UnknownFace, as_embedding, embedding_blob
from kiosk.store.schema import DLIB_MODEL


class Unknowns(Part):
    """`store.unknowns`: the kept unknown faces; their crops are unknowns/<crop_file>."""

    def add(self, at: float, embedding: np.ndarray, crop_file: str, track_id: int | None,
                    encoder: str = DLIB_MODEL) -> int:
        with self.transaction() as db:
            return db.execute("INSERT INTO unknown_faces (at, embedding, crop_file, track_id, encoder) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (at, embedding_blob(embedding), crop_file, track_id, encoder)).lastrowid

    def all(self) -> list[UnknownFace]:
        """Every kept unknown face, oldest first."""
        rows = self.db.execute("SELECT id, at, embedding, crop_file, track_id, encoder FROM unknown_faces "
                               "ORDER BY at, id").fetchall()
        return [UnknownFace(r[0], r[1], as_embedding(r[2]), r[3], r[4], r[5]) for r in rows]

    def get(self, unknown_id: int) -> UnknownFace | None:
        row = self.db.execute("SELECT id, at, embedding, crop_file, track_id, encoder FROM unknown_faces "
                              "WHERE id = ?", (unknown_id,)).fetchone()
        return UnknownFace(row[0], row[1], as_embedding(row[2]), row[3], row[4], row[5]) if row else None

    def delete(self, ids: list[int]) -> list[str]:
        """Delete unknown faces by id, overwriting their rows on disk; returns their crop files."""
        self.db.execute("PRAGMA secure_delete = ON")
        crops: list[str] = []
        with self.transaction() as db:
            for unknown_id in ids:
                rows = db.execute("DELETE FROM unknown_faces WHERE id = ? RETURNING crop_file",
                                  (unknown_id,)).fetchall()
                crops.extend(crop for (crop,) in rows)
        return crops

    def label(self, unknown_id: int, person: str, settings: SampleSettings,
                      photo_sha256: str, source: str) -> bool:
        """Turn an unknown face into a sample of PERSON in one transaction; False if no such id.
        Refused when another encoder than SETTINGS' made the face (it would never be matched)."""
        with self.transaction() as db:
            rows = db.execute("DELETE FROM unknown_faces WHERE id = ? RETURNING embedding, encoder",
                              (unknown_id,)).fetchall()
            if not rows:
                return False
            refuse_other_encoder(f"unknown face {unknown_id}", rows[0][1], settings)
            insert_sample(db, person, as_embedding(rows[0][0]), settings,
                                photo_sha256, source)
        return True
