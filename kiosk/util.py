"""Small helpers used across the kiosk: atomic file replacement, a rate meter, human figures,
text made safe for a terminal or a spreadsheet."""

from __future__ import annotations

import ctypes
import math
import os
import resource
import signal
import tempfile
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO, TypeGuard

# Characters a terminal acts on or hides: C0 and C1 controls, DEL, format characters (bidi
# overrides, zero-width), line and paragraph separators. printable's KEEP spares layout ones.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    if code > 0xFFFF:  # as a JSON string would spell it: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def whole_number(value: object) -> TypeGuard[int]:
    """A JSON integer (not true/false, not 2.0): for numbers read from a message or a file."""
    return isinstance(value, int) and not isinstance(value, bool)


def finite(value: object) -> TypeGuard[int | float]:
    """A JSON number that is one (not true/false, not infinite, not NaN)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def printable(text: str, keep: str = "") -> str:
    """TEXT with nothing a terminal would act on: bytes that are not UTF-8 shown as \\xNN, control
    and format characters as \\uNNNN (valid inside JSON too), newlines and tabs included unless
    KEEP names them. The one rule for stored, stick and backup text on its way to a screen, a
    log line or a report: one stored value always prints as one line."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(_escape(ch) if ch not in keep and unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch
                   for ch in text)


class PrintableStream:
    """A text stream that passes everything written through `printable` (keeping the layout's
    tabs, newlines and a progress bar's carriage returns): the command line's stdout and stderr,
    so no escape sequence from the store reaches the terminal, whichever line printed it."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text, keep="\t\n\r"))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


class SteadyClock:
    """Wall-clock time that a step of the system clock cannot move within one run: the wall
    time at the start plus the monotonic time since. For ages (how old a kept face is), which
    must not jump by 40 days when NTP or an admin sets the clock; events keep the real time."""

    STEP_SECONDS = 60.0  # a difference beyond this is a step, not drift

    def __init__(self) -> None:
        self.wall_start, self.steady_start = time.time(), time.monotonic()
        self._step_told = 0.0

    def now(self) -> float:
        return self.wall_start + time.monotonic() - self.steady_start

    def new_step(self) -> float:
        """How far the wall clock has moved from the steady one, when that differs by more than
        STEP_SECONDS from what the last call returned; else 0 (so each step is told once)."""
        offset = time.time() - self.now()
        if abs(offset) <= self.STEP_SECONDS or abs(offset - self._step_told) <= self.STEP_SECONDS:
            return 0.0
        self._step_told = offset
        return offset


SPREADSHEET_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(SPREADSHEET_FORMULA_START):
        return "'" + value
    return value


@contextmanager
def replaced_atomically(path: Path, mode: int = 0o600, *, durable: bool = False,
                        check: Callable[[Path], None] | None = None) -> Iterator[BinaryIO]:
    """Write PATH through a temporary file beside it, renamed into place on success.

    Readers see the old file or the new one, never half of one; on any error the temporary file
    is removed and PATH is untouched. `mode` is set explicitly (the service runs with
    UMask=0077); `durable` also flushes the data to the card before the rename; `check` reads
    the written file back (and raises) before it replaces anything.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes, mode: int = 0o600, *, durable: bool = False) -> None:
    with replaced_atomically(path, mode, durable=durable) as handle:
        handle.write(data)


def die_with_parent(parent: int) -> None:
    """Have the kernel end this process when PARENT (the pid that started it) dies, however it
    ended (Linux; elsewhere nothing): a killed import or daemon leaves no worker holding memory.
    A parent already gone while this process was starting up ends it at once."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


PR_SET_PDEATHSIG = 1


def available_memory_mb() -> float | None:
    """Megabytes this process could still take: the kernel's MemAvailable, or less when its
    cgroup (the systemd service's MemoryMax) has less room left; None when unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            free = next(int(line.split()[1]) / 1024 for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return None
    try:
        with open("/proc/self/cgroup") as cgroup:
            path = next(line.strip()[3:] for line in cgroup if line.startswith("0::"))
        folder = Path("/sys/fs/cgroup") / path.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit != "max":
            used = int((folder / "memory.current").read_text())
            free = min(free, (int(limit) - used) / 2**20)
    except (OSError, StopIteration, ValueError):
        pass
    return free


class OutOfTime(Exception):
    """Raised by time_limit (deliberately not an OSError, which decoders catch and rename)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise OutOfTime when the block runs longer than SECONDS (main thread only; elsewhere no limit).

    A SIGALRM timer: code in C is interrupted when it next returns to Python, which a decoder
    fed in blocks does every few milliseconds to seconds.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise OutOfTime(f"took longer than {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RateMeter:
    """Events per second over the last `window` seconds (frames shown, frames recognized)."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._forget(now)

    def rate(self, now: float) -> float:
        """Intervals between the events in the window, per second of the span they cover."""
        self._forget(now)
        span = self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0
        if span > 0:
            return (len(self._times) - 1) / span
        return len(self._times) / self.window  # one event (or a burst at one instant) so far

    def _forget(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


def peak_rss_mb() -> float:
    """This program's peak resident memory in MB.

    From VmHWM, which starts afresh when a program is executed; getrusage's ru_maxrss is kept
    across exec on Linux, so a child started by a large parent would report the parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def format_time(at: float | None) -> str:
    """Local date and time, or '-' for none."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at is not None else "-"


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
