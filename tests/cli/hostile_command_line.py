"""Careless command lines and configs: one short line each, never a traceback."""

from __future__ import annotations

import json

from conftest import run_kiosk

# log_level: a list of nine lists of nine lists ... (9 levels): 9**9 strings once expanded.
BILLION_LAUGHS = "log_level: [&a [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(
    f"&{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)) + "]\n"


def test_a_billion_laughs_value_gives_one_short_line(tmp_path):
    """Nine levels of aliases, nine each, under a known key: refused at once, in one short line."""
    config = tmp_path / "config.yaml"
    config.write_text(BILLION_LAUGHS)
    result = run_kiosk("status", env={"KIOSK_CONFIG": str(config)}, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr) < 400, result.stderr


def test_bad_command_line_input_is_one_line(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("display:\n  greeting: \"Bienvenue, {name} à l'école\"\n".encode("latin-1"))
    result = run_kiosk("status", env={"KIOSK_CONFIG": str(latin)})
    assert result.returncode == 2 and "not UTF-8 text" in result.stderr and "Traceback" not in result.stderr
    zero = run_kiosk("identify", "/dev/zero", "--json", data_dir=tmp_path / "data", timeout=60)
    assert zero.returncode == 0 and json.loads(zero.stdout)[0]["error"] == "not a regular file"
    stats = run_kiosk("run", "--source", "dir:/nowhere", "--stats-json", str(tmp_path / "missing" / "s.json"))
    assert stats.returncode == 2 and "--stats-json" in stats.stderr and "Traceback" not in stats.stderr
    since = run_kiosk("events", "--since", "99999999999999d", data_dir=tmp_path / "data")
    assert since.returncode == 2 and "--since" in since.stderr and "Traceback" not in since.stderr
