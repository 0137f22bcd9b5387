"""Drawing what the kiosk sees on its small screen: the camera picture, a named box per face,
a greeting and a status line.

Made for a 3.5-inch panel seen from a metre: names at least 24 px high on 480x320 (scaled with the
screen), fitted rather than cut (a smaller size, then the first name, then an ellipsis), labels of
faces side by side sharing the width between them so that they never overlap, and the status strip
off for visitors unless display.show_status (a small coloured mark in a corner says the camera's
state; `kiosk status` has the figures).

Everything is drawn on a canvas of the logical size (480x320 landscape by default). Mirroring and
rotation for the way the screen is mounted are applied only when the canvas is put on the
physical screen, and a snapshot saves that physical screen: exactly what a person in front of
the kiosk sees. Where the picture goes is a screen plug-in (screens/: a window, the whole console, a Linux
framebuffer, or nothing at all); a screen that cannot be opened or stops working falls back to
headless with a warning, so the daemon never dies because of its display. The look is theme.py's,
the geometry and text fitting canvas.py's.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pygame

from kiosk.config import DisplayConfig
from kiosk.live.canvas import (
    LruCache,
    displayable,
    fit_choices,
    fit_rect,
    fonts_for,
    label_spans,
    map_box,
    place_label,
)
from kiosk.live.scene import FaceLabel, Scene, Status
from kiosk.live.screens import SYSFS_GRAPHICS, HeadlessScreen, Screen, open_screen, turned_size
from kiosk.live.theme import (
    BACKGROUND,
    ELLIPSIS,
    FACE_STYLES,
    GREETING_COLOUR,
    GREETING_TEXT,
    IDLE_HINT,
    LIVENESS_HINT,
    MESSAGE_COLOUR,
    MESSAGE_TEXT,
    NO_FRAME_TEXT,
    NOTICE_TEXT,
    STATE_MARKS,
    STATUS_COLOUR,
    STATUS_TEXT,
    WAITING_TEXT,
)
from kiosk.names import display_name, first_name
from kiosk.util import replaced_atomically
from kiosk.vocabulary import CameraState, FaceState

log = logging.getLogger("kiosk.display")

TEXT_CACHE_SIZE = 256


class FaceLayout(NamedTuple):
    """A face as drawn, where its label went (canvas coordinates) and the words it shows."""
    face: FaceLabel
    label: pygame.Rect
    text: str = ""


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
        self._screen: Screen = HeadlessScreen(config)  # the screen plug-in in use (screens/)
        self._surface: pygame.Surface | None = None  # its surface, while open
        self._canvas: pygame.Surface | None = None
        self._fonts: dict[str, list[pygame.font.Font]] = {}  # per role, largest first
        self._text_cache = LruCache(TEXT_CACHE_SIZE)
        self._fit_cache = LruCache(TEXT_CACHE_SIZE)
        self._hint: pygame.Surface | None = None
        self._status_height = 0
        self._next_snapshot: float | None = None
        self._snapshot_failing = False

    # --- opening and closing -------------------------------------------------------------------

    def open(self) -> Display:
        """Open the screen for the chosen mode, falling back to headless if it cannot be used."""
        if self._surface is not None:
            return self
        pygame.font.init()
        self._screen, surface = open_screen(self.requested_mode, self.config, self.sysfs_root)
        self.mode = self._screen.mode
        self._use_surface(surface)
        log.info("display: %s, screen %dx%d, canvas %dx%d%s", self.mode, *surface.get_size(), *self.canvas_size,
                 f", at most {self.max_fps:.1f} frames a second" if self.max_fps else "")
        return self

    def _use_surface(self, surface: pygame.Surface) -> None:
        """Draw onto `surface`: directly when it is upright, else through a canvas of its own."""
        self._surface = surface
        canvas_size = turned_size(surface.get_size(), self.config.rotation)
        upright = self.config.rotation == 0 and not self.config.mirror
        self._canvas = surface if upright else pygame.Surface(canvas_size)
        self._make_fonts(canvas_size)

    def _fall_back_to_headless(self, reason: str) -> None:
        """Keep drawing off-screen after the screen failed, at the same size."""
        log.warning("the %s display failed (%s); drawing headless from now on", self.mode, reason)
        size = self._current_screen.get_size()
        self._screen.close()
        self._screen = HeadlessScreen(self.config)
        self.mode = self._screen.mode
        self._use_surface(pygame.Surface(size))

    def close(self) -> None:
        """Release the screen; draw() reopens it if called again."""
        self._screen.close()
        self._surface = self._canvas = self._hint = None
        self._fonts = {}
        self._text_cache.clear()
        self._fit_cache.clear()

    def __enter__(self) -> Display:
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def _current_screen(self) -> pygame.Surface:
        if self._surface is None:
            raise RuntimeError("the display is not open")
        return self._surface

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
    def max_fps(self) -> float | None:
        """Frames a second worth drawing at most: display.max_fps, else what the screen can show."""
        return self.config.max_fps or self._screen.max_fps()

    @property
    def screen_surface(self) -> pygame.Surface:
        """The physical screen's surface as last shown (for measuring a screen's own cost)."""
        return self._current_screen

    @property
    def screen_size(self) -> tuple[int, int]:
        """The physical screen size, after rotation; also the size of snapshots."""
        return self._current_screen.get_size()

    # --- fonts and text ------------------------------------------------------------------------

    def _make_fonts(self, canvas_size: tuple[int, int]) -> None:
        """Fonts scaled to the canvas height, made once per screen (never per frame)."""
        self._fonts = fonts_for(canvas_size[1])
        self._status_height = self._fonts["status"][0].get_linesize() + 4 if self.config.show_status else 0
        self._text_cache.clear()
        self._fit_cache.clear()
        self._hint = None

    def _fitted(self, role: str, choices: tuple[str, ...], max_width: int) -> tuple[int, str]:
        """(font size index, displayable text) of the first choice that fits max_width: see
        canvas.fit_choices."""
        def make() -> tuple[int, str]:
            clean = [displayable(text) for text in choices]
            try:
                return fit_choices(self._fonts[role], clean, max_width)
            except (pygame.error, ValueError, UnicodeError):
                return fit_choices(self._fonts[role], [c.encode("ascii", "replace").decode("ascii")
                                                       for c in clean], max_width)
        return self._fit_cache.get((role, choices, max_width), make)

    def _text(self, role: str, fitted: tuple[int, str], colour: tuple, background: tuple) -> pygame.Surface:
        """Rendered text on an opaque background, cached; FITTED must come from _fitted."""
        size, text = fitted
        def make() -> pygame.Surface:
            font = self._fonts[role][size]
            try:
                return font.render(text, True, colour, background)
            except (pygame.error, ValueError, UnicodeError):
                return font.render(text.encode("ascii", "replace").decode("ascii"), True, colour, background)
        return self._text_cache.get((role, size, text, colour, background), make)

    # --- drawing -------------------------------------------------------------------------------

    def draw(self, scene: Scene) -> None:
        """Draw one scene, show it, and save the periodic snapshot when one is due."""
        if self._surface is None:
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
            layouts = self._draw_faces(scene.faces, frame_size, frame_rect, area)
            if not scene.faces and not scene.greeting:
                self._draw_idle_hint(frame_rect)
        else:
            text = NO_FRAME_TEXT.get(scene.status.camera_state, WAITING_TEXT)
            self._draw_centred_notice(text, area)
        banner_top = 0
        if scene.greeting:
            choices = (scene.greeting, scene.greeting_short) if scene.greeting_short else (scene.greeting,)
            banner_top = self._draw_banner(choices, "greeting", GREETING_COLOUR, GREETING_TEXT, banner_top)
        if scene.status.message:
            self._draw_banner((scene.status.message,), "notice", MESSAGE_COLOUR, MESSAGE_TEXT, banner_top)
        if self.config.show_status:
            self._draw_status(scene.status)
        else:
            self._draw_state_mark(scene.status)
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

    def _draw_faces(self, faces: tuple[FaceLabel, ...], frame_size: tuple[int, int], frame_rect: pygame.Rect,
                    area: pygame.Rect) -> list[FaceLayout]:
        """Each face's box and label; labels side by side share the width between their faces."""
        boxes = [(face, map_box(face.box, frame_size, frame_rect).clip(frame_rect)) for face in faces]
        boxes = [(face, box) for face, box in boxes if box.width and box.height]
        font = self._fonts["label"][0]
        padding = max(4, font.get_height() // 5)
        height = font.get_height() + padding // 2
        spans = label_spans([box for _, box in boxes], height, area)
        return [self._draw_face(face, box, span, padding, height, area)
                for (face, box), span in zip(boxes, spans, strict=True)]

    def _draw_face(self, face: FaceLabel, box: pygame.Rect, span: tuple[int, int], padding: int, height: int,
                   area: pygame.Rect) -> FaceLayout:
        """A face's box and its label inside SPAN: green with the name, red "Unknown", or a grey
        "…" while the face is still being decided (never red before that)."""
        style = FACE_STYLES.get(face.state, FACE_STYLES[FaceState.PENDING])
        name = display_name(face.name)
        choices = {FaceState.KNOWN: (name or "Known", first_name(face.name) or "Known"),
                   FaceState.UNKNOWN: ("Unknown",), FaceState.NOT_LIVE: ("Not live",),
                   FaceState.CHECKING: (f"{name} · {LIVENESS_HINT}", f"{first_name(face.name)} · {LIVENESS_HINT}",
                                        name)}.get(face.state, (ELLIPSIS,))
        canvas = self._current_canvas
        pygame.draw.rect(canvas, style.box_colour, box, style.box_width)
        bounds = pygame.Rect(span[0], area.top, span[1] - span[0], area.height)
        fitted = self._fitted("label", choices, max(1, bounds.width - 2 * padding))
        rendered = self._text("label", fitted, style.text_colour, style.label_colour)
        label_width = rendered.get_width() + 2 * padding
        if style.label_spans_box:
            label_width = max(label_width, box.width)
        label = place_label(box, (label_width, height), bounds)
        canvas.fill(style.label_colour, label)
        canvas.blit(rendered, rendered.get_rect(center=label.center))
        return FaceLayout(face, label, fitted[1])

    def _draw_idle_hint(self, frame_rect: pygame.Rect) -> None:
        """A quiet "Look at the camera" near the bottom of the picture when nobody is seen."""
        if self._hint is None:
            font = self._fonts["notice"][0]
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
        fitted = self._fitted("notice", (text,), area.width - 16)
        rendered = self._text("notice", fitted, NOTICE_TEXT, BACKGROUND)
        self._current_canvas.blit(rendered, rendered.get_rect(center=area.center))

    def _draw_banner(self, choices: tuple[str, ...], role: str, colour: tuple, text_colour: tuple, top: int) -> int:
        """A full-width bar starting at `top` with the first of CHOICES that fits, centred; returns
        where it ends. The bar keeps the height of the role's largest size however the text fits."""
        canvas = self._current_canvas
        width = canvas.get_width()
        fitted = self._fitted(role, choices, width - 16)
        rendered = self._text(role, fitted, text_colour, colour)
        line = self._fonts[role][0].get_height()
        bar = pygame.Rect(0, top, width, line + line // 3)
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
        clock = self._text("status", (0, time.strftime("%H:%M")), STATUS_TEXT, STATUS_COLOUR)
        details = (f"{people} · camera {status.camera_state} · fps {status.display_fps:.1f}"
                   f" · detect {status.detector_fps:.0f}/s")
        fitted = self._fitted("status", (details,), width - clock.get_width() - 24)
        left = self._text("status", fitted, STATUS_TEXT, STATUS_COLOUR)
        canvas.blit(left, left.get_rect(left=6, centery=strip.centery))
        canvas.blit(clock, clock.get_rect(right=width - 6, centery=strip.centery))

    def _draw_state_mark(self, status: Status) -> None:
        """Without the status strip: a small dot in the bottom right corner, coloured by the
        camera's state, for whoever looks after the kiosk; visitors need not read it."""
        canvas = self._current_canvas
        width, height = canvas.get_size()
        radius = max(3, height // 80)
        colour = STATE_MARKS.get(status.camera_state, STATE_MARKS[CameraState.UNAVAILABLE])
        pygame.draw.circle(canvas, colour, (width - 3 * radius, height - 3 * radius), radius)

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
            if self._screen.show(screen):
                self.quit_requested = True
        except (pygame.error, OSError) as exc:
            screen_copy = screen.copy()
            self._fall_back_to_headless(str(exc))
            self._current_screen.blit(screen_copy, (0, 0))  # the new, headless screen

    def _snapshot_if_due(self) -> None:
        """Save the periodic snapshot: on the first frame, then every snapshot_interval seconds."""
        path, now = self.snapshot_path, self._clock()
        if not path or (self._next_snapshot is not None and now < self._next_snapshot):
            return
        self._next_snapshot = now + self.config.snapshot_interval
        try:
            self.snapshot(path)
            self._snapshot_failing = False
        except (OSError, pygame.error) as exc:
            if not self._snapshot_failing:
                log.warning("cannot save the snapshot %s: %s", path, exc)
            self._snapshot_failing = True

    def snapshot(self, path: str | os.PathLike) -> None:
        """Save what the screen shows (after rotation and mirroring) as a PNG, atomically: written
        to a temporary file beside it, then renamed into place, so readers never see half a file."""
        if self._surface is None:
            raise RuntimeError("the display is not open")
        with replaced_atomically(Path(path), 0o644) as file:
            pygame.image.save(self._current_screen, file, "snapshot.png")
