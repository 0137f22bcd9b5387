"""Faces the daemon saw but could not name (recognition.capture_unknown), and `kiosk unknowns`.

Each is a JPEG crop in DATA_DIR/unknowns/ (0600) plus a row with its embedding. The set is
bounded: after each new face, faces older than recognition.unknown_max_age_days and the oldest
beyond recognition.unknown_max_count are deleted. `label` turns one into a sample of a person
without re-encoding (the embedding was made by the live pipeline with detection settings).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kiosk.cli import UsageError
from kiosk.config import Config, RecognitionConfig
from kiosk.corrections import beyond_limits, crop_name, jpeg_bytes
from kiosk.store import SampleSettings, Store, embedding_blob, sha256_hex, write_private_file

UNKNOWNS_DIR = "unknowns"


def unknowns_dir(store: Store) -> Path:
    return store.data_dir / UNKNOWNS_DIR


def save_unknown_crop(store: Store, config: Config, rgb_crop: np.ndarray, embedding: np.ndarray,
                      track_id: int | None) -> int:
    """Keep one unrecognised face (crop + embedding), then trim the set to its limits; returns its id."""
    now = time.time()
    crop_file = crop_name(now)
    write_private_file(unknowns_dir(store) / crop_file, jpeg_bytes(rgb_crop))
    unknown_id = store.add_unknown(now, embedding, crop_file, track_id)
    prune_unknowns(store, config.recognition, now)
    return unknown_id


def prune_unknowns(store: Store, limits: RecognitionConfig, now: float | None = None) -> int:
    """Delete faces past the age limit and the oldest beyond the count limit; returns how many."""
    now = time.time() if now is None else now
    kept = [(f.id, f.at) for f in store.unknowns()]  # oldest first
    return delete_unknown_faces(store, beyond_limits(kept, now, limits.unknown_max_age_days,
                                                     limits.unknown_max_count))


def delete_unknown_faces(store: Store, ids: list[int]) -> int:
    if not ids:
        return 0
    crops = store.delete_unknowns(ids)
    for crop_file in crops:
        (unknowns_dir(store) / crop_file).unlink(missing_ok=True)
    return len(crops)


def label_unknown(store: Store, config: Config, unknown_id: int, person: str) -> None:
    """Enroll unknown face UNKNOWN_ID as a sample of PERSON; its crop becomes the kept photo."""
    from kiosk.engine import ENCODER_MODEL
    face = next((f for f in store.unknowns() if f.id == unknown_id), None)
    if face is None:
        raise UsageError(f"unknown face {unknown_id}: no such id (see kiosk unknowns list)")
    crop_path = unknowns_dir(store) / face.crop_file
    crop = crop_path.read_bytes() if crop_path.is_file() else None
    digest = sha256_hex(crop if crop is not None else embedding_blob(face.embedding))
    if config.enrollment.keep_photos and crop is not None:
        store.keep_photo(digest, crop)
    live = config.detection
    settings = SampleSettings(ENCODER_MODEL, live.model, live.landmarks, live.jitters)
    store.label_unknown(unknown_id, person, settings, digest, f"unknowns/{face.crop_file}")
    crop_path.unlink(missing_ok=True)


def cmd_unknowns_list(args: argparse.Namespace, config: Config) -> int:
    from kiosk.admin import existing_store, format_time
    with existing_store(config) as store:
        faces = store.unknowns()
        folder = unknowns_dir(store)
    rows = [{"id": f.id, "at": f.at, "track_id": f.track_id, "crop": str(folder / f.crop_file)} for f in faces]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"{row['id']}\t{format_time(row['at'])}\ttrack {row['track_id']}\t{row['crop']}")
    if not rows:
        print("no unknown faces kept" + ("" if config.recognition.capture_unknown
                                         else " (recognition.capture_unknown is off)"))
    return 0


def cmd_unknowns_label(args: argparse.Namespace, config: Config) -> int:
    from kiosk.admin import checked_name, existing_store
    name = checked_name(args.name)
    with existing_store(config) as store:
        label_unknown(store, config, args.id, name)
    print(f"unknown face {args.id} enrolled as {name}")
    return 0


def cmd_unknowns_purge(args: argparse.Namespace, config: Config) -> int:
    from kiosk.admin import existing_store
    with existing_store(config) as store:
        deleted = delete_unknown_faces(store, [f.id for f in store.unknowns()])
        store.checkpoint()
        folder = unknowns_dir(store)
        leftovers = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        for path in leftovers:  # crops whose row never committed (a crash between the two writes)
            path.unlink(missing_ok=True)
    print(f"deleted {deleted} unknown face(s)")
    return 0
