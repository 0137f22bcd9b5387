"""What a confirmed face causes is decided once, by the policy, from the config and the visit."""

from __future__ import annotations

import numpy as np

from kiosk.config import Config, DisplayConfig, RecognitionConfig
from kiosk.live.policy import Confirmation, ConfirmationPolicy, Outcome
from kiosk.names import UNKNOWN
from kiosk.vocabulary import EventKind, LivenessState

FACE = np.zeros((8, 8, 3), np.uint8)
ENCODING = np.zeros(128, np.float32)


def policy(**recognition) -> ConfirmationPolicy:
    return ConfirmationPolicy(Config(recognition=RecognitionConfig(**recognition),
                                     display=DisplayConfig(greeting="Welcome, {name}")))


def seen(name: str, track: int = 1, liveness: LivenessState | None = None, face: bool = True) -> Confirmation:
    return Confirmation(track, name, 0.3, FACE if face else None, ENCODING if face else None, liveness)


def test_a_member_is_logged_told_and_greeted_by_their_display_name():
    outcome = policy().decide(seen("lin_manuel_miranda"), now=0.0)
    assert outcome == Outcome(EventKind.SEEN, face_kept=False, unknown_kept=False, published=True,
                              greeting="Welcome, Lin Manuel Miranda", greeting_short="Welcome, Lin")
    accented = policy().decide(seen("José Núñez"), now=0.0)
    assert accented is not None and accented.greeting == "Welcome, José Núñez"  # as enrolled, not the key


def test_one_event_per_visit_per_person_and_per_strangers_track():
    rules = policy(event_cooldown=60)
    assert rules.decide(seen("ada"), 0.0) is not None
    assert rules.decide(seen("ada", track=2), 30.0) is None  # the same visit, followed anew
    assert rules.decide(seen("ada"), 61.0) is not None
    assert rules.decide(seen(UNKNOWN, track=5), 0.0) is not None
    assert rules.decide(seen(UNKNOWN, track=6), 1.0) is not None  # another stranger
    assert rules.decide(seen(UNKNOWN, track=5), 2.0) is None


def test_faces_are_kept_only_where_the_config_says_and_only_when_there_is_one():
    assert policy(capture_faces=True).decide(seen("ada"), 0).face_kept
    assert not policy(capture_faces=True).decide(seen("ada", face=False), 0).face_kept
    stranger = policy(capture_unknown=True).decide(seen(UNKNOWN), 0)
    assert stranger.unknown_kept and not stranger.face_kept and stranger.greeting == ""
    assert not policy(capture_unknown=True).decide(seen("ada"), 0).unknown_kept
    assert policy(capture_unknown=True).wants_crop(UNKNOWN) and not policy(capture_unknown=True).wants_crop("ada")
    assert policy(capture_faces=True).wants_crop("ada") and not policy().wants_crop(UNKNOWN)


def test_a_picture_held_up_is_logged_but_neither_told_nor_greeted():
    outcome = policy().decide(seen("ada", liveness=LivenessState.FAILED), 0)
    assert outcome is not None and not outcome.published and outcome.greeting == ""


def test_the_door_opening_is_logged_and_told_nothing_kept_or_shown():
    assert ConfirmationPolicy.door_opened() == Outcome(EventKind.DOOR, False, False, True, "")
