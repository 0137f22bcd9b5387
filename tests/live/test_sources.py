"""Frame sources: real video and image files, the Pi camera through a fake picamera2, and retries."""

from __future__ import annotations

import importlib
import itertools
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.config import CameraConfig
from kiosk.live import sources
from kiosk.live.sources import (
    CameraUnavailable,
    FrameSource,
    ImageFolderSource,
    PicameraSource,
    RetryingSource,
    SourceImpossible,
    VideoFileSource,
    open_source,
    orient,
)

from conftest import DATA, FAKES_DIR, REPO

CLIP = DATA / "video" / "short_hamilton_clip.mp4"
CLIP_FRAMES = 275
FAST_RETRY = CameraConfig(width=320, height=240, retry_max_delay=0.05)


def sample(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"sample data not found: {path}")
    return path


def read_frames(source, count: int) -> list:
    """Up to `count` frames, reading until the source has none left."""
    frames = []
    while len(frames) < count:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def read_until_frame(source: RetryingSource, attempts: int = 200):
    """The next frame from a retrying source, giving it `attempts` reads to come back."""
    for _ in range(attempts):
        frame = source.read()
        if frame is not None:
            return frame
    return None


def write_video(path: Path, bgr_frames: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = bgr_frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in bgr_frames:
        writer.write(frame)
    writer.release()
    return path


def marked_image(width: int = 40, height: int = 20) -> np.ndarray:
    """A black RGB image whose top-left 4x4 corner is red, to follow where pixels go."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:4, :4] = (255, 0, 0)
    return image


def save_rgb(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def corner_of_red(image: np.ndarray) -> str:
    height, width = image.shape[:2]
    rows, cols = np.nonzero(image[..., 0] > 128)
    vertical = "top" if rows.mean() < height / 2 else "bottom"
    horizontal = "left" if cols.mean() < width / 2 else "right"
    return f"{vertical}-{horizontal}"


# --- video files ---------------------------------------------------------------------------------

def test_fast_video_reads_every_frame_then_finishes():
    source = open_source(f"file:{sample(CLIP)}", CameraConfig(), fast=True)
    frames = read_frames(source, CLIP_FRAMES + 10)
    assert len(frames) == CLIP_FRAMES
    assert source.read() is None and source.finished and source.state == "finished"
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    first = frames[0].image
    assert first.shape == (360, 640, 3) and first.dtype == np.uint8 and first.flags.c_contiguous
    assert all(b.timestamp >= a.timestamp for a, b in itertools.pairwise(frames))


def test_realtime_video_is_paced_at_the_file_rate():
    with VideoFileSource(CameraConfig(), sample(CLIP), realtime=True) as source:
        assert source.fps == pytest.approx(29.97, abs=0.01)
        started = time.monotonic()
        frames = read_frames(source, 15)
        elapsed = time.monotonic() - started
    assert len(frames) == 15
    assert elapsed >= 0.3  # 14 frame intervals at 29.97 fps are 0.47 s; unpaced decoding is far quicker


def test_a_resting_video_gives_rest_fps_frames_and_counts_the_ones_it_skipped():
    """At rest the file source skips frames unconverted: about camera.rest_fps a second, with
    indexes and video time still counting every frame of the file; then every frame again."""
    source = open_source(f"file:{sample(CLIP)}", CameraConfig(rest_fps=5))
    first = read_frames(source, 3)
    source.limit_rate(5)
    started = time.monotonic()
    resting = []
    while time.monotonic() - started < 1.0:
        resting.append(source.read())
    source.limit_rate(None)
    after = read_frames(source, 4)
    source.close()
    assert [f.index for f in first] == [0, 1, 2]
    assert 4 <= len(resting) <= 7, [f.index for f in resting]
    steps = [b.index - a.index for a, b in itertools.pairwise([first[-1], *resting])]
    assert all(5 <= step <= 7 for step in steps[1:]), steps  # 30 frames a second, 5 taken
    assert all(b.timestamp - a.timestamp == pytest.approx((b.index - a.index) / 29.97, abs=1e-6)
               for a, b in itertools.pairwise(resting))  # video time counts the skipped frames
    assert [b.index - a.index for a, b in itertools.pairwise([resting[-1], *after])] == [1, 1, 1, 1]


def test_no_limit_and_fast_files_give_every_frame():
    for config, fast in ((CameraConfig(rest_fps=0), False), (CameraConfig(), True)):
        source = open_source(f"file:{sample(CLIP)}", config, fast=fast)
        source.limit_rate(config.rest_fps)
        frames = read_frames(source, 6)
        source.close()
        assert [f.index for f in frames] == list(range(6)), (config, fast)


def test_looping_video_continues_past_the_end(tmp_path):
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    clip = write_video(tmp_path / "three.avi", [np.full((48, 64, 3), c, np.uint8) for c in colours])
    source = open_source(f"file:{clip}", CameraConfig(), fast=True, loop=True)
    frames = read_frames(source, 8)
    assert len(frames) == 8 and not source.finished
    assert [f.index for f in frames] == list(range(8))
    strongest = [int(np.argmax(f.image[24, 32])) for f in frames]
    assert strongest == [0, 1, 2, 0, 1, 2, 0, 1]  # red, green, blue, and around again


def test_video_frames_are_rgb(tmp_path):
    clip = write_video(tmp_path / "red.avi", [np.full((48, 64, 3), (0, 0, 255), np.uint8)] * 2)  # BGR red
    with VideoFileSource(CameraConfig(), clip, realtime=False) as source:
        red, green, blue = source.read().image[24, 32]
    assert red > 200 and green < 60 and blue < 60


def test_a_missing_video_is_refused_at_once_and_a_source_that_fails_later_is_retried(tmp_path):
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(SourceImpossible, match="nowhere.mp4: no such video file"):
        open_source(f"file:{missing}", FAST_RETRY)  # a typo: never retried for ever
    with pytest.raises(CameraUnavailable, match="nowhere.mp4"):
        VideoFileSource(CameraConfig(), missing).open()


# --- rotation and mirror -------------------------------------------------------------------------

@pytest.mark.parametrize("rotation, mirror, shape, corner", [
    (0, False, (20, 40, 3), "top-left"),
    (0, True, (20, 40, 3), "top-right"),
    (90, False, (40, 20, 3), "top-right"),
    (180, False, (20, 40, 3), "bottom-right"),
    (270, False, (40, 20, 3), "bottom-left"),
    (90, True, (40, 20, 3), "top-left"),
])
def test_rotation_and_mirror_apply_to_every_frame(tmp_path, rotation, mirror, shape, corner):
    save_rgb(tmp_path / "marked.png", marked_image())
    camera = CameraConfig(rotation=rotation, mirror=mirror)
    source = open_source(f"dir:{tmp_path}", camera, fast=True, loop=True)
    for frame in read_frames(source, 3):
        assert frame.image.shape == shape and frame.image.flags.c_contiguous
        assert corner_of_red(frame.image) == corner


def test_orient_moves_single_pixels_clockwise():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)  # [[0 1 2] [3 4 5]]
    assert orient(image, 90, False).tolist() == [[3, 0], [4, 1], [5, 2]]
    assert orient(image, 0, True).tolist() == [[2, 1, 0], [5, 4, 3]]


# --- image folders -------------------------------------------------------------------------------

def test_image_folder_of_real_photos():
    folder = sample(DATA / "people" / "obama")
    camera = CameraConfig(width=640, height=480)
    source = open_source(f"dir:{folder}", camera, fast=True)
    frames = read_frames(source, 10)
    assert len(frames) == len(list(folder.glob("*.jpg")))
    assert source.finished
    for frame in frames:  # larger photos are scaled down to fit the camera size
        assert frame.image.shape[1] <= 640 and frame.image.shape[0] <= 480
        assert max(frame.image.shape[1] / 640, frame.image.shape[0] / 480) == pytest.approx(1, abs=0.01)


def test_image_folder_skips_broken_files_and_other_names(tmp_path, caplog):
    save_rgb(tmp_path / "a.png", np.full((30, 40, 3), (255, 0, 0), np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"this is not a picture")
    save_rgb(tmp_path / "c.PNG", np.full((30, 40, 3), (0, 0, 255), np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING, logger="kiosk.camera"):
        source = open_source(f"dir:{tmp_path}", CameraConfig(), fast=True)
        frames = read_frames(source, 10)
    assert [tuple(f.image[0, 0]) for f in frames] == [(255, 0, 0), (0, 0, 255)]
    assert source.finished
    assert any("b.jpg" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_image_folder_shows_every_photo_type_enrollment_takes(tmp_path):
    """One list of photo types: a HEIC from a phone shows in the slideshow as it enrolls."""
    from PIL import Image

    from kiosk.vision.images import PHOTO_SUFFIXES
    Image.new("RGB", (40, 30), (0, 255, 0)).save(tmp_path / "phone.heic")
    Image.new("RGB", (40, 30), (255, 0, 0)).save(tmp_path / "scan.tiff")
    frames = read_frames(open_source(f"dir:{tmp_path}", CameraConfig(), fast=True), 10)
    assert [int(np.argmax(f.image[15, 20])) for f in frames] == [1, 0]  # green, then red (HEIC is lossy)
    assert {".heic", ".tiff"} <= PHOTO_SUFFIXES


def test_realtime_slideshow_repeats_each_image_then_moves_on(tmp_path):
    save_rgb(tmp_path / "1.png", np.full((30, 40, 3), (255, 0, 0), np.uint8))
    save_rgb(tmp_path / "2.png", np.full((30, 40, 3), (0, 255, 0), np.uint8))
    with ImageFolderSource(CameraConfig(fps=100), tmp_path, interval_s=0.1, realtime=True) as source:
        colours = [tuple(f.image[0, 0]) for f in read_frames(source, 1000)]
    assert colours[0] == (255, 0, 0) and colours[-1] == (0, 255, 0)
    assert colours.count((255, 0, 0)) > 1 and colours.count((0, 255, 0)) > 1
    assert sorted(colours, reverse=True) == colours  # all of the first image, then all of the second


def test_folder_without_readable_images_is_unavailable(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    source = open_source(f"dir:{tmp_path}", FAST_RETRY, fast=True)
    assert source.read() is None
    assert source.state == "unavailable" and "no readable images" in source.last_error


# --- the Pi camera, through the fake picamera2 -------------------------------------------------

@pytest.fixture
def fake_picamera2(monkeypatch):
    """The fake picamera2 package, importable for this test only."""
    monkeypatch.syspath_prepend(str(FAKES_DIR))
    sys.modules.pop("picamera2", None)
    module = importlib.import_module("picamera2")
    module.reset()
    yield module
    module.reset()
    sys.modules.pop("picamera2", None)


def test_picamera_frames_are_rgb_at_the_configured_size(fake_picamera2):
    fake_picamera2.FRAME_IMAGE = np.full((10, 10, 3), (200, 30, 10), np.uint8)
    camera = CameraConfig(width=320, height=240, fps=15, capture_timeout=1.5)
    with PicameraSource(camera) as source:
        frame = source.read()
    assert frame.image.shape == (240, 320, 3) and frame.image.flags.c_contiguous
    assert tuple(frame.image[120, 160]) == (200, 30, 10)
    (picam,) = fake_picamera2.instances
    assert picam.camera_config["main"] == {"format": "RGB888", "size": (320, 240)}
    assert picam.camera_config["controls"]["FrameRate"] == 15
    assert picam.last_wait == 1.5
    assert picam.closed


def test_a_resting_pi_camera_runs_its_sensor_at_rest_fps(fake_picamera2):
    """At rest the camera itself is slowed (picamera2's FrameRate control): no frame is made,
    copied or converted in between; the first motion brings back camera.fps."""
    with PicameraSource(CameraConfig(fps=30, rest_fps=5)) as source:
        source.read()
        (picam,) = fake_picamera2.instances
        assert picam.frame_rate == pytest.approx(30, abs=0.01)
        source.limit_rate(5)
        source.limit_rate(5)  # asked again: nothing to change
        assert picam.frame_rate == pytest.approx(5) and picam.controls_set == [{"FrameRate": 5}]
        assert source.read() is not None
        source.limit_rate(None)
        assert picam.frame_rate == pytest.approx(30, abs=0.01) and len(picam.controls_set) == 2


def test_fake_serves_the_real_memory_layout(fake_picamera2):
    picam = fake_picamera2.Picamera2()
    picam.configure(picam.create_video_configuration(main={"size": (64, 48), "format": "RGB888"},
                                                     lores={"size": (32, 24), "format": "YUV420"}))
    picam.start()
    main = picam.capture_array("main", wait=1)
    fake_picamera2.FRAME_IMAGE = np.full((10, 10, 3), (200, 30, 10), np.uint8)
    lores = picam.capture_array("lores", wait=1)
    picam.close()
    assert np.array_equal(main, fake_picamera2.gradient(64, 48)[..., ::-1])  # [B, G, R] per pixel
    assert lores.shape == (24 * 3 // 2, 32)  # I420: Y plane, then quarter-size U and V planes
    rgb = cv2.cvtColor(lores, cv2.COLOR_YUV2RGB_I420)
    assert np.abs(rgb.astype(int) - (200, 30, 10)).max() <= 4


def test_picamera_lores_stream_gives_the_detector_a_scaled_copy(fake_picamera2):
    """camera.lores_width: the ISP's scaled YUV420 stream, from the same request, turned like main."""
    fake_picamera2.FRAME_IMAGE = fake_picamera2.gradient(640, 480)
    camera = CameraConfig(width=640, height=480, lores_width=200, rotation=90)
    with PicameraSource(camera) as source:
        frames = read_frames(source, 12)  # three times the camera's buffers: each request is released
        (picam,) = fake_picamera2.instances
        assert picam.camera_config["lores"] == {"size": (200, 150), "format": "YUV420"}
        assert not picam.held
    frame = frames[-1]
    assert frame.image.shape == (640, 480, 3) and frame.small.shape == (200, 150, 3)
    assert frame.small.flags.c_contiguous
    scaled = cv2.resize(frame.image, (150, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(scaled.astype(int) - frame.small).mean() < 3  # the same picture, same way up


def test_picamera_without_lores_asks_for_one_stream(fake_picamera2):
    with PicameraSource(CameraConfig(width=320, height=240)) as source:
        frame = source.read()
    assert frame.small is None and fake_picamera2.instances[0].camera_config["lores"] is None


def test_an_unreleased_request_starves_the_fake_camera_as_the_real_one(fake_picamera2):
    picam = fake_picamera2.Picamera2()
    picam.configure(picam.create_video_configuration(main={"size": (64, 48), "format": "RGB888"}, buffer_count=2))
    picam.start()
    held = [picam.capture_request(wait=1), picam.capture_request(wait=1)]
    with pytest.raises(TimeoutError):
        picam.capture_request(wait=1)
    held[0].release()
    assert picam.capture_request(wait=1).make_array("main").shape == (48, 64, 3)
    with pytest.raises(RuntimeError):
        held[0].make_array("main")
    picam.close()


def test_the_detector_finds_the_same_face_on_the_scaled_brightness():
    """What the lores stream feeds the engine: a face found on it lands where the full frame has it."""
    from kiosk.vision.boxes import overlap
    from kiosk.vision.engine import EngineSettings, FaceEngine
    rgb = cv2.cvtColor(cv2.imread(str(sample(DATA / "probes" / "obama-720p.jpg"))), cv2.COLOR_BGR2RGB)
    engine = FaceEngine(EngineSettings(detect_width=640))
    small = cv2.resize(rgb, (960, 540), interpolation=cv2.INTER_LINEAR)  # shrunk further to detect_width
    (plain,) = engine.detect(rgb)
    (from_small,) = engine.detect(rgb, small=small)
    # HOG may pick the neighbouring pyramid level on a differently scaled copy: the same face,
    # a box one step (1.2x) larger or smaller, well above the tracker's 0.3 to follow it.
    assert overlap(plain, from_small) > 0.5, (plain, from_small)
    top, right, bottom, left = plain
    region = (max(0, top - 100), right + 100, bottom + 100, max(0, left - 100))
    (in_region,) = engine.detect(rgb, region, small)
    assert overlap(from_small, in_region) > 0.5  # a region search finds the same face


def test_picamera_timeout_recovers_in_the_same_source(fake_picamera2, caplog):
    fake_picamera2.TIMEOUT_AFTER = 3
    with caplog.at_level(logging.WARNING, logger="kiosk.camera"):
        source = open_source("picamera", FAST_RETRY)
        assert len(read_frames(source, 3)) == 3 and source.state == "ok"
        assert source.read() is None
        assert source.state == "unavailable" and not source.finished
        assert "timed out" in source.last_error and fake_picamera2.instances[0].closed
        fake_picamera2.TIMEOUT_AFTER = 0  # every reopened camera stalls too: one outage, several retries
        for _ in range(5):
            assert read_until_frame(source, attempts=20) is None
        assert len(fake_picamera2.instances) > 2
        assert all(picam.closed for picam in fake_picamera2.instances)
        fake_picamera2.bring_back()
        frame = read_until_frame(source)
    assert frame is not None and source.state == "ok"
    assert frame.index == 3  # counting goes on across the reopen
    assert fake_picamera2.instances[-1].started and not fake_picamera2.instances[-1].closed
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    source.close()
    assert fake_picamera2.instances[-1].closed


def test_picamera_that_fails_to_start_is_released(fake_picamera2):
    fake_picamera2.FAIL_START = True
    source = open_source("picamera", FAST_RETRY)
    assert source.read() is None
    assert source.state == "unavailable" and "Device or resource busy" in source.last_error
    assert fake_picamera2.instances and all(picam.closed for picam in fake_picamera2.instances)
    fake_picamera2.bring_back()
    assert read_until_frame(source) is not None and source.state == "ok"
    source.close()


def test_no_pi_camera_is_unavailable(fake_picamera2):
    fake_picamera2.NO_CAMERA = True
    source = open_source("picamera", FAST_RETRY)
    assert source.read() is None
    assert source.state == "unavailable" and "no Pi camera" in source.last_error


def test_auto_prefers_the_pi_camera(fake_picamera2):
    source = open_source("auto", FAST_RETRY)
    assert read_until_frame(source) is not None
    assert source.name == "picamera"
    source.close()


def test_auto_without_any_camera_keeps_retrying(fake_picamera2, monkeypatch):
    fake_picamera2.NO_CAMERA = True
    monkeypatch.setattr(sources.auto, "USB_DEVICE_PATHS", [])
    source = open_source("auto", FAST_RETRY)
    assert read_until_frame(source, attempts=5) is None
    assert source.state == "unavailable"
    assert "no Pi camera" in source.last_error and "no USB camera" in source.last_error


def test_picamera_without_picamera2_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes `import picamera2` fail
    with pytest.raises(CameraUnavailable, match="picamera2 is not installed"):
        PicameraSource(CameraConfig()).open()


@pytest.mark.parametrize("spec", ["file:{clip}", "usb:0", "usb:/dev/video3"])
def test_other_sources_never_import_picamera2(spec, tmp_path):
    clip = write_video(tmp_path / "clip.avi", [np.zeros((48, 64, 3), np.uint8)] * 2)
    script = textwrap.dedent(f"""
        import sys
        import picamera2  # the fake is importable: prove it can be found, then forget it
        del sys.modules["picamera2"]
        from kiosk.config import CameraConfig
        from kiosk.live.sources import open_source
        source = open_source({spec.format(clip=clip)!r}, CameraConfig(retry_max_delay=0.5), fast=True)
        source.read()
        source.close()
        print("picamera2" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                            env={"PYTHONPATH": f"{FAKES_DIR}:{REPO}", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- retrying ------------------------------------------------------------------------------------

class ManualClock:
    """A clock that only moves when told to; sleeping moves it and is recorded."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedSource(FrameSource):
    """A source that opens or fails as the test says, and counts its attempts."""

    kind = "scripted"

    @classmethod
    def create(cls, camera, argument, *, fast, loop):
        return cls({})

    def __init__(self, script: dict):
        super().__init__(CameraConfig())
        self.script = script
        script["opened"] = script.get("opened", 0)

    def _open(self):
        self.script["opened"] += 1
        if self.script.get("broken"):
            raise CameraUnavailable("camera unplugged")

    def _capture(self):
        if self.script.get("broken"):
            raise CameraUnavailable("camera unplugged")
        return np.zeros((4, 4, 3), np.uint8)

    def _release(self):
        pass


def test_backoff_doubles_to_the_limit_without_blocking_reads(caplog):
    clock = ManualClock()
    script = {"broken": True}
    source = RetryingSource(lambda: ScriptedSource(script), "test", retry_max_delay=4.0, clock=clock, sleep=clock.sleep)
    attempt_times = []
    with caplog.at_level(logging.WARNING, logger="kiosk.camera"):
        for _ in range(200):
            before = script.get("opened", 0)
            assert source.read() is None
            if script["opened"] > before:
                attempt_times.append(clock.now)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(attempt_times)]
    assert gaps[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert max(clock.sleeps) <= 0.1
    assert source.state == "unavailable" and source.last_error == "camera unplugged"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_backoff_resets_after_a_frame_and_each_outage_warns_once(caplog):
    clock = ManualClock()
    script = {"broken": True}
    source = RetryingSource(lambda: ScriptedSource(script), "test", retry_max_delay=30.0, clock=clock,
                            sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, logger="kiosk.camera"):
        for _ in range(100):  # long enough for the delay to grow past a few seconds
            source.read()
        script["broken"] = False
        assert read_until_frame(source, attempts=1000) is not None and source.state == "ok"
        script["broken"] = True
        assert source.read() is None and source.state == "unavailable"
        failed_at = clock.now
        script["broken"] = False
        assert read_until_frame(source, attempts=100) is not None
    assert clock.now - failed_at == pytest.approx(0.5)  # the first delay again, not the grown one
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_starting_state_before_the_first_attempt():
    source = RetryingSource(lambda: ScriptedSource({}), "test", retry_max_delay=1.0)
    assert source.state == "starting" and source.name == "test"
    with source:
        assert source.read().index == 0 and source.state == "ok"


# --- specs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["webcam", "usb:abc", "usb:/dev/sda", "file:", "dir:", "picamera:1", ""])
def test_bad_spec_names_the_spec_and_the_allowed_forms(spec):
    with pytest.raises(ValueError) as error:
        open_source(spec, CameraConfig())
    assert repr(spec) in str(error.value) and "usb:/dev/videoN" in str(error.value)
