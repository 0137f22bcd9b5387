"""Each side of a comparison in its own process: the tutorial loop, and the real `kiosk run` on a
clip with a headless screen, optionally pinned to one core (taskset), so CPU time and peak
memory belong to that side alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kiosk.paths import SOURCE_TREE


def pinned(command: list[str], one_core: bool) -> list[str]:
    return (["taskset", "-c", "0"] if one_core else []) + command


def run_baseline(clip: Path, people: Path, scratch: Path, one_core: bool, max_frames: int | None) -> dict:
    out = scratch / f"baseline{'-1core' if one_core else ''}.json"
    command = [sys.executable, "-m", "kiosk.measure.tutorial", str(clip), str(people), str(out)]
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    subprocess.run(pinned(command, one_core), check=True, cwd=SOURCE_TREE)
    return json.loads(out.read_text())


def headless_env() -> dict[str, str]:
    """The environment of a `kiosk run` with no screen and no sound (SDL's dummy drivers)."""
    return dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")


def kiosk_command(config_path: str | None, data_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "kiosk.cli"]
    if config_path:
        command += ["--config", config_path]
    return command + ["--data-dir", str(data_dir)]


def run_kiosk(clip: Path, data_dir: Path, config_path: str, scratch: Path, *, fast: bool, one_core: bool,
              max_frames: int | None) -> dict:
    """`kiosk run` on the clip with a headless screen; returns its --stats-json figures."""
    out = scratch / f"kiosk-{'fast' if fast else 'realtime'}{'-1core' if one_core else ''}.json"
    command = kiosk_command(config_path, data_dir) + [
        "run", "--source", f"file:{clip}", "--display", "headless", "--stats-json", str(out)]
    if fast:
        command.append("--fast")
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    env = headless_env()
    subprocess.run(pinned(command, one_core), check=True, cwd=SOURCE_TREE, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())
