"""scripts/install.sh staged into a scratch root (--prefix), and the USB import helper with stubs.

Under --prefix nothing touches the real system: package, user, pip and systemd commands are only
printed as "would run: ..." lines, which these tests read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from kiosk.config import parse_config

from conftest import REPO, needs_package

INSTALL = REPO / "scripts" / "install.sh"
USB_IMPORT = REPO / "scripts" / "kiosk-usb-import"
PI_CHECK = REPO / "scripts" / "pi-check"
SHELL_SCRIPTS = [INSTALL, USB_IMPORT, REPO / "scripts" / "uv", PI_CHECK, REPO / "scripts" / "appliance-check",
                 REPO / ".ci" / "run"]

STAGED_FILES = [
    "etc/systemd/system/kiosk.service",
    "etc/systemd/system/kiosk-import@.service",
    "etc/udev/rules.d/99-kiosk-usb.rules",
    "etc/kiosk/config.yaml",
    "opt/kiosk/bin/kiosk-usb-import",
]


def install(*args: str | Path) -> subprocess.CompletedProcess:
    result = subprocess.run(["bash", str(INSTALL), *map(str, args)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def would_run(output: str) -> list[str]:
    return [line.removeprefix("would run: ") for line in output.splitlines() if line.startswith("would run: ")]


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SHELLCHECK = shutil.which("shellcheck")  # Debian's package; not on PyPI for every machine


@needs_package("shellcheck", "shellcheck")
def test_shell_scripts_are_shellcheck_clean():
    result = subprocess.run([str(SHELLCHECK), *map(str, SHELL_SCRIPTS)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_readme_tells_users_to_run_is_executable_in_git():
    """`sudo scripts/install.sh` must work from a fresh clone: git keeps the executable bit."""
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"(?<![\w/.-])(scripts/[\w.-]+)", readme))
    assert "scripts/install.sh" in named and "scripts/pi-check" in named
    listing = subprocess.run(["git", "ls-files", "--stage", *sorted(named)], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    modes = {line.split("\t")[1]: line.split()[0] for line in listing}
    runnable = {name for name in named if (REPO / name).read_bytes().startswith(b"#!")}
    assert runnable and all(modes.get(name) == "100755" for name in runnable), modes


def pi_check_host_tools() -> list[tuple[str, str]]:
    """(command or file, package) for each host tool pi-check states it needs."""
    text = PI_CHECK.read_text()
    block = text[text.index("HOST_TOOLS=(") + len("HOST_TOOLS=("):]
    block = block[:block.index(")")]
    return [tuple(entry.split(":", 1)) for entry in block.split()]  # type: ignore[misc]


def test_pi_check_names_arch_test_among_its_host_tools():
    """mmdebstrap only recommends arch-test, and apt runs with --no-install-recommends."""
    packages = {package for _, package in pi_check_host_tools()}
    assert {"mmdebstrap", "arch-test", "qemu-user-static", "binfmt-support"} <= packages


def test_pi_check_says_which_host_tool_is_missing(tmp_path):
    """Every listed command but arch-test on PATH: one line names arch-test and its package."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in [*(c for c, _ in pi_check_host_tools() if not c.startswith("/"))]:
        if command != "arch-test":
            (bin_dir / command).symlink_to(shutil.which(command) or "/bin/true")
    result = subprocess.run(["/bin/bash", str(PI_CHECK), "--tools"], env={"PATH": str(bin_dir)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    missing = [line for line in result.stderr.splitlines() if line.startswith("missing host tool: ")]
    assert "missing host tool: arch-test (package arch-test)" in missing
    files = [c for c, _ in pi_check_host_tools() if c.startswith("/")]
    assert all(any(line.startswith(f"missing host tool: {c} ") for line in missing)
               for c in files if not Path(c).exists())
    assert len(missing) == 1 + sum(not Path(c).exists() for c in files), missing


def test_prefix_install_lands_every_file(tmp_path):
    install("--prefix", tmp_path)
    for name in STAGED_FILES:
        assert (tmp_path / name).is_file(), name
    assert os.access(tmp_path / "opt/kiosk/bin/kiosk-usb-import", os.X_OK)
    for unit in ("kiosk.service", "kiosk-import@.service"):
        assert (tmp_path / "etc/systemd/system" / unit).read_text() == (REPO / "systemd" / unit).read_text()
    assert os.readlink(tmp_path / "usr/local/bin/kiosk") == "/opt/kiosk/venv/bin/kiosk"
    assert (tmp_path / "var/lib/kiosk").stat().st_mode & 0o777 == 0o700

    # The installed configuration is the documented default, valid, with the system data dir.
    config_path = tmp_path / "etc/kiosk/config.yaml"
    config = parse_config(config_path.read_text(), str(config_path))
    assert config.data_dir == "/var/lib/kiosk"


def test_prefix_install_only_prints_system_commands(tmp_path):
    commands = would_run(install("--prefix", tmp_path).stdout)
    assert any(re.search(r"\bapt-get install\b.*\bpython3-picamera2\b", c) for c in commands)
    pip_lines = [c for c in commands if " install " in c and "/pip " in c]
    assert pip_lines and all("--no-deps" in c for c in pip_lines)
    assert any("--require-hashes" in c and c.endswith("scripts/pi-requirements.txt") for c in pip_lines)
    assert any("--system-site-packages" in c for c in commands)
    assert any(c.startswith("useradd ") and c.endswith(" kiosk") for c in commands)
    assert "systemctl enable --now kiosk.service" in commands
    assert "udevadm control --reload" in commands
    assert any(c.startswith("chown kiosk:kiosk ") for c in commands)
    assert any(c.endswith(" sandbox --write --dir " + str(tmp_path / "etc/systemd/system/kiosk.service.d"))
               for c in commands)
    assert any("import picamera2, kiosk.vision.engine" in c for c in commands)
    # The final check runs as the service user, so it leaves no root-owned files behind.
    assert any(c.startswith("runuser -u kiosk -- ") and c.endswith(" doctor") for c in commands)


def pinned(path: Path) -> dict[str, str]:
    """name (with its marker) -> version, from a requirements file written by `uv export`."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"([a-z0-9._-]+)==([^ ;\\]+)( ; [^\\]+)?", line)
        if match:
            found[match.group(1) + (match.group(3) or "").rstrip()] = match.group(2)
    return found


def test_the_pi_installs_exactly_the_locked_versions():
    """scripts/pi-requirements.txt is uv.lock's runtime set as it is now (`make lock` writes both)."""
    uv = shutil.which("uv") or str(REPO / "scripts" / "uv")
    exported = subprocess.run([uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--format",
                               "requirements-txt", "--quiet"], cwd=REPO, capture_output=True,
                              text=True, timeout=300)
    if exported.returncode != 0:
        pytest.skip(f"uv cannot export here: {exported.stderr.strip()[:200]}")
    committed = (REPO / "scripts" / "pi-requirements.txt").read_text()
    strip = re.compile(r"^#.*\n", re.MULTILINE)  # the header names the output file
    assert strip.sub("", exported.stdout) == strip.sub("", committed), "run `make lock`"
    names = {re.split(r"[ ;<>=!]", r)[0].lower().replace("_", "-")
             for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    listed = {key.split(" ")[0] for key in pinned(REPO / "scripts" / "pi-requirements.txt")}
    assert names <= listed
    assert "--hash=sha256:" in committed


def test_the_pi_keeps_numpy_1_for_apt_picamera2():
    """apt's picamera2 needs numpy 1.x on the Pi (aarch64); opencv before 4.11 goes with it."""
    versions = pinned(REPO / "scripts" / "pi-requirements.txt")
    numpy = [v for key, v in versions.items() if key.startswith("numpy ") and "== 'aarch64'" in key]
    opencv = [v for key, v in versions.items() if key.startswith("opencv-python-headless ") and "== 'aarch64'" in key]
    assert numpy and all(v.startswith("1.") for v in numpy)
    assert opencv and all(tuple(map(int, v.split(".")[:2])) < (4, 11) for v in opencv)


def test_reinstall_is_idempotent_and_keeps_an_edited_config(tmp_path):
    install("--prefix", tmp_path)
    config_path = tmp_path / "etc/kiosk/config.yaml"
    edited = config_path.read_text().replace("greeting_seconds: 3.0", "greeting_seconds: 7.5")
    assert edited != config_path.read_text()
    config_path.write_text(edited)
    before = all_files(tmp_path)

    result = install("--prefix", tmp_path)

    assert "keeping" in result.stdout
    assert all_files(tmp_path) == before
    assert parse_config(config_path.read_text()).display.greeting_seconds == 7.5


def test_uninstall_keeps_config_and_data_unless_purged(tmp_path):
    install("--prefix", tmp_path)
    (tmp_path / "var/lib/kiosk/kiosk.db").write_bytes(b"encodings")

    result = install("--uninstall", "--prefix", tmp_path)

    for gone in ("etc/systemd/system/kiosk.service", "etc/systemd/system/kiosk-import@.service",
                 "etc/udev/rules.d/99-kiosk-usb.rules", "opt/kiosk", "usr/local/bin/kiosk"):
        assert not os.path.lexists(tmp_path / gone), gone
    assert (tmp_path / "etc/kiosk/config.yaml").is_file()
    assert (tmp_path / "var/lib/kiosk/kiosk.db").is_file()
    assert "systemctl disable --now kiosk.service" in would_run(result.stdout)

    install("--uninstall", "--purge", "--prefix", tmp_path)
    assert not (tmp_path / "etc/kiosk").exists()
    assert not (tmp_path / "var/lib/kiosk").exists()


def test_dry_run_changes_nothing(tmp_path):
    target = tmp_path / "root"
    result = install("--dry-run", "--prefix", target)
    assert not target.exists()
    assert any("kiosk.service" in c for c in would_run(result.stdout))


def test_unknown_option_is_refused():
    result = subprocess.run(["bash", str(INSTALL), "--prefix-typo", "/tmp/x"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown option" in result.stderr


# --- kiosk-usb-import with stub commands -------------------------------------------------------

@pytest.fixture
def stubbed_path(tmp_path):
    """A PATH whose blkid, systemd-mount, systemd-umount and setpriv log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("blkid", "systemd-mount", "systemd-umount", "setpriv"):
        stub = bin_dir / name
        stub.write_text(
            "#!/bin/bash\n"
            f'echo "{name} $*" >> "{log}"\n'
            f'if [ "{name}" = blkid ]; then echo "${{FAKE_FS_TYPE:-}}"; fi\n'
            f'if [ "{name}" = setpriv ]; then exit "${{FAKE_IMPORT_STATUS:-0}}"; fi\n')
        stub.chmod(0o755)
    return bin_dir, log


def run_usb_import(stubbed_path, device: str, fs_type: str, import_status: int = 0):
    bin_dir, log = stubbed_path
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "FAKE_FS_TYPE": fs_type, "FAKE_IMPORT_STATUS": str(import_status)}
    result = subprocess.run(["bash", str(USB_IMPORT), device], capture_output=True, text=True,
                            env=env, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_usb_import_mounts_read_only_imports_as_kiosk_and_unmounts(stubbed_path):
    result, calls = run_usb_import(stubbed_path, "sda1", "vfat")
    assert result.returncode == 0, result.stderr
    assert [call.split()[0] for call in calls] == ["blkid", "systemd-mount", "setpriv", "systemd-umount"]
    mount = calls[1]
    assert "--options=ro,nosuid,nodev,noexec" in mount
    assert "--collect" in mount
    assert mount.endswith("/dev/sda1 /run/kiosk-usb/sda1")
    assert calls[2].startswith("setpriv --reuid=kiosk --regid=kiosk --init-groups --reset-env -- ")
    assert "KIOSK_DATA_DIR=/var/lib/kiosk" in calls[2]
    assert calls[2].endswith("--config /etc/kiosk/config.yaml import-usb /run/kiosk-usb/sda1")
    assert calls[3] == "systemd-umount /run/kiosk-usb/sda1"


def test_usb_import_unmounts_even_when_the_import_fails(stubbed_path):
    result, calls = run_usb_import(stubbed_path, "sdb", "exfat", import_status=3)
    assert result.returncode == 3
    assert calls[-1] == "systemd-umount /run/kiosk-usb/sdb"


def test_usb_import_leaves_other_file_systems_alone(stubbed_path):
    result, calls = run_usb_import(stubbed_path, "sda1", "ntfs")
    assert result.returncode == 1
    assert "not vfat or exfat" in result.stderr
    assert [call.split()[0] for call in calls] == ["blkid"]


def test_usb_import_refuses_a_device_name_that_is_a_path(stubbed_path):
    result, calls = run_usb_import(stubbed_path, "../sda1", "vfat")
    assert result.returncode == 2
    assert calls == []
