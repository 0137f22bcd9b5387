"""The seam every face encoder plugs into: a base class and the registry `recognition.encoder` names.

An encoder turns a face, given by dlib's landmarks, into a fixed-length vector whose Euclidean
distances say how alike two faces are. It owns two decisions and nothing else:
- how the face is aligned into the image its network takes (`chip`);
- the length and the scale of its vectors: each encoder scales its distances to read like dlib's
  (0.6 about where different people begin), so the gallery's tolerance, margin and consistency
  check mean the same whichever encoder made the samples; calibration.py then fits the actual
  threshold to the gallery.

The registry maps a name to its class without loading any model, so the store, the config and
the admin commands can name encoders cheaply; a model is loaded when an encoder is created.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from kiosk.errors import KioskError


class EncoderUnavailable(KioskError):
    """The encoder's model or runtime is not installed here; the message says how to install it."""


class Encoder(ABC):
    """Aligned faces in, one float32 row of `dimensions` values per face out."""

    name: ClassVar[str]  # the value of recognition.encoder
    model: ClassVar[str]  # recorded with every sample, so a store says how each was made
    dimensions: ClassVar[int]

    def __init__(self, jitters: int = 1):
        self.jitters = jitters

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this encoder cannot run on this machine (a model or runtime missing), or None."""
        return None

    @classmethod
    @abstractmethod
    def chip(cls, rgb: np.ndarray, landmarks) -> np.ndarray:
        """The face whose dlib landmarks (5 or 68 points) are given, aligned as the network takes
        it. No model is needed: the live kiosk aligns faces in one process and encodes in another."""

    @abstractmethod
    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """(len(chips) x dimensions) float32 encodings of aligned chips."""


ENCODERS: dict[str, type[Encoder]] = {}


def register(cls: type[Encoder]) -> type[Encoder]:
    """Class decorator: make an encoder available under its name."""
    ENCODERS[cls.name] = cls
    return cls


def encoder_class(name: str) -> type[Encoder]:
    try:
        return ENCODERS[name]
    except KeyError:
        raise ValueError(f"no encoder named {name!r} (one of: {', '.join(sorted(ENCODERS))})") from None


def require_encoder(name: str) -> type[Encoder]:
    """Encoder NAME's class, or EncoderUnavailable saying what to install: checked before work
    starts, so a missing model stops a command with one line rather than in every worker."""
    cls = encoder_class(name)
    reason = cls.unavailable()
    if reason:
        raise EncoderUnavailable(f"recognition.encoder {name}: {reason}")
    return cls


def create_encoder(name: str, jitters: int = 1) -> Encoder:
    """A ready encoder (its model loaded); EncoderUnavailable when it cannot run here."""
    return require_encoder(name)(jitters)


def model_of(name: str) -> str:
    """The model name recorded with samples made by encoder NAME."""
    return encoder_class(name).model


def encoder_of_model(model: str) -> str | None:
    """The name of the encoder that records MODEL, or None for a model no encoder here makes."""
    return next((cls.name for cls in ENCODERS.values() if cls.model == model), None)
