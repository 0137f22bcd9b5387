"""`kiosk bench-site`: the site's gallery at a site's size, as the home seals it and a member applies it.

PEOPLE people of SAMPLES samples each (real encodings of the sample people, each moved a little so
no two are equal) are sealed as the home's bundle (outside/bundle.py), opened and applied into a
scratch member store exactly as `kiosk run` on a member does (outside/fleet.apply_bundle), and the
gallery loaded as the daemon loads it. Printed: the bundle's size, the time to seal, to open and
apply, to load, and the memory the loaded gallery takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.config import Config
from kiosk.enrollment.encoding import PhotoEncoder
from kiosk.enrollment.photos import read_photo
from kiosk.measure.evaluate import person_photos
from kiosk.measure.processes import headless_env
from kiosk.outside.bundle import Bundle, new_signing_key, seal
from kiosk.outside.fleet import apply_bundle
from kiosk.paths import SOURCE_TREE
from kiosk.store import Store
from kiosk.store.site import MEMBER, Site, read_site, write_site
from kiosk.vision.encoders import model_of


def real_encodings(people_dir: Path, config: Config) -> np.ndarray:
    encoder = PhotoEncoder(config.enrollment, 1, config.recognition.encoder)
    try:
        found = [r.embedding for _, r in encoder.map((f, read_photo(people_dir, f, 50 << 20))
                                                     for _, f in person_photos(people_dir)) if r.embedding is not None]
    finally:
        encoder.close()
    return np.stack(found)


def kiosk_rss(data_dir: Path, config: Config) -> float:
    """Peak memory (MB) of a short `kiosk run` on DATA_DIR, headless, before an empty hall."""
    with tempfile.TemporaryDirectory(prefix="kiosk-hall-") as hall:
        Image.fromarray(np.full((480, 640, 3), 100, np.uint8)).save(Path(hall) / "empty.png")
        process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir), "run",
                                    "--source", f"dir:{hall}", "--display", "headless", "--max-frames", "60"],
                                   env=headless_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   cwd=SOURCE_TREE)
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0
    return round(usage.ru_maxrss / 1024, 1)


def run(people_dir: Path, config: Config, people: int = 1000, samples: int = 10) -> dict:
    base = real_encodings(people_dir, config)
    rng = np.random.default_rng(0)
    gallery = {f"person_{i:05d}": (base[rng.integers(len(base), size=samples)]
                                   + rng.normal(0, 0.02, (samples, base.shape[1]))).astype(np.float32)
               for i in range(people)}
    secret, public = new_signing_key()
    bundle = Bundle("bench", 1, "home", time.time(), model_of(config.recognition.encoder), gallery)
    started = time.perf_counter()
    message = seal(bundle, secret)
    seal_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-site-") as scratch:
        data_dir = Path(scratch)
        write_site(data_dir, Site("bench", MEMBER, public, "home"))
        empty_rss = kiosk_rss(data_dir, config)  # the same kiosk before it holds the gallery
        site = read_site(data_dir)
        assert site is not None
        with Store(data_dir) as store:
            started = time.perf_counter()
            apply_bundle(store, config, site, message)
            apply_s = time.perf_counter() - started
            started = time.perf_counter()
            loaded = store.people.load_gallery(config.recognition.encoder)
            load_s = time.perf_counter() - started
        db_mb = (data_dir / "kiosk.db").stat().st_size / 2**20
        full_rss = kiosk_rss(data_dir, config)
    return {"people": people, "samples": people * samples, "bundle_mb": round(len(message) / 2**20, 2),
            "seal_s": round(seal_s, 3), "apply_s": round(apply_s, 2), "load_s": round(load_s, 3),
            "loaded_samples": len(loaded), "store_mb": round(db_mb, 1),
            "kiosk_rss_mb_empty": empty_rss, "kiosk_rss_mb_with_gallery": full_rss}


def print_report(result: dict) -> None:
    print(f"the site's gallery, {result['people']} people x {result['samples'] // result['people']} samples:")
    print(f"  bundle           {result['bundle_mb']:.2f} MB, sealed (signed) in {result['seal_s']:.3f} s")
    print(f"  on a member      checked and applied in one transaction in {result['apply_s']:.2f} s "
          f"(store {result['store_mb']:.1f} MB)")
    print(f"  the daemon       loads it in {result['load_s']:.3f} s; a `kiosk run` peaks at "
          f"{result['kiosk_rss_mb_with_gallery']:.1f} MB with it, {result['kiosk_rss_mb_empty']:.1f} MB without")
