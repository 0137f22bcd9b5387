"""`kiosk eval-check` as an admin runs it: the photo check on honest folders and planted photos."""

from __future__ import annotations

import json

from kiosk.config import EnrollmentConfig
from kiosk.measure import photo_check
from kiosk.measure.photo_check import DISTANCES, SPREADS, CheckRow

from conftest import require_data, run_kiosk


def test_eval_check_plants_foreign_photos_and_scores_the_grid(tmp_path, capsys):
    probes = require_data("faces_dev", "probes")  # 5 people, 5 photos each: quick to encode
    result = run_kiosk("eval-check", str(probes), "--draws", "1", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["people"] == 5 and report["faces"] + report["skipped"] == 25
    rows = {(row["suspect_distance"], row["suspect_spread"]): row for row in report["results"]}
    assert set(rows) == {(d, s) for d in DISTANCES for s in SPREADS}
    configured = rows[tuple(report["configured"])]
    assert configured["honest"] == report["faces"]
    assert configured["planted"] == 5 * (1 + 2)  # one and two foreign photos in each folder, once
    assert configured["caught"] >= configured["planted"] - 1 and configured["honest_held"] <= 1
    loosest, strictest = rows[(DISTANCES[-1], SPREADS[-1])], rows[(DISTANCES[0], SPREADS[0])]
    assert loosest["honest_held"] <= strictest["honest_held"] and loosest["caught"] <= strictest["caught"]
    photo_check.print_report([CheckRow(**row) for row in report["results"]], EnrollmentConfig(), report["faces"],
                             report["people"], report["skipped"], strangers=False)
    text = capsys.readouterr().out
    assert "<- configured" in text and "foreign caught" in text and f"{report['faces']} photos of 5 people" in text
    bad = run_kiosk("eval-check", str(probes), "--strangers", str(tmp_path / "nothere"), data_dir=tmp_path / "data")
    assert bad.returncode == 2 and "not a folder of person folders (--strangers)" in bad.stderr
