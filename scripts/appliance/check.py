"""What the appliance check's stages share: a Check (the machine, the evidence folder, each
stage's time, and what the check caused on purpose) and the readings several stages take.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from vm import Machine

KIOSK = "kiosk"  # as README has an admin type it (sudo kiosk ...), root's PATH has /usr/local/bin
NAME = "lin_manuel_miranda"  # the person the clip shows
# A named face's frame and label, and the greeting that names a person (kiosk/live/theme.py): a
# few hundred pixels of either (a label's worth) and a name is on the screen; the clip has neither.
NAMED_COLOURS = ((40, 200, 90), (30, 100, 200))
NAMED_PIXELS = 300
BAD_LINES = re.compile(r"Traceback|denied|DENIED|(?<![+-])SECCOMP|audit: type=1326|core dumped|Main process exited|"
                       r"Watchdog timeout|Failed with result|Scheduled restart", re.I)


class Check:
    """One run of the check: its machine, evidence folder, stage times and deliberate faults."""

    def __init__(self, machine: Machine, out: Path, data: Path):
        self.machine, self.out, self.data = machine, out, data
        self.times: list[tuple[str, float]] = []
        self.caused: dict[str, re.Pattern] = {}  # what this check did on purpose, and the journal lines it causes
        self._started = 0.0

    def stage(self, title: str) -> None:
        self._started = time.monotonic()
        print(f"==> {title}", flush=True)
        self.times.append((title, 0.0))

    def done(self, summary: str) -> None:
        title, _ = self.times[-1]
        seconds = time.monotonic() - self._started
        self.times[-1] = (title, seconds)
        print(f"    {summary} ({seconds:.0f} s)", flush=True)

    def cause(self, what: str, lines: str) -> None:
        """Something done on purpose (a SIGSTOP, a pulled stick), and the journal lines it may leave."""
        self.caused[what] = re.compile(lines)

    def say(self, line: str) -> None:
        print(f"    {line}", flush=True)

    def keep(self, name: str, text: str) -> None:
        (self.out / name).write_text(text)

    def run(self, command: str, **kwargs) -> str:
        return self.machine.ssh(command, **kwargs)

    def kiosk_json(self, arguments: str):
        return json.loads(self.run(f"{KIOSK} {arguments} --json"))

    def screen(self, name: str) -> Path:
        """The screen's photo, checked to show what the kiosk draws (a camera picture has thousands
        of colours; an empty screen or a text console a handful)."""
        path = self.machine.screendump(name)
        colours = len(Image.open(path).convert("RGB").getcolors(1 << 24) or [])
        if colours < 500:
            raise SystemExit(f"appliance-check: the screen does not show the kiosk in {path.name} "
                             f"({colours} colours: a console or an empty screen)")
        return path

    def named_on_screen(self, name: str, timeout: float) -> tuple[Path, float]:
        """Photos of the screen until one shows a person named (a named face's label or the
        greeting, in their colours); that photo and the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            path = self.screen(name)
            pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
            if any((np.abs(pixels - colour).max(axis=2) <= 8).sum() >= NAMED_PIXELS for colour in NAMED_COLOURS):
                return path, time.monotonic() - started
            time.sleep(0.5)
        raise SystemExit(f"appliance-check: no named face on the screen within {timeout:g} s (last: {name}.png)")

    def set_config(self, key: str, value: str) -> None:
        """One setting of /etc/kiosk/config.yaml (SECTION.KEY), as an admin edits it, then a restart."""
        section, name = key.split(".")
        self.run(f"sed -i '/^{section}:/,/^[a-z]/ s|^  {name}: .*|  {name}: {value}|' /etc/kiosk/config.yaml")
        self.run(f"grep -q '^  {name}: {value}$' /etc/kiosk/config.yaml")

    def restart_kiosk(self, timeout: float = 300) -> float:
        started = time.monotonic()
        self.run("systemctl restart kiosk")
        self.machine.wait_until("systemctl is-active --quiet kiosk", timeout)
        return time.monotonic() - started

    def seen(self, name: str, since: float = 0.0) -> bool:
        events = self.kiosk_json("events")
        return any(e["name"] == name and datetime.fromisoformat(e["time"]).timestamp() >= since for e in events)

    def wait_seen(self, name: str, since: float, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.seen(name, since):
                return time.monotonic() - started
            time.sleep(5)
        raise SystemExit(f"appliance-check: {name} was not named within {timeout:g} s")


def guest_time(check: Check) -> float:
    return float(check.run("cut -d' ' -f1 /proc/uptime"))


def daemon_links(check: Check) -> list[str]:
    pid = check.run("systemctl show -p MainPID --value kiosk").strip()
    return check.run(f"nsenter -t {pid} -n ip -o link | cut -d: -f2").split()


def listed(check: Check) -> tuple[dict[str, int], set[int]]:
    """What `kiosk people list` and `kiosk events` show: photos by person (matched samples, and
    those held back, which an import commits first and checks at its end), event ids."""
    return ({p["name"]: p["samples"] + p["held_back"] for p in check.kiosk_json("people list")},
            {e["id"] for e in check.kiosk_json("events")})


def lost(before: tuple[dict[str, int], set[int]], after: tuple[dict[str, int], set[int]]) -> str:
    people = [name for name, samples in before[0].items() if after[0].get(name, 0) < samples]
    events = sorted(before[1] - after[1])
    return ", ".join(([f"people or photos lost: {people}"] if people else []) +
                     ([f"events lost: {events}"] if events else []))
