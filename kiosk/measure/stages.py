"""Parts of the kiosk timed alone, each in a process of its own (python -m kiosk.measure.stages ...):
the recognition stage on every frame of a clip, and matching against galleries of many sizes.

A process of its own because what it measures must not share the interpreter with the caller:
`kiosk run --fast` shares its cores with drawing, and OpenBLAS's thread count is fixed when numpy loads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import load_config
from kiosk.frame import Frame
from kiosk.live.recognition import build_recognizer
from kiosk.paths import SOURCE_TREE
from kiosk.store import Store
from kiosk.vision.encoders import DlibEncoder
from kiosk.vision.matcher import Gallery

GALLERY_SIZES = (1_000, 10_000, 100_000)
SAMPLES_PER_SYNTHETIC_PERSON = 10


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


def synthetic_gallery(people: int, rng: np.random.Generator) -> Gallery:
    """PEOPLE made-up people of SAMPLES_PER_SYNTHETIC_PERSON random unit encodings each."""
    counts = [SAMPLES_PER_SYNTHETIC_PERSON] * people
    encodings = rng.normal(0, 1, (sum(counts), DlibEncoder.dimensions)).astype(np.float32)
    encodings /= np.linalg.norm(encodings, axis=1, keepdims=True)
    return Gallery([f"person_{i}" for i in range(people)], counts, encodings)


def gallery_scale(sizes=GALLERY_SIZES, repeats: int = 50, seed: int = 0) -> list[dict]:
    """Milliseconds to match one face against N synthetic encodings (median of repeats)."""
    rng = np.random.default_rng(seed)
    results = []
    for size in sizes:
        people = max(1, size // SAMPLES_PER_SYNTHETIC_PERSON)
        gallery = synthetic_gallery(people, rng)
        face = rng.normal(0, 1, (1, DlibEncoder.dimensions)).astype(np.float32)
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
    command = [sys.executable, "-m", "kiosk.measure.stages", "gallery-scale", ",".join(map(str, sizes)), str(repeats)]
    done = subprocess.run(command, check=True, cwd=SOURCE_TREE, env=env, capture_output=True, text=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    """Print one stage's figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m kiosk.measure.stages", description=main.__doc__)
    stages = parser.add_subparsers(dest="stage", required=True)
    alone = stages.add_parser("recognizer-alone", help="every clip frame through the recognition stage")
    alone.add_argument("clip")
    alone.add_argument("data_dir")
    alone.add_argument("config", help="config file, or '' for the defaults")
    alone.add_argument("max_frames", type=int, help="0 for all")
    scale = stages.add_parser("gallery-scale", help="matching time against synthetic galleries")
    scale.add_argument("sizes", help="encodings per gallery, comma-separated")
    scale.add_argument("repeats", type=int)
    args = parser.parse_args(argv)
    if args.stage == "recognizer-alone":
        result: object = run_recognizer_alone(Path(args.clip), Path(args.data_dir), args.config,
                                              args.max_frames or None)
    else:
        result = gallery_scale(tuple(map(int, args.sizes.split(","))), args.repeats)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
