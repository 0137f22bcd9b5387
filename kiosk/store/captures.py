"""The capture part of the store: `kiosk capture NAME` asking the running daemon for the person in front.

The request is a row: the asker (the CLI or the web page) adds it and reads its progress; the
daemon takes the oldest waiting one, reports each view it takes and how it ended. A row is the
whole conversation, so neither side needs a socket to the other, and a restarted daemon finds a
request it was working on and fails it with a reason instead of leaving the asker waiting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kiosk.store.database import Part
from kiosk.vocabulary import CAPTURE_FINISHED, CaptureState

FINISHED_SQL = "(" + ", ".join(f"'{state}'" for state in CAPTURE_FINISHED) + ")"


@dataclass(frozen=True)
class CaptureRequest:
    id: int
    name: str
    views: int
    timeout: float
    requested_at: float
    state: CaptureState
    taken: int
    message: str
    updated_at: float

    @property
    def finished(self) -> bool:
        return self.state in CAPTURE_FINISHED


class Captures(Part):
    """`store.captures`: capture requests and their progress."""

    COLUMNS = "id, name, views, timeout, requested_at, state, taken, message, updated_at"

    def request(self, name: str, views: int, timeout: float) -> int:
        now = time.time()
        with self.transaction() as db:
            return db.execute("INSERT INTO capture_requests (name, views, timeout, requested_at, updated_at) "
                              "VALUES (?, ?, ?, ?, ?)", (name, views, timeout, now, now)).lastrowid

    def get(self, request_id: int) -> CaptureRequest | None:
        row = self.db.execute(f"SELECT {self.COLUMNS} FROM capture_requests WHERE id = ?", (request_id,)).fetchone()
        return _request(row) if row else None

    def unfinished(self) -> list[CaptureRequest]:
        """Requests not finished yet, oldest first."""
        rows = self.db.execute(f"SELECT {self.COLUMNS} FROM capture_requests WHERE state NOT IN {FINISHED_SQL} "
                               "ORDER BY id").fetchall()
        return [_request(row) for row in rows]

    def latest(self, limit: int = 5) -> list[CaptureRequest]:
        rows = self.db.execute(f"SELECT {self.COLUMNS} FROM capture_requests ORDER BY id DESC LIMIT ?",
                               (limit,)).fetchall()
        return [_request(row) for row in rows]

    def report(self, request_id: int, state: CaptureState, taken: int, message: str) -> bool:
        """Record progress; False when the request was finished meanwhile (cancelled by its asker)."""
        with self.transaction() as db:
            changed = db.execute(f"UPDATE capture_requests SET state = ?, taken = ?, message = ?, updated_at = ? "
                                 f"WHERE id = ? AND state NOT IN {FINISHED_SQL}",
                                 (str(state), taken, message, time.time(), request_id)).rowcount
        return changed == 1


def _request(row: tuple) -> CaptureRequest:
    return CaptureRequest(row[0], row[1], row[2], row[3], row[4], CaptureState(row[5]), row[6], row[7], row[8])
