"""dlib's ResNet encoder (face_recognition_models), the default: 128 values on a 150x150 chip.

Its distances are the scale the others follow: trained so that 0.6 separates people.
"""

from __future__ import annotations

import numpy as np

from kiosk.vision.encoders.base import Encoder, register

CHIP_SIZE, CHIP_PADDING = 150, 0.25  # the aligned face image dlib's encoder is trained on


@register
class DlibEncoder(Encoder):
    name = "dlib"
    model = "dlib_face_recognition_resnet_model_v1"
    dimensions = 128

    def __init__(self, jitters: int = 1):
        # late on purpose: naming the encoders (the store, the admin commands) loads no model
        import dlib
        import face_recognition_models  # late on purpose, as dlib

        super().__init__(jitters)
        self._net = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())

    @classmethod
    def chip(cls, rgb: np.ndarray, landmarks) -> np.ndarray:
        import dlib  # late on purpose, as above

        return dlib.get_face_chip(rgb, landmarks, size=CHIP_SIZE, padding=CHIP_PADDING)

    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """The same values dlib gives from the full image; `jitters` > 1 averages that many
        slightly moved copies of each chip."""
        rows = [self._net.compute_face_descriptor(chip, self.jitters) for chip in chips]
        return np.asarray(rows, dtype=np.float32).reshape(len(chips), self.dimensions)
