"""A command run inside a CPU quota (and a memory limit), standing in for a slower, smaller machine.

A share of one core given to a control group through the kernel's CFS bandwidth control: 0.25
lets the group's processes together run 25 ms in every 100 ms, as on a processor four times
slower (a Raspberry Pi is four to ten times slower than a desktop core at dlib's work). Both
cgroup layouts are handled: v1's separate cpu and memory hierarchies, and v2's single tree.
Creating a group needs root; the command and every process it starts stay in it. What they used
is the caller's to count (children_cpu_seconds: every process waited for, grandchildren too).

Also here: a listener on a unix datagram socket given to the command as NOTIFY_SOCKET, which
records systemd's messages (READY=1, WATCHDOG=1) as the service manager would receive them.
"""

from __future__ import annotations

import os
import resource
import socket
import tempfile
import threading
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class QuotaUnavailable(Exception):
    """No way to limit the CPU here (not root, or no cpu controller); the message says why."""


class CpuQuota:
    """A control group with SHARE of one core (and at most MEMORY_MB, when given) for the
    processes started with `preexec` as their preexec_fn; removed on close."""

    def __init__(self, share: float, memory_mb: int | None = None, root: Path = CGROUP_ROOT):
        if not 0.01 <= share <= 64:
            raise ValueError(f"a CPU share of {share:g} is out of range, 0.01-64")
        self.share, self.memory_mb = share, memory_mb
        name = f"kiosk-quota-{os.getpid()}-{time.monotonic_ns()}"
        quota = round(share * PERIOD_US)
        self.groups: list[Path] = []
        try:
            if (root / "cpu" / "cpu.cfs_quota_us").exists():  # cgroup v1
                self._make(root / "cpu" / name, {"cpu.cfs_period_us": PERIOD_US, "cpu.cfs_quota_us": quota})
                if memory_mb and (root / "memory" / "memory.limit_in_bytes").exists():
                    self._make(root / "memory" / name, {"memory.limit_in_bytes": memory_mb << 20})
            elif (root / "cgroup.controllers").exists():  # cgroup v2
                limits: dict[str, object] = {"cpu.max": f"{quota} {PERIOD_US}"}
                if memory_mb:
                    limits["memory.max"] = memory_mb << 20
                self._make(root / name, limits)
            else:
                raise QuotaUnavailable(f"no cgroup cpu controller under {root}")
        except OSError as exc:
            self.close()
            raise QuotaUnavailable(f"cannot make a control group under {root} ({exc.strerror}; it needs root)") \
                from None

    def _make(self, group: Path, limits: dict[str, object]) -> None:
        group.mkdir()
        self.groups.append(group)
        for key, value in limits.items():
            (group / key).write_text(str(value))

    def preexec(self) -> None:
        """Run in the child before it starts the command: move it into the groups."""
        for group in self.groups:
            tasks = group / ("tasks" if (group / "tasks").exists() else "cgroup.procs")
            tasks.write_text(str(os.getpid()))

    def close(self) -> None:
        for group in reversed(self.groups):
            for _ in range(50):  # the last processes may take a moment to leave
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        self.groups = []

    def __enter__(self) -> CpuQuota:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have ended and been waited for, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class NotifyListener:
    """A unix datagram socket for NOTIFY_SOCKET; keeps (seconds since start, message) pairs."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="kiosk-notify-")
        self.path = str(Path(self._folder.name) / "notify.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self._socket.settimeout(0.2)
        self.started = time.monotonic()
        self.messages: list[tuple[float, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._listen, name="notify-listener", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop:
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic() - self.started
            self.messages.extend((now, line) for line in data.decode(errors="replace").splitlines())

    def times(self, message: str) -> list[float]:
        return [at for at, text in self.messages if text == message]

    def longest_gap(self, message: str = "WATCHDOG=1", until: float | None = None) -> float | None:
        """The longest wait between two MESSAGEs, and from the last one to UNTIL when given."""
        times = self.times(message)
        if not times:
            return None
        ends = times + ([until] if until is not None else [])
        return max((later - earlier for earlier, later in zip(ends, ends[1:], strict=False)), default=0.0)

    def close(self) -> None:
        self._stop = True
        self._thread.join(1.0)
        self._socket.close()
        self._folder.cleanup()
