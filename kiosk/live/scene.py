"""What one drawn frame shows, as plain data: the faces with their states, the status line, a greeting.

The recognizer makes the faces (Recognizer.labels), the daemon the rest; display.py only draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.vocabulary import CameraState, FaceState


@dataclass(frozen=True)
class FaceLabel:
    """One face to draw; box is (top, right, bottom, left) in frame pixels."""
    box: tuple[int, int, int, int]
    state: FaceState
    name: str = ""  # the confirmed name as stored ("unknown" for a stranger), "" while pending
    track_id: int = 0


@dataclass(frozen=True)
class Status:
    """Figures for the status line; a non-empty message is shown as a banner."""
    camera_state: CameraState
    people: int
    display_fps: float
    recognition_fps: float
    message: str = ""
    detector_fps: float = 0.0  # frames per second the face detector searched


@dataclass(frozen=True)
class Scene:
    """Everything one drawn frame shows; frame is RGB uint8 (HxWx3) or None when there is none."""
    frame: np.ndarray | None
    faces: tuple[FaceLabel, ...]
    status: Status
    greeting: str = ""
    greeting_short: str = ""  # the greeting with the first name, when the whole one does not fit
