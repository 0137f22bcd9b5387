"""`kiosk eval`: recognition accuracy for the photo layouts people have, at several settings.

The gallery is built through the same import as `kiosk enroll` (so wrong photos are held back
and the fallback detector runs as in the product) into a scratch store; probes are encoded as
`kiosk identify` does and matched with the kiosk's rule at each tolerance. Three kinds of probe:

- closed set: photos of enrolled people (`--probe-dir B`, or PHOTOS_DIR split: the first N photos
  of each person enrolled, the rest probes). The largest face is the person's: right, unknown
  or wrong.
- open set (`--open-set`): each enrolled person is left out of the gallery in turn and all their
  photos are identified; any face given a name is a false accept. `--exclude NAME` does the same
  for chosen people of a split folder.
- strangers (`--strangers DIR`): photos of people not enrolled; any face named is a false accept.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.enrollment.enroll import import_folder
from kiosk.enrollment.photos import read_photo, scan_people
from kiosk.names import UNKNOWN
from kiosk.store import Store
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.identify import encode_faces, faces_in_photo
from kiosk.vision.images import PHOTO_SUFFIXES, ImageLimits, ImageRejected
from kiosk.vision.matcher import Gallery, MatchRule

DEFAULT_TOLERANCES = (0.4, 0.5, 0.6)


@dataclass(frozen=True)
class Probe:
    person: str  # whose folder the photo is in ("" for a stranger)
    file: str  # relative to its folder
    encodings: np.ndarray  # every face found, largest first; empty when none (unreadable or no face)

    @property
    def has_face(self) -> bool:
        return len(self.encodings) > 0


def split_photos(root: Path, enroll_count: int,
                 exclude: set[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Per person the photos to enroll (first N by name), and (person, file) probes for the rest."""
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


def person_photos(root: Path) -> list[tuple[str, str]]:
    """(person, file) for every photo of a folder of person folders."""
    return [(person.name, file) for person in scan_people(root)[0] for file in sorted(person.photo_files)]


def loose_photos(root: Path) -> list[str]:
    """Every photo file under ROOT, in any layout (strangers), relative to ROOT."""
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.relpath(os.path.join(folder, f), root) for f in sorted(filenames)
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in PHOTO_SUFFIXES]
    return found


def enroll_subset(store, root: Path, to_enroll: dict[str, list[str]], config: Config, scratch: Path):
    """Copy the chosen photos into a scratch folder of person folders and enroll it."""
    max_bytes = ImageLimits.from_config(config.enrollment).max_bytes
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
    return import_folder(store, folder, config.enrollment, encoder=config.recognition.encoder, show_bar=False)


class ProbeEncoder:
    """Encodes probe photos as `kiosk identify` does, each photo once."""

    def __init__(self, config: Config):
        self.engine = FaceEngine(EngineSettings.identification(config))
        self.limits = ImageLimits.from_config(config.enrollment)
        self.cache: dict[Path, np.ndarray] = {}

    def probe(self, root: Path, person: str, file: str) -> Probe:
        path = (root / file).resolve()
        if path not in self.cache:
            self.cache[path] = self._encode(root, file)
        return Probe(person, file, self.cache[path])

    def _encode(self, root: Path, file: str) -> np.ndarray:
        try:
            found = faces_in_photo(self.engine, read_photo(root, file, self.limits.max_bytes), self.limits)
        except (ValueError, ImageRejected):
            return np.empty((0, self.engine.dimensions), np.float32)
        return encode_faces(self.engine, found)


def named(probe: Probe, gallery: Gallery, rule: MatchRule) -> list[str]:
    """Names given to the faces of a probe photo (unknown left out)."""
    if not probe.has_face:
        return []
    return [m.name for m in gallery.match(probe.encodings, rule) if m.name != UNKNOWN]


def score(rule: MatchRule, gallery: Gallery, closed: list[Probe], excluded: list[Probe],
          open_set: list[Probe], strangers: list[Probe]) -> dict:
    """Counts and rates for one setting, plus the photos that came out wrong."""
    counts = {"correct": 0, "unknown": 0, "wrong": 0, "no_face": 0}
    mistakes: list[dict[str, str | float | None]] = []
    for probe in closed:
        if not probe.has_face:
            counts["no_face"] += 1
            mistakes.append({"file": probe.file, "expected": probe.person, "got": "no face", "distance": None})
            continue
        match = gallery.match(probe.encodings[:1], rule)[0]
        outcome = "correct" if match.name == probe.person else "unknown" if match.name == UNKNOWN else "wrong"
        counts[outcome] += 1
        if outcome != "correct":
            mistakes.append({"file": probe.file, "expected": probe.person, "got": match.name,
                             "distance": round(match.distance, 4)})

    def false_accepts(probes: list[Probe], against) -> int:
        total = 0
        for probe in probes:
            names = named(probe, against(probe), rule)
            if names:
                total += 1
                mistakes.append({"file": probe.file, "expected": UNKNOWN, "got": ", ".join(names), "distance": None})
        return total

    leave_out = {name: gallery.without(name) for name in {p.person for p in open_set}}
    excluded_named = false_accepts(excluded, lambda _: gallery)
    open_named = false_accepts(open_set, lambda p: leave_out[p.person])
    strangers_named = false_accepts(strangers, lambda _: gallery)
    genuine = len(closed)
    with_face = [p for p in excluded if p.has_face]
    return {
        "tolerance": rule.tolerance, "margin": rule.margin, "neighbors": rule.neighbors,
        "probes": genuine, **counts,
        "accuracy": counts["correct"] / genuine if genuine else None,
        "unknown_rate": counts["unknown"] / genuine if genuine else None,
        "wrong_rate": counts["wrong"] / genuine if genuine else None,
        "no_face_rate": counts["no_face"] / genuine if genuine else None,
        "impostor_probes": len(excluded), "false_accepts": excluded_named,
        "false_accept_rate": excluded_named / len(with_face) if with_face else None,
        "open_set": {"photos": sum(p.has_face for p in open_set), "named": open_named},
        "strangers": {"photos": sum(p.has_face for p in strangers), "named": strangers_named},
        "mistakes": mistakes,
    }


@dataclass(frozen=True)
class EvalPlan:
    """What to enroll and what to identify."""
    enroll_root: Path
    to_enroll: dict[str, list[str]] | None  # None: the whole enroll folder
    closed: list[tuple[Path, str, str]]  # (root, person, file)
    excluded: list[tuple[Path, str, str]]
    open_set: bool
    open_set_roots: tuple[Path, ...]
    strangers: Path | None


def evaluate(plan: EvalPlan, config: Config, rules: list[MatchRule]) -> dict:
    """Enroll, encode every probe once, then score each rule."""
    with tempfile.TemporaryDirectory(prefix="kiosk-eval-") as scratch, Store(Path(scratch) / "data") as store:
        if plan.to_enroll is None:
            report = import_folder(store, plan.enroll_root, config.enrollment, encoder=config.recognition.encoder,
                                   show_bar=False)
        else:
            report = enroll_subset(store, plan.enroll_root, plan.to_enroll, config, Path(scratch))
        gallery = store.people.load_gallery(config.recognition.encoder)
    encoder = ProbeEncoder(config)
    closed = [encoder.probe(root, person, file) for root, person, file in plan.closed]
    excluded = [encoder.probe(root, person, file) for root, person, file in plan.excluded]
    open_set = []
    if plan.open_set:
        open_set = [encoder.probe(root, person, file) for root in plan.open_set_roots
                    for person, file in person_photos(root) if person in gallery.names]
    strangers = [encoder.probe(plan.strangers, "", file) for file in loose_photos(plan.strangers)] \
        if plan.strangers else []
    expected = set(plan.to_enroll) if plan.to_enroll is not None else {p for _, p, _ in plan.closed}
    return {
        "folder": str(plan.enroll_root), "enroll_per_person": None,
        "excluded": sorted({person for _, person, _ in plan.excluded}),
        "enrolled_people": gallery.people, "enrolled_photos": report.added,
        "held_back": [s.as_dict() for s in report.suspects],
        "fallback_detector": report.fallback_detector,
        "not_enrolled": sorted(expected - set(gallery.names)),
        "enroll_skipped": [{"file": s.file, "reason": s.reason} for s in report.skipped],
        "results": [score(rule, gallery, closed, excluded, open_set, strangers) for rule in rules],
    }


def print_report(report: dict, config_tolerance: float) -> None:
    excluded = ", ".join(report["excluded"]) or "nobody"
    split = f"first {report['enroll_per_person']} of each; " if report["enroll_per_person"] else ""
    print(f"{report['folder']}: {report['enrolled_photos']} photo(s) enrolled for {report['enrolled_people']} "
          f"people ({split}excluded: {excluded}), {len(report['held_back'])} held back as suspects, "
          f"{report['fallback_detector']} found by the fallback detector")
    for item in report["enroll_skipped"]:
        print(f"  enrollment skipped {item['file']}: {item['reason']}")
    for item in report["held_back"]:
        print(f"  held back {item['file']}: {item['reason']}")
    for name in report["not_enrolled"]:
        print(f"  {name}: no photo could be enrolled")
    rows = report["results"]
    print(f"{'setting':<24} {'probes':>6} {'right':>6} {'unknown':>8} {'wrong':>6} {'no face':>8} "
          f"{'open set named':>15} {'strangers named':>16} {'excluded named':>15}")
    for row in rows:
        setting = f"tol {row['tolerance']:.2f} margin {row['margin']:.2f} k{row['neighbors']}"
        print(f"{setting:<24} {row['probes']:>6} {row['correct']:>6} {row['unknown']:>8} {row['wrong']:>6} "
              f"{row['no_face']:>8} {_of(row['open_set']):>15} {_of(row['strangers']):>16} "
              f"{row['false_accepts']:>6}/{row['impostor_probes']:<8}")
    chosen = min(rows, key=lambda row: abs(row["tolerance"] - config_tolerance) + (row["neighbors"] == 1), default=None)
    if chosen and chosen["mistakes"]:
        print(f"not right at tolerance {chosen['tolerance']:.2f}:")
        for item in chosen["mistakes"]:
            distance = "" if item["distance"] is None else f" (distance {item['distance']:.2f})"
            print(f"  {item['file']}: expected {item['expected']}, got {item['got']}{distance}")


def _of(group: dict) -> str:
    return f"{group['named']}/{group['photos']}" if group["photos"] else "-"


def parse_tolerances(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--tolerances: expected numbers separated by commas, got {text!r}") from None
    if not values or any(not 0 < v <= 2 for v in values):
        raise ValueError(f"--tolerances: each value must be above 0 and at most 2, got {text!r}")
    return values
