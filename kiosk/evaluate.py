"""`kiosk eval`: recognition accuracy on a folder of person folders, with a held-out split.

The first N photos (by name) of each person are enrolled into a scratch store through the same
import as `kiosk enroll`; every other photo is a probe, encoded as `kiosk identify` does and
matched against that gallery at each tolerance. People given with --exclude are never enrolled,
so all their photos are probes that should come out unknown: any name given to them is a false
accept.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.matcher import UNKNOWN, Gallery

DEFAULT_TOLERANCES = (0.4, 0.5, 0.6)


@dataclass(frozen=True)
class Probe:
    person: str  # whose folder the photo is in
    file: str  # relative to the photo folder
    enrolled: bool  # False for excluded people: the right answer is unknown
    encoding: np.ndarray | None  # None when no face was found
    reason: str = ""  # why there is no encoding


def split_photos(root: Path, enroll_count: int, exclude: set[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Per person the photos to enroll (first N by name), and (person, file) probes for the rest."""
    from kiosk.photos import scan_people
    people, _ = scan_people(root)
    to_enroll: dict[str, list[str]] = {}
    probes: list[tuple[str, str]] = []
    for person in people:
        files = sorted(person.photo_files)
        count = 0 if person.name in exclude else enroll_count
        if count:
            to_enroll[person.name] = files[:count]
        probes += [(person.name, file) for file in files[count:]]
    return to_enroll, probes


def enroll_subset(store, root: Path, to_enroll: dict[str, list[str]], config: Config, scratch: Path):
    """Copy the chosen photos into a scratch folder of person folders and enroll it."""
    from kiosk.enroll import image_limits, import_folder
    from kiosk.photos import read_photo
    max_bytes = image_limits(config.enrollment).max_bytes
    folder = scratch / "enroll"
    for files in to_enroll.values():
        for file in files:
            target = folder / file
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.write_bytes(read_photo(root, file, max_bytes))
            except ValueError:
                continue  # unreadable: import_folder never sees it, the person may end up not enrolled
    folder.mkdir(exist_ok=True)
    return import_folder(store, folder, config.enrollment, show_bar=False)


def encode_probes(root: Path, probes: list[tuple[str, str]], enrolled_people: set[str], config: Config) -> list[Probe]:
    """Encode each probe photo as `kiosk identify` does; the largest face is the person's."""
    from kiosk.engine import EngineSettings, FaceEngine
    from kiosk.enroll import image_limits
    from kiosk.images import ImageRejected, load_image
    from kiosk.photos import read_photo
    engine = FaceEngine(EngineSettings.identification(config))
    limits = image_limits(config.enrollment)
    results = []
    for person, file in probes:
        enrolled = person in enrolled_people
        try:
            image = load_image(read_photo(root, file, limits.max_bytes), limits)
        except (ValueError, ImageRejected) as exc:
            results.append(Probe(person, file, enrolled, None, str(exc)))
            continue
        boxes = engine.detect(image.pixels)
        if not boxes:
            results.append(Probe(person, file, enrolled, None, "no face found"))
            continue
        largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        results.append(Probe(person, file, enrolled, engine.encode(image.pixels, [largest])[0]))
    return results


def score(probes: list[Probe], gallery: Gallery, tolerance: float) -> dict:
    """Counts and rates at one tolerance, plus the probes that came out wrong."""
    counts = {"correct": 0, "unknown": 0, "wrong": 0, "no_face": 0, "rejected": 0, "false_accepts": 0}
    mistakes = []
    with_faces = [p for p in probes if p.encoding is not None]
    matches = gallery.match(np.array([p.encoding for p in with_faces]).reshape(-1, 128), tolerance)
    match_of = {id(p): m for p, m in zip(with_faces, matches)}
    for probe in probes:
        match = match_of.get(id(probe))
        if probe.enrolled:
            outcome = ("no_face" if match is None else "correct" if match.name == probe.person
                       else "unknown" if match.name == UNKNOWN else "wrong")
        else:
            outcome = "no_face" if match is None else "rejected" if match.name == UNKNOWN else "false_accepts"
        if outcome == "no_face" and not probe.enrolled:
            outcome = "rejected"  # nobody named: the right answer for someone not enrolled
        counts[outcome] += 1
        if outcome in ("unknown", "wrong", "no_face", "false_accepts"):
            mistakes.append({"file": probe.file, "expected": probe.person if probe.enrolled else UNKNOWN,
                             "got": match.name if match else "no face",
                             "distance": round(match.distance, 4) if match else None})
    genuine = sum(p.enrolled for p in probes)
    impostors = len(probes) - genuine
    return {
        "tolerance": tolerance, "probes": genuine, **counts, "impostor_probes": impostors,
        "accuracy": counts["correct"] / genuine if genuine else None,
        "unknown_rate": counts["unknown"] / genuine if genuine else None,
        "wrong_rate": counts["wrong"] / genuine if genuine else None,
        "no_face_rate": counts["no_face"] / genuine if genuine else None,
        "false_accept_rate": counts["false_accepts"] / impostors if impostors else None,
        "mistakes": mistakes,
    }


def evaluate(root: str | os.PathLike, config: Config, enroll_count: int = 1, exclude: tuple[str, ...] = (),
             tolerances: tuple[float, ...] = DEFAULT_TOLERANCES) -> dict:
    """Enroll the first photos of each person, then score the rest at each tolerance."""
    from kiosk.store import Store
    root = Path(root)
    to_enroll, probe_files = split_photos(root, enroll_count, set(exclude))
    with tempfile.TemporaryDirectory(prefix="kiosk-eval-") as scratch:
        with Store(Path(scratch) / "data") as store:
            report = enroll_subset(store, root, to_enroll, config, Path(scratch))
            gallery = store.load_gallery()
    enrolled_people = set(gallery.names)
    # Someone meant to be enrolled whose photos all failed is still expected by name.
    probes = encode_probes(root, probe_files, enrolled_people | set(to_enroll), config)
    return {
        "folder": str(root), "enroll_per_person": enroll_count, "excluded": sorted(exclude),
        "enrolled_people": gallery.people, "enrolled_photos": report.added,
        "not_enrolled": sorted(set(to_enroll) - enrolled_people),
        "enroll_skipped": [{"file": s.file, "reason": s.reason} for s in report.skipped],
        "results": [score(probes, gallery, tolerance) for tolerance in tolerances],
    }


def print_report(report: dict, config_tolerance: float) -> None:
    excluded = ", ".join(report["excluded"]) or "nobody"
    print(f"{report['folder']}: {report['enrolled_photos']} photo(s) enrolled for {report['enrolled_people']} "
          f"people (first {report['enroll_per_person']} of each; excluded: {excluded})")
    for item in report["enroll_skipped"]:
        print(f"  enrollment skipped {item['file']}: {item['reason']}")
    for name in report["not_enrolled"]:
        print(f"  {name}: no photo could be enrolled")
    print(f"{'tolerance':>9} {'probes':>7} {'accuracy':>9} {'unknown':>8} {'wrong':>6} {'no face':>8} "
          f"{'impostors':>10} {'false accepts':>14}")
    for row in report["results"]:
        print(f"{row['tolerance']:>9.2f} {row['probes']:>7} {_rate(row['accuracy']):>9} "
              f"{_rate(row['unknown_rate'], row['unknown']):>8} {_rate(row['wrong_rate'], row['wrong']):>6} "
              f"{_rate(row['no_face_rate'], row['no_face']):>8} {row['impostor_probes']:>10} "
              f"{_rate(row['false_accept_rate'], row['false_accepts']):>14}")
    chosen = min(report["results"], key=lambda row: abs(row["tolerance"] - config_tolerance), default=None)
    if chosen and chosen["mistakes"]:
        print(f"not right at tolerance {chosen['tolerance']:.2f}:")
        for item in chosen["mistakes"]:
            distance = "" if item["distance"] is None else f" (distance {item['distance']:.2f})"
            print(f"  {item['file']}: expected {item['expected']}, got {item['got']}{distance}")


def _rate(rate: float | None, count: int | None = None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.1%}" if count is None else f"{count} ({rate:.0%})"


def parse_tolerances(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--tolerances: expected numbers separated by commas, got {text!r}") from None
    if not values or any(not 0 < v <= 2 for v in values):
        raise ValueError(f"--tolerances: each value must be above 0 and at most 2, got {text!r}")
    return values


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    from kiosk.cli import UsageError
    from kiosk.photos import scan_people
    folder = Path(args.photos_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of person folders")
    if args.enroll < 1:
        raise UsageError("--enroll must be at least 1")
    try:
        tolerances = parse_tolerances(args.tolerances) if args.tolerances else \
            tuple(sorted(set(DEFAULT_TOLERANCES) | {config.recognition.tolerance}))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    known = {person.name for person in scan_people(folder)[0]}
    unknown_names = sorted(set(args.exclude) - known)
    if unknown_names:
        raise UsageError(f"--exclude {unknown_names[0]}: no such person folder in {folder}")
    report = evaluate(folder, config, args.enroll, tuple(args.exclude), tolerances)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report, config.recognition.tolerance)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("photos_dir", metavar="PHOTOS_DIR", help="one folder of photos per person")
    parser.add_argument("--enroll", type=int, default=1, metavar="N",
                        help="photos per person to enroll, first by name (default 1); the rest are probes")
    parser.add_argument("--exclude", action="append", default=[], metavar="NAME",
                        help="keep this person out of enrollment: all their photos should be unknown (repeatable)")
    parser.add_argument("--tolerances", metavar="LIST",
                        help="comma-separated tolerances to score (default 0.4,0.5,0.6 and recognition.tolerance)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
