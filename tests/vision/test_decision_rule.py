"""The decision rule that names a face or keeps it unknown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kiosk.vision.matcher import Gallery, MatchRule

from conftest import REPO, require_data, run_kiosk


def test_ambiguous_faces_and_known_confusions_stay_unknown():
    rng = np.random.default_rng(5)
    ada = rng.normal(0, 0.03, (3, 128)) + rng.normal(0, 0.05, 128)
    bea = ada + rng.normal(0, 0.003, (3, 128))  # a look-alike, about as close to the face as ada
    face = ada.mean(axis=0, keepdims=True) + rng.normal(0, 0.01, (1, 128))
    gallery = Gallery(["ada", "bea"], [3, 3], np.vstack([ada, bea]))
    match = gallery.match(face, MatchRule(0.6, 0.05, 3))[0]
    assert match.name == "unknown" and match.reason == "ambiguous" and match.distance < 0.6
    # A stranger within the tolerance of ada is named ada, until an admin says a face like it is not.
    away = rng.normal(0, 1, 128)
    stranger = ada.mean(axis=0, keepdims=True) + 0.42 * away / np.linalg.norm(away)
    alone = Gallery(["ada"], [3], ada)
    assert alone.match(stranger, MatchRule())[0].name == "ada"
    corrected = Gallery(["ada"], [3], ada, negatives={"ada": stranger + rng.normal(0, 0.01, (1, 128))})
    assert corrected.match(stranger + rng.normal(0, 0.01, (1, 128)), MatchRule())[0].name == "unknown"
    assert [m.name for m in corrected.match(ada, MatchRule())] == ["ada"] * 3  # ada herself still is


@pytest.mark.slow(minutes=2)
def test_eval_open_and_closed_set_on_faces_dev(faces_dev, tmp_path):
    # One encoding per enrolled photo and no second detector: the rule is what is tested here (the
    # fallback detector has its own test in tests/enrollment/test_trust.py).
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config.yaml").read_text().replace("  jitters: 5\n", "  jitters: 1\n")
                      .replace("  fallback_detector: cnn\n", "  fallback_detector: none\n"))
    result = run_kiosk("eval", "--enroll-dir", str(faces_dev / "enroll"), "--probe-dir", str(faces_dev / "probes"),
                       "--open-set", "--strangers", str(faces_dev / "probes" / "madonna"), "--tolerances", "0.6",
                       "--json", timeout=900, env={"KIOSK_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    kiosk_rule, nearest_sample = report["results"]
    assert (kiosk_rule["margin"], nearest_sample["neighbors"]) == (0.05, 1)
    assert kiosk_rule["open_set"]["photos"] >= 110
    assert kiosk_rule["open_set"]["named"] <= 1, kiosk_rule["mistakes"]
    assert kiosk_rule["correct"] >= 23 and kiosk_rule["wrong"] == 0, kiosk_rule["mistakes"]
    # madonna is enrolled, so her probes given as "strangers" must be named: the count is real.
    assert kiosk_rule["strangers"]["named"] == kiosk_rule["strangers"]["photos"] == 5
    text = run_kiosk("eval", str(require_data("people")), "--open-set", "--tolerances", "0.6").stdout
    assert "open set named" in text and "tol 0.60 margin 0.05 k3" in text


def test_tune_suggests_tolerance_and_margin(dev_enrolled):
    data_dir, _ = dev_enrolled
    report = json.loads(run_kiosk("tune", "--json", data_dir=data_dir).stdout)
    current, suggested = report["rule"]["current"], report["rule"]["suggested"]
    assert current["genuine"] >= 85 and current["impostors"] >= 85
    assert 0.4 <= suggested["tolerance"] <= 0.6 and 0 <= suggested["margin"] <= 0.1
    assert suggested["impostors_named"] + suggested["wrong"] <= current["impostors_named"] + current["wrong"]
    assert "recognition.margin" in run_kiosk("tune", data_dir=data_dir).stdout
