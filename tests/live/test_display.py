"""The display: what the screen shows, checked on the pixels of saved snapshots and framebuffers."""

from __future__ import annotations

import glob
import itertools
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pygame
import pytest
from PIL import Image

from kiosk.config import Config, DisplayConfig
from kiosk.live.canvas import displayable, fit_choices, fit_rect, fit_text, map_box, place_label
from kiosk.live.daemon import Daemon
from kiosk.live.display import TEXT_CACHE_SIZE, Display
from kiosk.live.scene import FaceLabel, Scene, Status
from kiosk.live.screens import choose_mode, opening
from kiosk.live.theme import (
    BACKGROUND,
    ELLIPSIS,
    GREETING_COLOUR,
    KNOWN_COLOUR,
    KNOWN_TEXT,
    MESSAGE_COLOUR,
    NOTICE_TEXT,
    PENDING_LABEL,
    PENDING_TEXT,
    STATE_MARKS,
    STATUS_COLOUR,
    STATUS_TEXT,
    UNKNOWN_COLOUR,
    UNKNOWN_TEXT,
)

from conftest import DATA

OBAMA_BOX = (204, 932, 590, 546)  # the face in probes/obama1.jpg, (top, right, bottom, left)
STATUS = Status(camera_state="ok", people=6, display_fps=29.7, recognition_fps=4.2)


@pytest.fixture(autouse=True)
def dummy_video(monkeypatch):
    """SDL without a real screen; the display module is shut down after every test."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    yield
    pygame.display.quit()


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The real obama1.jpg with its face box, or a synthetic frame with a drawn face when absent."""
    path = DATA / "probes" / "obama1.jpg"
    if path.is_file():
        return np.asarray(Image.open(path).convert("RGB")), OBAMA_BOX
    frame = np.full((832, 1480, 3), 90, np.uint8)
    frame[204:590, 546:932] = (200, 160, 130)
    return frame, OBAMA_BOX


def snapshot_pixels(display: Display, tmp_path: Path, name: str = "shot.png") -> np.ndarray:
    """Save a snapshot and load it back as an HxWx3 array."""
    path = tmp_path / name
    display.snapshot(path)
    return np.asarray(Image.open(path).convert("RGB"))


def region(pixels: np.ndarray, rect: pygame.Rect) -> np.ndarray:
    return pixels[rect.top:rect.bottom, rect.left:rect.right]


def count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    """Pixels exactly of the colour."""
    return int(np.all(pixels == np.array(colour, np.uint8), axis=-1).sum())


def drawn_box(display: Display, face: FaceLabel, frame: np.ndarray) -> pygame.Rect:
    """The canvas rectangle of a face's box in the last drawn frame."""
    frame_rect = display.last_frame_rect
    return map_box(face.box, (frame.shape[1], frame.shape[0]), frame_rect).clip(frame_rect)


def draw_one(config: DisplayConfig, scene: Scene, tmp_path: Path) -> tuple[Display, np.ndarray]:
    """Draw a scene headless and return the display and its snapshot pixels."""
    display = Display(config, "headless")
    display.open()
    display.draw(scene)
    return display, snapshot_pixels(display, tmp_path)


# --- choosing the mode ----------------------------------------------------------------------------

@pytest.mark.parametrize("environ, dri_present, expected", [
    ({}, True, "fullscreen"),
    ({}, False, "headless"),
    ({"DISPLAY": ":0"}, True, "window"),
    ({"DISPLAY": ":0"}, False, "window"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True, "window"),
    ({"DISPLAY": ""}, False, "headless"),
])
def test_choose_mode(environ, dri_present, expected):
    assert choose_mode(environ, dri_present) == expected


# --- layout helpers -------------------------------------------------------------------------------

def test_fit_rect_letterboxes_and_centres():
    area = pygame.Rect(0, 0, 480, 300)
    assert fit_rect((640, 480), area) == pygame.Rect(40, 0, 400, 300)
    assert fit_rect((1600, 600), area) == pygame.Rect(0, 60, 480, 180)


def test_place_label_below_above_or_inside():
    bounds = pygame.Rect(0, 0, 480, 300)
    below = place_label(pygame.Rect(100, 50, 60, 60), (80, 30), bounds)
    assert below.top == 110 and below.centerx == 130
    above = place_label(pygame.Rect(100, 250, 60, 40), (80, 30), bounds)
    assert above.bottom == 250
    tall_box = pygame.Rect(100, 10, 60, 285)
    inside = place_label(tall_box, (80, 30), bounds)
    assert inside.bottom == tall_box.bottom and bounds.contains(inside)
    at_edge = place_label(pygame.Rect(460, 50, 20, 20), (200, 30), bounds)
    assert at_edge.right == 480


def test_fit_text_truncates_with_ellipsis():
    pygame.font.init()
    font = pygame.font.Font(None, 30)
    assert fit_text(font, "Ada", 300) == "Ada"
    short = fit_text(font, "Wolfeschlegelsteinhausenbergerdorff", 120)
    assert short.endswith(ELLIPSIS) and font.size(short)[0] <= 120


def test_displayable_removes_what_the_renderer_refuses():
    assert displayable("bad\udcffname") == "bad?name"
    assert displayable("two\nlines\x00here") == "two lines here"
    assert displayable("Zoë 王小明") == "Zoë 王小明"


# --- faces and labels -----------------------------------------------------------------------------

def test_known_face_has_green_label_with_the_name(photo, tmp_path):
    frame, box = photo
    scene = Scene(frame, (FaceLabel(box, "known", "obama", 1),), STATUS)
    display, pixels = draw_one(DisplayConfig(), scene, tmp_path)
    (layout,) = display.last_layout
    box_rect = drawn_box(display, layout.face, frame)
    assert layout.face.name == "obama" and layout.label.top >= box_rect.bottom - 1  # below the face
    label = region(pixels, layout.label)
    assert count(label, KNOWN_COLOUR) > 0.5 * label.shape[0] * label.shape[1]
    assert count(label, KNOWN_TEXT) > 40  # the name's letters
    assert count(region(pixels, box_rect), KNOWN_COLOUR) > 3 * 2 * (box_rect.width + box_rect.height) * 0.8

    other = Scene(frame, (FaceLabel(box, "known", "biden", 1),), STATUS)
    display.draw(other)
    other_label = region(snapshot_pixels(display, tmp_path, "other.png"), display.last_layout[0].label)
    assert other_label.shape != label.shape or not np.array_equal(other_label, label)


def test_unknown_face_has_red_label(photo, tmp_path):
    frame, box = photo
    display, pixels = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "unknown"),), STATUS), tmp_path)
    label = region(pixels, display.last_layout[0].label)
    assert count(label, UNKNOWN_COLOUR) > 0.5 * label.shape[0] * label.shape[1]
    assert count(label, UNKNOWN_TEXT) > 40
    assert count(label, KNOWN_COLOUR) == 0


def test_pending_face_is_neither_green_nor_red(photo, tmp_path):
    frame, box = photo
    display, pixels = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "pending"),), STATUS), tmp_path)
    face, label_rect, _ = display.last_layout[0]
    label = region(pixels, label_rect)
    assert count(label, PENDING_LABEL) > 0.3 * label.shape[0] * label.shape[1]
    assert count(label, KNOWN_COLOUR) == 0 and count(label, UNKNOWN_COLOUR) == 0
    assert count(region(pixels, drawn_box(display, face, frame)), KNOWN_COLOUR) == 0


def test_a_face_being_checked_for_liveness_is_named_grey_and_a_picture_is_red(photo, tmp_path):
    """With recognition.liveness on: the name with a hint while checking, never green; "Not live" in red."""
    frame, box = photo
    display, pixels = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "checking", "obama", 1),), STATUS),
                               tmp_path)
    checking = region(pixels, display.last_layout[0].label)
    assert count(checking, PENDING_LABEL) > 0.3 * checking.shape[0] * checking.shape[1]
    assert count(checking, KNOWN_COLOUR) == 0 and count(checking, PENDING_TEXT) > 40
    named = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "pending"),), STATUS), tmp_path)[0]
    assert display.last_layout[0].label.width > named.last_layout[0].label.width  # name and hint, not "…"
    display.draw(Scene(frame, (FaceLabel(box, "not_live", "obama", 1),), STATUS))
    refused = region(snapshot_pixels(display, tmp_path, "refused.png"), display.last_layout[0].label)
    assert count(refused, UNKNOWN_COLOUR) > 0.5 * refused.shape[0] * refused.shape[1]
    assert count(refused, KNOWN_COLOUR) == 0


def test_three_faces_get_three_labels(photo, tmp_path):
    frame, box = photo
    faces = (FaceLabel(box, "known", "obama", 1), FaceLabel((50, 300, 250, 100), "unknown", "", 2),
             FaceLabel((50, 1400, 250, 1200), "pending", "", 3))
    display, pixels = draw_one(DisplayConfig(), Scene(frame, faces, STATUS), tmp_path)
    assert [layout.face.track_id for layout in display.last_layout] == [1, 2, 3]
    assert count(region(pixels, display.last_layout[1].label), UNKNOWN_COLOUR) > 0


@pytest.mark.parametrize("name", [
    "Zoë Ñandú", "王小明", "😀 smile", "bad\udcffbytes", "nul\x00inside", "", "   ",
    "Wolfeschlegelsteinhausenbergerdorff Hubert Blaine the Third of Many Names"])
def test_any_name_is_drawn_without_crashing(photo, tmp_path, name):
    frame, box = photo
    display, pixels = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "known", name, 1),), STATUS), tmp_path)
    label = region(pixels, display.last_layout[0].label)
    edges = np.concatenate([label[:, :3], label[:, -3:]], axis=1)
    assert count(edges, KNOWN_COLOUR) == edges.shape[0] * edges.shape[1]  # text never runs off the bar


def test_face_box_outside_the_frame_is_skipped(photo, tmp_path):
    frame, _ = photo
    display, _ = draw_one(DisplayConfig(), Scene(frame, (FaceLabel((-500, -100, -300, -400), "known", "x"),),
                                                 STATUS), tmp_path)
    assert display.last_layout == [] and display.last_frame_rect is not None


# --- banners, status and the no-camera screen -------------------------------------------------------

def test_greeting_banner_across_the_top(photo, tmp_path):
    frame, box = photo
    _, with_greeting = draw_one(DisplayConfig(), Scene(frame, (), STATUS, greeting="Welcome, Ada"), tmp_path)
    _, without = draw_one(DisplayConfig(), Scene(frame, (), STATUS), tmp_path)
    top_rows = with_greeting[:20]
    assert count(top_rows, GREETING_COLOUR) > 0.5 * top_rows.shape[0] * top_rows.shape[1]
    assert count(without[:20], GREETING_COLOUR) == 0


def test_message_banner_and_status_strip(tmp_path):
    status = Status("ok", 1, 30.0, 5.0, message="Importing 12/40…")
    display, pixels = draw_one(DisplayConfig(show_status=True), Scene(None, (), status), tmp_path)
    assert count(pixels[:15], MESSAGE_COLOUR) > 0.5 * 15 * pixels.shape[1]
    bottom = pixels[-8:]
    assert count(bottom, STATUS_COLOUR) > 0.5 * bottom.shape[0] * bottom.shape[1]


@pytest.mark.parametrize("state", ["ok", "starting", "unavailable"])
def test_visitors_see_no_figures_only_a_small_state_mark(tmp_path, state):
    """By default the strip of figures is off; a dot in the corner, coloured by the camera's state."""
    _, pixels = draw_one(DisplayConfig(), Scene(None, (), Status(state, 6, 29.7, 4.2)), tmp_path)
    strip = pixels[-20:]
    mark = STATE_MARKS[state]
    assert count(strip, STATUS_COLOUR) == 0 and count(strip, STATUS_TEXT) == 0  # no strip, no figures
    assert 5 <= count(pixels[-20:, -20:], mark) <= 120  # a small dot in the bottom right corner
    assert count(pixels[:, :-20], mark) == 0
    assert count(strip[:, :-20], BACKGROUND) == strip[:, :-20].shape[0] * strip[:, :-20].shape[1]


def test_camera_unavailable_shows_a_centred_notice(photo, tmp_path):
    frame, _ = photo
    unavailable = Scene(None, (), Status("unavailable", 6, 30.0, 0.0))
    display, dark = draw_one(DisplayConfig(), unavailable, tmp_path)
    assert display.last_frame_rect is None
    _, live = draw_one(DisplayConfig(), Scene(frame, (), STATUS), tmp_path)
    height, width = dark.shape[:2]
    centre = pygame.Rect(width // 4, height // 3, width // 2, height // 3)
    dark_centre, live_centre = region(dark, centre), region(live, centre)
    area = centre.width * centre.height
    assert count(dark_centre, BACKGROUND) > 0.7 * area
    assert count(dark_centre, NOTICE_TEXT) > 30
    assert count(live_centre, BACKGROUND) < 0.1 * area


def test_idle_hint_only_without_faces(photo, tmp_path):
    frame, _ = photo
    corner_face = (FaceLabel((0, 200, 150, 0), "pending"),)  # top left, far from the hint
    _, idle = draw_one(DisplayConfig(), Scene(frame, (), STATUS), tmp_path)
    _, busy = draw_one(DisplayConfig(), Scene(frame, corner_face, STATUS), tmp_path)
    _, greeted = draw_one(DisplayConfig(), Scene(frame, (), STATUS, greeting="Welcome, Ada"), tmp_path)
    near_bottom = (slice(220, 285), slice(120, 360))
    assert np.array_equal(busy[near_bottom], greeted[near_bottom])
    assert not np.array_equal(idle[near_bottom], busy[near_bottom])


# --- rotation, mirroring and snapshots ---------------------------------------------------------------

@pytest.mark.parametrize("rotation, mirror",
                         [(0, False), (90, False), (180, False), (270, False), (0, True), (90, True)])
def test_snapshot_is_the_physical_screen(photo, tmp_path, rotation, mirror):
    """The canvas stays 480x320; the snapshot is the screen, turned clockwise and mirrored as mounted."""
    frame, box = photo
    config = DisplayConfig(rotation=rotation, mirror=mirror)
    display, pixels = draw_one(config, Scene(frame, (FaceLabel(box, "known", "obama", 1),), STATUS), tmp_path)
    width, height = display.canvas_size
    assert (width, height) == (480, 320)
    expected_size = (height, width) if rotation in (90, 270) else (width, height)
    assert display.screen_size == expected_size
    assert (pixels.shape[1], pixels.shape[0]) == expected_size

    label = display.last_layout[0].label
    x0, x1 = label.left, label.right - 1
    if mirror:
        x0, x1 = width - 1 - x1, width - 1 - x0
    y0, y1 = label.top, label.bottom - 1
    corners = {0: lambda x, y: (x, y), 90: lambda x, y: (height - 1 - y, x),
               180: lambda x, y: (width - 1 - x, height - 1 - y), 270: lambda x, y: (y, width - 1 - x)}[rotation]
    (ax, ay), (bx, by) = corners(x0, y0), corners(x1, y1)
    on_screen = pygame.Rect(min(ax, bx), min(ay, by), abs(ax - bx) + 1, abs(ay - by) + 1)
    area = on_screen.width * on_screen.height
    assert count(region(pixels, on_screen), KNOWN_COLOUR) > 0.5 * area


def test_snapshot_is_written_atomically_as_png(photo, tmp_path):
    frame, _ = photo
    display, _ = draw_one(DisplayConfig(), Scene(frame, (), STATUS), tmp_path)
    target = tmp_path / "deeper" / "screen.png"
    display.snapshot(target)
    display.snapshot(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [path.name for path in target.parent.iterdir()] == ["screen.png"]


def test_periodic_snapshot_follows_the_interval(photo, tmp_path):
    frame, _ = photo
    now = [100.0]
    target = tmp_path / "periodic.png"
    config = DisplayConfig(snapshot_path=str(target), snapshot_interval=5.0)
    with Display(config, "headless", clock=lambda: now[0]) as display:
        display.draw(Scene(frame, (), STATUS))
        assert target.is_file()
        target.unlink()
        now[0] = 103.0
        display.draw(Scene(frame, (), STATUS))
        assert not target.exists()
        now[0] = 105.0
        display.draw(Scene(frame, (), STATUS))
        assert target.is_file()


def test_snapshot_path_argument_overrides_the_config(photo, tmp_path):
    frame, _ = photo
    configured, given = tmp_path / "configured.png", tmp_path / "given.png"
    config = DisplayConfig(snapshot_path=str(configured))
    with Display(config, "headless", str(given)) as display:
        display.draw(Scene(frame, (), STATUS))
    assert given.is_file() and not configured.exists()
    with Display(config, "headless", "") as display:
        display.draw(Scene(frame, (), STATUS))
    assert not configured.exists()


def test_periodic_snapshot_failure_does_not_stop_drawing(photo, tmp_path, caplog):
    frame, _ = photo
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    config = DisplayConfig(snapshot_path=str(blocker / "shot.png"))
    with caplog.at_level(logging.WARNING, logger="kiosk.display"), Display(config, "headless") as display:
        display.draw(Scene(frame, (), STATUS))
        display.draw(Scene(frame, (), STATUS))
    assert "cannot save the snapshot" in caplog.text


# --- modes -----------------------------------------------------------------------------------------

def test_headless_needs_no_video_driver(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    pygame.display.quit()
    frame, box = photo
    display, pixels = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "known", "obama"),), STATUS), tmp_path)
    assert display.mode == "headless"
    assert not pygame.display.get_init()
    assert count(pixels, KNOWN_COLOUR) > 100


def test_window_mode_opens_a_window_of_the_turned_size(photo):
    frame, _ = photo
    with Display(DisplayConfig(rotation=90), "window") as display:
        display.draw(Scene(frame, (), STATUS))
        assert display.mode == "window"
        assert pygame.display.get_surface().get_size() == (320, 480)
        assert display.canvas_size == (480, 320)
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        display.draw(Scene(frame, (), STATUS))
        assert display.quit_requested
    assert not pygame.display.get_init()


def test_fullscreen_uses_the_native_size_and_keeps_a_chosen_driver(photo):
    frame, _ = photo
    with Display(DisplayConfig(rotation=270), "fullscreen") as display:
        display.draw(Scene(frame, (), STATUS))
        assert display.mode == "fullscreen"
        width, height = pygame.display.get_surface().get_size()
        assert display.canvas_size == (height, width)
        assert os.environ["SDL_VIDEODRIVER"] == "dummy"


@pytest.mark.skipif(bool(glob.glob("/dev/dri/card*")), reason="a real DRM screen would be opened")
def test_fullscreen_on_a_console_picks_kmsdrm_and_falls_back_to_headless(monkeypatch, caplog, tmp_path):
    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.delenv("SDL_FRAMEBUFFER_ACCELERATION", raising=False)  # restored (unset) afterwards
    monkeypatch.setattr(opening, "FALLBACK_FRAMEBUFFER", str(tmp_path / "no-fb0"))
    with caplog.at_level(logging.WARNING, logger="kiosk.display"), Display(DisplayConfig(), "fullscreen") as display:
        assert os.environ["SDL_VIDEODRIVER"] == "kmsdrm"
        assert os.environ["SDL_FRAMEBUFFER_ACCELERATION"] == "opengles2"
        assert display.mode == "headless"
        display.draw(Scene(None, (), STATUS))
    assert "cannot open the fullscreen display" in caplog.text


def test_kmsdrm_is_among_the_video_drivers_sdl_was_built_with():
    """Fullscreen on a console without X or Wayland (a Pi's) draws through SDL's KMSDRM driver:
    the SDL inside the pygame wheel must have it (pygame 2.6.1's wheels did not)."""
    import ctypes
    import ctypes.util
    libraries = glob.glob(os.path.join(os.path.dirname(pygame.__file__) + "*.libs", "libSDL2-*"))
    sdl = ctypes.CDLL(libraries[0] if libraries else ctypes.util.find_library("SDL2") or "libSDL2-2.0.so.0")
    sdl.SDL_GetVideoDriver.restype = ctypes.c_char_p
    drivers = {sdl.SDL_GetVideoDriver(index).decode().lower() for index in range(sdl.SDL_GetNumVideoDrivers())}
    assert "kmsdrm" in drivers, drivers


@pytest.mark.skipif(bool(glob.glob("/dev/dri/card*")), reason="a real DRM screen would be opened")
def test_fullscreen_that_cannot_open_draws_to_the_console_framebuffer(monkeypatch, caplog, tmp_path):
    """No SDL driver for the console (or no GPU driver): the screen's framebuffer, not nothing."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    sysfs, device = fake_framebuffer(tmp_path, "480,320", 32, None)
    (sysfs / "fb1").rename(sysfs / device.name)
    monkeypatch.setattr(opening, "FALLBACK_FRAMEBUFFER", str(device))
    (sysfs / device.name / "name").write_text("bochs-drmdrmfb\n")  # a DRM driver's framebuffer
    with caplog.at_level(logging.WARNING, logger="kiosk.display"), \
            Display(DisplayConfig(), "fullscreen", sysfs_root=sysfs) as display:
        display.draw(red_scene())
        assert display.mode.startswith("fb:") and display.max_fps is None  # no SPI panel's pace
    assert f"drawing to the framebuffer {device} instead" in caplog.text
    assert device.read_bytes()[(100 * 480 + 240) * 4:(100 * 480 + 240) * 4 + 3] == b"\x00\x00\xff"


def test_window_that_cannot_open_falls_back_to_headless(monkeypatch, caplog):
    monkeypatch.setenv("SDL_VIDEODRIVER", "no-such-driver")
    with caplog.at_level(logging.WARNING, logger="kiosk.display"), Display(DisplayConfig(), "window") as display:
        display.draw(Scene(None, (), STATUS))
        assert display.mode == "headless"
        assert display.screen_size == (480, 320)
    assert "no-such-driver" in caplog.text


def test_config_mode_is_used_unless_overridden():
    assert Display(DisplayConfig(mode="window")).requested_mode == "window"
    assert Display(DisplayConfig(mode="window"), "headless").requested_mode == "headless"


# --- framebuffer -----------------------------------------------------------------------------------

def fake_framebuffer(tmp_path: Path, size: str, bits: int, stride: int | None) -> tuple[Path, Path]:
    """A sysfs folder describing fb1 and a zero-filled file standing in for /dev/fb1."""
    info = tmp_path / "sys" / "fb1"
    info.mkdir(parents=True)
    (info / "virtual_size").write_text(f"{size}\n")
    (info / "bits_per_pixel").write_text(f"{bits}\n")
    width, height = (int(part) for part in size.split(","))
    row = stride or width * bits // 8
    if stride is not None:
        (info / "stride").write_text(f"{stride}\n")
    device = tmp_path / "fb1"
    device.write_bytes(bytes(row * height))
    return info.parent, device


def red_scene() -> Scene:
    """A pure red camera frame filling the picture area, with no faces."""
    return Scene(np.tile(np.array([255, 0, 0], np.uint8), (300, 480, 1)), (), STATUS)


@pytest.mark.parametrize("bits, stride, red_bytes", [
    (16, 960, b"\x00\xf8"),
    (16, 1024, b"\x00\xf8"),
    (32, None, b"\x00\x00\xff"),
])
def test_framebuffer_receives_the_screen(tmp_path, bits, stride, red_bytes):
    sysfs, device = fake_framebuffer(tmp_path, "480,320", bits, stride)
    with Display(DisplayConfig(show_status=True), f"fb:{device}", sysfs_root=sysfs) as display:
        display.draw(red_scene())
        assert display.mode.startswith("fb:")
    data = device.read_bytes()
    row = stride or 480 * bits // 8
    pixel_size = bits // 8
    for x, y in [(240, 100), (10, 10), (470, 250)]:
        offset = y * row + x * pixel_size
        assert data[offset:offset + len(red_bytes)] == red_bytes, (x, y)
    status_row = 318 * row
    assert data[status_row:status_row + len(red_bytes)] == bytes(len(red_bytes))  # the black status strip
    if stride and stride > 480 * pixel_size:
        assert data[480 * pixel_size:stride] == bytes(stride - 480 * pixel_size)  # padding stays zero


def test_framebuffer_portrait_panel_shows_the_canvas_turned(tmp_path):
    sysfs, device = fake_framebuffer(tmp_path, "320,480", 16, None)
    with Display(DisplayConfig(rotation=90), f"fb:{device}", sysfs_root=sysfs) as display:
        display.draw(red_scene())
        assert display.canvas_size == (480, 320)
    data = device.read_bytes()
    canvas_x, canvas_y = 240, 100
    screen_x, screen_y = 320 - 1 - canvas_y, canvas_x
    offset = screen_y * 640 + screen_x * 2
    assert data[offset:offset + 2] == b"\x00\xf8"


def test_an_spi_framebuffer_is_drawn_no_faster_than_its_panel_shows(tmp_path):
    """480x320 at 16 bits through a 16 MHz SPI bus: about 6.5 pictures a second, unless
    display.max_fps says otherwise; other screens have no limit of their own. The daemon's loop
    draws a new frame only when one is due."""
    sysfs, device = fake_framebuffer(tmp_path, "480,320", 16, None)
    with Display(DisplayConfig(), f"fb:{device}", sysfs_root=sysfs) as display:
        assert display.max_fps == pytest.approx(16e6 / (480 * 320 * 16))
    with Display(DisplayConfig(max_fps=13), f"fb:{device}", sysfs_root=sysfs) as display:
        assert display.max_fps == 13
    with Display(DisplayConfig(), "headless") as display:
        assert display.max_fps is None
    with Display(DisplayConfig(), f"fb:{device}", sysfs_root=sysfs) as display:
        loop = SimpleNamespace(display=display, config=Config(), last_drawn=float("-inf"),
                               recognizer=SimpleNamespace(at_rest=False))
        drawn = [t / 30 for t in range(60) if Daemon.due_to_draw(loop, t / 30, True)]  # 2 s of camera frames
    assert len(drawn) == 12 and all(b - a >= 1 / 6.52 for a, b in itertools.pairwise(drawn))


def test_missing_framebuffer_falls_back_to_headless(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="kiosk.display"), \
            Display(DisplayConfig(), "fb:/dev/fb7", sysfs_root=tmp_path) as display:
        display.draw(red_scene())
        assert display.mode == "headless"
    assert "fb7" in caplog.text


# --- cost over many frames --------------------------------------------------------------------------

def test_text_cache_stays_bounded_when_names_change(photo):
    frame, box = photo
    with Display(DisplayConfig(), "headless") as display:
        for index in range(TEXT_CACHE_SIZE * 3):
            status = Status("ok", index, index / 7, 1.0)
            display.draw(Scene(frame, (FaceLabel(box, "known", f"person {index}", 1),), status,
                               greeting=f"Welcome, person {index}"))
            assert display.cached_text_count <= 2 * TEXT_CACHE_SIZE
        assert display.cached_text_count > TEXT_CACHE_SIZE  # the bound was actually reached


# --- readable at a metre: sizes, fitting, labels side by side, the greeting ----------------------------

def ink_height(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    """Rows between the highest and the lowest pixel of COLOUR (the text's height)."""
    rows = np.flatnonzero(np.all(pixels == np.array(colour, np.uint8), axis=-1).any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


@pytest.mark.parametrize("size, least", [((480, 320), 24), ((800, 480), 36)])
@pytest.mark.parametrize("name", ["Gary Jay", "Jaylyn Pyke-Montgomery Fitzgerald"])
def test_names_are_at_least_24_px_high_on_480x320_and_scaled_for_other_screens(photo, tmp_path, size, least,
                                                                                 name):
    frame, box = photo
    config = DisplayConfig(width=size[0], height=size[1])
    display, pixels = draw_one(config, Scene(frame, (FaceLabel(box, "known", name, 1),), STATUS), tmp_path)
    (layout,) = display.last_layout
    assert display.canvas_size == size
    assert ink_height(region(pixels, layout.label), KNOWN_TEXT) >= least, layout.text  # J to y: the text's height


def test_a_long_name_shrinks_then_shows_the_first_name_then_an_ellipsis(photo, tmp_path):
    frame, box = photo
    shown = []
    for name in ["Ada Lovelace", "Maria Guadalupe Fernandez de la Cruz y Montenegro",
                 "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwaren Jr"]:
        display, _ = draw_one(DisplayConfig(), Scene(frame, (FaceLabel(box, "known", name, 1),), STATUS), tmp_path)
        shown.append(display.last_layout[0].text)
    assert shown[0] == "Ada Lovelace"
    assert shown[1] == "Maria"  # the first name, whole, rather than "Maria Gua…"
    assert shown[2].startswith("Wolfeschlegel") and shown[2].endswith(ELLIPSIS)


def test_fit_choices_tries_every_size_before_the_shorter_form():
    pygame.font.init()
    fonts = [pygame.font.Font(None, size) for size in (40, 32, 24)]
    assert fit_choices(fonts, ["Ada Lovelace", "Ada"], 1000) == (0, "Ada Lovelace")
    width = fonts[1].size("Ada Lovelace")[0]
    assert fit_choices(fonts, ["Ada Lovelace", "Ada"], width) == (1, "Ada Lovelace")  # smaller, still whole
    index, text = fit_choices(fonts, ["Ada Lovelace", "Ada"], fonts[0].size("Ada")[0])
    assert (index, text) == (0, "Ada")  # then the first name at the largest size it fits
    index, text = fit_choices(fonts, ["Ada Lovelace", "Ada"], fonts[2].size("A")[0] + fonts[2].size(ELLIPSIS)[0])
    assert index == 2 and text.endswith(ELLIPSIS)


@pytest.mark.parametrize("boxes", [
    [(57, 964, 242, 778), (47, 408, 202, 253)],  # two_people.jpg's faces
    [(300, 500, 500, 300), (300, 760, 500, 560), (300, 1020, 500, 820)],  # three in a row, close together
    [(300, 700, 500, 500), (320, 760, 520, 560)],  # one half in front of the other
])
def test_labels_of_faces_side_by_side_never_overlap(photo, tmp_path, boxes):
    frame, _ = photo
    names = ["Maria Guadalupe Fernandez", "Christopher Montgomery", "Alexandria Ocasio"]
    faces = tuple(FaceLabel(box, "known", names[i], i) for i, box in enumerate(boxes))
    display, pixels = draw_one(DisplayConfig(), Scene(frame, faces, STATUS), tmp_path)
    labels = [layout.label for layout in display.last_layout]
    assert len(labels) == len(boxes)
    assert all(not a.colliderect(b) for i, a in enumerate(labels) for b in labels[i + 1:]), labels
    for layout in display.last_layout:
        assert ink_height(region(pixels, layout.label), KNOWN_TEXT) >= 16 and layout.text  # a capital at 24 px


def test_the_greeting_uses_the_display_name_and_fits(photo, tmp_path):
    frame, _ = photo
    scene = Scene(frame, (), STATUS, greeting="Welcome, Maria Guadalupe Fernandez de la Cruz",
                  greeting_short="Welcome, Maria")
    display, pixels = draw_one(DisplayConfig(), scene, tmp_path)
    banner = pixels[:display._fonts["greeting"][0].get_height()]
    assert count(banner, GREETING_COLOUR) > 0.4 * banner.shape[0] * banner.shape[1]
    assert display._fitted("greeting", (scene.greeting, scene.greeting_short), 480 - 16)[1] == "Welcome, Maria"


def test_each_state_as_a_visitor_sees_it(photo, tmp_path):
    """One snapshot per face state and banner, kept beside the test's files to be looked at."""
    frame, box = photo
    scenes = {
        "known": Scene(frame, (FaceLabel(box, "known", "jose_nunez", 1),), STATUS,
                       greeting="Welcome, Jose Nunez", greeting_short="Welcome, Jose"),
        "unknown": Scene(frame, (FaceLabel(box, "unknown", "unknown", 1),), STATUS),
        "pending": Scene(frame, (FaceLabel(box, "pending"),), STATUS),
        "checking": Scene(frame, (FaceLabel(box, "checking", "José Núñez", 1),), STATUS),
        "not_live": Scene(frame, (FaceLabel(box, "not_live", "José Núñez", 1),), STATUS),
        "import": Scene(frame, (), Status("ok", 6, 29.7, 4.2, message="Import done: 12 added, 3 skipped, 1 held back")),
        "no_camera": Scene(None, (), Status("unavailable", 6, 0.0, 0.0)),
    }
    texts = {}
    for name, scene in scenes.items():
        display, pixels = draw_one(DisplayConfig(), scene, tmp_path)
        display.snapshot(tmp_path / f"{name}.png")
        texts[name] = [layout.text for layout in display.last_layout]
        assert pixels.shape == (320, 480, 3)
    assert texts["known"] == ["Jose Nunez"] and texts["unknown"] == ["Unknown"] and texts["pending"] == [ELLIPSIS]
    assert texts["checking"][0].startswith("José") and texts["not_live"] == ["Not live"]
    assert all((tmp_path / f"{name}.png").stat().st_size > 1000 for name in scenes)
