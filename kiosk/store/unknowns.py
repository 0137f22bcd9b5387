"""The unknowns part of the store: faces the daemon saw but could not name (recognition.capture_unknown).

An admin labels one as a person (it becomes a sample) or deletes it; the gallery also reads them
as real strangers, so calibration.py holds the threshold against the faces this kiosk meets.
"""

from __future__ import annotations

import numpy as np

from kiosk.errors import NotFound, Refused
from kiosk.store.database import Part
from kiosk.store.people import find_person, insert_sample, refuse_other_encoder
from kiosk.store.records import SampleSettings, UnknownFace, as_embedding, embedding_blob
from kiosk.store.schema import DLIB_MODEL
from kiosk.vocabulary import SampleStatus


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

    def label(self, faces: list[tuple[int, str, str]], person: str, settings: SampleSettings,
              status: str = SampleStatus.OK) -> int:
        """Turn the unknown FACES, each (id, photo_sha256, source), into samples of PERSON with
        STATUS, all in one transaction: all of them or, on any refusal, none. Byte-identical
        crops (one digest) make one sample, and a crop already enrolled as PERSON adds nothing;
        returns how many samples were made. Refused when a face is gone, another encoder than
        SETTINGS' made it (it would never be matched) or its crop is enrolled as somebody else."""
        made = 0
        with self.transaction() as db:
            for unknown_id, photo_sha256, source in faces:
                rows = db.execute("DELETE FROM unknown_faces WHERE id = ? RETURNING embedding, encoder",
                                  (unknown_id,)).fetchall()
                if not rows:
                    raise NotFound(f"unknown face {unknown_id}: no such id (see kiosk unknowns list)")
                refuse_other_encoder(f"unknown face {unknown_id}", rows[0][1], settings)
                owner = db.execute("SELECT p.name FROM samples s JOIN people p ON p.id = s.person_id "
                                   "WHERE s.photo_sha256 = ?", (photo_sha256,)).fetchone()
                if owner is not None and owner[0] != (find_person(db, person) or person):
                    raise Refused(f"unknown face {unknown_id}: the same picture is enrolled as {owner[0]}")
                if owner is None:
                    insert_sample(db, person, as_embedding(rows[0][0]), settings, photo_sha256, source, status)
                    made += 1
        return made
