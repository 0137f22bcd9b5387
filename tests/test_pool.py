"""The one worker pool: a worker that dies is replaced, and only the work that kills it is lost."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from kiosk.pool import WorkerPool

_started: list[int] = []


def _note_start(parent: int) -> None:
    _started.append(parent)


def _square_or_die(value: int) -> int:
    if value < 0:
        os._exit(137)  # what the kernel's OOM killer does to a worker
    return value * value


def _pid(_: object = None) -> int:
    return os.getpid()


def test_map_gives_every_result_and_a_job_that_kills_its_worker_twice_is_lost():
    pool = WorkerPool(2, _note_start, lambda _: (os.getpid(),))
    try:
        results = dict(pool.map(_square_or_die, [(n, n if n != 3 else -1) for n in range(8)], lost=lambda key: None))
    finally:
        pool.close()
    assert results == {n: (None if n == 3 else n * n) for n in range(8)}
    assert pool.starts >= 2  # started again after the worker died (and after the second death)


def test_call_survives_a_dead_worker_by_starting_a_new_one():
    pool = WorkerPool(1, _note_start, lambda _: (os.getpid(),), start_method="spawn", warm_up=_pid)
    try:
        first = pool.call(_pid)
        assert pool.call(_square_or_die, 4) == 16
        with pytest.raises(BrokenProcessPool):
            pool.call(_square_or_die, -1)  # dies in the first pool and in the one started after it
        second = pool.call(_pid)
    finally:
        pool.close()
    assert first != second and pool.starts == 3
