"""`kiosk tune`: how far apart the enrolled samples are, and which tolerance separates people best.

Every pair of samples is either a same-person pair (should match: a distance above the tolerance
is a false reject) or a different-person pair (should not: a distance at or below it is a false
accept). The suggestion minimises false-accept rate + false-reject rate over the pairs, searched
between 0.40 and 0.60, taking the middle of the best range. Below 0.40 dlib's model rejects most
people on real camera frames. Above 0.60 (the distance the model was trained to separate people
at) the enrolled pairs look fine but strangers, who are in none of these pairs, start being named.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from kiosk.config import Config
from kiosk.matcher import Gallery

LOWEST_TOLERANCE = 0.40
HIGHEST_TOLERANCE = 0.60
REPORTED_TOLERANCES = (0.4, 0.5, 0.55, 0.6)


def pair_distances(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distance matrix, owner index per sample, same-person pair distances, different-person ones)."""
    owners = np.repeat(np.arange(len(gallery.names)), np.diff(np.append(gallery.starts, len(gallery))))
    vectors = gallery.encodings.astype(np.float64)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix product instead of an n x n x 128 array.
    distances = np.sqrt(np.maximum(norms[:, None] + norms[None, :] - 2.0 * vectors @ vectors.T, 0.0))
    upper = np.triu_indices(len(vectors), k=1)
    same = owners[upper[0]] == owners[upper[1]]
    return distances, owners, distances[upper][same], distances[upper][~same]


def summary(values: np.ndarray) -> dict:
    if not len(values):
        return {"count": 0, "min": None, "median": None, "max": None}
    return {"count": int(len(values)), "min": round(float(values.min()), 4),
            "median": round(float(np.median(values)), 4), "max": round(float(values.max()), 4)}


def error_counts(same: np.ndarray, different: np.ndarray, tolerance: float) -> dict:
    """False accepts (different pairs within tolerance) and false rejects (same pairs beyond it)."""
    return {"tolerance": tolerance, "false_accepts": int((different <= tolerance).sum()), "different_pairs": len(different),
            "false_rejects": int((same > tolerance).sum()), "same_pairs": len(same)}


def suggest_tolerance(same: np.ndarray, different: np.ndarray) -> float | None:
    """The tolerance in 0.40-0.60 with the lowest FA rate + FR rate (middle of the best range)."""
    if not len(same) or not len(different):
        return None
    grid = np.round(np.arange(LOWEST_TOLERANCE, HIGHEST_TOLERANCE + 1e-9, 0.01), 2)
    cost = np.array([(different <= t).mean() + (same > t).mean() for t in grid])
    best = grid[np.isclose(cost, cost.min())]
    return float(best[len(best) // 2])


def tune_report(gallery: Gallery, current_tolerance: float) -> dict:
    distances, owners, same, different = pair_distances(gallery)
    suggested = suggest_tolerance(same, different)
    warnings = []
    for index, name in enumerate(gallery.names):
        mine = owners == index
        if mine.sum() > 1:
            spread = float(distances[np.ix_(mine, mine)].max())
            if spread > current_tolerance:
                warnings.append(f"{name}: samples are too spread out (up to {spread:.2f} apart, above the "
                                f"tolerance {current_tolerance:.2f}); check for a wrong or poor photo")
        if (~mine).any():
            others = distances[np.ix_(mine, ~mine)]
            closest = float(others.min())
            if closest < current_tolerance:
                other = gallery.names[owners[~mine][np.unravel_index(others.argmin(), others.shape)[1]]]
                warnings.append(f"{name}: a sample is only {closest:.2f} from {other} (below the tolerance "
                                f"{current_tolerance:.2f}); they may be confused")
    return {"people": len(gallery.names), "samples": len(gallery), "current_tolerance": current_tolerance,
            "same_person": summary(same), "different_person": summary(different),
            "suggested_tolerance": suggested,
            "expected": [error_counts(same, different, t) for t in REPORTED_TOLERANCES],
            "warnings": warnings}


def cmd_tune(args: argparse.Namespace, config: Config) -> int:
    from kiosk.admin import existing_store
    with existing_store(config) as store:
        gallery = store.load_gallery()
    report = tune_report(gallery, config.recognition.tolerance)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report, config.source_path or "the built-in defaults")
    return 0


def print_report(report: dict, config_source: str) -> None:
    print(f"{report['people']} people, {report['samples']} samples")
    print(f"{'pairs':<18}{'count':>7}{'min':>8}{'median':>8}{'max':>8}")
    for label, key in (("same person", "same_person"), ("different people", "different_person")):
        row = report[key]
        cells = [f"{row[k]:.2f}" if row[k] is not None else "-" for k in ("min", "median", "max")]
        print(f"{label:<18}{row['count']:>7}{cells[0]:>8}{cells[1]:>8}{cells[2]:>8}")
    print()
    print(f"{'tolerance':<11}{'false accepts':>18}{'false rejects':>18}")
    for row in report["expected"]:
        accepts = _ratio(row["false_accepts"], row["different_pairs"])
        rejects = _ratio(row["false_rejects"], row["same_pairs"])
        print(f"{row['tolerance']:<11.2f}{accepts:>18}{rejects:>18}")
    print()
    suggested = report["suggested_tolerance"]
    if suggested is None:
        print("no suggestion: it needs at least one person with two samples and at least two people")
    else:
        print(f"suggested tolerance: {suggested:.2f} (current {report['current_tolerance']:.2f}, "
              f"recognition.tolerance in {config_source})")
        print("  it makes the fewest mistakes on these pairs (false-accept rate + false-reject rate), searched")
        print(f"  in {LOWEST_TOLERANCE:.2f}-{HIGHEST_TOLERANCE:.2f}; lower is stricter (fewer strangers named, more "
              "people shown as unknown).")
        print("  Few samples make this rough: enroll several photos per person for a better estimate.")
    for warning in report["warnings"]:
        print(f"warning: {warning}")


def _ratio(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f}%)" if total else "-"
