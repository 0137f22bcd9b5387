"""A track's evidence: encodings weighted by how well the face was seen, the best of them averaged."""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.live.evidence import KEEP, KEEP_SECONDS, LEAST, Evidence, quality
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.images import load_image
from kiosk.vision.matcher import Gallery, MatchRule

from conftest import require_data


def _face(photo: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    image = load_image(require_data("probes", photo).read_bytes()).pixels
    engine = FaceEngine(EngineSettings(upsample=1))
    return image, engine.detect(image)[0]


def test_a_large_sharp_face_counts_more_than_a_tiny_or_blurred_one():
    image, box = _face("obama1.jpg")
    sharp = quality(image, box)
    blurred = quality(cv2.GaussianBlur(image, (0, 0), 6), box)
    top, right, bottom, left = box
    scale = 45 / (bottom - top)  # the same face 45 px across, as from across a hall
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    tiny = quality(small, tuple(round(side * scale) for side in box))
    assert sharp == 1.0
    assert LEAST <= blurred < 0.5 and LEAST <= tiny < 0.5


def test_the_best_recent_encodings_are_kept_and_averaged_by_weight():
    evidence = Evidence()
    evidence.add(np.full(128, 0.01), 0.1, 0.0)
    evidence.add(np.full(128, 0.03), 0.3, 0.1)
    assert np.allclose(evidence.mean(), (0.1 * 0.01 + 0.3 * 0.03) / 0.4)
    for index in range(KEEP):
        evidence.add(np.full(128, 0.02), 1.0, 0.2 + index / 10)
    assert evidence.used == KEEP and evidence.frames == KEEP + 2
    assert np.allclose(evidence.mean(), 0.02)  # the poor frames fell out
    evidence.add(np.full(128, 0.05), 0.2, KEEP_SECONDS + 5)
    assert evidence.used == 1 and np.allclose(evidence.mean(), 0.05)  # older than KEEP_SECONDS: forgotten


def test_averaging_two_photos_of_a_person_scores_them_closer_than_either_alone(enrolled_store_dir):
    """The real model: obama's probes against the enrolled sample gallery."""
    from kiosk.store import Store
    gallery: Gallery = Store(enrolled_store_dir).people.load_gallery()
    engine = FaceEngine(EngineSettings(upsample=1))
    encodings = []
    for photo in ("obama1.jpg", "obama3.jpg"):
        image, box = _face(photo)
        encodings.append(engine.encode(image, [box])[0])
    evidence = Evidence()
    for at, encoding in enumerate(encodings):
        evidence.add(encoding, 1.0, float(at))
    person = gallery.names.index("obama")
    alone = gallery.person_scores(np.array(encodings), 3)[:, person]
    together = gallery.person_scores(evidence.mean()[None, :], 3)[0, person]
    assert together < alone.mean()


def test_another_persons_face_starts_the_evidence_anew():
    evidence = Evidence()
    for at in range(3):
        assert evidence.add(np.zeros(128), 1.0, float(at))
    assert not evidence.add(np.full(128, 0.1), 1.0, 3.0)  # 1.13 away: a face handed over to another person
    assert evidence.frames == 1 and np.allclose(evidence.mean(), 0.1)


def test_evidence_is_decided_on_the_weighted_mean_of_its_scores():
    """Two people; a track whose single lucky frame lands nearer grace is still ada, and a heavy
    frame counts for more than a light one."""
    rng = np.random.default_rng(3)
    ada, grace = rng.normal(0, 0.05, 128), rng.normal(0, 0.05, 128)
    samples = np.vstack([ada + rng.normal(0, 0.01, (3, 128)), grace + rng.normal(0, 0.01, (3, 128))])
    gallery = Gallery(["ada", "grace"], [3, 3], samples)
    rule = MatchRule(tolerance=0.6, margin=0.05)
    frames = np.vstack([ada, ada, 0.3 * ada + 0.7 * grace])
    alone = gallery.match(frames, rule)
    assert [m.nearest for m in alone] == ["ada", "ada", "grace"]
    together = gallery.match_evidence(frames, np.ones(3), rule)
    scores = gallery.person_scores(frames, 3)
    assert together.name == "ada" and np.isclose(together.distance, scores[:, 0].mean())
    assert gallery.match_evidence(frames, np.array([0.05, 0.05, 1.0]), rule).nearest == "grace"
