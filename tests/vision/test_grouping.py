"""Unknown faces grouped into individuals (vision/grouping.py), on real encodings of real photos."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.config import Config
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.grouping import group_faces, pair_score
from kiosk.vision.images import load_image

from conftest import require_data


@pytest.fixture(scope="module")
def dev_probe_faces() -> tuple[np.ndarray, list[str]]:
    """The largest face of each faces_dev probe (5 people, 5 photos each) and whose it is."""
    root = require_data("faces_dev", "probes")
    engine = FaceEngine(EngineSettings.identification(Config()))
    rows, owners = [], []
    for photo in sorted(root.glob("*/*.jpg")):
        _, encodings = engine.detect_and_encode(load_image(photo.read_bytes()).pixels)
        if len(encodings):
            rows.append(encodings[0])
            owners.append(photo.parent.name)
    return np.stack(rows), owners


def test_five_people_come_out_in_groups_of_one_person_each(dev_probe_faces):
    faces, owners = dev_probe_faces
    grouping = group_faces(faces, Config().recognition.group_tolerance)
    assert all(len({owners[i] for i in group}) == 1 for group in grouping.groups)
    score = pair_score(grouping.groups, owners)
    assert score.precision == 1.0 and score.recall >= 0.6, score
    assert len(grouping.groups) <= 2 * len(set(owners))


def test_groups_are_the_same_for_the_same_faces_in_a_stable_order(dev_probe_faces):
    faces, _ = dev_probe_faces
    first, again = group_faces(faces, 0.5), group_faces(faces.copy(), 0.5)
    assert first.groups == again.groups
    assert [len(g) for g in first.groups] == sorted((len(g) for g in first.groups), reverse=True)
    assert sorted(i for group in first.groups for i in group) == list(range(len(faces)))
    assert group_faces(faces[:0], 0.5).groups == []
    assert group_faces(faces, 0.01).groups == [[i] for i in range(len(faces))]


def test_average_linkage_does_not_chain_a_row_of_look_alikes():
    """A, B, C in a row 0.4 apart: single linkage at 0.45 joins all three through B; the mean
    distance between {A, B} and C is 0.6, so only one pair joins."""
    row = np.array([[0.0, 0.0], [0.4, 0.0], [0.8, 0.0]])
    assert sorted(map(sorted, group_faces(row, 0.45).groups)) == [[0, 1], [2]]


def test_pairs_are_scored_against_who_each_face_is():
    score = pair_score([[0, 1, 2], [3]], ["a", "a", "b", "b"])
    assert (score.together_same, score.together_different, score.same_pairs) == (1, 2, 2)
    assert score.precision == pytest.approx(1 / 3) and score.recall == pytest.approx(0.5)
