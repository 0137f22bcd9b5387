"""hang.py: a worker slow like the searches before it is busy; one far slower than them is hung."""

from __future__ import annotations

from kiosk.live.hang import HANG_FACTOR, LONGEST_LIMIT, BusyWorkers


def test_the_hang_limit_follows_the_searches_just_seen():
    busy = BusyWorkers()
    assert busy.limit(30.0) == 30.0 and busy.hung(100.0, 30.0) == ""  # nobody on a frame
    busy.took("recognizer-0", 0.0)
    assert busy.hung(29.0, 30.0) == ""
    assert busy.hung(31.0, 30.0).startswith("a recognition worker has been on one frame for 31 s (limit 30 s)")
    busy.finished("recognizer-0", 20.0)  # a starved machine: one search took 20 s
    busy.took("recognizer-0", 100.0)
    assert busy.limit(30.0) == HANG_FACTOR * 20.0
    assert busy.hung(100.0 + HANG_FACTOR * 20.0 - 1, 30.0) == ""  # as slow as usual, four times over: busy
    assert "limit 80 s" in busy.hung(100.0 + HANG_FACTOR * 20.0 + 1, 30.0)
    busy.finished("recognizer-0", 100.0 + 2 * LONGEST_LIMIT)  # one frame that took forever
    assert busy.limit(30.0) == LONGEST_LIMIT  # a hang is still a hang, however slow the machine


def test_a_finish_without_a_start_changes_nothing():
    busy = BusyWorkers()
    busy.finished("recognizer-1", 5.0)
    assert busy.limit(2.0) == 2.0
