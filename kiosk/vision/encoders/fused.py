"""dlib and MobileFaceNet deciding together: one vector holding both encodings of a face.

Their mistakes differ (dlib's cluster by demographic group, MobileFaceNet's do not follow them),
so a face both find close to a person is far likelier that person than one either finds close.
Each part's encoding is multiplied by the square root of its weight and the two are joined, so
the Euclidean distance between two such vectors is the weighted quadratic mean of the two
encoders' own distances, both already on dlib's scale (base.py). Because the fusion lives in the
vector, every part that compares faces (matching, calibration, the margin, a track's evidence,
the door, `kiosk tune`, the consistency check, grouping, a site's gallery) uses the fused distance
unchanged, and a sample or kept face holds both encodings.

Equal weights: off LFW, a weighted mean of the two scores (dlib 0.3-0.6) or requiring both within
the threshold named the same members within a photo or two at equal stranger rates (README,
"Both encoders together"). The chip is a pair: each part aligns the face its own way. Costs one
MobileFaceNet pass beside dlib's: about a sixth more per face.
"""

from __future__ import annotations

import numpy as np

from kiosk.vision.encoders.base import Encoder, register
from kiosk.vision.encoders.dlib_resnet import DlibEncoder
from kiosk.vision.encoders.mobilefacenet import MobileFaceNetEncoder

PARTS: tuple[type[Encoder], ...] = (DlibEncoder, MobileFaceNetEncoder)
WEIGHTS = (0.5, 0.5)  # each part's share of the squared distance


@register
class FusedEncoder(Encoder):
    name = "dlib+mobilefacenet"
    model = "+".join(part.model for part in PARTS)
    dimensions = sum(part.dimensions for part in PARTS)

    @classmethod
    def unavailable(cls) -> str | None:
        return next((f"{part.name}: {reason}" for part in PARTS if (reason := part.unavailable())), None)

    def __init__(self, jitters: int = 1):
        super().__init__(jitters)
        self._parts = [part(jitters) for part in PARTS]

    @classmethod
    def chip(cls, rgb: np.ndarray, landmarks) -> tuple[np.ndarray, ...]:  # type: ignore[override]
        return tuple(part.chip(rgb, landmarks) for part in PARTS)

    def encode_chips(self, chips: list) -> np.ndarray:
        if not chips:
            return np.empty((0, self.dimensions), np.float32)
        parts = zip(self._parts, WEIGHTS, strict=True)
        return np.hstack([np.sqrt(weight) * part.encode_chips([chip[index] for chip in chips])
                          for index, (part, weight) in enumerate(parts)]).astype(np.float32)
