"""The systemd units and the udev rule: settings, `systemd-analyze verify` and `security`.

How verification copes with a machine that is not the Pi:
- ExecStart= binaries must exist, so the copies under test run /bin/true with the same arguments.
- The template is verified as the instance kiosk-import@sda1.service (templates cannot be loaded).
- User=kiosk, SupplementaryGroups=, DeviceAllow= and dev-sda1.device are resolved only when a unit
  starts, so they are left as they are; verify loads the device unit as an inactive placeholder.
- systemd-analyze verify exits 0 even on problems, so any output on stderr is a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.cli.parser import build_parser

from conftest import REPO, needs_package

SYSTEMD_DIR = REPO / "systemd"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None)
needs_systemd_analyze = needs_package("systemd", SYSTEMD_ANALYZE or "systemd-analyze")

# Highest acceptable `systemd-analyze security` exposure (0 = locked down, 10 = unprotected).
MAX_EXPOSURE = {"kiosk.service": 2.0, "kiosk-import@sda1.service": 4.0, "kiosk-web.service": 2.5}


def unit_settings(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, in order; repeated keys are kept."""
    settings, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.append((section, key.strip(), value.strip()))
    return settings


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in unit_settings(path) if s == section and k == key]


def one(path: Path, section: str, key: str) -> str:
    found = values(path, section, key)
    assert len(found) == 1, f"{path.name}: expected one {section}/{key}, found {found}"
    return found[0]


def copies_for_verify(tmp_path: Path) -> list[Path]:
    """The units as systemd-analyze can load them here: real binaries, template as an instance."""
    renames = {"kiosk.service": "kiosk.service", "kiosk-import@.service": "kiosk-import@sda1.service",
               "kiosk-web.service": "kiosk-web.service"}
    copies = []
    for name, copy_name in renames.items():
        text = (SYSTEMD_DIR / name).read_text()
        text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.M)
        copy = tmp_path / copy_name
        copy.write_text(text)
        copies.append(copy)
    return copies


def verify(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


# --- settings ---------------------------------------------------------------------------------

def test_kiosk_service_core_settings():
    unit = SYSTEMD_DIR / "kiosk.service"
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert one(unit, "Service", "WatchdogSec") == "30"
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "User") == "kiosk"
    assert one(unit, "Service", "StateDirectory") == "kiosk"
    assert one(unit, "Service", "StateDirectoryMode") == "0700"
    assert one(unit, "Service", "RuntimeDirectory") == "kiosk"
    assert values(unit, "Service", "Environment") == [
            "KIOSK_DATA_DIR=/var/lib/kiosk", "OPENBLAS_NUM_THREADS=1", "GALLIUM_DRIVER=softpipe"]
    assert one(unit, "Service", "CapabilityBoundingSet") == ""
    assert one(unit, "Service", "PrivateNetwork") == "yes"
    assert one(unit, "Service", "DevicePolicy") == "closed"
    # Start limits belong in [Unit]; in [Service] systemd ignores them.
    assert values(unit, "Unit", "StartLimitIntervalSec") and values(unit, "Unit", "StartLimitBurst")
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_kiosk_service_command_line_is_understood_by_the_cli():
    command = one(SYSTEMD_DIR / "kiosk.service", "Service", "ExecStart").split()
    assert command[0] == "/opt/kiosk/venv/bin/kiosk"
    args = build_parser().parse_args(command[1:])
    assert args.config == "/etc/kiosk/config.yaml"
    assert args.handler.__name__ == "cmd_run"


def test_device_allow_lists_camera_and_screen_without_wildcards():
    allowed = values(SYSTEMD_DIR / "kiosk.service", "Service", "DeviceAllow")
    devices = {entry.split()[0]: entry.split()[1] for entry in allowed}
    assert devices == {
        "char-video4linux": "rw", "char-media": "rw", "char-dma_heap": "rw",
        "char-drm": "rw", "char-fb": "rw", "char-input": "r",
    }
    assert not any("*" in entry or "?" in entry for entry in allowed)
    assert not values(SYSTEMD_DIR / "kiosk.service", "Service", "PrivateDevices")


def test_import_unit_is_bound_to_the_stick():
    unit = SYSTEMD_DIR / "kiosk-import@.service"
    assert one(unit, "Unit", "BindsTo") == "dev-%i.device"
    assert one(unit, "Unit", "After") == "dev-%i.device"
    assert one(unit, "Service", "Type") == "oneshot"
    assert one(unit, "Service", "ExecStart").split()[0] == "/opt/kiosk/bin/kiosk-usb-import"


# --- systemd-analyze --------------------------------------------------------------------------

@needs_systemd_analyze
def test_units_verify_without_any_message(tmp_path):
    result = verify(copies_for_verify(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_systemd_analyze
def test_verify_does_report_problems_on_stderr(tmp_path):
    """The check above relies on stderr: make sure a broken unit really shows up there."""
    broken = tmp_path / "broken.service"
    broken.write_text("[Service]\nExecStart=/bin/true\nWatchdogSecs=30\n")
    result = verify([broken])
    assert "WatchdogSecs" in result.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("unit_name", sorted(MAX_EXPOSURE))
def test_security_exposure_is_low(tmp_path, unit_name):
    unit = next(p for p in copies_for_verify(tmp_path) if p.name == unit_name)
    result = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
                            capture_output=True, text=True, timeout=120)
    match = re.search(rf"Overall exposure level for {re.escape(unit_name)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"{unit_name}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE[unit_name]


# --- udev rule --------------------------------------------------------------------------------

RULES = SYSTEMD_DIR / "99-kiosk-usb.rules"


def rule_lines() -> list[str]:
    """The rule file's rules, with continued lines joined."""
    text = RULES.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_udev_rule_only_tags_the_device_for_systemd():
    lines = rule_lines()
    assert len(lines) == 1
    rule = lines[0]
    for match in ('ACTION=="add"', 'SUBSYSTEM=="block"', 'ENV{ID_BUS}=="usb"',
                  'ENV{ID_FS_USAGE}=="filesystem"', 'ENV{ID_FS_TYPE}=="vfat|exfat"'):
        assert match in rule
    assert 'TAG+="systemd"' in rule
    assert 'ENV{SYSTEMD_WANTS}+="kiosk-import@%k.service"' in rule
    # udev kills long-running RUN programs and mounts made from udev vanish: nothing of that here.
    assert not re.search(r"\b(RUN|PROGRAM|IMPORT)\b", rule)
    assert "mount" not in rule.lower()


@needs_package("udev", "udevadm")
def test_udevadm_verify_accepts_the_rule():
    help_text = subprocess.run(["udevadm", "--help"], capture_output=True, text=True).stdout
    if not re.search(r"^\s*verify\b", help_text, re.M):
        pytest.skip("udevadm has no verify command (systemd < 254)")
    result = subprocess.run(["udevadm", "verify", "--no-style", str(RULES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_unit_serves_loopback_as_the_kiosk_user_and_is_off_until_enabled():
    unit = SYSTEMD_DIR / "kiosk-web.service"
    command = one(unit, "Service", "ExecStart").split()
    args = build_parser().parse_args(command[1:])
    assert args.command == "web" and args.port is None and not args.url
    assert one(unit, "Service", "User") == "kiosk"
    assert values(unit, "Service", "IPAddressDeny") == ["any"]
    assert values(unit, "Service", "IPAddressAllow") == ["localhost"]
    assert "RUNTIME_DIRECTORY=/run/kiosk" in values(unit, "Service", "Environment")
    installer = [line.strip() for line in (REPO / "scripts" / "install.sh").read_text().splitlines()
                 if not line.strip().startswith(("#", "echo "))]
    assert any("kiosk-web.service" in line for line in installer)
    assert not [line for line in installer if re.search(r"systemctl (enable|start).*kiosk-web", line)]
