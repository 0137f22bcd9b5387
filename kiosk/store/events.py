"""The events part of the store: who was seen and when, the faces kept with them, and the outbox.

- An event joins the outbox (events still to be published over MQTT) in the same transaction
  that logs it, so none is logged without being sent or sent without being logged.
- A correction keeps what the event said before, and can teach the gallery: the event's face
  becomes a sample of the right person, or a known confusion with the wrong one.
"""

from __future__ import annotations

import time

import numpy as np

from kiosk.errors import NotFound
from kiosk.paths import EVENT_FACES_DIR, PHOTOS_DIR
from kiosk.store.database import Part
from kiosk.store.people import insert_sample, refuse_other_encoder
from kiosk.store.records import Event, EventFace, SampleSettings, as_embedding, embedding_blob
from kiosk.vocabulary import EventKind, LivenessState, SampleStatus


class Events(Part):
    """`store.events`: the event log, its kept faces (event_faces/<crop_file>) and the outbox."""

    def last_id(self) -> int:
        """The highest event id this store has ever given, deleted or not: ids are never reused, so
        (kiosk, id) names one event for ever, for the site's log and any subscriber that drops
        duplicates by id (SQLite alone would give a deleted last id again)."""
        row = self.db.execute("SELECT max(coalesce((SELECT value FROM meta WHERE key = 'last_event_id'), 0), "
                              "coalesce((SELECT max(id) FROM events), 0))").fetchone()
        return int(row[0])

    def keep_counting_from(self, event_id: int) -> None:
        """Record EVENT_ID as given (after an insert, or after a restore brought an older store back)."""
        self.db.execute("INSERT INTO meta VALUES ('last_event_id', ?) ON CONFLICT(key) DO UPDATE SET "
                        "value = max(value, excluded.value)", (event_id,))

    def add(self, name: str, distance: float | None, track_id: int | None, at: float | None = None,
                  face: tuple[np.ndarray, str, str] | None = None, *, kind: EventKind = EventKind.SEEN,
                  liveness: LivenessState | None = None, outbox_limit: int = 0, threshold: float | None = None,
                  frames: int | None = None) -> int:
        """Log one event; with face=(embedding, crop_file, encoder model) its face is kept for corrections.

        With an outbox_limit the event also joins the outbox (events still to be published) in
        the same transaction, so none is logged without being sent or sent without being logged;
        beyond the limit the oldest unsent ones are dropped, and counted."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            at = time.time() if at is None else at
            event_id = self.last_id() + 1  # never one used before, even if deleted since (see last_id)
            db.execute(
                "INSERT INTO events (id, at, person_id, name, distance, track_id, kind, liveness, threshold, frames, "
                "gallery_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT nullif(value, 0) FROM meta WHERE key = 'site_gallery_version'))",
                (event_id, at, row[0] if row else None, name, distance, track_id, kind, liveness, threshold, frames))
            self.keep_counting_from(event_id)
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

    def get(self, event_id: int) -> Event | None:
        rows = self._rows("WHERE e.id = ?", [event_id], "")
        return rows[0] if rows else None

    def query(self, since: float | None = None, until: float | None = None,
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
        return self._rows(where, params, order)

    def _rows(self, where: str, params: list, order: str) -> list[Event]:
        rows = self.db.execute(
            "SELECT e.id, e.at, e.name, e.distance, e.track_id, e.corrected_from, f.event_id IS NOT NULL, e.kind, "
            f"e.liveness, e.threshold, e.frames, e.gallery_version FROM events e "
            f"LEFT JOIN event_faces f ON f.event_id = e.id {where} {order}", params).fetchall()
        return [Event(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), *row[7:]) for row in rows]

    def add_site_events(self, events: list[dict]) -> int:
        """Other kiosks' events as their messages say (kiosk fleet), once each by (kiosk, id);
        returns how many were new."""
        now = time.time()
        with self.transaction() as db:
            return sum(db.execute(
                "INSERT OR IGNORE INTO site_events (kiosk, event_id, at, kind, name, distance, gallery_version, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (e["kiosk"], e["id"], e["at"], e["kind"], e["name"], e.get("distance"), e.get("gallery_version"),
                 now)).rowcount for e in events)

    def site_events(self) -> list[dict]:
        """The site's log as the home has read it, in time order."""
        rows = self.db.execute("SELECT kiosk, event_id, at, kind, name, distance, gallery_version FROM site_events "
                               "ORDER BY at, kiosk, event_id").fetchall()
        return [{"kiosk": r[0], "id": r[1], "at": r[2], "kind": r[3], "name": r[4], "distance": r[5],
                 "gallery_version": r[6]} for r in rows]

    def last_seen(self) -> dict[str, float]:
        """When each enrolled person was last seen (people never seen are left out)."""
        return dict(self.db.execute(
            "SELECT p.name, max(e.at) FROM events e JOIN people p ON p.id = e.person_id "
            "WHERE e.kind = 'seen' AND e.liveness IS NOT 'failed' GROUP BY p.name").fetchall())

    def outbox(self, limit: int = 100) -> list[Event]:
        """Events still to be published, oldest first."""
        return self._rows("JOIN outbox o ON o.event_id = e.id", [], f"ORDER BY e.id LIMIT {int(limit)}")

    def outbox_sent(self, event_id: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))

    def outbox_state(self) -> tuple[int, int]:
        """(events waiting to be published, events dropped unsent because the outbox was full)."""
        waiting = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        dropped = self.db.execute("SELECT value FROM meta WHERE key = 'outbox_dropped'").fetchone()[0]
        return waiting, dropped

    def face(self, event_id: int) -> EventFace | None:
        row = self.db.execute("SELECT event_id, at, embedding, crop_file, encoder FROM event_faces WHERE event_id = ?",
                              (event_id,)).fetchone()
        return EventFace(row[0], row[1], as_embedding(row[2]), row[3], row[4]) if row else None

    def faces(self) -> list[EventFace]:
        """Every kept event face, oldest first."""
        rows = self.db.execute("SELECT event_id, at, embedding, crop_file, encoder FROM event_faces "
                               "ORDER BY at, event_id")
        return [EventFace(r[0], r[1], as_embedding(r[2]), r[3], r[4]) for r in rows]

    def delete_faces(self, event_ids: list[int]) -> list[str]:
        """Forget the faces of these events (the events stay); returns their crop files."""
        self.db.execute("PRAGMA secure_delete = ON")
        crops = []
        with self.transaction() as db:
            for event_id in event_ids:
                crops += [c for (c,) in db.execute("DELETE FROM event_faces WHERE event_id = ? RETURNING crop_file",
                                                   (event_id,)).fetchall()]
        return crops

    def delete(self, event_ids: list[int], what: str) -> int:
        """Delete these events (an admin's test runs) with their faces and outbox entries, and
        record the deletion (WHAT: the ids as the admin gave them); returns how many there were."""
        self.db.execute("PRAGMA secure_delete = ON")
        crops: list[str] = []
        deleted = 0
        with self.transaction() as db:
            for event_id in event_ids:
                crops += [c for (c,) in db.execute("SELECT crop_file FROM event_faces WHERE event_id = ?",
                                                   (event_id,))]
                deleted += db.execute("DELETE FROM events WHERE id = ?", (event_id,)).rowcount
            if deleted:
                db.execute("INSERT INTO event_deletions (at, ids, count) VALUES (?, ?, ?)",
                           (time.time(), what, deleted))
        self.database.delete_kept_files(EVENT_FACES_DIR, crops)
        return deleted

    def deletions(self) -> list[tuple[float, str, int]]:
        """(when, which ids, how many) of each `kiosk events delete`, oldest first."""
        return self.db.execute("SELECT at, ids, count FROM event_deletions ORDER BY id").fetchall()

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM events").fetchone()[0]

    def delete_before(self, cutoff: float) -> int:
        """Delete events dated before CUTOFF with their kept faces and outbox entries (retention)."""
        self.db.execute("PRAGMA secure_delete = ON")
        with self.transaction() as db:
            crops = [c for (c,) in db.execute("SELECT f.crop_file FROM event_faces f JOIN events e "
                                              "ON e.id = f.event_id WHERE e.at < ?", (cutoff,))]
            deleted = db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
        self.database.delete_kept_files(EVENT_FACES_DIR, crops)
        return deleted

    def correct(self, event_id: int, name: str, *, sample: tuple[SampleSettings, str, str] | None,
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
            embedding = as_embedding(blob)
            if sample is not None:
                refuse_other_encoder(f"event {event_id}'s face", encoder, sample[0])
                insert_sample(db, name, embedding, *sample, status=SampleStatus.ACCEPTED)
            person = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            db.execute("UPDATE events SET name = ?, person_id = ?, corrected_from = coalesce(corrected_from, ?) "
                       "WHERE id = ?", (name, person[0] if person else None, old_name, event_id))
            if not_person is not None:
                wrong = db.execute("SELECT id FROM people WHERE name = ?", (not_person,)).fetchone()
                if wrong is not None:
                    db.execute("INSERT INTO confusions (person_id, embedding, event_id, created_at, encoder) "
                               "VALUES (?, ?, ?, ?, ?)", (wrong[0], blob, event_id, time.time(), encoder))

    def undo_correction(self, event_id: int) -> tuple[str, str] | None:
        """Take back a correction: the event's name as it was, without the sample and confusion
        it made, in one transaction; (name it had, name it has again), or None if uncorrected."""
        self.db.execute("PRAGMA secure_delete = ON")
        with self.transaction() as db:
            row = db.execute("SELECT name, corrected_from FROM events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise NotFound(f"event {event_id}: no such event (see kiosk events)")
            name, was = row
            learned = db.execute("SELECT 1 FROM confusions WHERE event_id = ?", (event_id,)).fetchone()
            if was is None and learned is None:
                return None
            db.execute("DELETE FROM confusions WHERE event_id = ?", (event_id,))
            digests = [d for (d,) in db.execute("DELETE FROM samples WHERE source = ? RETURNING photo_sha256",
                                                (f"events/{event_id}",))]
            db.execute("DELETE FROM people WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.person_id = people.id)")
            if was is not None:
                person = db.execute("SELECT id FROM people WHERE name = ?", (was,)).fetchone()
                db.execute("UPDATE events SET name = ?, person_id = ?, corrected_from = NULL WHERE id = ?",
                           (was, person[0] if person else None, event_id))
        self.database.delete_kept_files(PHOTOS_DIR, digests)
        return name, was or name

    def confusions_of(self, name: str) -> int:
        return self.db.execute("SELECT count(*) FROM confusions c JOIN people p ON p.id = c.person_id "
                               "WHERE p.name = ?", (name,)).fetchone()[0]
