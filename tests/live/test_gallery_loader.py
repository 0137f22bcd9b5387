"""A changed gallery made ready beside the frame loop (live/gallery_loader.py): loaded from its own
store connection and calibrated in its own thread, handed over once, the newest each time."""

from __future__ import annotations

import hashlib
import time

import numpy as np

from kiosk.config import Config
from kiosk.live.gallery_loader import GalleryLoader
from kiosk.store import SampleSettings, Store

MODEL = "dlib_face_recognition_resnet_model_v1"


def add(store: Store, name: str, rng: np.random.Generator) -> None:
    centre = rng.normal(0, 0.1, 128)
    for index in range(3):
        digest = hashlib.sha256(f"{name}{index}".encode()).hexdigest()
        store.people.add_sample(name, (centre + rng.normal(0, 0.01, 128)).astype(np.float32),
                                SampleSettings(MODEL, "hog", 5, 1), digest, f"{name}{index}.jpg")


def ready_within(loader: GalleryLoader, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (ready := loader.take()) is not None:
            return ready
        time.sleep(0.02)
    raise AssertionError("no gallery made ready")


def test_the_loader_hands_over_the_newest_gallery_calibrated_once(tmp_path):
    rng = np.random.default_rng(0)
    config = Config(data_dir=str(tmp_path))
    with Store(tmp_path) as store:
        for name in ("ada", "grace", "hedy"):
            add(store, name, rng)
        loader = GalleryLoader(config, tmp_path)
        try:
            assert not loader.busy and loader.take() is None
            loader.request()
            ready = ready_within(loader)
            assert ready.gallery.names == ["ada", "grace", "hedy"] and ready.calibration is not None
            assert ready.rule.tolerance == ready.calibration.tolerance
            assert loader.take() is None and not loader.busy  # handed over once
            add(store, "joan", rng)
            loader.request()
            assert ready_within(loader).gallery.names == ["ada", "grace", "hedy", "joan"]
        finally:
            loader.stop()
