"""`kiosk bench --stages`: what each stage of the live pipeline costs on this machine, as the daemon runs it.

Every stage is the daemon's own code with the configured settings: the frame source turning a
camera frame into an array, the motion gate, the face detector over the whole frame at the
configured width and at 320/480/640 and around a followed face, the landmarks and alignment,
one encoding (in the encoder process, as live), matching against the gallery as enrolled now,
the liveness check's 68 landmarks, drawing one frame on the configured canvas, and the RGB565
conversion and write of an SPI framebuffer. Each is timed over many frames: median and 90th
percentile in milliseconds. From them, the expected time to name a face with the CPU to itself
and the share of one core the kiosk needs at rest, so owners of other machines (a Raspberry Pi)
can publish figures that compare.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import Config
from kiosk.frame import Frame
from kiosk.live.display import Display
from kiosk.live.motion import MotionGate
from kiosk.live.recognition import search_region
from kiosk.live.scene import FaceLabel, Scene, Status
from kiosk.live.screens.framebuffer import Framebuffer
from kiosk.live.sources import open_source
from kiosk.measure.stages import synthetic_gallery
from kiosk.paths import DB_NAME
from kiosk.store import Store
from kiosk.vision.build import dlib_build
from kiosk.vision.calibration import rule_for
from kiosk.vision.engine import EncoderProcess, EngineSettings, FaceEngine
from kiosk.vision.matcher import Gallery
from kiosk.vocabulary import CameraState, FaceState

WIDTHS = (320, 480, 640)
FRAMES = 150  # clip frames read for the per-frame stages (five seconds of a camera)
SYNTHETIC_PEOPLE = 50  # when no gallery is enrolled here: this many people of 10 samples


def timed(work: Callable[[], object], repeats: int, warm_up: int = 1) -> dict:
    """Median and 90th percentile in ms of REPEATS calls of WORK, after WARM_UP untimed ones."""
    for _ in range(warm_up):
        work()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return figures(times)


def figures(times: list[float]) -> dict:
    times = sorted(times)
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(p90, 2), "runs": len(times)}


def detect_each(engine: FaceEngine, images: Iterator[np.ndarray]) -> None:
    engine.detect(next(images))


def clip_frames(clip: Path, config: Config, count: int) -> tuple[list, dict]:
    """COUNT frames of CLIP through the kiosk's file source, and the cost of each read."""
    source = open_source(f"file:{clip}", config.camera, fast=True, loop=True)
    frames: list[Frame] = []
    times: list[float] = []
    try:
        while len(frames) < count:
            started = time.perf_counter()
            frame = source.read()
            times.append((time.perf_counter() - started) * 1000)
            if frame is not None:
                frames.append(frame)
    finally:
        source.close()
    return frames, figures(times[1:] or times)


def the_gallery(config: Config) -> tuple[Gallery, str]:
    """The gallery enrolled in the configured data directory, or a synthetic one of the same shape."""
    if (config.data_path() / DB_NAME).exists():
        with Store(config.data_path(), create=False) as store:
            gallery = store.people.load_gallery(config.recognition.encoder)
        if len(gallery):
            return gallery, f"enrolled in {config.data_path()}"
    return (synthetic_gallery(SYNTHETIC_PEOPLE, np.random.default_rng(0)),
            f"synthetic, {SYNTHETIC_PEOPLE} people (nobody enrolled in {config.data_path()})")


def fake_framebuffer(folder: Path, size: tuple[int, int]) -> Framebuffer:
    """A 16-bit framebuffer whose device is a file, described by a sysfs folder of our own."""
    info = folder / "sys" / "fb9"
    info.mkdir(parents=True)
    (info / "virtual_size").write_text(f"{size[0]},{size[1]}\n")
    (info / "bits_per_pixel").write_text("16\n")
    device = folder / "fb9"
    device.write_bytes(b"")
    return Framebuffer(str(device), folder / "sys")


def measure(config: Config, clip: Path, log: Callable[[str], None], repeats: int = 15) -> dict:
    """Every stage's figures, and the time to name and CPU at rest derived from them."""
    cv2.setNumThreads(1)  # as the daemon runs
    detection = config.detection
    frames, camera = clip_frames(clip, config, FRAMES)
    results: dict = {"machine": {"processor": platform.machine(), "cores": len(os.sched_getaffinity(0)),
                                 "python": platform.python_version()},
                     "dlib": dlib_build().as_dict(), "clip": str(clip),
                     "frame_size": [int(frames[0].image.shape[1]), int(frames[0].image.shape[0])], "stages": {}}
    stages = results["stages"]
    stages["camera frame to array"] = camera
    gate = MotionGate(detection.motion_area)
    gate_times = []
    for frame in frames:
        started = time.perf_counter()
        gate.moved(frame.image)
        gate_times.append((time.perf_counter() - started) * 1000)
    stages["motion gate"] = figures(gate_times[1:])

    log("face detector ...")
    live = EngineSettings.live(detection, config.recognition.encoder)
    engine = FaceEngine(live)
    engine.warm_up(liveness=True)
    found = next(((frame, boxes) for frame in frames[::10] if (boxes := engine.detect(frame.image))), None)
    sample = [frame.image for frame in frames[:repeats]]
    for width in sorted({detection.width, *WIDTHS}):
        scaled = FaceEngine(dataclasses.replace(live, detect_width=width))
        key = f"detector, whole frame at {width}" + (" (configured)" if width == detection.width else "")
        stages[key] = timed(partial(detect_each, scaled, iter(sample * 2)), len(sample) - 1)
    if found is None:
        raise ValueError(f"{clip}: no face found in its first {FRAMES} frames; pass a clip with a face (--clip)")
    image, boxes = found[0].image, found[1]
    height, width = image.shape[:2]
    region = search_region(boxes[0], width, height)
    stages["detector, around a followed face"] = timed(lambda: engine.detect(image, region), repeats)
    stages["landmarks and alignment"] = timed(lambda: engine.face_chips(image, boxes[:1]), repeats)

    log("encoder ...")
    chips = engine.face_chips(image, boxes[:1])
    encoder = EncoderProcess(config.recognition.encoder, detection.jitters)
    try:
        stages["one encoding (encoder process)"] = timed(lambda: encoder.encode_chips(chips), repeats, warm_up=2)
        encoding = encoder.encode_chips(chips)
    finally:
        encoder.close()
    gallery, gallery_note = the_gallery(config)
    rule, _ = rule_for(gallery, config.recognition)
    if encoding.shape[1] != gallery.encodings.shape[1]:
        encoding = np.resize(encoding, (1, gallery.encodings.shape[1])).astype(np.float32)
    stages[f"matching, {gallery.people} people, {len(gallery)} samples"] = timed(
        lambda: gallery.match(encoding, rule), repeats * 4)
    results["gallery"] = gallery_note
    stages["liveness (68 landmarks)"] = timed(lambda: engine.landmarks68(image, boxes[0]), repeats)

    log("drawing ...")
    display = Display(config.display, "headless", "")
    display.open()
    status = Status(CameraState.OK, gallery.people, 30.0, 5.0)
    label = FaceLabel(boxes[0], FaceState.KNOWN, gallery.names[0] if gallery.names else "someone", 1)
    try:
        stages["drawing one frame"] = timed(lambda: display.draw(Scene(image, (label,), status)), repeats * 2)
        with tempfile.TemporaryDirectory(prefix="kiosk-stages-") as folder:
            framebuffer = fake_framebuffer(Path(folder), display.screen_size)
            surface = display.screen_surface
            try:
                stages["framebuffer RGB565 conversion"] = timed(lambda: framebuffer.pixel_bytes(surface),
                                                                repeats * 2)
                stages["framebuffer write"] = timed(lambda: framebuffer.write(surface), repeats * 2)
            finally:
                framebuffer.close()
    finally:
        display.close()
    results["derived"] = derived(config, stages)
    return results


def _median(stages: dict, prefix: str) -> float:
    return next(value["median_ms"] for key, value in stages.items() if key.startswith(prefix))


def derived(config: Config, stages: dict) -> dict:
    """The expected time to name one face arriving (the CPU to itself, no liveness wait), and
    the share of one core the kiosk takes with nobody there and nothing moving."""
    camera, display = config.camera, config.display
    whole = stages[next(key for key in stages if key.endswith("(configured)"))]["median_ms"]
    per_encoding = (_median(stages, "landmarks") + _median(stages, "one encoding") + _median(stages, "matching"))
    # The face shows on the next frame and makes the gate look; the whole frame is searched and
    # the face encoded; each further vote takes a search around the face and an encoding.
    first = 1000 / camera.fps + _median(stages, "camera") + _median(stages, "motion gate") + whole + per_encoding
    votes = max(1, config.recognition.confirm_votes)
    further = (votes - 1) * (max(_median(stages, "detector, around"), 0.0) + per_encoding)
    rest_rate = camera.rest_fps if camera.rest_fps else camera.fps
    drawn = min(display.idle_fps or camera.fps, rest_rate)
    screen = _median(stages, "drawing") + (_median(stages, "framebuffer RGB565") + _median(stages, "framebuffer write")
                                           if display.mode.startswith("fb:") else 0.0)
    at_rest_ms = rest_rate * (_median(stages, "camera") + _median(stages, "motion gate")) + drawn * screen
    return {"time_to_name_ms": round(first + further), "confirm_votes": votes,
            "first_detection_ms": round(1000 / camera.fps + whole),
            "cpu_share_at_rest": round(at_rest_ms / 1000, 4),
            "at_rest": f"{rest_rate:g} frames/s looked at, {drawn:g} drawn"}


def print_report(results: dict) -> None:
    machine, build = results["machine"], results["dlib"]
    print(f"machine: {machine['processor']}, {machine['cores']} cores, Python {machine['python']}")
    print(f"dlib:    {build['version']}: " + ", ".join(f"{name.upper()} {'on' if build[name] else 'off'}"
                                                    for name in ("avx", "neon", "blas", "lapack", "cuda")))
    if build["warning"]:
        print(f"warning: {build['warning']}")
    print(f"frames:  {results['frame_size'][0]}x{results['frame_size'][1]} from {results['clip']}; "
          f"gallery {results['gallery']}")
    print(f"\n{'stage':<44} {'median ms':>10} {'p90 ms':>8}")
    for name, value in results["stages"].items():
        print(f"{name:<44} {value['median_ms']:>10.2f} {value['p90_ms']:>8.2f}")
    d = results["derived"]
    print(f"\nexpected time to name: {d['time_to_name_ms']} ms (first detection {d['first_detection_ms']} ms, "
          f"{d['confirm_votes']} encodings, the CPU to itself)")
    print(f"CPU at rest:           {100 * d['cpu_share_at_rest']:.1f} % of one core ({d['at_rest']})")
