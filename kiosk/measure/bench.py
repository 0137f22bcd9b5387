"""`kiosk bench`: the kiosk pipeline against the classic tutorial loop, on the same clip and people.

The baseline is the well-known face_recognition video loop (resize every frame to 500 px, HOG with
one upsample, encode every face, vote among matching known encodings). The kiosk side is the real
`kiosk run` command on the clip. Each side runs in its own subprocess, so CPU time and peak RSS
belong to that side alone; both are also run pinned to one core with `taskset -c 0`. With --fast
the kiosk's screen loop runs flat out beside recognition, so the kiosk's recognition stage is also
timed alone (every frame, no screen) to show what recognition itself can take.

Also measured: gallery matching time at 1k/10k/100k encodings, and enrollment serial vs all cores.
All figures are printed (report.py); nothing here decides pass or fail. This module runs the
measurements; tutorial.py is the baseline, stages.py the parts timed alone, processes.py the
subprocesses each side runs in, compare.py the comparisons.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import yaml

from kiosk.config import Config
from kiosk.enrollment.encoding import worker_count
from kiosk.enrollment.enroll import import_folder
from kiosk.measure import scenes
from kiosk.measure.compare import (
    agreement,
    baseline_latency,
    kiosk_figures,
    kiosk_latency,
    spread,
    time_to_find,
    time_to_name,
    tutorial_time_to_name,
)
from kiosk.measure.processes import headless_env, kiosk_command, pinned, run_baseline, run_kiosk
from kiosk.measure.stages import GALLERY_SIZES, gallery_scale, gallery_scale_single_blas_thread
from kiosk.measure.tutorial import run_tutorial_loop
from kiosk.paths import DB_NAME, SAMPLE_DATA, SOURCE_TREE
from kiosk.store import Store

DEFAULT_CLIP = SAMPLE_DATA / "video" / "short_hamilton_clip.mp4"
DEFAULT_PEOPLE = SAMPLE_DATA / "people"
SCENE_BACKGROUND = SAMPLE_DATA / "detection" / "dogs.jpg"  # a photo with no human face in it
# Probe photos (not enrolled) of three enrolled people, who walk into the arrivals clip.
ARRIVING = (("alex_lacamoire", "alex_lacamoire1.jpg"), ("kit_harington", "johnsnow_test1.jpg"),
            ("obama", "obama1.jpg"))
SCENE_SECONDS = 10.0
QUICK_SCENE_SECONDS = 4.0

QUICK_FRAMES = 40
QUICK_GALLERY_SIZES = (1_000, 10_000)


def enrolled_data_dir(people: Path, config_path: str, scratch: Path) -> Path:
    """The kiosk data directory in SCRATCH with PEOPLE enrolled (by `kiosk enroll`, once)."""
    data_dir = scratch / "kiosk-data"
    if not (data_dir / DB_NAME).exists():
        subprocess.run(kiosk_command(config_path, data_dir) + ["enroll", str(people)], check=True, cwd=SOURCE_TREE,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return data_dir


def compare_on_clip(clip: Path, people: Path, config_path: str, scratch: Path, *, one_core: bool,
                    max_frames: int | None, fast_loops: int) -> dict:
    """Baseline and kiosk on the same clip (all cores or one), with agreement and latency."""
    data_dir = enrolled_data_dir(people, config_path, scratch)
    baseline = run_baseline(clip, people, scratch, one_core, max_frames)
    fast = run_kiosk_fast(clip, data_dir, config_path, scratch, one_core, max_frames, fast_loops)
    realtime = run_kiosk(clip, data_dir, config_path, scratch, fast=False, one_core=one_core,
                         max_frames=max_frames)
    alone_command = [sys.executable, "-m", "kiosk.measure.stages", "recognizer-alone", str(clip), str(data_dir),
                     config_path or "", str(max_frames or 0)]
    alone = json.loads(subprocess.run(pinned(alone_command, one_core), check=True, cwd=SOURCE_TREE,
                                      capture_output=True, text=True).stdout)
    baseline_side = {key: baseline[key] for key in ("fps", "faces_per_second", "frames_processed",
                                                    "wall_seconds", "cpu_seconds", "peak_rss_mb")}
    baseline_side["latency"] = baseline_latency(baseline["frames"])
    kiosk_side = kiosk_figures(fast, realtime)
    kiosk_side["latency"] = kiosk_latency(realtime["tracks"])
    kiosk_side["agreement"] = agreement(baseline["frames"], realtime["frames"])
    kiosk_side["recognizer_alone"] = alone
    speedup = kiosk_side["fps"] / baseline["fps"] if baseline["fps"] else None
    return {"baseline": baseline_side, "kiosk": kiosk_side,
            "speedup": round(speedup, 2) if speedup else None}


def run_kiosk_fast(clip: Path, data_dir: Path, config_path: str, scratch: Path, one_core: bool,
                   max_frames: int | None, loops: int) -> dict:
    """--fast shows frames far quicker than they are recognized, so the clip is looped a few times
    to give recognition a few seconds to be measured over."""
    if loops <= 1:
        return run_kiosk(clip, data_dir, config_path, scratch, fast=True, one_core=one_core, max_frames=max_frames)
    frames = max_frames or clip_frame_count(clip)
    out = scratch / f"kiosk-fast{'-1core' if one_core else ''}.json"
    command = kiosk_command(config_path, data_dir) + [
        "run", "--source", f"file:{clip}", "--display", "headless", "--stats-json", str(out),
        "--fast", "--loop", "--max-frames", str(frames * loops)]
    env = headless_env()
    subprocess.run(pinned(command, one_core), check=True, cwd=SOURCE_TREE, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def clip_frame_count(clip: Path) -> int:
    capture = cv2.VideoCapture(str(clip))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return max(1, count)


def enrollment_timing(people: Path, config: Config, scratch: Path) -> dict:
    """Seconds to enroll people/ with one worker and with one per core, into fresh stores."""
    results = {}
    for label, workers in (("serial", 1), ("all_cores", 0)):
        store_dir = scratch / f"enroll-{label}"
        with Store(store_dir) as store:
            started = time.perf_counter()
            count = worker_count(dataclasses.replace(config.enrollment, workers=workers))
            report = import_folder(store, people, config.enrollment, encoder=config.recognition.encoder, workers=count,
                                     show_bar=False)
            results[label] = {"seconds": round(time.perf_counter() - started, 2), "photos": report.added,
                              "workers": count}
    return results


def run_bench(clip: Path, people: Path, config: Config, *, quick: bool, one_core: bool,
              log: Callable[[str], None]) -> dict:
    """Every figure of `kiosk bench`, as one JSON-ready object."""
    max_frames = QUICK_FRAMES if quick else None
    scratch = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    try:
        results: dict = {"clip": str(clip), "people": str(people), "cores": len(os.sched_getaffinity(0)),
                         "quick": quick}
        log("clip, all cores: baseline, kiosk --fast, kiosk real time ...")
        fast_loops = 1 if quick else 3
        results["all_cores"] = compare_on_clip(clip, people, config.source_path, scratch, one_core=False,
                                               max_frames=max_frames, fast_loops=fast_loops)
        if one_core:
            log("clip, one core (taskset -c 0) ...")
            results["one_core"] = compare_on_clip(clip, people, config.source_path, scratch, one_core=True,
                                                  max_frames=max_frames, fast_loops=fast_loops)
        if SCENE_BACKGROUND.is_file():
            log("scenes: still, noisy, arrivals (real time) ...")
            results["scenes"] = scene_figures(people, config.source_path, scratch,
                                              QUICK_SCENE_SECONDS if quick else SCENE_SECONDS, quick=quick)
        log("liveness (real time, off and both) ...")
        results["liveness"] = liveness_figures(clip, people, config.source_path, scratch)
        log("gallery scale ...")
        sizes, repeats = (QUICK_GALLERY_SIZES, 10) if quick else (GALLERY_SIZES, 50)
        results["gallery"] = gallery_scale(sizes, repeats=repeats)
        results["gallery_one_blas_thread"] = gallery_scale_single_blas_thread(sizes, repeats)
        log("enrollment ...")
        results["enrollment"] = enrollment_timing(people, config, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def scene_clips(scratch: Path, seconds: float, arriving: tuple[tuple[str, str], ...] = ARRIVING,
                ) -> tuple[dict[str, Path], list[scenes.Arrival]]:
    """The still, noisy and arrivals clips (see scenes.py), written into SCRATCH."""
    hall = scenes.hall(SCENE_BACKGROUND)
    layers, arrivals, length = scenes.arrivals(hall, [(name, SAMPLE_DATA / "probes" / file)
                                                      for name, file in arriving])
    clips = {label: scratch / f"{label}.mp4" for label in ("still", "noisy", "arrivals")}
    scenes.write_clip(clips["still"], scenes.still(hall, seconds))
    scenes.write_clip(clips["noisy"], scenes.noisy(hall, seconds))
    scenes.write_clip(clips["arrivals"], scenes.noisy(hall, length, seed=1, layers=layers))
    return clips, arrivals


def scene_figures(people: Path, config_path: str, scratch: Path, seconds: float, *, quick: bool = False) -> dict:
    """CPU share of one core and detector runs per second for each scene in real time (`kiosk run`
    as it ships), and time to name for the arrivals, beside the tutorial loop's (which looks at
    every frame, at about 6 a second here: with --quick only the first person arrives)."""
    data_dir = enrolled_data_dir(people, config_path, scratch)
    clips, arrivals = scene_clips(scratch, seconds, ARRIVING[:1] if quick else ARRIVING)
    runs = {label: run_kiosk(clip, data_dir, config_path, scratch, fast=False, one_core=False, max_frames=None)
            for label, clip in clips.items()}
    figures: dict = {label: {"cpu_share": stats["loop_cpu_share"], "source_cpu_share": stats["source_cpu_share"],
                             "display_fps": stats["display_fps"],
                             "detector_per_second": round(stats["detector_runs"] / (stats["wall_seconds"] or
                                                                                     float("nan")), 2)}
                     for label, stats in runs.items()}
    walk_in = runs["arrivals"]
    taken_at = {int(index): t for index, t in walk_in["taken_at"].items()}
    figures["arrivals"].update(time_to_find=spread(time_to_find(walk_in["tracks"], arrivals, taken_at)),
                               time_to_name=spread(time_to_name(walk_in["frames"], arrivals, taken_at)),
                               names_shown=sorted({name for f in walk_in["frames"] for name in f["names"]}))
    tutorial = run_tutorial_loop(clips["arrivals"], people)
    figures["tutorial_time_to_name"] = spread(tutorial_time_to_name(tutorial["frames"], arrivals))
    return figures


def liveness_figures(clip: Path, people: Path, config_path: str, scratch: Path) -> dict:
    """`kiosk run` on the clip in real time with recognition.liveness off and both: the CPU the
    check adds while a face is followed, and how many named tracks passed it, how soon."""
    data_dir = enrolled_data_dir(people, config_path, scratch)
    raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) if config_path else None
    figures: dict = {}
    for mode in ("off", "both"):
        settings = raw if isinstance(raw, dict) else {}
        settings = {**settings, "recognition": {**(settings.get("recognition") or {}), "liveness": mode}}
        path = scratch / f"liveness-{mode}.yaml"
        path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        figures[mode] = run_kiosk(clip, data_dir, str(path), scratch, fast=False, one_core=False, max_frames=None)
    off, on = figures["off"], figures["both"]
    named = [t for t in on["tracks"] if t.get("name") not in (None, "unknown")]
    passed = [t["confirmed_t"] - t["first_seen_t"] for t in named
              if t.get("confirmed_t") is not None and t.get("first_seen_t") is not None]
    followed = sum(1 for f in on["frames"] if f["names"]) / scenes.FPS  # seconds with a name on screen
    extra = on["loop_cpu_share"] - off["loop_cpu_share"]
    return {"cpu_share_off": off["loop_cpu_share"], "cpu_share_on": on["loop_cpu_share"],
            "face_seconds": round(followed, 1),
            "cpu_seconds_per_face_second": round(extra * on["wall_seconds"] / followed, 3) if followed else None,
            "named_tracks": len(named), "passed": len(passed),
            "time_to_pass": spread([round(t, 3) for t in passed])}
