"""`kiosk status`, `doctor` and `tune`, on a real store."""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
import pytest

from kiosk.vision.build import DlibBuild, dlib_build

from conftest import run_kiosk


def test_status_reports_not_running_stale_and_running(enrolled_copy, tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"env": {"RUNTIME_DIRECTORY": str(runtime)}}
    result = run_kiosk("status", "--json", data_dir=enrolled_copy, **env)
    report = json.loads(result.stdout)
    assert report["daemon"]["state"] == "not running"
    assert (report["people"], report["samples"]) == (6, 11) and report["store_bytes"]["photos"] > 0
    state = {"pid": os.getpid(), "camera_state": "ok", "display_fps": 12.5, "recognition_fps": 4.0,
             "updated_at": time.time() - 60}
    (runtime / "status.json").write_text(json.dumps(state))
    stale = run_kiosk("status", data_dir=enrolled_copy, **env)
    assert "stale (last update 6" in stale.stdout, stale.stdout
    (runtime / "status.json").write_text(json.dumps({**state, "updated_at": time.time() + 5}))
    running = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy, **env).stdout)
    assert running["daemon"]["state"] == "running" and running["daemon"]["display_fps"] == 12.5
    (runtime / "status.json").write_text(json.dumps({**state, "pid": 2**22 + 12345}))
    dead = json.loads(run_kiosk("status", "--json", data_dir=enrolled_copy, **env).stdout)
    assert dead["daemon"]["state"] == "not running"


def test_status_says_the_machine_is_too_slow_and_the_camera_rests(enrolled_copy, tmp_path):
    """What the daemon publishes about its pace (live/pace.py) is what `kiosk status` warns of."""
    runtime = tmp_path / "run"
    runtime.mkdir()
    slow = ("this machine is too slow for detection.width 640: a whole-frame search takes 900 ms at 320 px, over "
            "the 300 ms budget even at detection.min_width; whole frame every 3.6 s, liveness on every 2 frames")
    state = {"pid": os.getpid(), "camera_state": "ok", "source": "picamera", "pace": slow, "resting": True,
             "updated_at": time.time()}
    (runtime / "status.json").write_text(json.dumps(state))
    lines = run_kiosk("status", data_dir=enrolled_copy, env={"RUNTIME_DIRECTORY": str(runtime)}).stdout.splitlines()
    assert f"warning:    {slow}" in lines
    assert "camera:     ok, source picamera, resting (nobody in view)" in lines
    (runtime / "status.json").write_text(json.dumps({**state, "pace": "", "resting": False}))
    quiet = run_kiosk("status", data_dir=enrolled_copy, env={"RUNTIME_DIRECTORY": str(runtime)}).stdout
    assert "too slow" not in quiet and "resting" not in quiet


def test_doctor_says_how_dlib_was_built():
    result = run_kiosk("doctor", "--json")
    check = next(c for c in json.loads(result.stdout) if c["name"] == "dlib")
    build = dlib_build()
    assert check["detail"].startswith(f"dlib {build.version} on {platform.machine()}: AVX ")
    assert f"NEON {'on' if build.neon else 'off'}, BLAS {'on' if build.blas else 'off'}" in check["detail"]
    assert check["result"] == ("WARN" if build.warning else "OK")


@pytest.mark.parametrize("machine, avx, neon, warned", [
    ("aarch64", False, True, ""), ("aarch64", False, False, "without NEON"), ("x86_64", True, False, ""),
    ("x86_64", False, False, "without AVX"), ("riscv64", False, False, ""),
])
def test_a_build_without_the_processors_vector_unit_is_a_warning_with_the_reason(machine, avx, neon, warned):
    build = DlibBuild("20.0.1", machine, avx=avx, neon=neon, blas=False, lapack=False, cuda=False)
    assert (warned in build.warning) if warned else build.warning == ""
    if warned == "without NEON":
        assert "ten times longer" in build.warning and "USE_NEON_INSTRUCTIONS" in build.warning


def test_doctor_fails_on_a_damaged_store(enrolled_copy):
    result = run_kiosk("doctor", "--json", data_dir=enrolled_copy)
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["store"]["result"] == "OK" and checks["models"]["result"] == "OK"
    assert "integrity ok" in checks["store"]["detail"] and checks["data directory"]["result"] == "OK"
    assert result.returncode == (1 if any(c["result"] == "FAIL" for c in checks.values()) else 0)
    exposed = next((enrolled_copy / "photos").iterdir())
    exposed.chmod(0o644)
    warned = {c["name"]: c for c in json.loads(run_kiosk("doctor", "--json", data_dir=enrolled_copy).stdout)}
    assert warned["data directory"]["result"] == "WARN" and exposed.name in warned["data directory"]["detail"]
    (enrolled_copy / "kiosk.db").write_bytes(b"this is not a database" * 100)
    for extra in enrolled_copy.glob("kiosk.db-*"):
        extra.unlink()
    damaged = run_kiosk("doctor", "--json", data_dir=enrolled_copy)
    assert damaged.returncode == 1
    assert {c["name"]: c["result"] for c in json.loads(damaged.stdout)}["store"] == "FAIL"


def test_tune_separates_the_sample_people(enrolled_store_dir, tmp_path):
    result = run_kiosk("tune", "--json", data_dir=enrolled_store_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same_person"]["count"] == 5 and report["different_person"]["count"] == 50
    assert report["same_person"]["max"] < report["different_person"]["min"]
    assert 0.4 <= report["suggested_tolerance"] <= 0.6
    at_06 = next(row for row in report["expected"] if row["tolerance"] == 0.6)
    assert at_06["false_accepts"] == 0 and at_06["false_rejects"] == 0
    text = run_kiosk("tune", data_dir=enrolled_store_dir).stdout
    assert "these pairs alone would suggest tolerance" in text and "same person" in text
    assert "raise recognition.false_accept_target" in text  # the tolerance follows the curve, not the pairs
    assert "suggested: recognition.margin" in text and "suggested: recognition.tolerance" not in text
    config = tmp_path / "config.yaml"
    config.write_text("recognition:\n  false_accept_target: 0\n")  # the fixed tolerance of before
    fixed = run_kiosk("tune", data_dir=enrolled_store_dir, env={"KIOSK_CONFIG": str(config)}).stdout
    assert "suggested tolerance:" in fixed and "suggested: recognition.tolerance" in fixed


def test_tune_warns_about_people_too_close_together(tmp_path):
    from kiosk.admin.tune import suggest_tolerance, tune_report
    from kiosk.vision.matcher import Gallery
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.05, 128)
    near = base + 0.01
    gallery = Gallery(["a", "b"], [2, 1], np.vstack([base, base + 0.6 / np.sqrt(128) * 1.5, near]))
    report = tune_report(gallery, 0.6)
    assert any("a:" in w and "spread" in w for w in report["warnings"])
    assert any("b:" in w and "from a" in w for w in report["warnings"])
    # Every tolerance from 0.50 to 0.60 separates these pairs; the middle of that range is suggested.
    assert suggest_tolerance(np.array([0.45, 0.5]), np.array([0.7, 0.8])) == pytest.approx(0.55)
