"""`kiosk eval-groups` and `kiosk bench-web` as an admin runs them: real photos, real figures."""

from __future__ import annotations

import json

from conftest import require_data, run_kiosk


def test_eval_groups_scores_the_kiosk_and_chinese_whispers_on_known_people(tmp_path):
    probes = require_data("faces_dev", "probes")
    result = run_kiosk("eval-groups", str(probes), "--tolerances", "0.3,0.5", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["people"] == 5 and report["faces"] + report["skipped"] == 25 and report["tolerance"] == 0.5
    rows = {(row["method"].split()[0], row["tolerance"]): row for row in report["results"]}
    assert set(rows) == {("kiosk", 0.3), ("chinese", 0.3), ("kiosk", 0.5), ("chinese", 0.5)}
    strict, usual = rows[("kiosk", 0.3)], rows[("kiosk", 0.5)]
    assert strict["groups"] == report["faces"] and strict["recall"] == 0.0  # nothing joins at 0.3
    assert usual["precision"] == 1.0 and usual["recall"] > 0.5 and usual["mixed_groups"] == 0
    text = run_kiosk("eval-groups", str(probes), data_dir=tmp_path / "data").stdout
    assert "the kiosk groups at tolerance 0.500" in text and "chinese whispers (dlib)" in text
    missing = run_kiosk("eval-groups", str(tmp_path / "nothere"), data_dir=tmp_path / "data")
    assert missing.returncode == 2 and "not a folder of person folders" in missing.stderr


def test_bench_web_serves_a_store_of_n_people_and_prints_its_figures():
    require_data("people")
    result = run_kiosk("bench-web", "--people", "20", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["people"] == 20 and figures["samples"] == 100
    for key in ("people_page_ms", "person_page_ms", "thumbnail_ms", "rss_mb_idle"):
        assert figures[key] > 0, key
    assert 0 <= figures["idle_cpu_percent"] < 50


def test_bench_site_seals_applies_and_loads_a_gallery_of_n_people():
    require_data("people")
    result = run_kiosk("bench-site", "--people", "50", "--samples", "3", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["samples"] == figures["loaded_samples"] == 150
    assert 0.05 < figures["bundle_mb"] < 0.2  # 150 x 128 float32 and the names
    assert figures["kiosk_rss_mb_with_gallery"] > 0 and figures["kiosk_rss_mb_empty"] > 0
