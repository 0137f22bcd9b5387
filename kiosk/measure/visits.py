"""`kiosk eval --live`: the live decision measured on visits, one person after another in front of
the camera, made from photos and run through `kiosk run` as it ships.

A visit is one person standing before the kiosk for VISIT_SECONDS: their photos are shown in
turn, each for an equal share of the visit, and every frame is a slightly different copy of the
photo (a small random shift, turn, change of scale and of light, sensor noise and now and then
a little blur), as a camera sees a person who stands still but not perfectly. Between visits the
hall is empty for longer than recognition.track_timeout, so each visit is its own track. The
clip runs at CLIP_FPS through `kiosk run --fast` (every frame recognized, as a kiosk keeping up
at that rate would), and each track's confirmed names are read from --stats-json.

A member's visit is right when their name was confirmed, wrong when another member's was; a
stranger's visit counts when any member's name was confirmed for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kiosk.measure import scenes
from kiosk.measure.evaluate import loose_photos
from kiosk.measure.processes import headless_env, kiosk_command
from kiosk.paths import DB_NAME, SOURCE_TREE
from kiosk.vision.images import ImageRejected, load_image

SIZE = scenes.SIZE
CLIP_FPS = 10.0
VISIT_SECONDS = 2.0
GAP_SECONDS = 1.5  # longer than the default track_timeout (1 s): each visit is a new track
FACE_CROP = 0.6  # share of the photo's shorter side kept around its centre: the face, not the crowd
PORTRAIT = 220  # pixels the kept square is drawn at: a face of about 150 px, a metre away
NOISE = 4.0
HALL_GREY = 110


@dataclass(frozen=True)
class Visit:
    name: str  # the person's folder name ("" for a stranger)
    photos: tuple[Path, ...]
    start: int  # first frame of the visit
    end: int  # first frame after it


def portrait(photo: Path) -> np.ndarray:
    """The middle of PHOTO (the labelled face of a news photo) at PORTRAIT pixels."""
    image = load_image(photo.read_bytes()).pixels
    height, width = image.shape[:2]
    side = max(1, round(min(height, width) * FACE_CROP))
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(image[top:top + side, left:left + side], (PORTRAIT, PORTRAIT), interpolation=cv2.INTER_AREA)


def jittered(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One frame: PICTURE placed in the middle of the hall, slightly moved, turned, scaled and lit
    differently, with sensor noise and now and then a little blur."""
    frame = np.full((SIZE[1], SIZE[0], 3), HALL_GREY, np.uint8)
    centre = (PORTRAIT / 2, PORTRAIT / 2)
    motion = np.asarray(cv2.getRotationMatrix2D(centre, rng.normal(0, 2.0), 1 + rng.normal(0, 0.03)), np.float64)
    motion[:, 2] += [(SIZE[0] - PORTRAIT) / 2 + rng.normal(0, 3), (SIZE[1] - PORTRAIT) / 2 + rng.normal(0, 3)]
    cv2.warpAffine(picture, motion, SIZE, dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
    if rng.random() < 0.2:
        cv2.GaussianBlur(frame, (5, 5), 0, dst=frame)
    light = rng.normal(1.0, 0.06)
    noisy = frame.astype(np.float32) * light + rng.normal(0, NOISE, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def plan(people: list[tuple[str, list[Path]]]) -> list[Visit]:
    """Visits for PEOPLE ((name, photos) in order) with the gaps between them."""
    stay, gap = round(VISIT_SECONDS * CLIP_FPS), round(GAP_SECONDS * CLIP_FPS)
    visits, start = [], gap
    for name, photos in people:
        visits.append(Visit(name, tuple(photos), start, start + stay))
        start += stay + gap
    return visits


def frames(visits: list[Visit], seed: int = 0) -> Iterator[np.ndarray]:
    """Every frame of the clip for VISITS, the same each time for the same seed."""
    rng = np.random.default_rng(seed)
    empty = np.full((SIZE[1], SIZE[0], 3), HALL_GREY, np.uint8)
    index = 0
    for visit in visits:
        while index < visit.start:
            yield np.clip(empty + rng.normal(0, NOISE, empty.shape), 0, 255).astype(np.uint8)
            index += 1
        pictures = []
        for photo in visit.photos:
            try:
                pictures.append(portrait(photo))
            except (ImageRejected, OSError) as exc:  # a broken photo leaves its visit to the others
                print(f"kiosk: {photo}: skipped ({exc})", file=sys.stderr)
        length = visit.end - visit.start
        for offset in range(length):
            yield jittered(pictures[offset * len(pictures) // length], rng) if pictures else empty
            index += 1
    for _ in range(round(GAP_SECONDS * CLIP_FPS)):
        yield empty


def write_clip(path: Path, visits: list[Visit], seed: int = 0) -> int:
    """The clip for VISITS as MPEG-4 at CLIP_FPS; returns its frame count."""
    return scenes.write_clip(path, frames(visits, seed), fps=CLIP_FPS)


def run_clip(clip: Path, data_dir: Path, config_path: str | None, stats: Path) -> dict:
    """`kiosk run` on CLIP, every frame recognized, headless; its --stats-json figures."""
    command = kiosk_command(config_path, data_dir) + [
        "run", "--source", f"file:{clip}", "--display", "headless", "--fast", "--stats-json", str(stats)]
    subprocess.run(command, check=True, cwd=SOURCE_TREE, env=headless_env(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return json.loads(stats.read_text())


def centred(track: dict) -> bool:
    """The track of the visiting face, not of a face at the edge of a news photo."""
    box = track.get("box")
    if box is None:
        return True
    top, right, bottom, left = box
    x, y = (left + right) / 2, (top + bottom) / 2
    return abs(x - SIZE[0] / 2) < PORTRAIT / 3 and abs(y - SIZE[1] / 2) < PORTRAIT / 3


def outcomes(visits: list[Visit], tracks: list[dict]) -> list[dict]:
    """Per visit: the names confirmed for its face, and how it counts."""
    results = []
    for visit in visits:
        mine = [t for t in tracks if visit.start <= t["first_seen_index"] < visit.end + 1 and centred(t)]
        names = [n for t in mine for n in t.get("names", [])]
        members = [n for n in names if n != "unknown"]
        if visit.name:
            verdict = "right" if visit.name in members else "wrong" if members else \
                "unknown" if names else "unconfirmed"
        else:
            verdict = "named" if members else "unknown" if names else "unconfirmed"
        results.append({"person": visit.name, "photos": [p.name for p in visit.photos], "names": names,
                        "tracks": len(mine), "verdict": verdict,
                        "evidence": [t.get("evidence") for t in mine if t.get("evidence")]})
    return results


def stranger_photos(root: Path) -> list[list[Path]]:
    """One list of photos per stranger: each folder below ROOT is one person, a loose photo one too."""
    by_person: dict[str, list[Path]] = {}
    for file in loose_photos(root):
        parts = Path(file).parts
        by_person.setdefault(parts[0] if len(parts) > 1 else file, []).append(root / file)
    return [by_person[key] for key in sorted(by_person)]


def print_report(report: dict) -> None:
    print(f"visits of {report['visit_seconds']:g} s at {report['clip_fps']:g} frames a second, through kiosk run")
    for label in ("members", "strangers"):
        group = report.get(label)
        if group is None:
            continue
        total, right, named = group["visits"], group.get("right", 0), group.get("named", 0)
        if label == "members":
            print(f"  members:   {right} of {total} right ({100 * right / total:.1f} %), "
                  f"{group.get('wrong', 0)} wrong, {group.get('unknown', 0)} unknown, "
                  f"{group.get('unconfirmed', 0)} never confirmed")
        else:
            print(f"  strangers: {named} of {total} named ({100 * named / total:.1f} %), "
                  f"{group.get('unknown', 0)} unknown, {group.get('unconfirmed', 0)} never confirmed")
        for photos, part in sorted(group["by_photos"].items()):
            counts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(part.items()))
            print(f"    visits with {photos} photo(s): {counts}")
        for result in group["results"]:
            if result["verdict"] in ("wrong", "named"):
                print(f"    {result['person'] or result['photos'][0]}: named {', '.join(result['names'])}")


def measure(people: list[tuple[str, list[Path]]], strangers: list[list[Path]], data_dir: Path,
            config_path: str | None, scratch: Path, log=lambda message: None) -> dict:
    """Visits of PEOPLE (enrolled in DATA_DIR) and of STRANGERS (each a list of one stranger's
    photos) through `kiosk run`; figures and every visit's outcome."""
    if not (data_dir / DB_NAME).exists():
        raise FileNotFoundError(f"{data_dir}: no kiosk store here")
    report: dict = {"clip_fps": CLIP_FPS, "visit_seconds": VISIT_SECONDS}
    for label, group in (("members", people), ("strangers", [("", photos) for photos in strangers])):
        if not group:
            continue
        visits = plan(group)
        clip = scratch / f"visits-{label}.mp4"
        count = write_clip(clip, visits, seed=1 if label == "members" else 2)
        log(f"{label}: {len(visits)} visits, {count} frames; running the kiosk on them")
        stats = run_clip(clip, data_dir, config_path, scratch / f"visits-{label}.json")
        results = outcomes(visits, stats["tracks"])
        verdicts = [r["verdict"] for r in results]
        by_photos: dict[str, dict[str, int]] = {}
        for result in results:
            kind = "1" if len(result["photos"]) == 1 else "2+"
            by_photos.setdefault(kind, {}).setdefault(result["verdict"], 0)
            by_photos[kind][result["verdict"]] += 1
        report[label] = {"visits": len(results), **{v: verdicts.count(v) for v in sorted(set(verdicts))},
                         "by_photos": by_photos, "wall_seconds": stats["wall_seconds"], "results": results}
    return report
