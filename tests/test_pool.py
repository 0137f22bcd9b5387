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


def _sleep(seconds: float) -> float:
    import time
    time.sleep(seconds)
    return seconds


def test_closing_without_waiting_ends_a_task_in_hand_and_starts_no_new_worker():
    """A service stopping (SIGTERM) closes the live encoder's pool without waiting: the task in
    hand is abandoned at once instead of holding the interpreter's exit past the stop timeout,
    and the call waiting for it fails instead of starting a new worker."""
    import threading

    pool = WorkerPool(1, _note_start, lambda _: (os.getpid(),), start_method="spawn")
    outcome: list[object] = []
    caller = threading.Thread(target=lambda: outcome.append(_call_or_error(pool)))
    caller.start()
    while not pool_busy(pool):
        caller.join(0.05)
    pool.close(wait=False)
    caller.join(20)  # far less than the 300 s task: it was abandoned, not waited for
    assert not caller.is_alive() and isinstance(outcome[0], BrokenProcessPool) and pool.starts == 1


def _call_or_error(pool: WorkerPool) -> object:
    try:
        return pool.call(_sleep, 300)
    except BrokenProcessPool as exc:
        return exc


def pool_busy(pool: WorkerPool) -> bool:
    """A task handed to a worker process that is running."""
    return bool(getattr(pool._pool, "_pending_work_items", None)) and bool(getattr(pool._pool, "_processes", None))
