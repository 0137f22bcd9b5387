"""Worker processes that are started again when one dies: the one pool the kiosk uses.

Enrollment decodes untrusted photos in workers (a decoder may be killed by the kernel for its
memory, or hang), and the live kiosk encodes faces in a process of its own (dlib's network holds
the interpreter lock). Both need the same thing: when a worker dies, the pool is started anew,
the work it held is tried again, and work that kills its worker twice is given up, with a
reason, instead of the whole import or the whole daemon.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

_Key = TypeVar("_Key")
_Result = TypeVar("_Result")


class WorkerPool:
    """WORKERS processes, each set up by INITIALIZER(*INITARGS()) (INITARGS is called at every
    start, so a lock or a parent's pid can be made anew); `start_method` is multiprocessing's."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: Callable[[Any], tuple] = lambda _: (),
                 *, start_method: str = "fork", warm_up: Callable[[], object] | None = None) -> None:
        self.workers = workers
        self._initializer, self._initargs = initializer, initargs
        self._context = multiprocessing.get_context(start_method)
        self._warm_up = warm_up  # a job run at every start, so models load before the first real one
        self.starts = 0
        self._closed = False
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(self.workers, self._context, initializer=self._initializer,
                                         initargs=self._initargs(self._context))
        self.starts += 1
        if self._warm_up is not None:
            self._pool.submit(self._warm_up).result()
        return self._pool

    def call(self, function: Callable[..., _Result], *args) -> _Result:
        """FUNCTION(*ARGS) in a worker; if the worker dies, once more in a new pool."""
        try:
            return self._pool.submit(function, *args).result()
        except BrokenProcessPool:
            if self._closed:  # ended by close(wait=False): no new pool while the program stops
                raise
            return self._start().submit(function, *args).result()

    def map(self, function: Callable[[Any], _Result], jobs: Iterable[tuple[_Key, Any]],
            lost: Callable[[_Key], _Result]) -> Iterator[tuple[_Key, _Result]]:
        """(key, FUNCTION(argument)) for each (key, argument), in completion order, with at most
        twice the workers' count in flight. A worker that dies takes every job in flight with it:
        those are tried again one at a time in a new pool, so only the job that kills its worker
        again is lost, and LOST(key) stands in for its result."""
        in_flight: dict[Future, tuple[_Key, Any]] = {}
        for key, argument in jobs:
            in_flight[self._pool.submit(function, argument)] = (key, argument)
            if len(in_flight) >= self.workers * 2:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                yield from self._collect(function, done, in_flight, lost)
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            yield from self._collect(function, done, in_flight, lost)

    def _collect(self, function, done, in_flight: dict, lost) -> Iterator:
        dropped = []
        for future in done:
            key, argument = in_flight.pop(future)
            try:
                yield key, future.result()
            except BrokenProcessPool:
                dropped.append((key, argument))
        if not dropped:
            return
        dropped += [in_flight.pop(future) for future in list(in_flight)]
        pool = self._start()
        for key, argument in dropped:
            try:
                yield key, pool.submit(function, argument).result()
            except BrokenProcessPool:
                pool = self._start()
                yield key, lost(key)

    def close(self, wait: bool = True) -> None:
        """Shut the pool down; WAIT false also ends its processes at once, abandoning a task in hand,
        or the interpreter's exit would still wait for it (past a service's stop timeout)."""
        self._closed = True
        processes = [] if wait else list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=wait, cancel_futures=True)
        for process in processes:
            process.terminate()
