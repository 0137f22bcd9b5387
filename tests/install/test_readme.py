"""README's sample commands, typed as written in a fresh copy of the checkout with no uv on PATH.

The copy holds exactly the files git knows (as a clone would), beside a `shared/data` that is the
sample data, so `../shared/data` means what README says; `make setup` installs uv the way a new
machine gets it (scripts/uv) and the environment from the lock.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DATA, REPO, require_data

README = REPO / "README.md"


def sample_commands() -> list[str]:
    """The lines of the sh block in README's "Try it on the sample data", comments dropped."""
    text = README.read_text()
    section = text[text.index("## Try it on the sample data"):]
    block = section[section.index("```sh") + len("```sh"):]
    block = block[:block.index("```")]
    return [line.split("  #", 1)[0].strip() for line in block.strip().splitlines() if line.strip()]


def fresh_copy(root: Path) -> Path:
    """The checkout's files as git lists them, modes kept, in ROOT/repo beside ROOT/shared/data."""
    repo = root / "repo"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(DATA.resolve())
    return repo


def path_without_uv() -> str:
    """PATH as it is here, less every folder holding a uv and every virtual environment."""
    folders = [folder for folder in os.environ.get("PATH", "").split(os.pathsep)
               if folder and not (Path(folder) / "uv").exists() and "/.venv/" not in folder + "/"]
    return os.pathsep.join(folders)


def test_readme_names_the_sample_commands_without_a_bare_uv():
    commands = sample_commands()
    assert commands[0] == "make setup" and len(commands) >= 5
    assert not any(re.match(r"uv\b", command) for command in commands)
    assert not re.search(r"^\s*uv run", README.read_text(), re.MULTILINE)


@pytest.mark.slow(minutes=3)
def test_readme_sample_commands_work_as_written_in_a_fresh_copy(tmp_path):
    require_data("people")
    repo = fresh_copy(tmp_path)
    env = {**os.environ, "PATH": path_without_uv()}
    for name in ("VIRTUAL_ENV", "KIOSK_CONFIG", "KIOSK_DATA_DIR", "UV_PROJECT_ENVIRONMENT"):
        env.pop(name, None)
    assert shutil.which("uv", path=env["PATH"]) is None
    outputs = {}
    for command in sample_commands():
        argv = shlex.split(command)
        if argv[-1].endswith("*.jpg"):  # the shell's glob, as typed
            argv = argv[:-1] + sorted(str(p) for p in (repo / argv[-1]).parent.resolve().glob("*.jpg"))
        if "--loop" in argv:  # runs until stopped: Ctrl-C once it has drawn a few photos
            outputs[command] = stopped_after_snapshots(argv, repo, env)
            continue
        result = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs[command] = result.stdout + result.stderr
    enroll, identify, clip, slideshow, events = (outputs[c] for c in sample_commands()[1:6])
    assert "store: 6 people, 11 samples" in enroll
    assert "obama1.jpg: obama" in identify and "Traceback" not in identify
    assert "seen lin_manuel_miranda" in clip and (repo / "var" / "snapshot.png").is_file()
    assert "stopped" in slideshow
    assert "lin_manuel_miranda" in events and events.splitlines()[0].split()[:2] == ["event", "time"]


def stopped_after_snapshots(argv: list[str], repo: Path, env: dict) -> str:
    snapshot = repo / "var" / "snapshot.png"
    before = snapshot.stat().st_mtime if snapshot.exists() else 0.0
    process = subprocess.Popen(argv, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if snapshot.exists() and snapshot.stat().st_mtime > before:
                break
            time.sleep(0.5)
        assert process.poll() is None, "the slideshow stopped by itself"
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    return output
