"""When a recognition worker is hung rather than slow.

The watchdog is fed only while no worker has been on one frame for too long. A fixed limit
cannot tell the two apart: on a starved processor (a USB import encoding photos beside the
kiosk, a quarter of a core, an emulated machine) one search can outlast it and still finish,
and systemd then restarts a daemon that was only busy, again and again. So the limit follows
the searches just seen: a worker is hung once it has been on its frame for HANG_FACTOR times the
slowest of the last RECENT searches, never sooner than the caller's floor and never later than
LONGEST_LIMIT. A real hang (a lock never released, a C call that never returns) still stops
the keep-alives, a few searches' time later.
"""

from __future__ import annotations

from collections import deque

HANG_FACTOR = 4.0
RECENT = 16
LONGEST_LIMIT = 600.0  # seconds: no search of one frame takes this long on any machine that runs the kiosk


class BusyWorkers:
    """Which workers are on a frame and since when, and how long recent searches took.

    Not thread-safe: the recognizer calls it under its own lock."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}  # worker name -> when it took its frame
        self._recent: deque[float] = deque(maxlen=RECENT)  # seconds each recent search took

    def took(self, worker: str, now: float) -> None:
        self._since[worker] = now

    def finished(self, worker: str, now: float) -> None:
        started = self._since.pop(worker, None)
        if started is not None:
            self._recent.append(now - started)

    def limit(self, floor: float) -> float:
        """Seconds on one frame that count as a hang, given the searches just seen."""
        return min(max(floor, HANG_FACTOR * max(self._recent, default=0.0)), max(floor, LONGEST_LIMIT))

    def hung(self, now: float, floor: float) -> str:
        """Why a worker counts as hung ("" when none is): its seconds on one frame and the limit."""
        if not self._since:
            return ""
        longest = now - min(self._since.values())
        limit = self.limit(floor)
        return f"a recognition worker has been on one frame for {longest:.0f} s (limit {limit:.0f} s)" \
            if longest > limit else ""
