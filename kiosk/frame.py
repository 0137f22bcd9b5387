"""A captured picture as it passes from the camera to recognition, the screen and benchmarks.

On the ground floor so the stages that read frames need not import the camera code for a type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured picture and when it was taken."""
    image: np.ndarray  # RGB uint8 HxWx3, C-contiguous
    timestamp: float  # seconds on the monotonic clock; for video files, video time from the first open
    index: int  # running frame count
    # The same picture, smaller, for the face detector: the Pi camera's hardware-scaled stream
    # (camera.lores_width), RGB like `image`. None: the detector shrinks `image` itself.
    small: np.ndarray | None = None
    origin: str = ""  # which picture it shows, where a source knows (a slideshow's file name)
