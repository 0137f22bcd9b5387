"""The measuring commands: eval, detection-recall, the tutorial baseline, gallery scale, bench."""

from __future__ import annotations

import json

import pytest

from kiosk.measure.detection_recall import match_detections, measure, parse_imglab
from kiosk.measure.stages import gallery_scale
from kiosk.measure.tutorial import run_tutorial_loop

from conftest import require_data, run_kiosk


def _at_tolerance(report: dict, tolerance: float) -> dict:
    return next(row for row in report["results"] if abs(row["tolerance"] - tolerance) < 1e-9)


@pytest.mark.slow
def test_eval_enroll_one_names_the_other_photos(people_dir):
    result = run_kiosk("eval", str(people_dir), "--enroll", "1", "--tolerances", "0.6", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # 6 people, 11 photos: one each enrolled; lin_manuel_miranda has no second photo.
    assert report["enrolled_people"] == 6
    assert report["enrolled_photos"] == 6
    row = _at_tolerance(report, 0.6)
    assert row["probes"] == 5
    assert row["correct"] + row["unknown"] + row["wrong"] + row["no_face"] == 5
    assert row["accuracy"] >= 0.8, row
    assert row["wrong"] == 0, row


@pytest.mark.slow
def test_eval_excluded_person_comes_out_unknown(people_dir):
    result = run_kiosk("eval", str(people_dir), "--enroll", "1", "--exclude", "obama",
                       "--tolerances", "0.6", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["enrolled_people"] == 5
    row = _at_tolerance(report, 0.6)
    assert row["impostor_probes"] == 2  # both obama photos are probes now
    assert row["false_accepts"] == 0, row
    assert row["probes"] == 4


@pytest.mark.slow
def test_eval_live_runs_visits_through_the_kiosk(tmp_path):
    """Two members' visits are confirmed with their names, a stranger's visit is not named."""
    faces = require_data("faces_dev")
    for folder, people, count in (("enroll", ("ben_afflek", "elton_john", "jerry_seinfeld"), 6),
                                  ("probes", ("ben_afflek", "elton_john"), 2), ("strangers", ("madonna",), 2)):
        for person in people:
            source = faces / ("enroll" if folder != "probes" else "probes") / person
            (tmp_path / folder / person).mkdir(parents=True)
            for photo in sorted(source.iterdir())[:count]:
                (tmp_path / folder / person / photo.name).write_bytes(photo.read_bytes())
    result = run_kiosk("eval", "--live", "--enroll-dir", str(tmp_path / "enroll"), "--probe-dir",
                       str(tmp_path / "probes"), "--strangers", str(tmp_path / "strangers"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    members, strangers = report["members"], report["strangers"]
    assert (members["visits"], strangers["visits"]) == (2, 1)
    assert members.get("right") == 2 and not members.get("wrong"), members["results"]
    assert not strangers.get("named"), strangers["results"]
    assert all(r["names"][0] != "unknown" for r in members["results"]), "a member was shown as Unknown first"
    evidence = members["results"][0]["evidence"][0]
    assert evidence["frames"] >= 2 and evidence["score"] <= evidence["threshold"]


def test_a_broken_photo_leaves_its_visit_to_the_other_photos(tmp_path, capsys):
    from kiosk.measure import visits
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    plan = visits.plan([("obama", [broken, require_data("probes", "obama1.jpg")]), ("nobody", [broken])])
    frames = list(visits.frames(plan))
    assert len(frames) == plan[-1].end + round(visits.GAP_SECONDS * visits.CLIP_FPS)
    assert frames[plan[0].start].std() > 20 and frames[plan[1].start].std() < 10  # a face; the empty hall
    assert f"{broken}: skipped" in capsys.readouterr().err


def test_eval_refuses_a_missing_folder(tmp_path):
    result = run_kiosk("eval", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "not a folder" in result.stderr


def test_imglab_parser_counts_boxes_and_honours_ignore(tmp_path):
    (tmp_path / "labels.xml").write_text(
        "<?xml version='1.0'?><dataset><images>"
        "<image file='a.jpg'><box top='10' left='20' width='30' height='40'/>"
        "<box top='0' left='0' width='5' height='5' ignore='1'/></image>"
        "<image file='b.jpg'></image>"
        "<image file='c.jpg'><box top='1' left='2' width='3' height='4'/>"
        "<box top='5' left='6' width='7' height='8'/></image>"
        "</images></dataset>")
    images = parse_imglab(tmp_path / "labels.xml")
    assert [len(i.boxes) for i in images] == [1, 0, 2]
    assert [len(i.ignored) for i in images] == [1, 0, 0]
    assert images[0].boxes[0] == (20, 10, 50, 50)
    assert images[0].path == tmp_path / "a.jpg"


def test_imglab_parser_on_the_sample_labels():
    data = require_data("detection")
    for name in ("testing.xml", "training.xml"):
        text = (data / name).read_text(encoding="iso-8859-1")
        images = parse_imglab(data / name)
        assert len(images) == text.count("<image ")
        assert sum(len(i.boxes) + len(i.ignored) for i in images) == text.count("<box ")


def test_matching_counts_hits_and_false_positives():
    truth = [(0, 0, 100, 100), (200, 0, 300, 100)]
    ignored = [(400, 0, 450, 50)]
    found = [(5, 5, 100, 100), (600, 600, 700, 700), (400, 0, 450, 50)]
    hits, false_positives = match_detections(truth, ignored, found, 0.5)
    assert hits == {0}
    assert false_positives == 1  # the box on the ignored face does not count
    # Half a box off: IoU 1/3 with the second face, found at 0.3 but not at 0.5.
    hits, false_positives = match_detections(truth, [], [(150, 0, 250, 100)], 0.3)
    assert (hits, false_positives) == ({1}, 0)
    hits, false_positives = match_detections(truth, [], [(150, 0, 250, 100)], 0.5)
    assert (hits, false_positives) == (set(), 1)


def test_hog_at_full_width_finds_most_labelled_faces_and_none_on_dogs():
    data = require_data("detection")
    result = measure(data, widths=(None,), upsamples=(1,))
    row = result["rows"][0]
    assert result["labelled_faces"] > 0
    assert row["recall_iou50"] > 0.5, row
    if "dogs.jpg" in result["negative_photos"]:
        assert row["detections_on_negatives"] == 0


def test_tutorial_loop_names_lin_manuel_miranda_early(people_dir):
    clip = require_data("video", "short_hamilton_clip.mp4")
    result = run_tutorial_loop(clip, people_dir, max_frames=20)
    assert result["frames_processed"] == 20
    assert result["known_encodings"] == 11
    names = [name for frame in result["frames"] for name in frame["names"]]
    assert "lin_manuel_miranda" in names
    assert result["fps"] > 0 and result["peak_rss_mb"] > 0


def test_gallery_scale_reports_each_size():
    rows = gallery_scale(sizes=(100, 1000), repeats=3)
    assert [row["encodings"] for row in rows] == [100, 1000]
    assert [row["people"] for row in rows] == [10, 100]
    assert all(row["ms_per_face"] > 0 for row in rows)


@pytest.mark.slow(minutes=4)
def test_bench_quick_end_to_end(people_dir):
    require_data("video", "short_hamilton_clip.mp4")
    try:
        import kiosk.live.daemon  # noqa: F401  (`kiosk run` needs the frame sources)
    except ImportError as exc:
        pytest.skip(f"kiosk run is not available: {exc}")
    result = run_kiosk("bench", "--quick", "--json", timeout=600)
    if result.returncode != 0 and "kiosk.sources" in result.stderr:
        pytest.skip("kiosk run is not available")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    section = report["all_cores"]
    assert "one_core" not in report
    assert section["baseline"]["frames_processed"] == 40
    assert section["baseline"]["latency"]["names"] == ["lin_manuel_miranda"]
    assert section["kiosk"]["frames_recognized"] > 0
    assert section["kiosk"]["fps"] > 0
    assert section["kiosk"]["agreement"]["frames_compared"] >= 0
    assert [row["encodings"] for row in report["gallery"]] == [1000, 10000]
    assert [row["encodings"] for row in report["gallery_one_blas_thread"]] == [1000, 10000]
    scenes = report["scenes"]
    assert all(0 <= scenes[label]["cpu_share"] < 2 for label in ("still", "noisy", "arrivals"))
    assert scenes["arrivals"]["time_to_name"]["median"] is not None
    assert scenes["arrivals"]["time_to_find"]["median"] is not None
    assert all(0 <= scenes[label]["source_cpu_share"] <= scenes[label]["cpu_share"] for label in ("still", "noisy"))
    assert set(scenes["arrivals"]["names_shown"]) <= {"alex_lacamoire", "kit_harington", "obama", "unknown"}
    assert report["liveness"]["named_tracks"] >= 1 and report["liveness"]["cpu_share_on"] > 0
    assert report["enrollment"]["serial"]["photos"] == 11
    assert report["enrollment"]["all_cores"]["photos"] == 11


def test_bench_without_data_exits_2(tmp_path):
    result = run_kiosk("bench", "--clip", str(tmp_path / "missing.mp4"))
    assert result.returncode == 2
    assert "not found" in result.stderr
