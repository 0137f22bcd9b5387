"""Names stay on their faces: the probes played as a slideshow through `kiosk run`, every drawn
frame's labels held against expected.json for the picture it shows."""

from __future__ import annotations

import json

import pytest

from kiosk.names import UNKNOWN

from conftest import require_data, run_kiosk


@pytest.mark.slow(minutes=1)
def test_no_label_of_the_previous_picture_is_drawn_after_a_cut(enrolled_copy, tmp_path):
    """Each of the 15 probes on screen for 2 s in real time: a name drawn over a picture must be
    one of the people in it (or unknown), in every frame, also in the moment after a cut while
    the new picture is still being searched."""
    probes = require_data("probes")
    expected = json.loads((probes / "expected.json").read_text())
    stats = tmp_path / "stats.json"
    result = run_kiosk("run", "--source", f"dir:{probes}", "--display", "headless", "--stats-json", str(stats),
                       data_dir=enrolled_copy, env={"SDL_VIDEODRIVER": "dummy"}, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    frames = json.loads(stats.read_text())["frames"]
    shown = {frame["origin"] for frame in frames}
    assert shown == set(expected), sorted(set(expected) - shown)
    wrong = [(frame["index"], frame["origin"], name) for frame in frames for name in frame["names"]
             if name != UNKNOWN and name not in expected[frame["origin"]]]
    assert not wrong, f"{len(wrong)} labels over the wrong picture, first ones: {wrong[:5]}"
    # Names are still drawn (how many pictures get theirs within 2 s depends on how busy the machine
    # is: all 15 on an idle one here, 11 while two other heavy jobs ran).
    assert any(set(frame["names"]) - {UNKNOWN} for frame in frames)
