"""From a photo (decoded safely by images.load_image) to the faces in it, largest face first.

The one path every photo takes, whether it is being enrolled (`kiosk enroll`, a USB stick,
retraining), named (`kiosk identify`) or used as a probe (`kiosk eval`). Encoding is one more
call on the engine, made by the caller for the faces it wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kiosk.vision.boxes import Box
from kiosk.vision.engine import FaceEngine
from kiosk.vision.images import LoadedImage


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
