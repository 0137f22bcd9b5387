"""The seam every face detector plugs into: a base class and the registry `detection.model` names.

A detector finds face boxes in an RGB picture it is handed as it is: the engine (engine.py) owns
the scaling, the search regions and the mapping back to full resolution, so a detector is only
the model. One instance serves one thread: dlib's detectors keep scratch state.
Adding a detector (an accelerator's, say) is one file with a subclass, registered under its name,
and the name among config's choices for detection.model and enrollment.detector (a test holds
them equal).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from kiosk.vision.boxes import Box


class Detector(ABC):
    """An RGB picture in, face boxes (top, right, bottom, left) in its pixels out."""

    name: ClassVar[str]  # the value of detection.model / enrollment.detector

    @abstractmethod
    def find(self, rgb: np.ndarray, upsample: int) -> list[Box]:
        """The faces in RGB (C-contiguous uint8), searched after enlarging it UPSAMPLE times."""


DETECTORS: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available under its name."""
    DETECTORS[cls.name] = cls
    return cls


def detector_class(name: str) -> type[Detector]:
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"no face detector named {name!r} (one of: {', '.join(sorted(DETECTORS))})") from None


def create_detector(name: str) -> Detector:
    """A ready detector, its model loaded."""
    return detector_class(name)()
