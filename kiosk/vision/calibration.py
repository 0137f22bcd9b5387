"""A decision threshold that follows the gallery: for the people enrolled now, how often a
stranger would be named and how often a member would stay unknown, and the threshold that
keeps strangers within recognition.false_accept_target.

A kiosk with 5 people and one with 200 need different thresholds: a stranger has one chance per
enrolled person to land near somebody. The estimate uses the gallery itself:

- stranger attempts: each sample is matched against every other person (its own left out, as
  if it were a stranger's photo); kept unknown faces (recognition.capture_unknown), real
  strangers seen by this kiosk, are matched against everybody, under three guards so that a
  few stray faces cannot collapse the threshold: a kept face the gallery's own threshold names
  is an enrolled person's (kept before they were enrolled), not a stranger's, and is left out;
  the rest are grouped into visitors (vision/grouping.py) and each visitor weighs as one
  attempt however many faces were kept of them; and they count only from MIN_VISITORS distinct
  visitors on (`KeptFaces` says what they did and which groups pulled the threshold down);
- member attempts: each sample against its own person with itself left out.

Beyond MAX_ATTEMPTS samples (a site of a few hundred people) the attempts are that many samples
spread evenly over the gallery, so the estimate costs time linear in the people, not their square.

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

from kiosk.vision.grouping import group_faces
from kiosk.vision.matcher import Gallery, MatchRule

STRICTEST = 0.40  # below this dlib's model rejects most people on real camera frames
STEP = 0.005
PRIOR_SIGMA = 0.035  # photo-to-photo spread of one person's score, before the gallery says
PRIOR_WEIGHT = 20  # deviations the prior counts as
NEAREST = 8  # people per attempt that can matter (the rest are far beyond any threshold)
USEFUL_RECALL = 0.8
CHUNK_VALUES = 4_000_000  # distances held at once (32 MB): bounds memory for galleries of any size
MAX_ATTEMPTS = 2000  # samples tried as strangers and members; more are sampled evenly (attempt_rows)
ROUGH_BELOW = 100  # photos: fewer, and the expectation says it is rough
MIN_VISITORS = 3  # distinct kept visitors before kept faces count at all
GROUP_TOLERANCE = 0.5  # recognition.group_tolerance's default, for callers without settings
MAX_KEPT = 1000  # the newest kept faces grouped (grouping is quadratic in memory)
PULL_SHARE = 0.05  # a visitor named this often at the gallery's own threshold is said to pull it


@dataclass(frozen=True)
class KeptFaces:
    """What the kept unknown faces did to the estimate, for `kiosk status`, `doctor` and `tune`."""
    faces: int  # kept faces of this encoder
    matching: int  # named by the gallery's own threshold: an enrolled person's faces, left out
    visitors: int  # distinct visitors among the rest
    counted: bool  # at least MIN_VISITORS: only then do they count, each visitor as one attempt
    without: float  # the threshold the gallery alone gives
    pulled_by: tuple[str, ...] = ()  # groups ("g17") that lowered it, most likely named first

    def line(self, tolerance: float) -> str:
        """One line: how the kept faces were counted and, when they lowered TOLERANCE, by whom."""
        left = f", {self.matching} left out as enrolled people's" if self.matching else ""
        if not self.counted:
            return (f"kept unknown faces: {self.faces}{left}, from {self.visitors} visitor(s); not counted "
                    f"(they count from {MIN_VISITORS} distinct visitors)")
        said = f"kept unknown faces: {self.faces}{left}, counted as {self.visitors} visitors"
        if tolerance < self.without - STEP / 2:
            groups = ", ".join(self.pulled_by) or "several groups"
            clear = f"; if they are no strangers: kiosk unknowns dismiss {self.pulled_by[0]}" if self.pulled_by else ""
            said += f"; they lowered the tolerance from {self.without:.3f}, most {groups}{clear}"
        return said

    def as_dict(self) -> dict:
        return {"faces": self.faces, "matching": self.matching, "visitors": self.visitors, "counted": self.counted,
                "without": self.without, "pulled_by": list(self.pulled_by)}


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
    kept: KeptFaces | None = None

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

    def said_with_warning(self) -> str:
        """`expectation` followed by the warning, which it already holds when nothing was estimated."""
        line = self.expectation()
        return f"{line}; {self.warning}" if self.warning and self.warning not in line else line

    def as_dict(self) -> dict:
        return {"people": self.people, "target": self.target, "ceiling": self.ceiling,
                "tolerance": self.tolerance, "sigma": round(self.sigma, 4),
                "stranger_attempts": self.stranger_attempts, "member_attempts": self.member_attempts,
                "expectation": self.expectation(), "warning": self.warning,
                "kept": self.kept.as_dict() if self.kept else None,
                "kept_line": self.kept.line(self.tolerance) if self.kept else "",
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


def attempt_rows(gallery: Gallery) -> np.ndarray:
    """The samples tried as strangers and as members: all of them up to MAX_ATTEMPTS, else
    MAX_ATTEMPTS spread evenly over the gallery (the same each time), so that the cost grows
    linearly with the people beyond a few hundred instead of with their square."""
    if len(gallery) <= MAX_ATTEMPTS:
        return np.arange(len(gallery))
    return np.unique(np.linspace(0, len(gallery) - 1, MAX_ATTEMPTS).round().astype(np.intp))


def leave_one_out(gallery: Gallery, neighbors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the samples `attempt_rows` chooses: (their rows), (each one's own score, its person's
    other samples only; inf when it has none) and (the NEAREST smallest scores to other people),
    for the rule's mean of NEIGHBORS. Memory stays within CHUNK_VALUES distances at a time."""
    owners = np.repeat(np.arange(gallery.people), gallery.counts)
    chosen = attempt_rows(gallery)
    chunk = max(1, CHUNK_VALUES // max(1, len(gallery)))
    own, nearest = [], []
    for start in range(0, len(chosen), chunk):
        rows = chosen[start:start + chunk]
        remaining = gallery.sample_distances(gallery.encodings[rows])
        remaining[np.arange(len(rows)), rows] = np.inf  # itself left out
        scores = gallery.scores_from(remaining, neighbors)
        mine = owners[rows]
        own.append(scores[np.arange(len(rows)), mine].copy())
        scores[np.arange(len(rows)), mine] = np.inf
        nearest.append(np.partition(scores, min(NEAREST, scores.shape[1] - 1), axis=1)[:, :NEAREST]
                       if scores.shape[1] > NEAREST else scores)
    nearest_all = np.sort(np.vstack(nearest), axis=1) if nearest else np.empty((0, NEAREST))
    return chosen, np.concatenate(own) if own else np.empty(0), nearest_all


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


def calibrate(gallery: Gallery, rule: MatchRule, target: float, strangers: np.ndarray | None = None,
              stranger_ids: list[int] | None = None, group_tolerance: float = GROUP_TOLERANCE) -> Calibration:
    """The threshold for GALLERY at TARGET stranger rate, never looser than rule.tolerance;
    STRANGERS are encodings of faces known not to be enrolled (kept unknown faces, oldest first,
    with their STRANGER_IDS), counted as the module docstring says, grouped into visitors at
    GROUP_TOLERANCE (recognition.group_tolerance)."""
    ceiling = rule.tolerance
    if gallery.people < 2:
        return Calibration(gallery.people, target, ceiling, ceiling, PRIOR_SIGMA, 0, 0,
                           warning="fewer than 2 people enrolled: nothing to estimate the stranger rate from")
    tried, own, nearest = leave_one_out(gallery, rule.neighbors)
    sigma = photo_spread(own, np.repeat(np.arange(gallery.people), gallery.counts)[tried])
    members = own[np.isfinite(own)]
    weights = np.ones(len(nearest))
    curve = estimate(nearest, weights, members, sigma, ceiling)
    alone = choose(curve, target)
    kept = None
    if strangers is not None and len(strangers):
        ids = list(stranger_ids) if stranger_ids is not None else list(range(len(strangers)))
        faces = np.asarray(strangers, np.float32).reshape(-1, gallery.dimensions)[-MAX_KEPT:]
        ids = ids[-MAX_KEPT:]
        scores = gallery.person_scores(faces, rule.neighbors)
        matching = np.min(scores, axis=1) <= alone.tolerance  # named by the gallery's own threshold
        # Each group keyed as `kiosk unknowns groups` names it (by its first face), without the matching faces.
        keyed = [(f"g{ids[group[0]]}", [i for i in group if not matching[i]])
                 for group in group_faces(faces, group_tolerance).groups]
        keys = [key for key, group in keyed if group]
        groups = [group for _, group in keyed if group]
        counted = len(groups) >= MIN_VISITORS
        pulled: tuple[str, ...] = ()
        if counted:
            rows = np.concatenate(groups)
            face_weights = np.concatenate([np.full(len(group), 1.0 / len(group)) for group in groups])
            kept_nearest = np.sort(scores[rows], axis=1)[:, :NEAREST]
            nearest = np.vstack([nearest, kept_nearest])
            weights = np.concatenate([weights, face_weights])
            curve = estimate(nearest, weights, members, sigma, ceiling)
            chance = named_chance(kept_nearest, alone.tolerance, sigma)
            by_group, start = [], 0
            for key, group in zip(keys, groups, strict=True):
                by_group.append((float(chance[start:start + len(group)].mean()), key))
                start += len(group)
            pulled = tuple(key for share, key in sorted(by_group, reverse=True) if share >= PULL_SHARE)
        kept = KeptFaces(len(faces), int(matching.sum()), len(groups), counted, alone.tolerance, pulled)
    chosen = choose(curve, target)
    warning = ""
    if loosest_within(curve, target) is None:
        warning = (f"no tolerance from {STRICTEST} keeps strangers named to {one_in(target)}; "
                   f"using {chosen.tolerance:.3f}, about {one_in(chosen.stranger_rate)} will be named")
    elif chosen.member_recall < USEFUL_RECALL:
        warning = (f"keeping strangers named to {one_in(target)} leaves {round(100 * (1 - chosen.member_recall))} "
                   "in 100 members unknown on a single photo: enroll more photos per person, or raise "
                   "recognition.false_accept_target")
    attempts = round(float(weights.sum()))  # each gallery sample one, each kept visitor one
    return Calibration(gallery.people, target, ceiling, chosen.tolerance, sigma, attempts, len(members),
                       curve, warning, kept)


def estimate(nearest: np.ndarray, weights: np.ndarray, members: np.ndarray, sigma: float,
             ceiling: float) -> list[CurvePoint]:
    """The curve from STRICTEST to CEILING: the WEIGHTS-weighted stranger rate of the attempts
    whose NEAREST person scores are given, and the member recall of the MEMBERS' own scores."""
    curve = []
    total = float(weights.sum())
    for tolerance in np.round(np.arange(STRICTEST, ceiling + 1e-9, STEP), 3):
        rate = float((weights * named_chance(nearest, float(tolerance), sigma)).sum() / total)
        recall = float(normal_cdf((tolerance - members) / sigma).mean()) if len(members) else 0.0
        curve.append(CurvePoint(float(tolerance), rate, recall))
    return curve


def choose(curve: list[CurvePoint], target: float) -> CurvePoint:
    """The loosest point within TARGET, else the strictest."""
    return loosest_within(curve, target) or curve[0]


def rule_for(gallery: Gallery, settings) -> tuple[MatchRule, Calibration | None]:
    """The rule the kiosk decides with for GALLERY (settings: the recognition section): the
    configured one, its tolerance chosen by `calibrate` when false_accept_target is set."""
    rule = MatchRule.from_config(settings)
    if not settings.false_accept_target:
        return rule, None
    calibration = calibrate(gallery, rule, settings.false_accept_target, gallery.strangers, gallery.stranger_ids,
                            settings.group_tolerance)
    return MatchRule(calibration.tolerance, rule.margin, rule.neighbors), calibration


def door_threshold(gallery: Gallery, rule: MatchRule, door_target: float, calibration: Calibration | None) -> float:
    """The stricter threshold a door opens by: the loosest within DOOR_TARGET (door.false_accept_target)
    on the gallery's curve, never looser than RULE (the one recognition decides with); RULE's own
    with target 0."""
    if not door_target:
        return rule.tolerance
    if calibration is None:
        calibration = calibrate(gallery, rule, door_target, gallery.strangers, gallery.stranger_ids)
    return min(rule.tolerance, calibration.tolerance_for(door_target))
