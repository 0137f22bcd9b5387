"""How the kiosk's screen looks: colours, the style of each face state, and the words it shows.

One place for the look, so a site's theme is one file to change and the drawing code holds no
colour of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygame

from kiosk.vocabulary import CameraState, FaceState

DEFAULT_FONT = Path(pygame.__file__).parent / pygame.font.get_default_font()

BACKGROUND = (18, 20, 24)
KNOWN_COLOUR = (40, 200, 90)
KNOWN_TEXT = (0, 0, 0)
UNKNOWN_COLOUR = (220, 60, 40)
UNKNOWN_TEXT = (255, 255, 255)
PENDING_COLOUR = (190, 190, 190)
PENDING_LABEL = (70, 70, 76)
PENDING_TEXT = (235, 235, 235)
GREETING_COLOUR = (30, 100, 200)
GREETING_TEXT = (255, 255, 255)
MESSAGE_COLOUR = (245, 185, 40)
MESSAGE_TEXT = (0, 0, 0)
STATUS_COLOUR = (0, 0, 0)
STATUS_TEXT = (175, 175, 180)
NOTICE_TEXT = (210, 210, 215)
STATE_MARKS = {  # the small mark in a corner when the status strip is off (display.show_status)
    CameraState.OK: (40, 200, 90),
    CameraState.STARTING: (245, 185, 40),
    CameraState.UNAVAILABLE: (220, 60, 40),
    CameraState.FINISHED: (120, 120, 125),
}


@dataclass(frozen=True)
class FaceStyle:
    """How one face state looks: known and unknown faces differ in colour and in text."""
    box_colour: tuple[int, int, int]
    box_width: int
    label_colour: tuple[int, int, int]
    text_colour: tuple[int, int, int]
    label_spans_box: bool  # a wide bar under the whole box, or a small tag


FACE_STYLES = {
    FaceState.KNOWN: FaceStyle(KNOWN_COLOUR, 3, KNOWN_COLOUR, KNOWN_TEXT, True),
    FaceState.UNKNOWN: FaceStyle(UNKNOWN_COLOUR, 3, UNKNOWN_COLOUR, UNKNOWN_TEXT, True),
    FaceState.PENDING: FaceStyle(PENDING_COLOUR, 1, PENDING_LABEL, PENDING_TEXT, False),
    FaceState.CHECKING: FaceStyle(PENDING_COLOUR, 3, PENDING_LABEL, PENDING_TEXT, True),
    FaceState.NOT_LIVE: FaceStyle(UNKNOWN_COLOUR, 3, UNKNOWN_COLOUR, UNKNOWN_TEXT, True),
}
ELLIPSIS = "…"
LIVENESS_HINT = "look at the camera"
IDLE_HINT = "Look at the camera"
NO_FRAME_TEXT = {
    CameraState.UNAVAILABLE: "Camera unavailable — retrying",
    CameraState.STARTING: "Starting camera…",
    CameraState.FINISHED: "Video finished",
}
WAITING_TEXT = "Waiting for the camera…"
