"""`kiosk import-pickle`: migrate an encodings.pickle ({"encodings": [...], "names": [...]}).

Older face-recognition scripts saved their gallery with pickle, which can run any code while
loading. The unpickler here resolves no global except what rebuilds numpy arrays, so a file that
refers to anything else (os.system, builtins.eval, ...) is refused before it can do anything.
Each encoding becomes a sample whose photo_sha256 hashes the name and the encoding, so importing
the same file again adds nothing.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from kiosk.errors import Refused
from kiosk.names import validate_person_name
from kiosk.store import SampleSettings, sha256_hex
from kiosk.vision.encoders.dlib_resnet import DlibEncoder

VALUES = DlibEncoder.dimensions  # face_recognition's pickles hold dlib's encodings

MAX_PICKLE_BYTES = 200 * 1024 * 1024
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    # Pickle protocol 5 (the default from Python 3.14) rebuilds arrays from raw buffers.
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    # Protocols 0-2 (Python 2 era tutorials) store an array's bytes as text turned back into bytes.
    ("_codecs", "encode"),
}


class LegacyPickleError(Refused):
    """The file cannot be imported; the message names it and says why."""


class ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain containers, and nothing else."""

    def __init__(self, file, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise LegacyPickleError(f"refusing to load {self.source}: it references {module}.{name}, "
                                    "which is not allowed")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise LegacyPickleError(f"refusing to load {self.source}: it uses persistent references")


def load_legacy_pickle(path: Path) -> tuple[list[str], np.ndarray]:
    """(names, N x VALUES float64 encodings) from PATH, validated; LegacyPickleError otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_PICKLE_BYTES:
            raise LegacyPickleError(f"{path}: file too large ({size / 1e6:.0f} MB)")
        with open(path, "rb") as handle:
            data = ArraysOnlyUnpickler(handle, str(path)).load()
    except OSError as exc:
        raise LegacyPickleError(f"{path}: cannot read ({exc.strerror})") from None
    except LegacyPickleError:
        raise
    except Exception as exc:  # a corrupt pickle raises many kinds of errors
        raise LegacyPickleError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or "encodings" not in data or "names" not in data:
        raise LegacyPickleError(f'{path}: expected a dict with "encodings" and "names"')
    raw_names, raw_encodings = data["names"], data["encodings"]
    if not isinstance(raw_names, (list, tuple)) or not isinstance(raw_encodings, (list, tuple, np.ndarray)):
        raise LegacyPickleError(f"{path}: names and encodings must be lists")
    if len(raw_names) != len(raw_encodings):
        raise LegacyPickleError(f"{path}: {len(raw_names)} names but {len(raw_encodings)} encodings")
    names = []
    for index, name in enumerate(raw_names):
        try:
            names.append(validate_person_name(name if isinstance(name, str) else ""))
        except ValueError as exc:
            raise LegacyPickleError(f"{path}: name #{index} {name!r}: {exc}") from None
    encodings = np.empty((len(names), VALUES), dtype=np.float64)
    for index, encoding in enumerate(raw_encodings):
        vector = np.empty(0)
        # Looked at before converting: lists nested inside each other (shared, so the file stays
        # tiny) would otherwise be expanded into gigabytes by numpy.
        if isinstance(encoding, np.ndarray) and encoding.shape == (VALUES,) and encoding.dtype.kind in "fiu":
            vector = encoding.astype(np.float64)
        elif isinstance(encoding, (list, tuple)) and len(encoding) == VALUES and all(
                isinstance(value, (int, float)) and not isinstance(value, bool) for value in encoding):
            vector = np.asarray(encoding, dtype=np.float64)
        if vector.shape != (VALUES,) or not np.isfinite(vector).all():
            raise LegacyPickleError(f"{path}: encoding #{index} is not {VALUES} finite numbers")
        encodings[index] = vector
    return names, encodings


def legacy_samples(path: Path) -> list[tuple]:
    """The (person, embedding, settings, photo_sha256, source) samples held in PATH, validated."""
    names, encodings = load_legacy_pickle(path)
    settings = SampleSettings(DlibEncoder.model, "unknown", 68, 1)  # the tutorials encode with dlib
    return [(name, encoding, settings, sha256_hex(name.encode() + b"\0" + encoding.astype("<f8").tobytes()),
             f"import-pickle:{path.name}#{index}")
            for index, (name, encoding) in enumerate(zip(names, encodings, strict=True))]
