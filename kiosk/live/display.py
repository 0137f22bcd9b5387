"""Drawing what the kiosk sees on its small screen: the camera picture, a named box per face,
a greeting and a status line.

Everything is drawn on a canvas of the logical size (480x320 landscape by default). Mirroring and
rotation for the way the screen is mounted are applied only when the canvas is put on the
physical screen, and a snapshot saves that physical screen: exactly what a person in front of
the kiosk sees. The screen is a window, the whole console (fullscreen), a Linux framebuffer
written directly, or nothing at all (headless). A screen that cannot be opened or stops working
falls back to headless with a warning, so the daemon never dies because of its display.
"""

from __future__ import annotations

import glob
import logging
import os
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pygame

from kiosk.config import DisplayConfig
from kiosk.util import replaced_atomically

log = logging.getLogger("kiosk.display")

SYSFS_GRAPHICS = "/sys/class/graphics"
DEFAULT_FONT = Path(pygame.__file__).parent / pygame.font.get_default_font()
ELLIPSIS = "…"
TEXT_CACHE_SIZE = 256

BACKGROUND = (18, 20, 24)
KNOWN_COLOUR = (40, 200, 90)
KNOWN_TEXT = (0, 0, 0)
UNKNOWN_COLOUR = (220, 60, 40)
UNKNOWN_TEXT = (255, 255, 255)
PENDING_COLOUR = (190, 190, 190)
PENDING_LABEL = (70, 70, 76)
PENDING_TEXT = (235, 235, 235)
GREETING_COLOUR = (30, 100, 200)
GREETING_TEXT = (255, 255, 255)
MESSAGE_COLOUR = (245, 185, 40)
MESSAGE_TEXT = (0, 0, 0)
STATUS_COLOUR = (0, 0, 0)
STATUS_TEXT = (175, 175, 180)
NOTICE_TEXT = (210, 210, 215)


@dataclass(frozen=True)
class FaceStyle:
    """How one face state looks: known and unknown faces differ in colour and in text."""
    box_colour: tuple[int, int, int]
    box_width: int
    label_colour: tuple[int, int, int]
    text_colour: tuple[int, int, int]
    label_spans_box: bool  # a wide bar under the whole box, or a small tag


FACE_STYLES = {
    "known": FaceStyle(KNOWN_COLOUR, 3, KNOWN_COLOUR, KNOWN_TEXT, True),
    "unknown": FaceStyle(UNKNOWN_COLOUR, 3, UNKNOWN_COLOUR, UNKNOWN_TEXT, True),
    "pending": FaceStyle(PENDING_COLOUR, 1, PENDING_LABEL, PENDING_TEXT, False),
    "checking": FaceStyle(PENDING_COLOUR, 3, PENDING_LABEL, PENDING_TEXT, True),
    "not_live": FaceStyle(UNKNOWN_COLOUR, 3, UNKNOWN_COLOUR, UNKNOWN_TEXT, True),
}
LIVENESS_HINT = "look at the camera"
IDLE_HINT = "Look at the camera"
NO_FRAME_TEXT = {
    "unavailable": "Camera unavailable — retrying",
    "starting": "Starting camera…",
    "finished": "Video finished",
}
WAITING_TEXT = "Waiting for the camera…"


@dataclass(frozen=True)
class FaceLabel:
    """One face to draw; box is (top, right, bottom, left) in frame pixels."""
    box: tuple[int, int, int, int]
    state: str  # "pending" (not confirmed yet), "known", "unknown", or with liveness "checking" / "not_live"
    name: str = ""
    track_id: int = 0


@dataclass(frozen=True)
class Status:
    """Figures for the status line; a non-empty message is shown as a banner."""
    camera_state: str  # "ok", "starting", "unavailable" or "finished"
    people: int
    display_fps: float
    recognition_fps: float
    message: str = ""
    detector_fps: float = 0.0  # frames per second the face detector searched


@dataclass(frozen=True)
class Scene:
    """Everything one drawn frame shows; frame is RGB uint8 (HxWx3) or None when there is none."""
    frame: np.ndarray | None
    faces: tuple[FaceLabel, ...]
    status: Status
    greeting: str = ""


class FaceLayout(NamedTuple):
    """A face as drawn, and where its label went, in canvas coordinates."""
    face: FaceLabel
    label: pygame.Rect


def choose_mode(environ: Mapping[str, str], dri_present: bool) -> str:
    """The display mode for "auto": a window on a desktop, fullscreen on a console with a DRM
    device (a Pi without a desktop), headless otherwise."""
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return "window"
    if dri_present:
        return "fullscreen"
    return "headless"


def turned_size(size: tuple[int, int], rotation: int) -> tuple[int, int]:
    """A size after a rotation by `rotation` degrees: width and height swap for 90 and 270."""
    width, height = size
    return (height, width) if rotation % 180 else (width, height)


def fit_rect(frame_size: tuple[int, int], area: pygame.Rect) -> pygame.Rect:
    """The largest rectangle of the frame's aspect ratio centred in `area` (letterboxing)."""
    frame_width, frame_height = frame_size
    scale = min(area.width / frame_width, area.height / frame_height)
    rect = pygame.Rect(0, 0, max(1, round(frame_width * scale)), max(1, round(frame_height * scale)))
    rect.center = area.center
    return rect


def map_box(box: tuple[int, int, int, int], frame_size: tuple[int, int], frame_rect: pygame.Rect) -> pygame.Rect:
    """A (top, right, bottom, left) box in frame pixels as a rectangle on the canvas."""
    top, right, bottom, left = box
    scale_x = frame_rect.width / frame_size[0]
    scale_y = frame_rect.height / frame_size[1]
    x0, x1 = frame_rect.x + round(left * scale_x), frame_rect.x + round(right * scale_x)
    y0, y1 = frame_rect.y + round(top * scale_y), frame_rect.y + round(bottom * scale_y)
    return pygame.Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def place_label(box: pygame.Rect, size: tuple[int, int], bounds: pygame.Rect) -> pygame.Rect:
    """A label's rectangle: centred just below the box, else just above it, else inside its
    bottom edge; always kept inside `bounds`."""
    label = pygame.Rect(0, 0, min(size[0], bounds.width), size[1])
    label.centerx = box.centerx
    if box.bottom + label.height <= bounds.bottom:
        label.top = box.bottom
    elif box.top - label.height >= bounds.top:
        label.bottom = box.top
    else:
        label.bottom = min(box.bottom, bounds.bottom)
    return label.clamp(bounds)


def displayable(text: str) -> str:
    """Text the font renderer accepts: undecodable characters (surrogates from file names)
    become "?", and control characters such as newlines or NUL become spaces."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


def fit_text(font: pygame.font.Font, text: str, max_width: int) -> str:
    """The text, or its longest beginning that fits `max_width` pixels followed by an ellipsis."""
    if font.size(text)[0] <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.size(text[:middle].rstrip() + ELLIPSIS)[0] <= max_width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


class LruCache:
    """A bounded mapping that forgets the least recently used entry, for rendered text."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()

    def get(self, key, make: Callable[[], object]):
        """The cached value for key, made and stored on a miss."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Framebuffer:
    """A Linux framebuffer device written directly; its size and pixel format come from sysfs
    (virtual_size, bits_per_pixel and, when present, stride)."""

    def __init__(self, device: str, sysfs_root: str | os.PathLike = SYSFS_GRAPHICS) -> None:
        info = Path(sysfs_root) / Path(device).name
        width, height = (int(part) for part in (info / "virtual_size").read_text().strip().split(","))
        self.bits_per_pixel = int((info / "bits_per_pixel").read_text().strip())
        if self.bits_per_pixel not in (16, 32):
            raise ValueError(f"{device}: {self.bits_per_pixel} bits per pixel is not supported (16 or 32)")
        self.size = (width, height)
        self.row_bytes = width * self.bits_per_pixel // 8
        stride_file = info / "stride"
        self.stride = int(stride_file.read_text().strip()) if stride_file.exists() else self.row_bytes
        if self.stride < self.row_bytes:
            raise ValueError(f"{device}: stride {self.stride} is shorter than a row of {self.row_bytes} bytes")
        self.device = device
        self._fd = os.open(device, os.O_WRONLY)
        self._rows = np.zeros((height, self.stride), np.uint8)  # reused; padding bytes stay zero

    def pixel_bytes(self, surface: pygame.Surface) -> np.ndarray:
        """The surface as rows of framebuffer bytes: RGB565 little-endian or BGRA (XRGB8888)."""
        width, height = self.size
        if self.bits_per_pixel == 32:
            pixels = np.frombuffer(pygame.image.tobytes(surface, "BGRA"), np.uint8).reshape(height, width * 4)
        else:
            rgb = np.frombuffer(pygame.image.tobytes(surface, "RGB"), np.uint8).reshape(height, width, 3)
            red, green, blue = (rgb[..., channel].astype(np.uint16) for channel in range(3))
            packed = ((red >> 3) << 11) | ((green >> 2) << 5) | (blue >> 3)
            pixels = packed.astype("<u2").view(np.uint8).reshape(height, width * 2)
        if self.stride == self.row_bytes:
            return pixels
        self._rows[:, :self.row_bytes] = pixels
        return self._rows

    def write(self, surface: pygame.Surface) -> None:
        """Copy one whole screen into the framebuffer, from offset 0."""
        os.pwrite(self._fd, self.pixel_bytes(surface).tobytes(), 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Display:
    """The kiosk's screen. Call open() (or use it as a context manager), draw() every frame and
    close() at the end. `mode` and `snapshot_path` override the config's values; `mode` after
    open() is the one in use."""

    def __init__(self, config: DisplayConfig, mode: str | None = None, snapshot_path: str | None = None, *,
                 sysfs_root: str | os.PathLike = SYSFS_GRAPHICS, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.requested_mode = mode or config.mode
        self.snapshot_path = config.snapshot_path if snapshot_path is None else snapshot_path
        self.mode = ""
        self.sysfs_root = sysfs_root
        self.last_layout: list[FaceLayout] = []  # faces with labels in the last drawn frame
        self.last_frame_rect: pygame.Rect | None = None  # where the camera picture went, if anywhere
        self.quit_requested = False
        self._clock = clock
        self._screen: pygame.Surface | None = None
        self._canvas: pygame.Surface | None = None
        self._framebuffer: Framebuffer | None = None
        self._fonts: dict[str, pygame.font.Font] = {}
        self._text_cache = LruCache(TEXT_CACHE_SIZE)
        self._fit_cache = LruCache(TEXT_CACHE_SIZE)
        self._hint: pygame.Surface | None = None
        self._status_height = 0
        self._next_snapshot: float | None = None
        self._snapshot_failing = False

    # --- opening and closing -------------------------------------------------------------------

    def open(self) -> Display:
        """Open the screen for the chosen mode, falling back to headless if it cannot be used."""
        if self._screen is not None:
            return self
        pygame.font.init()
        mode = self.requested_mode
        if mode == "auto":
            mode = choose_mode(os.environ, bool(glob.glob("/dev/dri/card*")))
        screen = None
        if mode in ("window", "fullscreen"):
            try:
                screen = self._open_screen(mode)
            except pygame.error as exc:
                log.warning("cannot open the %s display (%s); drawing headless instead", mode, exc)
                pygame.display.quit()
                mode = "headless"
        elif mode.startswith("fb:"):
            try:
                self._framebuffer = Framebuffer(mode[3:], self.sysfs_root)
                screen = pygame.Surface(self._framebuffer.size)
            except (OSError, ValueError) as exc:
                log.warning("cannot use the framebuffer %s (%s); drawing headless instead", mode[3:], exc)
                mode = "headless"
        elif mode != "headless":
            log.warning("unknown display mode %r; drawing headless instead", mode)
            mode = "headless"
        if screen is None:
            screen = pygame.Surface(turned_size((self.config.width, self.config.height), self.config.rotation))
        self.mode = mode
        self._use_screen(screen)
        log.info("display: %s, screen %dx%d, canvas %dx%d", mode, *screen.get_size(), *self.canvas_size)
        return self

    def _open_screen(self, mode: str) -> pygame.Surface:
        """A window of the rotated canvas size, or the whole screen at its native size."""
        if mode == "fullscreen":
            if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
                os.environ.setdefault("SDL_VIDEODRIVER", "kmsdrm")
            pygame.display.init()
            screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            pygame.display.init()
            screen = pygame.display.set_mode(turned_size((self.config.width, self.config.height),
                                                         self.config.rotation))
            pygame.display.set_caption("Kiosk")
        return screen

    def _use_screen(self, screen: pygame.Surface) -> None:
        """Draw onto `screen`: directly when it is upright, else through a canvas of its own."""
        self._screen = screen
        canvas_size = turned_size(screen.get_size(), self.config.rotation)
        upright = self.config.rotation == 0 and not self.config.mirror
        self._canvas = screen if upright else pygame.Surface(canvas_size)
        self._make_fonts(canvas_size)

    def _fall_back_to_headless(self, reason: str) -> None:
        """Keep drawing off-screen after the screen failed, at the same size."""
        log.warning("the %s display failed (%s); drawing headless from now on", self.mode, reason)
        size = self._current_screen.get_size()
        if self._framebuffer is not None:
            self._framebuffer.close()
            self._framebuffer = None
        if pygame.display.get_init():
            pygame.display.quit()
        self.mode = "headless"
        self._use_screen(pygame.Surface(size))

    def close(self) -> None:
        """Release the screen or framebuffer; draw() reopens it if called again."""
        if self._framebuffer is not None:
            self._framebuffer.close()
            self._framebuffer = None
        if self.mode in ("window", "fullscreen") and pygame.display.get_init():
            pygame.display.quit()
        self._screen = self._canvas = self._hint = None
        self._fonts = {}
        self._text_cache.clear()
        self._fit_cache.clear()

    def __enter__(self) -> Display:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def _current_screen(self) -> pygame.Surface:
        if self._screen is None:
            raise RuntimeError("the display is not open")
        return self._screen

    @property
    def _current_canvas(self) -> pygame.Surface:
        if self._canvas is None:
            raise RuntimeError("the display is not open")
        return self._canvas

    @property
    def canvas_size(self) -> tuple[int, int]:
        """The logical drawing size, before rotation."""
        return self._current_canvas.get_size()

    @property
    def cached_text_count(self) -> int:
        """Rendered and shortened texts currently kept; bounded however many names pass by."""
        return len(self._text_cache) + len(self._fit_cache)

    @property
    def screen_size(self) -> tuple[int, int]:
        """The physical screen size, after rotation; also the size of snapshots."""
        return self._current_screen.get_size()

    # --- fonts and text ------------------------------------------------------------------------

    def _make_fonts(self, canvas_size: tuple[int, int]) -> None:
        """Fonts scaled to the canvas height, made once per screen (never per frame)."""
        height = canvas_size[1]
        sizes = {"label": max(18, height // 11), "greeting": max(24, height // 8),
                 "notice": max(16, height // 14), "status": max(12, height // 20)}
        font_file = str(DEFAULT_FONT) if DEFAULT_FONT.is_file() else None
        self._fonts = {role: pygame.font.Font(font_file, size) for role, size in sizes.items()}
        self._status_height = self._fonts["status"].get_linesize() + 4 if self.config.show_status else 0
        self._text_cache.clear()
        self._fit_cache.clear()
        self._hint = None

    def _fitted(self, role: str, text: str, max_width: int) -> str:
        """Displayable text for a font role, shortened with an ellipsis to fit max_width."""
        def make() -> str:
            font = self._fonts[role]
            clean = displayable(text)
            try:
                return fit_text(font, clean, max_width)
            except (pygame.error, ValueError, UnicodeError):
                return fit_text(font, clean.encode("ascii", "replace").decode("ascii"), max_width)
        return self._fit_cache.get((role, text, max_width), make)

    def _text(self, role: str, text: str, colour: tuple, background: tuple) -> pygame.Surface:
        """Rendered text on an opaque background, cached; text must come from _fitted."""
        def make() -> pygame.Surface:
            font = self._fonts[role]
            try:
                return font.render(text, True, colour, background)
            except (pygame.error, ValueError, UnicodeError):
                return font.render(text.encode("ascii", "replace").decode("ascii"), True, colour, background)
        return self._text_cache.get((role, text, colour, background), make)

    # --- drawing -------------------------------------------------------------------------------

    def draw(self, scene: Scene) -> None:
        """Draw one scene, show it, and save the periodic snapshot when one is due."""
        if self._screen is None:
            self.open()
        canvas = self._current_canvas
        canvas.fill(BACKGROUND)
        area = canvas.get_rect()
        area.height -= self._status_height
        layouts: list[FaceLayout] = []
        frame_rect = None
        if scene.frame is not None and scene.frame.ndim == 3 and scene.frame.size:
            frame_size = (scene.frame.shape[1], scene.frame.shape[0])
            frame_rect = self._draw_frame(scene.frame, area)
            for face in scene.faces:
                layout = self._draw_face(face, frame_size, frame_rect, area)
                if layout is not None:
                    layouts.append(layout)
            if not scene.faces and not scene.greeting:
                self._draw_idle_hint(frame_rect)
        else:
            text = NO_FRAME_TEXT.get(scene.status.camera_state, WAITING_TEXT)
            self._draw_centred_notice(text, area)
        banner_top = 0
        if scene.greeting:
            banner_top = self._draw_banner(scene.greeting, "greeting", GREETING_COLOUR, GREETING_TEXT, banner_top)
        if scene.status.message:
            self._draw_banner(scene.status.message, "notice", MESSAGE_COLOUR, MESSAGE_TEXT, banner_top)
        if self.config.show_status:
            self._draw_status(scene.status)
        self.last_layout = layouts
        self.last_frame_rect = frame_rect
        self._present()
        self._snapshot_if_due()

    def _draw_frame(self, frame: np.ndarray, area: pygame.Rect) -> pygame.Rect:
        """Blit the camera frame scaled to fit the area, centred, keeping its aspect ratio."""
        height, width = frame.shape[:2]
        target = fit_rect((width, height), area)
        if target.size != (width, height):
            shrinking_a_lot = target.width * 2 < width
            frame = cv2.resize(frame, target.size, interpolation=cv2.INTER_AREA if shrinking_a_lot
                               else cv2.INTER_LINEAR)
        frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
        self._current_canvas.blit(pygame.image.frombuffer(frame.data, target.size, "RGB"), target)
        return target

    def _draw_face(self, face: FaceLabel, frame_size: tuple[int, int], frame_rect: pygame.Rect,
                   area: pygame.Rect) -> FaceLayout | None:
        """A face's box and its label: green with the name, red "Unknown", or a grey "…"."""
        box = map_box(face.box, frame_size, frame_rect).clip(frame_rect)
        if box.width == 0 or box.height == 0:
            return None
        style = FACE_STYLES.get(face.state, FACE_STYLES["pending"])
        text = {"known": face.name or "Known", "unknown": "Unknown", "not_live": "Not live",
                "checking": f"{face.name} · {LIVENESS_HINT}"}.get(face.state, ELLIPSIS)
        canvas = self._current_canvas
        pygame.draw.rect(canvas, style.box_colour, box, style.box_width)
        padding = max(4, self._fonts["label"].get_height() // 5)
        fitted = self._fitted("label", text, area.width - 2 * padding)
        rendered = self._text("label", fitted, style.text_colour, style.label_colour)
        label_width = rendered.get_width() + 2 * padding
        if style.label_spans_box:
            label_width = max(label_width, box.width)
        label = place_label(box, (label_width, rendered.get_height() + padding // 2), area)
        canvas.fill(style.label_colour, label)
        canvas.blit(rendered, rendered.get_rect(center=label.center))
        return FaceLayout(face, label)

    def _draw_idle_hint(self, frame_rect: pygame.Rect) -> None:
        """A quiet "Look at the camera" near the bottom of the picture when nobody is seen."""
        if self._hint is None:
            font = self._fonts["notice"]
            text = font.render(IDLE_HINT, True, NOTICE_TEXT)
            padding = font.get_height() // 3
            hint = pygame.Surface((text.get_width() + 2 * padding, text.get_height() + padding), pygame.SRCALPHA)
            hint.fill((0, 0, 0, 150))
            hint.blit(text, text.get_rect(center=hint.get_rect().center))
            self._hint = hint
        position = self._hint.get_rect(centerx=frame_rect.centerx,
                                       bottom=frame_rect.bottom - self._hint.get_height() // 2)
        self._current_canvas.blit(self._hint, position)

    def _draw_centred_notice(self, text: str, area: pygame.Rect) -> None:
        """A message in the middle of the dark screen, for when there is no camera picture."""
        fitted = self._fitted("notice", text, area.width - 16)
        rendered = self._text("notice", fitted, NOTICE_TEXT, BACKGROUND)
        self._current_canvas.blit(rendered, rendered.get_rect(center=area.center))

    def _draw_banner(self, text: str, role: str, colour: tuple, text_colour: tuple, top: int) -> int:
        """A full-width bar with centred text starting at `top`; returns where it ends."""
        canvas = self._current_canvas
        width = canvas.get_width()
        fitted = self._fitted(role, text, width - 16)
        rendered = self._text(role, fitted, text_colour, colour)
        bar = pygame.Rect(0, top, width, rendered.get_height() + rendered.get_height() // 3)
        canvas.fill(colour, bar)
        canvas.blit(rendered, rendered.get_rect(center=bar.center))
        return bar.bottom

    def _draw_status(self, status: Status) -> None:
        """The bottom strip: people, camera state and display fps on the left, the time on the right."""
        canvas = self._current_canvas
        width, height = canvas.get_size()
        strip = pygame.Rect(0, height - self._status_height, width, self._status_height)
        canvas.fill(STATUS_COLOUR, strip)
        people = "1 person" if status.people == 1 else f"{status.people} people"
        clock = self._text("status", time.strftime("%H:%M"), STATUS_TEXT, STATUS_COLOUR)
        details = (f"{people} · camera {status.camera_state} · fps {status.display_fps:.1f}"
                   f" · detect {status.detector_fps:.0f}/s")
        fitted = self._fitted("status", details, width - clock.get_width() - 24)
        left = self._text("status", fitted, STATUS_TEXT, STATUS_COLOUR)
        canvas.blit(left, left.get_rect(left=6, centery=strip.centery))
        canvas.blit(clock, clock.get_rect(right=width - 6, centery=strip.centery))

    # --- showing and saving --------------------------------------------------------------------

    def _present(self) -> None:
        """Put the canvas on the screen (mirrored and rotated as mounted) and show it."""
        screen, image = self._current_screen, self._current_canvas
        if image is not screen:
            if self.config.mirror:
                image = pygame.transform.flip(image, True, False)
            if self.config.rotation:
                image = pygame.transform.rotate(image, -self.config.rotation)  # pygame turns anticlockwise
            screen.blit(image, (0, 0))
        try:
            if self.mode in ("window", "fullscreen"):
                pygame.display.flip()
                for event in pygame.event.get():
                    if event.type == pygame.QUIT or (
                            event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                        self.quit_requested = True
            elif self._framebuffer is not None:
                self._framebuffer.write(screen)
        except (pygame.error, OSError) as exc:
            screen_copy = screen.copy()
            self._fall_back_to_headless(str(exc))
            self._current_screen.blit(screen_copy, (0, 0))  # the new, headless screen

    def _snapshot_if_due(self) -> None:
        """Save the periodic snapshot: on the first frame, then every snapshot_interval seconds."""
        path = self.snapshot_path
        if not path:
            return
        now = self._clock()
        if self._next_snapshot is not None and now < self._next_snapshot:
            return
        self._next_snapshot = now + self.config.snapshot_interval
        try:
            self.snapshot(path)
        except (OSError, pygame.error) as exc:
            if not self._snapshot_failing:
                log.warning("cannot save the snapshot %s: %s", path, exc)
            self._snapshot_failing = True
        else:
            self._snapshot_failing = False

    def snapshot(self, path: str | os.PathLike) -> None:
        """Save what the screen shows (after rotation and mirroring) as a PNG, atomically: written
        to a temporary file beside it, then renamed into place, so readers never see half a file."""
        if self._screen is None:
            raise RuntimeError("the display is not open")
        with replaced_atomically(Path(path), 0o644) as file:
            pygame.image.save(self._current_screen, file, "snapshot.png")
