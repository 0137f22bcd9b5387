"""Clips for measuring the kiosk at rest and when somebody arrives, made from the sample photos.

Each clip is 640x480 at 30 fps, MPEG-4, and built the same way every time (fixed random seeds):
- still: an empty hall (a photo with no human face in it, blurred like an out-of-focus camera);
- noisy: the same hall with sensor noise on every frame and the light slowly brightening;
- arrivals: the noisy hall, into which enrolled people slide from the side one after another,
  stay a while and leave. `arrivals` returns the frame at which each one starts to show;
- held pictures: a photo held up to the camera, still, moved and tilted, or shaking (the attacks
  the liveness check must stop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kiosk.vision.images import load_image

SIZE = (640, 480)
FPS = 30.0
NOISE = 4.0  # grey levels, standard deviation: a small camera in a dim hall
DRIFT = 25.0  # grey levels the light rises by over a clip
FACE_SIZE = 260  # pixels: a person about a metre from the camera
SLIDE_SECONDS, STAY_SECONDS, GAP_SECONDS = 0.7, 2.5, 1.5


@dataclass(frozen=True)
class Arrival:
    name: str  # the person's folder name, as the kiosk names them
    frame: int  # first frame in which part of them shows


def hall(background: Path) -> np.ndarray:
    """The empty scene: BACKGROUND (RGB) at the clip size, softened."""
    image = load_image(background.read_bytes()).pixels
    return cv2.GaussianBlur(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA), (9, 9), 0)


def write_clip(path: Path, frames: Iterator[np.ndarray], fps: float = FPS) -> int:
    """Write RGB frames as MPEG-4 video (OpenCV's FFmpeg writes it on every platform); returns the
    frame count. Like a camera's H.264, a frame costs little to decode where little changed, so
    the file stands in for a camera without adding much of its own; a JPEG per frame would
    cost more than the empty hall itself."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MPEG-4 video to {path}")
    count = 0
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        count += 1
    writer.release()
    return count


def still(scene: np.ndarray, seconds: float) -> Iterator[np.ndarray]:
    for _ in range(round(seconds * FPS)):
        yield scene


def noisy(scene: np.ndarray, seconds: float, seed: int = 0, layers: list | None = None) -> Iterator[np.ndarray]:
    """SCENE with noise and a slow brightening; LAYERS[i] (image, x) pastes a person on frame i."""
    rng = np.random.default_rng(seed)
    count = round(seconds * FPS)
    for index in range(count):
        frame = scene.astype(np.float32) + DRIFT * index / count
        if layers is not None and layers[index] is not None:
            person, x = layers[index]
            paste(frame, person, x)
        frame += rng.normal(0, NOISE, frame.shape)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, person: np.ndarray, x: int) -> None:
    """Put PERSON with its left edge at X (may be partly outside), vertically centred."""
    height, width = person.shape[:2]
    top = (frame.shape[0] - height) // 2
    left, right = max(0, x), min(frame.shape[1], x + width)
    if right > left:
        frame[top:top + height, left:right] = person[:, left - x:right - x]


def portrait(photo: Path) -> np.ndarray:
    """A square around the photo's centre, at FACE_SIZE: head and shoulders."""
    image = load_image(photo.read_bytes()).pixels
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return cv2.resize(image[top:top + side, left:left + side], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def arrivals(scene: np.ndarray, people: list[tuple[str, Path]]) -> tuple[list, list[Arrival], float]:
    """Per-frame (person, x) layers for PEOPLE walking in and out one after another, the arrivals,
    and the clip's length in seconds."""
    slide, stay, gap = (round(s * FPS) for s in (SLIDE_SECONDS, STAY_SECONDS, GAP_SECONDS))
    target = (SIZE[0] - FACE_SIZE) // 2
    layers: list = [None] * gap
    found = []
    for name, photo in people:
        person = portrait(photo)
        found.append(Arrival(name, len(layers)))
        path = [round(-FACE_SIZE + (target + FACE_SIZE) * (i + 1) / slide) for i in range(slide)]
        positions = path + [target] * stay + [SIZE[0] - FACE_SIZE - p for p in reversed(path)]
        layers += [(person, x) for x in positions] + [None] * gap
    return layers, found, len(layers) / FPS


# --- pictures held up to the camera (liveness attacks) ------------------------------------------

HELD_WIDTH = 480  # pixels across the held picture: a face about as large as a person's up close
ATTACKS = ("still", "moved", "jitter")


def held_picture(picture: np.ndarray, attack: str, seconds: float, seed: int = 0) -> Iterator[np.ndarray]:
    """PICTURE (RGB) held up in front of the camera for SECONDS, with sensor noise:
    - still: held still;
    - moved: a hand moving a print or a phone: shifted, turned, scaled and tilted (perspective)
      smoothly, each at its own pace;
    - jitter: a shaky hand: small random shifts every frame."""
    rng = np.random.default_rng(seed)
    height = round(picture.shape[0] * HELD_WIDTH / picture.shape[1])
    held = cv2.resize(picture, (HELD_WIDTH, height), interpolation=cv2.INTER_AREA)
    place = np.array([[1, 0, (SIZE[0] - HELD_WIDTH) / 2], [0, 1, (SIZE[1] - height) / 2], [0, 0, 1]])
    centre = np.array([[1, 0, -SIZE[0] / 2], [0, 1, -SIZE[1] / 2], [0, 0, 1]])
    for index in range(round(seconds * FPS)):
        t = index / FPS
        if attack == "moved":
            turn, scale = 0.2 * np.sin(2 * np.pi * t / 3), 1 + 0.1 * np.sin(2 * np.pi * t / 4)
            shift_x, shift_y = 30 * np.sin(2 * np.pi * t / 2.5), 15 * np.cos(2 * np.pi * t / 3.5)
            tilt_x, tilt_y = 0.0005 * np.sin(2 * np.pi * t / 2), 0.00035 * np.cos(2 * np.pi * t / 2.7)
            cos, sin = scale * np.cos(turn), scale * np.sin(turn)
            back = np.array([[1, 0, SIZE[0] / 2 + shift_x], [0, 1, SIZE[1] / 2 + shift_y], [0, 0, 1]])
            motion = back @ np.array([[cos, -sin, 0], [sin, cos, 0], [tilt_x, tilt_y, 1]]) @ centre
        elif attack == "jitter":
            motion = np.array([[1, 0, rng.normal(0, 2)], [0, 1, rng.normal(0, 2)], [0, 0, 1]])
        else:
            motion = np.eye(3)
        frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
        cv2.warpPerspective(held, motion @ place, SIZE, dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
        yield np.clip(frame + rng.normal(0, NOISE, frame.shape), 0, 255).astype(np.uint8)
