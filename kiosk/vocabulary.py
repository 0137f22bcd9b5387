"""The kiosk's states and kinds, each one enumeration instead of strings spread over its rooms.

They are string enums: a member equals its text, so the store, the JSON output, MQTT and the
status file keep the words they always had, and mypy checks every use in the code.
"""

from __future__ import annotations

from enum import StrEnum


class CameraState(StrEnum):
    """Where the frame source is: shown on the status line and in `kiosk status`."""
    STARTING = "starting"
    OK = "ok"
    UNAVAILABLE = "unavailable"  # failed or unplugged: being reopened with backoff
    FINISHED = "finished"  # a file or folder came to its end


class LivenessState(StrEnum):
    """A track's check that its face is a person, not a picture (vision/liveness.py)."""
    CHECKING = "checking"
    PASSED = "passed"
    FAILED = "failed"


class FaceState(StrEnum):
    """How the screen shows a face."""
    PENDING = "pending"  # not confirmed yet
    KNOWN = "known"
    UNKNOWN = "unknown"
    CHECKING = "checking"  # named, waiting for the liveness check
    NOT_LIVE = "not_live"  # the liveness check failed: a picture


class SampleStatus(StrEnum):
    """Where an enrolled photo stands with the consistency check (enrollment/consistency.py)."""
    OK = "ok"
    ACCEPTED = "accepted"  # kept by an admin although the check doubted it
    PENDING = "pending"  # waiting for the check
    SUSPECT = "suspect"  # held back: it may be someone else


MATCHED_STATUSES = (SampleStatus.OK, SampleStatus.ACCEPTED)  # the samples recognition uses


class EventKind(StrEnum):
    """What an event records."""
    SEEN = "seen"  # a face confirmed
    DOOR = "door"  # the door opened for them


class CaptureState(StrEnum):
    """Where a `kiosk capture` request stands (store/captures.py, live/capture.py)."""
    WAITING = "waiting"  # not taken by a running kiosk yet
    TAKING = "taking"  # the kiosk is taking views of the person in front
    ENROLLING = "enrolling"  # the views are being enrolled
    DONE = "done"
    FAILED = "failed"  # gave up: the message says why
    CANCELLED = "cancelled"  # the asker stopped waiting


CAPTURE_FINISHED = (CaptureState.DONE, CaptureState.FAILED, CaptureState.CANCELLED)
