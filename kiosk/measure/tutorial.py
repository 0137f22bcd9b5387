"""The baseline `kiosk bench` measures against: the classic face_recognition video loop.

Resize every frame to 500 px, HOG with one upsample, encode every face, vote among the matching
known encodings: the loop most tutorials teach. Run as its own process (python -m
kiosk.measure.tutorial CLIP PEOPLE OUT), so its CPU time and peak memory are its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import face_recognition
import numpy as np

from kiosk.util import peak_rss_mb
from kiosk.vision.images import PHOTO_SUFFIXES

TUTORIAL_WIDTH = 500


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


def main(argv: list[str] | None = None) -> int:
    """Run the tutorial loop on CLIP with the people of PEOPLE and write its figures to OUT as JSON."""
    parser = argparse.ArgumentParser(prog="python -m kiosk.measure.tutorial", description=main.__doc__)
    parser.add_argument("clip")
    parser.add_argument("people")
    parser.add_argument("out")
    parser.add_argument("--max-frames", type=int)
    args = parser.parse_args(argv)
    result = run_tutorial_loop(Path(args.clip), Path(args.people), args.max_frames)
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
