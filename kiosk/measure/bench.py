"""`kiosk bench`: the kiosk pipeline against the classic tutorial loop, on the same clip and people.

The baseline is the well-known face_recognition video loop (resize every frame to 500 px, HOG with
one upsample, encode every face, vote among matching known encodings). The kiosk side is the real
`kiosk run` command on the clip. Each side runs in its own subprocess, so CPU time and peak RSS
belong to that side alone; both are also run pinned to one core with `taskset -c 0`. With --fast
the kiosk's screen loop runs flat out beside recognition, so the kiosk's recognition stage is also
timed alone (every frame, no screen) to show what recognition itself can take.

Also measured: gallery matching time at 1k/10k/100k encodings, and enrollment serial vs all cores.
All figures are printed; nothing here decides pass or fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import face_recognition
import numpy as np
import yaml

from kiosk.config import Config, load_config
from kiosk.enrollment.enroll import import_folder, worker_count
from kiosk.frame import Frame
from kiosk.live.recognition import build_recognizer
from kiosk.measure import scenes
from kiosk.paths import DB_NAME, SAMPLE_DATA, SOURCE_TREE
from kiosk.store import Store
from kiosk.util import peak_rss_mb
from kiosk.vision.images import PHOTO_SUFFIXES
from kiosk.vision.matcher import Gallery

DEFAULT_CLIP = SAMPLE_DATA / "video" / "short_hamilton_clip.mp4"
DEFAULT_PEOPLE = SAMPLE_DATA / "people"
SCENE_BACKGROUND = SAMPLE_DATA / "detection" / "dogs.jpg"  # a photo with no human face in it
# Probe photos (not enrolled) of three enrolled people, who walk into the arrivals clip.
ARRIVING = (("alex_lacamoire", "alex_lacamoire1.jpg"), ("kit_harington", "johnsnow_test1.jpg"),
            ("obama", "obama1.jpg"))
SCENE_SECONDS = 10.0
QUICK_SCENE_SECONDS = 4.0

TUTORIAL_WIDTH = 500
QUICK_FRAMES = 40
GALLERY_SIZES = (1_000, 10_000, 100_000)
QUICK_GALLERY_SIZES = (1_000, 10_000)
SAMPLES_PER_SYNTHETIC_PERSON = 10


# --- the tutorial loop (baseline) ------------------------------------------------------------

def tutorial_resize(image: np.ndarray, width: int) -> np.ndarray:
    """imutils.resize(image, width=...): keep the aspect ratio, INTER_AREA."""
    height, old_width = image.shape[:2]
    ratio = width / float(old_width)
    return cv2.resize(image, (width, int(height * ratio)), interpolation=cv2.INTER_AREA)


def tutorial_known_encodings(people_dir: Path) -> tuple[list[np.ndarray], list[str]]:
    """encode_faces.py: every face of every photo in people/<name>/, HOG, default settings."""
    encodings, names = [], []
    for path in sorted(Path(people_dir).glob("*/*")):
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            continue
        image = cv2.imread(str(path))
        if image is None:
            continue
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes = face_recognition.face_locations(rgb, model="hog")
        for encoding in face_recognition.face_encodings(rgb, boxes):
            encodings.append(encoding)
            names.append(path.parent.name)
    return encodings, names


def tutorial_names(known: list[np.ndarray], known_names: list[str], encodings: list[np.ndarray]) -> list[str]:
    """compare_faces at tolerance 0.6, then the most votes among the matching names, else Unknown."""
    names = []
    for encoding in encodings:
        matches = face_recognition.compare_faces(known, encoding)
        name = "Unknown"
        if True in matches:
            counts: dict[str, int] = {}
            for index, matched in enumerate(matches):
                if matched:
                    counts[known_names[index]] = counts.get(known_names[index], 0) + 1
            name = max(counts, key=counts.__getitem__)
        names.append(name)
    return names


def run_tutorial_loop(clip: Path, people_dir: Path, max_frames: int | None = None) -> dict:
    """The whole tutorial on the clip, as fast as frames can be read; figures for this process."""
    cpu_start = time.process_time()
    known, known_names = tutorial_known_encodings(people_dir)
    cpu_known = time.process_time() - cpu_start
    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise RuntimeError(f"{clip}: cannot open the clip")
    frames: list[dict] = []
    faces_encoded = 0
    started = time.perf_counter()
    while max_frames is None or len(frames) < max_frames:
        frame_started = time.perf_counter()
        grabbed, frame = capture.read()
        if not grabbed:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        rgb = tutorial_resize(rgb, TUTORIAL_WIDTH)
        boxes = face_recognition.face_locations(rgb, model="hog")
        encodings = face_recognition.face_encodings(rgb, boxes)
        names = tutorial_names(known, known_names, encodings)
        faces_encoded += len(encodings)
        frames.append({"index": len(frames), "names": sorted(names),
                       "ms": round((time.perf_counter() - frame_started) * 1000, 2)})
    wall = time.perf_counter() - started
    capture.release()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "frames": frames,
        "frames_processed": len(frames),
        "faces_encoded": faces_encoded,
        "wall_seconds": round(wall, 3),
        "fps": round(len(frames) / wall, 2) if wall else 0.0,
        "faces_per_second": round(faces_encoded / wall, 2) if wall else 0.0,
        # Whole process, minus the known encodings (the tutorial computes them in a separate script).
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu_known, 3),
        "peak_rss_mb": peak_rss_mb(),
        "known_encodings": len(known),
    }


# --- the kiosk's recognition stage alone ------------------------------------------------------

def run_recognizer_alone(clip: Path, data_dir: Path, config_path: str, max_frames: int | None = None) -> dict:
    """Every clip frame through the kiosk's Recognizer, one at a time, with no display: how many
    frames per second recognition itself can take (the --fast run shares the cores with drawing)."""
    config = load_config(config_path or None, str(data_dir))
    with Store(data_dir, create=False) as store:
        gallery = store.people.load_gallery(config.recognition.encoder)
    recognizer = build_recognizer(config, gallery, record_tracks=True)  # as `kiosk run` builds it
    capture = cv2.VideoCapture(str(clip))
    frame_seconds = 1 / (capture.get(cv2.CAP_PROP_FPS) or 30.0)
    images: list[np.ndarray] = []
    while max_frames is None or len(images) < max_frames:
        grabbed, frame = capture.read()
        if not grabbed:
            break
        images.append(np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    capture.release()
    recognizer.start()
    cpu_started, started = time.process_time(), time.perf_counter()
    for index, image in enumerate(images):
        recognizer.submit(Frame(image, index * frame_seconds, index))  # clip time keeps the tracker's timing
        while recognizer.frames_recognized <= index:
            time.sleep(0.0002)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    recognizer.stop()
    return {"frames": len(images), "fps": round(len(images) / wall, 2),
            "faces_per_second": round(recognizer.faces_encoded / wall, 2),
            "ms_per_frame": round(1000 * wall / len(images), 1), "cpu_seconds": round(cpu, 2)}


# --- running each side in its own process ---------------------------------------------------

def pinned(command: list[str], one_core: bool) -> list[str]:
    return (["taskset", "-c", "0"] if one_core else []) + command


def run_baseline(clip: Path, people: Path, scratch: Path, one_core: bool, max_frames: int | None) -> dict:
    out = scratch / f"baseline{'-1core' if one_core else ''}.json"
    command = [sys.executable, "-m", "kiosk.measure.bench", "--tutorial-loop", str(clip), str(people), str(out)]
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    subprocess.run(pinned(command, one_core), check=True, cwd=SOURCE_TREE)
    return json.loads(out.read_text())


def headless_env() -> dict[str, str]:
    """The environment of a `kiosk run` with no screen and no sound (SDL's dummy drivers)."""
    return dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")


def kiosk_command(config_path: str | None, data_dir: Path) -> list[str]:
    command = [sys.executable, "-m", "kiosk.cli"]
    if config_path:
        command += ["--config", config_path]
    return command + ["--data-dir", str(data_dir)]


def run_kiosk(clip: Path, data_dir: Path, config_path: str, scratch: Path, *, fast: bool, one_core: bool,
              max_frames: int | None) -> dict:
    """`kiosk run` on the clip with a headless screen; returns its --stats-json figures."""
    out = scratch / f"kiosk-{'fast' if fast else 'realtime'}{'-1core' if one_core else ''}.json"
    command = kiosk_command(config_path, data_dir) + [
        "run", "--source", f"file:{clip}", "--display", "headless", "--stats-json", str(out)]
    if fast:
        command.append("--fast")
    if max_frames:
        command += ["--max-frames", str(max_frames)]
    env = headless_env()
    subprocess.run(pinned(command, one_core), check=True, cwd=SOURCE_TREE, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


# --- comparing the two sides -----------------------------------------------------------------

def normalised(names: list[str]) -> list[str]:
    return sorted(name.lower() for name in names)


def agreement(baseline_frames: list[dict], kiosk_frames: list[dict]) -> dict:
    """Share of frames, among those where both sides show a name, on which the names are the same."""
    baseline_by_index = {f["index"]: normalised(f["names"]) for f in baseline_frames}
    compared = same = same_known = 0
    kiosk_frames = [f for f in kiosk_frames if f["index"] in baseline_by_index]
    for frame in kiosk_frames:
        theirs = baseline_by_index.get(frame["index"])
        ours = normalised(frame["names"])
        if not theirs or not ours:
            continue
        compared += 1
        same += ours == theirs
        same_known += {n for n in ours if n != "unknown"} == {n for n in theirs if n != "unknown"}
    return {"frames_compared": compared,
            "percent": round(100 * same / compared, 1) if compared else None,
            "known_names_percent": round(100 * same_known / compared, 1) if compared else None,
            # How many frames each side labels with an enrolled person's name at all.
            "frames": len(kiosk_frames),
            "baseline_named_frames": sum(1 for f in baseline_frames if _known(f["names"])),
            "kiosk_named_frames": sum(1 for f in kiosk_frames if _known(f["names"]))}


def _known(names: list[str]) -> bool:
    return any(name.lower() != "unknown" for name in names)


def baseline_latency(frames: list[dict]) -> dict:
    """The tutorial names a face on its first frame; the latency is that frame's processing time."""
    first_ms: dict[str, float] = {}
    for frame in frames:
        for name in frame["names"]:
            if name != "Unknown":
                first_ms.setdefault(name, frame["ms"])
    values = list(first_ms.values())
    return {"frames": 0 if values else None, "ms": round(statistics.median(values), 1) if values else None,
            "names": sorted(first_ms)}


def kiosk_latency(tracks: list[dict]) -> dict:
    """Median over named tracks of first-seen frame to confirmed name, in frames and ms."""
    named = [t for t in tracks if t.get("confirmed_index") is not None and t.get("name") not in (None, "unknown")]
    frames = [t["confirmed_index"] - t["first_seen_index"] for t in named]
    ms = [(t["confirmed_t"] - t["first_seen_t"]) * 1000 for t in named
          if t.get("confirmed_t") is not None and t.get("first_seen_t") is not None]
    return {"frames": statistics.median(frames) if frames else None,
            "ms": round(statistics.median(ms), 1) if ms else None,
            "names": sorted({t["name"] for t in named})}


def kiosk_figures(fast: dict, realtime: dict | None) -> dict:
    wall = fast["wall_seconds"] or float("nan")
    figures = {
        "fps": round(fast["frames_recognized"] / wall, 2),
        "faces_per_second": round(fast["faces_encoded"] / wall, 2),
        "frames_recognized": fast["frames_recognized"],
        "wall_seconds": fast["wall_seconds"],
        "cpu_seconds": fast["cpu_seconds"],
        "peak_rss_mb": fast["peak_rss_mb"],
        "fast_display_fps": fast["display_fps"],
    }
    if realtime is not None:
        figures.update(realtime_display_fps=realtime["display_fps"],
                       realtime_frames_recognized=realtime["frames_recognized"],
                       realtime_cpu_seconds=realtime["cpu_seconds"],
                       realtime_peak_rss_mb=realtime["peak_rss_mb"])
    return figures


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
    alone_command = [sys.executable, "-m", "kiosk.measure.bench", "--recognizer-alone", str(clip), str(data_dir),
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


# --- gallery scale and enrollment -----------------------------------------------------------

def gallery_scale(sizes=GALLERY_SIZES, repeats: int = 50, seed: int = 0) -> list[dict]:
    """Milliseconds to match one face against N synthetic encodings (median of repeats)."""
    rng = np.random.default_rng(seed)
    results = []
    for size in sizes:
        people = max(1, size // SAMPLES_PER_SYNTHETIC_PERSON)
        counts = [SAMPLES_PER_SYNTHETIC_PERSON] * people
        encodings = rng.normal(0, 1, (sum(counts), 128)).astype(np.float32)
        encodings /= np.linalg.norm(encodings, axis=1, keepdims=True)
        gallery = Gallery([f"person_{i}" for i in range(people)], counts, encodings)
        face = rng.normal(0, 1, (1, 128)).astype(np.float32)
        gallery.match(face, 0.6)  # warm-up
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            gallery.match(face, 0.6)
            times.append((time.perf_counter() - started) * 1000)
        results.append({"encodings": len(gallery), "people": people,
                        "ms_per_face": round(statistics.median(times), 3)})
    return results


def gallery_scale_single_blas_thread(sizes, repeats: int) -> list[dict]:
    """gallery_scale in a subprocess with OpenBLAS limited to one thread (set before numpy loads):
    on busy cores a multi-threaded product can stall waiting for a helper thread."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "kiosk.measure.bench", "--gallery-scale", ",".join(map(str, sizes)), str(repeats)]
    done = subprocess.run(command, check=True, cwd=SOURCE_TREE, env=env, capture_output=True, text=True)
    return json.loads(done.stdout)


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


# --- the command ------------------------------------------------------------------------------

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
                                              QUICK_SCENE_SECONDS if quick else SCENE_SECONDS)
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


# --- at rest, and when somebody arrives ---------------------------------------------------------

def scene_clips(scratch: Path, seconds: float) -> tuple[dict[str, Path], list[scenes.Arrival]]:
    """The still, noisy and arrivals clips (see scenes.py), written into SCRATCH."""
    hall = scenes.hall(SCENE_BACKGROUND)
    layers, arrivals, length = scenes.arrivals(hall, [(name, SAMPLE_DATA / "probes" / file)
                                                      for name, file in ARRIVING])
    clips = {label: scratch / f"{label}.mp4" for label in ("still", "noisy", "arrivals")}
    scenes.write_clip(clips["still"], scenes.still(hall, seconds))
    scenes.write_clip(clips["noisy"], scenes.noisy(hall, seconds))
    scenes.write_clip(clips["arrivals"], scenes.noisy(hall, length, seed=1, layers=layers))
    return clips, arrivals


def time_to_name(frames: list[dict], arrivals: list[scenes.Arrival], taken_at: dict[int, float]) -> list:
    """Seconds from when each arrival's first frame was taken from the camera to the first frame
    drawn with their name."""
    times = []
    for arrival in arrivals:
        start = taken_at.get(arrival.frame)
        named = next((f["t"] for f in frames if f["index"] >= arrival.frame and arrival.name in f["names"]), None)
        times.append(None if start is None or named is None else round(named - start, 3))
    return times


def time_to_find(tracks: list[dict], arrivals: list[scenes.Arrival], taken_at: dict[int, float]) -> list:
    """Seconds from each arrival's first frame to the first frame in which a face was found while
    they were arriving (before the next one)."""
    times = []
    for arrival, following in zip(arrivals, [*arrivals[1:], None], strict=True):
        end = following.frame if following is not None else float("inf")
        found = [t["first_seen_index"] for t in tracks if arrival.frame <= t["first_seen_index"] < end]
        start, seen = taken_at.get(arrival.frame), taken_at.get(min(found)) if found else None
        times.append(None if start is None or seen is None else round(seen - start, 3))
    return times


def tutorial_time_to_name(frames: list[dict], arrivals: list[scenes.Arrival]) -> list:
    """The tutorial loop keeping pace with the camera: frames until it names the person, plus the
    time it spends on the frame that does."""
    times = []
    for arrival in arrivals:
        named = next((f for f in frames if f["index"] >= arrival.frame and arrival.name in f["names"]), None)
        times.append(None if named is None else
                     round((named["index"] - arrival.frame) / scenes.FPS + named["ms"] / 1000, 3))
    return times


def spread(values: list) -> dict:
    known = [v for v in values if v is not None]
    return {"median": round(statistics.median(known), 3) if known else None,
            "worst": max(known) if known else None, "missed": len(values) - len(known)}


def scene_figures(people: Path, config_path: str, scratch: Path, seconds: float) -> dict:
    """CPU share of one core and detector runs per second for each scene in real time (`kiosk run`
    as it ships), and time to name for the arrivals, beside the tutorial loop's."""
    data_dir = enrolled_data_dir(people, config_path, scratch)
    clips, arrivals = scene_clips(scratch, seconds)
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


# --- liveness ------------------------------------------------------------------------------------

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


def _fmt(value, spec: str = ".1f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_report(results: dict) -> None:
    print(f"clip {results['clip']}, people {results['people']}, {results['cores']} core(s)"
          f"{f' (quick: first {QUICK_FRAMES} frames)' if results['quick'] else ''}")
    for key, title in (("all_cores", "all cores"), ("one_core", "one core (taskset -c 0)")):
        if key not in results:
            continue
        section = results[key]
        base, kiosk = section["baseline"], section["kiosk"]
        print(f"\n== clip, {title} ==")
        print(f"{'':28}{'baseline':>14}{'kiosk':>14}")
        rows = [
            ("frames recognized/s", _fmt(base["fps"], ".2f"), _fmt(kiosk["fps"], ".2f")),
            ("faces encoded/s", _fmt(base["faces_per_second"], ".2f"), _fmt(kiosk["faces_per_second"], ".2f")),
            ("latency, frames", _fmt(base["latency"]["frames"], "g"), _fmt(kiosk["latency"]["frames"], "g")),
            ("latency, ms", _fmt(base["latency"]["ms"]), _fmt(kiosk["latency"]["ms"])),
            ("CPU s", _fmt(base["cpu_seconds"], ".2f"), _fmt(kiosk["cpu_seconds"], ".2f")),
            ("peak RSS MB", _fmt(base["peak_rss_mb"]), _fmt(kiosk["peak_rss_mb"])),
            ("display fps (real time)", "-", _fmt(kiosk.get("realtime_display_fps"), ".2f")),
        ]
        for label, left, right in rows:
            print(f"{label:28}{left:>14}{right:>14}")
        agree = kiosk["agreement"]
        alone = kiosk["recognizer_alone"]
        print(f"speed-up (recognized frames/s, --fast run): {_fmt(section['speedup'], '.2f')}x")
        print(f"kiosk recognition stage alone, every frame, no display: {alone['fps']:.2f} frames/s "
              f"({alone['ms_per_frame']:.1f} ms/frame, {alone['faces_per_second']:.2f} faces encoded/s), "
              f"{alone['fps'] / base['fps']:.2f}x the baseline")
        print(f"agreement (real-time run): {_fmt(agree['percent'])} % of {agree['frames_compared']} frames "
              f"where both show a name (known names only: {_fmt(agree['known_names_percent'])} %)")
        print(f"frames showing an enrolled name: baseline {agree['baseline_named_frames']}, "
              f"kiosk {agree['kiosk_named_frames']} of {agree['frames']}")
    print("\n== gallery matching, one face per call (median ms/face) ==")
    print(f"{'encodings':>10}{'people':>8}{'default BLAS':>14}{'1 BLAS thread':>15}")
    for row, single in zip(results["gallery"], results["gallery_one_blas_thread"], strict=True):
        print(f"{row['encodings']:>10}{row['people']:>8}{row['ms_per_face']:>14.3f}{single['ms_per_face']:>15.3f}")
    if "scenes" in results:
        scene = results["scenes"]
        print("\n== at rest and arriving, real time (CPU share of one core after start-up) ==")
        for label, title in (("still", "still empty scene"), ("noisy", "noise, light drifting"),
                             ("arrivals", "three people walk in")):
            row = scene[label]
            share, reading = (_fmt(None if row[key] is None else 100 * row[key]) for key in
                              ("cpu_share", "source_cpu_share"))
            print(f"{title:24}{share:>6} % CPU ({reading} % reading the file){row['detector_per_second']:>7.2f}"
                  f" detector runs/s{row['display_fps']:>6.1f} fps shown")
        found = scene["arrivals"]["time_to_find"]
        print(f"time to find: kiosk median {_fmt(found['median'], '.3f')} s, worst {_fmt(found['worst'], '.3f')} s, "
              f"missed {found['missed']}")
        ours, theirs = scene["arrivals"]["time_to_name"], scene["tutorial_time_to_name"]
        print(f"time to name: kiosk median {_fmt(ours['median'], '.3f')} s, worst {_fmt(ours['worst'], '.3f')} s, "
              f"missed {ours['missed']}; tutorial loop median {_fmt(theirs['median'], '.3f')} s, worst "
              f"{_fmt(theirs['worst'], '.3f')} s, missed {theirs['missed']}")
        print(f"names shown in the arrivals clip: {', '.join(scene['arrivals']['names_shown']) or 'none'}")
    if "liveness" in results:
        live = results["liveness"]
        print("\n== liveness check (recognition.liveness: both), clip in real time ==")
        print(f"CPU share {100 * live['cpu_share_off']:.1f} % off, {100 * live['cpu_share_on']:.1f} % on: "
              f"{_fmt(live['cpu_seconds_per_face_second'], '.3f')} CPU s per second of a named face "
              f"({live['face_seconds']} s of the clip)")
        timing = live["time_to_pass"]
        print(f"named tracks passed {live['passed']} of {live['named_tracks']}; time to pass median "
              f"{_fmt(timing['median'], '.3f')} s, worst {_fmt(timing['worst'], '.3f')} s")
    enrollment = results["enrollment"]
    print("\n== enrollment of people/ ==")
    for label in ("serial", "all_cores"):
        row = enrollment[label]
        print(f"{label:10} {row['workers']} worker(s): {row['seconds']:.2f} s for {row['photos']} photos")


def _tutorial_loop_main(argv: list[str]) -> int:
    """Subprocess entry: run the tutorial loop and write its figures as JSON."""
    parser = argparse.ArgumentParser(prog="kiosk.bench --tutorial-loop")
    parser.add_argument("clip")
    parser.add_argument("people")
    parser.add_argument("out")
    parser.add_argument("--max-frames", type=int)
    args = parser.parse_args(argv)
    result = run_tutorial_loop(Path(args.clip), Path(args.people), args.max_frames)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--tutorial-loop"]:
        sys.exit(_tutorial_loop_main(sys.argv[2:]))
    if sys.argv[1:2] == ["--recognizer-alone"] and len(sys.argv) == 6:
        limit = int(sys.argv[5]) or None
        print(json.dumps(run_recognizer_alone(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], limit)))
        sys.exit(0)
    if sys.argv[1:2] == ["--gallery-scale"] and len(sys.argv) == 4:
        print(json.dumps(gallery_scale(tuple(map(int, sys.argv[2].split(","))), int(sys.argv[3]))))
        sys.exit(0)
    sys.exit("usage: python -m kiosk.bench --tutorial-loop CLIP PEOPLE OUT [--max-frames N]\n"
             "       python -m kiosk.bench --gallery-scale SIZE,SIZE,... REPEATS")
