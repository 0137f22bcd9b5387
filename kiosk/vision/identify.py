"""From a photo (decoded safely by images.load_image) to the faces in it, largest face first.

The one path every photo takes, whether it is being enrolled (`kiosk enroll`, a USB stick,
retraining), named (`kiosk identify`) or used as a probe (`kiosk eval`): `faces_in_photo`
decodes and finds, `find_faces` finds in a photo already decoded (enrollment decodes under a
time limit of its own), and `encode_faces` encodes the largest faces found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiosk.vision.boxes import Box
from kiosk.vision.engine import FaceEngine
from kiosk.vision.images import ImageLimits, LoadedImage, load_image


@dataclass(frozen=True)
class PhotoFaces:
    image: LoadedImage
    boxes: list[Box]  # in the loaded (possibly downscaled) image's pixels, largest face first
    by_fallback: bool = False  # found by the fallback detector, not the engine's own

    def boxes_in_original(self) -> list[Box]:
        """The boxes in the pixels of the photo as stored (before any downscaling on load)."""
        return [(round(top * self.image.scale), round(right * self.image.scale), round(bottom * self.image.scale),
                 round(left * self.image.scale)) for top, right, bottom, left in self.boxes]


def width(box: Box) -> int:
    return box[1] - box[3]


def find_faces(engine: FaceEngine, image: LoadedImage,
               fallback: Callable[[np.ndarray], list[Box]] | None = None) -> PhotoFaces:
    """The faces of a loaded photo, largest first; when the engine finds none, `fallback`
    (another detector) gets a try."""
    boxes = engine.detect(image.pixels)
    by_fallback = False
    if not boxes and fallback is not None:
        boxes, by_fallback = fallback(image.pixels), True
    return PhotoFaces(image, sorted(boxes, key=width, reverse=True), by_fallback and bool(boxes))


def faces_in_photo(engine: FaceEngine, data: bytes, limits: ImageLimits) -> PhotoFaces:
    """The faces of the photo in DATA, decoded within LIMITS (ImageRejected when it cannot be)."""
    return find_faces(engine, load_image(data, limits))


def encode_faces(engine: FaceEngine, found: PhotoFaces, count: int | None = None) -> np.ndarray:
    """The encodings of the COUNT largest faces found (all of them when None), largest first."""
    return engine.encode(found.image.pixels, found.boxes[:count])
