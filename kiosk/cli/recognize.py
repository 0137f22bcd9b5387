"""Handlers for recognition: the live kiosk (`run`) and naming the faces in photos (`identify`)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kiosk.cli.common import UsageError, open_store
from kiosk.config import CameraConfig, Config, DisplayConfig, check_setting
from kiosk.enrollment.encoding import worker_count
from kiosk.live.daemon import RunOptions, run
from kiosk.pool import WorkerPool
from kiosk.util import die_with_parent
from kiosk.vision.calibration import rule_for
from kiosk.vision.encoders import require_encoder
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.identify import encode_faces, faces_in_photo
from kiosk.vision.images import PHOTO_SUFFIXES, ImageLimits, ImageRejected
from kiosk.vision.matcher import Gallery, MatchRule


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be at least 1")
    if args.source:
        check_setting(CameraConfig, "source", args.source, "--source")
    if args.display:
        check_setting(DisplayConfig, "mode", args.display, "--display")
    if args.stats_json and not Path(args.stats_json).resolve().parent.is_dir():
        raise UsageError(f"--stats-json {args.stats_json}: its folder does not exist")
    options = RunOptions(source=args.source, display=args.display, snapshot=args.snapshot,
                         max_frames=args.max_frames, fast=args.fast, loop=args.loop, stats_json=args.stats_json)
    return run(config, options)


def identify_photo(engine: FaceEngine, gallery, rule: MatchRule, limits: ImageLimits, name: str) -> dict:
    """One image's entry for `kiosk identify`: each face's name, distance and box, or the error."""
    entry: dict = {"image": name, "faces": [], "error": None}
    try:
        path = Path(name)
        if not path.is_file():  # /dev/zero or a FIFO would be read for ever
            raise ImageRejected("not a regular file" if path.exists() else "no such file")
        if path.stat().st_size > limits.max_bytes:
            raise ImageRejected(f"file too large (limit {limits.max_bytes / 1e6:.1f} MB)")
        found = faces_in_photo(engine, path.read_bytes(), limits)
    except (OSError, ImageRejected) as exc:
        entry["error"] = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return entry
    matches = gallery.match(encode_faces(engine, found), rule)
    for box, match in zip(found.boxes_in_original(), matches, strict=True):
        entry["faces"].append({"name": match.name, "distance": round(match.distance, 4), "box": list(box)})
    return entry


# Each identify worker's state, set once by _init_identify (forked: the gallery is shared, not copied).
_work: tuple[FaceEngine, Gallery, MatchRule, ImageLimits]


def _init_identify(settings: EngineSettings, gallery: Gallery, rule: MatchRule, limits: ImageLimits,
                   parent: int) -> None:
    global _work
    die_with_parent(parent)
    _work = (FaceEngine(settings), gallery, rule, limits)


def _identify_in_worker(name: str) -> dict:
    return identify_photo(*_work, name)



def identify_photos(config: Config, gallery: Gallery, names: list[str]) -> list[dict]:
    """identify_photo for each of NAMES, in order, on as many cores as enrollment.workers allows
    (each worker holds its own models: see worker_count)."""
    settings = EngineSettings.identification(config)
    require_encoder(settings.encoder)  # a missing model is one line here, not one per photo
    rule, _ = rule_for(gallery, config.recognition)
    limits = ImageLimits.from_config(config.enrollment)
    workers = min(worker_count(config.enrollment), len(names))
    if workers <= 1:
        engine = FaceEngine(settings)
        return [identify_photo(engine, gallery, rule, limits, name) for name in names]
    pool = WorkerPool(workers, _init_identify, lambda _: (settings, gallery, rule, limits, os.getpid()))
    try:
        results = dict(pool.map(_identify_in_worker, enumerate(names), lost=lambda index: {
            "image": names[index], "faces": [], "error": "its process died (out of memory, or stuck)"}))
    finally:
        pool.close()
    return [results[index] for index in range(len(names))]


def photo_names(arguments: list[str]) -> list[str]:
    """The photos named, with a folder standing for the photos in it and below, by name. A name
    that does not exist, or a folder with no photo, is a UsageError: a typo, not a photo to skip."""
    names = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES
                           and not p.name.startswith(".") and p.is_file())
            if not found:
                raise UsageError(f"{argument}: no photos in this folder ({', '.join(sorted(PHOTO_SUFFIXES))})")
            names += found
        elif not path.exists() and not path.is_symlink():
            raise UsageError(f"{argument}: no such file or folder")
        else:
            names.append(argument)
    return names


def cmd_identify(args: argparse.Namespace, config: Config) -> int:
    names = photo_names(args.images)
    with open_store(config, create=True) as store:
        gallery = store.people.load_gallery(config.recognition.encoder)
    results = identify_photos(config, gallery, names)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return 0
    for entry in results:
        if entry["error"]:
            print(f"{entry['image']}: error: {entry['error']}")
        elif not entry["faces"]:
            print(f"{entry['image']}: no face found")
        for face in entry["faces"]:
            print(f"{entry['image']}: {face['name']} (distance {face['distance']:.2f}) at {face['box']}")
    return 0
