"""The one typed config: every key checked, errors that name the key."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, load_config, parse_config

from conftest import REPO, run_kiosk


def test_repo_config_is_the_documented_default():
    from kiosk.config import Config
    loaded = load_config(str(REPO / "config.yaml"))
    assert {k: v for k, v in vars(loaded).items() if k != "source_path"} == \
        {k: v for k, v in vars(Config()).items() if k != "source_path"}


@pytest.mark.parametrize("text, key", [
    ("camera:\n  sorce: auto\n", "camera.sorce"),
    ("recognition:\n  tolerance: 1.5\n", "recognition.tolerance"),
    ("recognition:\n  tolerance: close\n", "recognition.tolerance"),
    ("detection:\n  landmarks: 7\n", "detection.landmarks"),
    ("display:\n  mode: hdmi\n", "display.mode"),
    ("enrollment:\n  keep_photos: maybe\n", "enrollment.keep_photos"),
    ("bogus: 1\n", "bogus"),
    ("camera:\n  source: usb:front\n", "camera.source"),
])
def test_bad_config_names_the_key(text, key):
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test.yaml")
    message = str(error.value)
    assert message.startswith("test.yaml: ") and f" {key}:" in message
    assert "\n" not in message


@pytest.mark.parametrize("text, key, lines", [
    ("recognition:\n  tolerance: 0.5\nlog_level: info\nrecognition:\n  margin: 0.1\n", "recognition", (1, 4)),
    ("recognition:\n  tolerance: 0.5\n  neighbors: 3\n  tolerance: 0.4\n", "recognition.tolerance", (2, 4)),
])
def test_a_key_given_twice_is_refused_with_both_lines(text, key, lines):
    """YAML keeps the last of two equal keys: a second block would silently drop the first's settings."""
    with pytest.raises(ConfigError) as error:
        parse_config(text, "test.yaml")
    assert str(error.value) == f"test.yaml: {key}: given twice, on line {lines[0]} and line {lines[1]}"


def test_config_lookup_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("data_dir: /from/explicit\n")
    env_file = tmp_path / "env.yaml"
    env_file.write_text("data_dir: /from/env\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIOSK_CONFIG", str(env_file))
    monkeypatch.delenv("KIOSK_DATA_DIR", raising=False)
    assert load_config(str(explicit)).data_dir == "/from/explicit"
    assert load_config().data_dir == "/from/env"
    monkeypatch.setenv("KIOSK_DATA_DIR", "/from/data-env")
    assert load_config().data_dir == "/from/data-env"
    assert load_config(None, "/from/flag").data_dir == "/from/flag"
    monkeypatch.delenv("KIOSK_CONFIG")
    monkeypatch.delenv("KIOSK_DATA_DIR")
    (tmp_path / "config.yaml").write_text("data_dir: /from/cwd\n")
    assert load_config().data_dir == "/from/cwd"


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recognition:\n  tolerance: 3\n")
    result = run_kiosk("--config", str(bad), "people", "list")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "recognition.tolerance" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_folder_exits_2(tmp_path):
    result = run_kiosk("enroll", str(tmp_path / "nope"), data_dir=tmp_path / "d")
    assert result.returncode == 2 and "nope" in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_help():
    for command in (["enroll"], ["identify"], ["people"], ["people", "list"]):
        result = run_kiosk(*command, "--help")
        assert result.returncode == 0 and "usage: kiosk" in result.stdout
