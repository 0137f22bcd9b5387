"""`kiosk tune`: how far apart the enrolled samples are, and which settings separate people best;
with recognition.false_accept_target set, also the curve the kiosk chose its tolerance from.

The decision rule (vision/matcher.py) is tried on the gallery itself, leaving one out: each sample is
identified against the gallery without that sample (a genuine attempt: its own person should
be named) and against the gallery without its whole person (an impostor attempt: nobody should
be named, as for a stranger). Over a grid of tolerance and margin, the suggestion makes the
fewest mistakes (impostor accept rate + wrong-name rate + genuine reject rate); among equals it
takes the largest margin, then the middle of the best tolerance range.

Every pair of samples is either a same-person pair (should match: a distance above the tolerance
is a false reject) or a different-person pair (should not: a distance at or below it is a false
accept). The suggestion minimises false-accept rate + false-reject rate over the pairs, searched
between 0.40 and 0.60, taking the middle of the best range. Below 0.40 dlib's model rejects most
people on real camera frames. Above 0.60 (the distance the model was trained to separate people
at) the enrolled pairs look fine but strangers, who are in none of these pairs, start being named.
"""

from __future__ import annotations

import numpy as np

from kiosk.vision.calibration import Calibration
from kiosk.vision.matcher import Gallery, MatchRule
from kiosk.vision.matcher import distances as sample_distances

LOWEST_TOLERANCE = 0.40
HIGHEST_TOLERANCE = 0.60
REPORTED_TOLERANCES = (0.4, 0.5, 0.55, 0.6)
MARGINS = (0.0, 0.02, 0.04, 0.05, 0.06, 0.08, 0.1)


def pair_distances(gallery: Gallery) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(distance matrix, owner index per sample, same-person pair distances, different-person ones)."""
    owners = np.repeat(np.arange(len(gallery.names)), np.diff(np.append(gallery.starts, len(gallery))))
    vectors = gallery.encodings.astype(np.float64)
    distances = sample_distances(vectors, vectors)
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
    return {"tolerance": tolerance, "false_accepts": int((different <= tolerance).sum()),
            "different_pairs": len(different),
            "false_rejects": int((same > tolerance).sum()), "same_pairs": len(same)}


def suggest_tolerance(same: np.ndarray, different: np.ndarray) -> float | None:
    """The tolerance in 0.40-0.60 with the lowest FA rate + FR rate (middle of the best range)."""
    if not len(same) or not len(different):
        return None
    grid = np.round(np.arange(LOWEST_TOLERANCE, HIGHEST_TOLERANCE + 1e-9, 0.01), 2)
    cost = np.array([(different <= t).mean() + (same > t).mean() for t in grid])
    best = grid[np.isclose(cost, cost.min())]
    return float(best[len(best) // 2])


def leave_one_out_scores(gallery: Gallery, distances: np.ndarray, owners: np.ndarray,
                         neighbors: int) -> np.ndarray:
    """(samples x people) person scores as the matcher computes them, each sample left out of its person."""
    scores = np.full((len(gallery), gallery.people), np.inf)
    for person, (start, count) in enumerate(zip(gallery.starts, gallery.counts, strict=True)):
        block = distances[:, start:start + count]
        k = min(neighbors, count)
        scores[:, person] = np.partition(block, k - 1, axis=1)[:, :k].mean(axis=1)
        own = owners == person
        k_own = min(neighbors, count - 1)
        if k_own > 0:
            mine = block[own].copy()
            mine[np.arange(len(mine)), np.arange(len(mine))] = np.inf  # the sample itself
            scores[own, person] = np.partition(mine, k_own - 1, axis=1)[:, :k_own].mean(axis=1)
        else:
            scores[own, person] = np.inf
    return scores


def rule_outcomes(scores: np.ndarray, owners: np.ndarray, counts: list[int], rule: MatchRule) -> dict:
    """Genuine and impostor attempts at one setting: named right, wrong, unknown; impostors named."""
    genuine = np.asarray(counts)[owners] > 1  # a person with one sample cannot be tried against themself
    impostor_scores = scores.copy()
    impostor_scores[np.arange(len(owners)), owners] = np.inf

    def decide(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(rows, axis=1)[:, :2]
        best = np.take_along_axis(rows, order[:, :1], axis=1)[:, 0]
        second = np.take_along_axis(rows, order[:, 1:2], axis=1)[:, 0] if rows.shape[1] > 1 else \
            np.full(len(rows), np.inf)
        named = (best <= rule.tolerance) & (second - best >= rule.margin)
        return named, order[:, 0]
    named, who = decide(scores[genuine])
    right = named & (who == owners[genuine])
    impostor_named, _ = decide(impostor_scores) if scores.shape[1] > 1 else (np.zeros(len(owners), bool), None)
    return {"tolerance": rule.tolerance, "margin": rule.margin, "genuine": int(genuine.sum()),
            "right": int(right.sum()), "wrong": int((named & ~right).sum()), "unknown": int((~named).sum()),
            "impostors": len(owners) if scores.shape[1] > 1 else 0, "impostors_named": int(impostor_named.sum())}


def suggest_rule(scores: np.ndarray, owners: np.ndarray, counts: list[int], neighbors: int) -> dict | None:
    """The grid setting with the fewest mistakes (see the module docstring), or None without data."""
    if len(counts) < 2 or max(counts) < 2:
        return None
    grid = np.round(np.arange(LOWEST_TOLERANCE, HIGHEST_TOLERANCE + 1e-9, 0.01), 2)
    best_cost, chosen = np.inf, []
    for margin in MARGINS:
        for tolerance in grid:
            row = rule_outcomes(scores, owners, counts, MatchRule(float(tolerance), margin, neighbors))
            cost = (row["impostors_named"] / row["impostors"] + (row["wrong"] + row["unknown"]) / row["genuine"])
            if cost < best_cost - 1e-9:
                best_cost, chosen = cost, [row]
            elif abs(cost - best_cost) <= 1e-9:
                chosen.append(row)
    widest = max(row["margin"] for row in chosen)
    at_margin = [row for row in chosen if row["margin"] == widest]
    return {**at_margin[len(at_margin) // 2], "cost": round(float(best_cost), 4)}


def tune_report(gallery: Gallery, current: float | MatchRule, calibration: Calibration | None = None) -> dict:
    """Everything `kiosk tune` shows; with CALIBRATION (vision/calibration.py) its curve, the
    tolerance it chose for recognition.false_accept_target and what to expect from it."""
    rule = current if isinstance(current, MatchRule) else MatchRule(current)
    current_tolerance = rule.tolerance
    distances, owners, same, different = pair_distances(gallery)
    suggested = suggest_tolerance(same, different)
    scores = leave_one_out_scores(gallery, distances, owners, rule.neighbors)
    suggested_rule = suggest_rule(scores, owners, gallery.counts, rule.neighbors)
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
            "rule": {"current": rule_outcomes(scores, owners, gallery.counts, rule) if gallery.people else None,
                     "neighbors": rule.neighbors, "suggested": suggested_rule},
            "calibration": calibration.as_dict() if calibration is not None else None,
            "warnings": warnings + ([calibration.warning] if calibration is not None and calibration.warning else [])}


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
    calibration = report.get("calibration")
    if suggested is None:
        print("no suggestion: it needs at least one person with two samples and at least two people")
    elif calibration:
        # The tolerance in use comes from the curve; recognition.tolerance is only its ceiling.
        print(f"these pairs alone would suggest tolerance {suggested:.2f}; with recognition.false_accept_target "
              f"set, the tolerance in use ({report['current_tolerance']:.3f}) follows the curve at the end instead")
        print(f"  (recognition.tolerance, {calibration['ceiling']:.2f}, is only its ceiling): to name more members, "
              f"raise recognition.false_accept_target in {config_source}; to name fewer strangers, lower it.")
    else:
        print(f"suggested tolerance: {suggested:.2f} (current {report['current_tolerance']:.2f}, "
              f"recognition.tolerance in {config_source})")
        print("  it makes the fewest mistakes on these pairs (false-accept rate + false-reject rate), searched")
        print(f"  in {LOWEST_TOLERANCE:.2f}-{HIGHEST_TOLERANCE:.2f}; lower is stricter (fewer strangers named, more "
              "people shown as unknown).")
        print("  Few samples make this rough: enroll several photos per person for a better estimate.")
    print_rule(report["rule"], config_source, calibrated=bool(calibration))
    if calibration:
        print_calibration(calibration)
    for warning in report["warnings"]:
        print(f"warning: {warning}")


def print_rule(rule: dict, config_source: str, calibrated: bool = False) -> None:
    """The decision rule tried on the gallery, leaving one out: now and with the suggested settings
    (only the margin is worth setting when the tolerance is CALIBRATED)."""
    print()
    print(f"decision rule, each sample left out (mean of {rule['neighbors']} nearest samples per person):")
    print(f"{'':<11}{'tolerance':>10}{'margin':>8}{'right':>12}{'wrong':>8}{'unknown':>9}{'strangers named':>17}")
    for label in ("current", "suggested"):
        row = rule[label]
        if row is None:
            continue
        print(f"{label:<11}{row['tolerance']:>10.2f}{row['margin']:>8.2f}{row['right']:>7}/{row['genuine']:<4}"
              f"{row['wrong']:>8}{row['unknown']:>9}{row['impostors_named']:>11}/{row['impostors']:<5}")
    if rule["suggested"] is None:
        print("no suggestion for tolerance and margin: it needs at least two people, one with two samples")
    elif calibrated:
        print(f"suggested: recognition.margin {rule['suggested']['margin']:.2f} (in {config_source}); the tolerance "
              "follows the curve below. \"strangers\" are each person's samples tried with that person left out.")
    else:
        print(f"suggested: recognition.tolerance {rule['suggested']['tolerance']:.2f}, recognition.margin "
              f"{rule['suggested']['margin']:.2f} (in {config_source}); \"strangers\" are each person's samples "
              "tried with that person left out.")


def print_calibration(calibration: dict) -> None:
    """The curve behind the tolerance in use (recognition.false_accept_target), every 0.02."""
    print()
    kept = calibration.get("kept")
    counted = f", {kept['visitors']} of them kept unknown visitors" if kept and kept["counted"] else ""
    print(f"tolerance for recognition.false_accept_target {calibration['target']:g} (never above "
          f"recognition.tolerance {calibration['ceiling']:.2f}), estimated from {calibration['stranger_attempts']} "
          f"stranger attempts{counted} and {calibration['member_attempts']} member attempts (the table above "
          "tries only the gallery's own samples):")
    print(f"{'tolerance':>10}{'strangers named':>18}{'members named':>16}")
    for point in calibration["curve"]:
        if round(point["tolerance"] * 1000) % 20 == 0 or point["tolerance"] == calibration["tolerance"]:
            mark = "  <- in use" if point["tolerance"] == calibration["tolerance"] else ""
            print(f"{point['tolerance']:>10.3f}{100 * point['stranger_rate']:>17.2f}%"
                  f"{100 * point['member_recall']:>15.1f}%{mark}")
    print(f"in use: {calibration['expectation']}")
    if calibration.get("kept_line"):
        print(f"        {calibration['kept_line']}")


def _ratio(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f}%)" if total else "-"
