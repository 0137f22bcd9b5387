"""A decision threshold that follows the gallery: for the people enrolled now, how often a
stranger would be named and how often a member would stay unknown, and the threshold that
keeps strangers within recognition.false_accept_target.

A kiosk with 5 people and one with 200 need different thresholds: a stranger has one chance per
enrolled person to land near somebody. The estimate uses the gallery itself:

- stranger attempts: each sample is matched against every other person (its own left out, as
  if it were a stranger's photo); kept unknown faces (recognition.capture_unknown), real
  strangers seen by this kiosk, are matched against everybody;
- member attempts: each sample against its own person with itself left out.

Counting how many attempts fall within a threshold cannot see rates below one in a few hundred,
and the gallery's own photos (checked at import, several jitters) land near others less often
than a stranger's passing face. So each attempt's score to each person is taken as the middle
of a spread: another photo of the same face lands within about `sigma` of it, `sigma` being
how much one person's own scores vary across their photos (measured on the gallery, drawn
towards PRIOR_SIGMA when there are few). An attempt is named by a threshold with probability
1 - prod_j(1 - Phi((t - score_j) / sigma)) over the people j; the stranger rate is its mean.
On a 77-person gallery of news photos this estimate and what 953 photos of real strangers
showed agree within a factor of two where the choice is made (README, "How a name is decided").

The chosen threshold is the loosest, up to recognition.tolerance (dlib's 0.6 unless the admin
sets it otherwise), whose estimated stranger rate is within the target. A warning says when no
threshold from STRICTEST meets it, or when the recall left is below USEFUL_RECALL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kiosk.vision.matcher import Gallery, MatchRule

STRICTEST = 0.40  # below this dlib's model rejects most people on real camera frames
STEP = 0.005
PRIOR_SIGMA = 0.035  # photo-to-photo spread of one person's score, before the gallery says
PRIOR_WEIGHT = 20  # deviations the prior counts as
NEAREST = 8  # people per attempt that can matter (the rest are far beyond any threshold)
USEFUL_RECALL = 0.8
CHUNK = 512  # samples scored at once: bounds memory for galleries of thousands
ROUGH_BELOW = 100  # photos: fewer, and the expectation says it is rough


@dataclass(frozen=True)
class CurvePoint:
    tolerance: float
    stranger_rate: float  # estimated share of strangers' faces named
    member_recall: float  # estimated share of members' faces named (a single photo)


@dataclass(frozen=True)
class Calibration:
    people: int
    target: float  # recognition.false_accept_target
    ceiling: float  # recognition.tolerance: never looser than this
    tolerance: float  # the chosen threshold
    sigma: float
    stranger_attempts: int
    member_attempts: int
    curve: list[CurvePoint] = field(default_factory=list)
    warning: str = ""

    def point(self, tolerance: float | None = None) -> CurvePoint | None:
        """The curve at TOLERANCE (default: the chosen one)."""
        tolerance = self.tolerance if tolerance is None else tolerance
        return min(self.curve, key=lambda p: abs(p.tolerance - tolerance), default=None)

    def tolerance_for(self, target: float) -> float:
        """The loosest threshold of the curve whose stranger rate is within TARGET (the strictest
        when none is; the ceiling when there is no curve)."""
        point = loosest_within(self.curve, target)
        return point.tolerance if point is not None else self.curve[0].tolerance if self.curve else self.ceiling

    def expectation(self) -> str:
        """One line for `kiosk status`, `kiosk doctor` and `kiosk tune`."""
        point = self.point()
        if point is None:
            return f"with {self.people} people: tolerance {self.tolerance:.3f} ({self.warning})"
        photos = self.stranger_attempts  # every enrolled photo is one stranger attempt (plus kept unknowns)
        rough = f" (a rough estimate from only {photos} photos)" if photos < ROUGH_BELOW else ""
        return (f"with {self.people} people: tolerance {self.tolerance:.3f}; about {one_in(point.stranger_rate)} "
                f"strangers named, {round(100 * (1 - point.member_recall))} in 100 members left unknown on a "
                f"single photo{rough}")

    def as_dict(self) -> dict:
        return {"people": self.people, "target": self.target, "ceiling": self.ceiling,
                "tolerance": self.tolerance, "sigma": round(self.sigma, 4),
                "stranger_attempts": self.stranger_attempts, "member_attempts": self.member_attempts,
                "expectation": self.expectation(), "warning": self.warning,
                "curve": [{"tolerance": p.tolerance, "stranger_rate": round(p.stranger_rate, 5),
                           "member_recall": round(p.member_recall, 4)} for p in self.curve]}


def loosest_within(curve: list[CurvePoint], target: float) -> CurvePoint | None:
    """The loosest point of CURVE (strictest first) whose stranger rate is within TARGET."""
    return next((p for p in reversed(curve) if p.stranger_rate <= target), None)


def one_in(rate: float) -> str:
    if rate <= 0:
        return "no"
    if rate >= 0.5:
        return f"{round(100 * rate)} in 100"
    return f"1 in {round(1 / rate)}"


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) to about 1e-7 (Abramowitz and Stegun 7.1.26), vectorised without SciPy."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def leave_one_out(gallery: Gallery, neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """(own score per sample, its person's other samples only; inf when it has none) and
    (the NEAREST smallest scores to other people per sample), for the rule's mean of NEIGHBORS."""
    owners = np.repeat(np.arange(gallery.people), gallery.counts)
    own, nearest = [], []
    for start in range(0, len(gallery), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(gallery)))
        remaining = gallery.sample_distances(gallery.encodings[rows]).astype(np.float64)
        remaining[np.arange(len(rows)), rows] = np.inf  # itself left out
        scores = np.full((len(rows), gallery.people), np.inf)
        for person in range(gallery.people):
            block = remaining[:, gallery.starts[person]:gallery.starts[person] + gallery.counts[person]]
            k = min(neighbors, block.shape[1])
            smallest = np.sort(block, axis=1)[:, :k] if k else np.empty((len(rows), 0))
            finite = np.isfinite(smallest)
            taken = finite.sum(axis=1)
            total = np.where(finite, smallest, 0.0).sum(axis=1)
            scores[taken > 0, person] = total[taken > 0] / taken[taken > 0]
        mine = owners[rows]
        own.append(scores[np.arange(len(rows)), mine].copy())
        scores[np.arange(len(rows)), mine] = np.inf
        nearest.append(np.sort(scores, axis=1)[:, :NEAREST])
    return np.concatenate(own), np.vstack(nearest) if nearest else np.empty((0, NEAREST))


def photo_spread(own: np.ndarray, owners: np.ndarray) -> float:
    """How much one person's own scores vary across their photos, drawn towards PRIOR_SIGMA."""
    deviations = []
    for person in np.unique(owners):
        scores = own[(owners == person) & np.isfinite(own)]
        if len(scores) > 1:
            deviations.append(scores - scores.mean())
    values = np.concatenate(deviations) if deviations else np.empty(0)
    measured = float(np.sum(values ** 2))
    return float(np.sqrt((measured + PRIOR_WEIGHT * PRIOR_SIGMA ** 2) / (len(values) + PRIOR_WEIGHT)))


def named_chance(nearest: np.ndarray, tolerance: float, sigma: float) -> np.ndarray:
    """Per attempt, the chance another photo of that face would be named by TOLERANCE."""
    within = normal_cdf((tolerance - nearest) / sigma)
    return 1.0 - np.exp(np.log1p(-np.clip(within, 0.0, 1.0 - 1e-12)).sum(axis=1))


def calibrate(gallery: Gallery, rule: MatchRule, target: float, strangers: np.ndarray | None = None) -> Calibration:
    """The threshold for GALLERY at TARGET stranger rate, never looser than rule.tolerance;
    STRANGERS are encodings of faces known not to be enrolled (kept unknown faces)."""
    ceiling = rule.tolerance
    if gallery.people < 2:
        return Calibration(gallery.people, target, ceiling, ceiling, PRIOR_SIGMA, 0, 0,
                           warning="fewer than 2 people enrolled: nothing to estimate the stranger rate from")
    owners = np.repeat(np.arange(gallery.people), gallery.counts)
    own, nearest = leave_one_out(gallery, rule.neighbors)
    sigma = photo_spread(own, owners)
    if strangers is not None and len(strangers):
        kept = gallery.person_scores(np.asarray(strangers, np.float32).reshape(-1, gallery.dimensions), rule.neighbors)
        nearest = np.vstack([nearest, np.sort(kept, axis=1)[:, :NEAREST]])
    members = own[np.isfinite(own)]
    curve = []
    for tolerance in np.round(np.arange(STRICTEST, ceiling + 1e-9, STEP), 3):
        rate = float(named_chance(nearest, float(tolerance), sigma).mean())
        recall = float(normal_cdf((tolerance - members) / sigma).mean()) if len(members) else 0.0
        curve.append(CurvePoint(float(tolerance), rate, recall))
    within = loosest_within(curve, target)
    chosen = within or curve[0]
    warning = ""
    if within is None:
        warning = (f"no tolerance from {STRICTEST} keeps strangers named to {one_in(target)}; "
                   f"using {chosen.tolerance:.3f}, about {one_in(chosen.stranger_rate)} will be named")
    elif chosen.member_recall < USEFUL_RECALL:
        warning = (f"keeping strangers named to {one_in(target)} leaves {round(100 * (1 - chosen.member_recall))} "
                   "in 100 members unknown on a single photo: enroll more photos per person, or raise "
                   "recognition.false_accept_target")
    return Calibration(gallery.people, target, ceiling, chosen.tolerance, sigma, len(nearest), len(members),
                       curve, warning)


def rule_for(gallery: Gallery, settings) -> tuple[MatchRule, Calibration | None]:
    """The rule the kiosk decides with for GALLERY (settings: the recognition section): the
    configured one, its tolerance chosen by `calibrate` when false_accept_target is set."""
    rule = MatchRule.from_config(settings)
    if not settings.false_accept_target:
        return rule, None
    calibration = calibrate(gallery, rule, settings.false_accept_target, gallery.strangers)
    return MatchRule(calibration.tolerance, rule.margin, rule.neighbors), calibration


def door_threshold(gallery: Gallery, rule: MatchRule, door_target: float, calibration: Calibration | None) -> float:
    """The stricter threshold a door opens by: the loosest within DOOR_TARGET (door.false_accept_target)
    on the gallery's curve, never looser than RULE (the one recognition decides with); RULE's own
    with target 0."""
    if not door_target:
        return rule.tolerance
    if calibration is None:
        calibration = calibrate(gallery, rule, door_target, gallery.strangers)
    return min(rule.tolerance, calibration.tolerance_for(door_target))
