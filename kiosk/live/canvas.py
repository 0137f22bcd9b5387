"""Where things go on the canvas and how text fits: plain geometry and text helpers for display.py.

Pure functions of sizes and strings (and a small cache), so each can be tested without a screen.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from collections.abc import Callable

import pygame

from kiosk.live.theme import DEFAULT_FONT, ELLIPSIS


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


def label_row(box: pygame.Rect, height: int, bounds: pygame.Rect) -> pygame.Rect:
    """Where a label of HEIGHT would go across BOUNDS for BOX (place_label's rows), full width."""
    row = place_label(box, (bounds.width, height), bounds)
    return pygame.Rect(bounds.left, row.top, bounds.width, row.height)


def label_spans(boxes: list[pygame.Rect], height: int, bounds: pygame.Rect) -> list[tuple[int, int]]:
    """The (left, right) each face's label may use so that no two labels overlap: faces whose
    label rows meet share the width between them at the midpoint of their centres."""
    rows = [label_row(box, height, bounds) for box in boxes]
    spans = []
    for i, box in enumerate(boxes):
        left, right = bounds.left, bounds.right
        for j, other in enumerate(boxes):
            if j == i or not rows[i].colliderect(rows[j]):
                continue
            middle = (box.centerx + other.centerx) // 2
            if (other.centerx, j) < (box.centerx, i):
                left = max(left, middle)
            else:
                right = min(right, middle)
        spans.append((left, max(left, right)))
    return spans


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


def font_of_height(font_file: str | None, pixels: int) -> pygame.font.Font:
    """The font whose letters span PIXELS from the top of a capital J to the bottom of a y: SDL_ttf's
    point sizes have meant smaller letters since 2.0.18, so the size asked for is raised until the
    letters are as high as the layout was designed for, whichever SDL_ttf draws them."""
    size = pixels
    while True:
        font = pygame.font.Font(font_file, size)
        (capital,), (descender,) = font.metrics("J"), font.metrics("y")
        if capital is None or descender is None or capital[3] - descender[2] >= pixels or size >= 2 * pixels:
            return font
        size += 1


# Text sizes as shares of the canvas height, largest to smallest (24 and 30 px on 480x320): a
# text is shown at the largest size it fits, and never below the smallest.
FONT_SIZES = {"label": (0.095, 0.075), "greeting": (0.125, 0.075), "notice": (0.072, 0.05),
              "status": (0.05, 0.05)}


def fonts_for(height: int) -> dict[str, list[pygame.font.Font]]:
    """Per text role, its fonts for a canvas HEIGHT pixels high, largest first, every 2 px."""
    font_file = str(DEFAULT_FONT) if DEFAULT_FONT.is_file() else None
    fonts = {}
    for role, (largest, smallest) in FONT_SIZES.items():
        top, bottom = max(10, round(height * largest)), max(10, round(height * smallest))
        sizes = sorted({*range(top, bottom, -2), bottom}, reverse=True)
        fonts[role] = [font_of_height(font_file, size) for size in sizes]
    return fonts


def fit_choices(fonts: list[pygame.font.Font], choices: list[str], max_width: int) -> tuple[int, str]:
    """(index of the font, text) for the first of CHOICES (the whole name, then shorter forms)
    that fits MAX_WIDTH in one of FONTS (largest first), trying each choice at every size before
    the next; when none fits, the last choice at the smallest size, cut with an ellipsis."""
    for text in choices:
        for index, font in enumerate(fonts):
            if font.size(text)[0] <= max_width:
                return index, text
    return len(fonts) - 1, fit_text(fonts[-1], choices[-1], max_width)


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
