"""The seam every screen plugs into: the Screen base class and the registry `display.mode` names.

A screen is where the finished picture goes: a window, the whole console, a framebuffer device
written directly, or nowhere (headless). It owns opening its surface, putting a picture on it
and releasing it; the drawing (display.py) is the same for all of them. Adding one (a DRM
dumb buffer, a network viewer) is one file with a subclass, registered under its kind, and the
kind among config's display.mode choices (a test holds them equal).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import ClassVar

import pygame

from kiosk.config import DisplayConfig

SYSFS_GRAPHICS = "/sys/class/graphics"


class ScreenUnavailable(Exception):
    """The screen cannot be opened here; the message says why (the display then draws headless)."""


def turned_size(size: tuple[int, int], rotation: int) -> tuple[int, int]:
    """A size after a rotation by `rotation` degrees: width and height swap for 90 and 270."""
    width, height = size
    return (height, width) if rotation % 180 else (width, height)


class Screen(ABC):
    """One physical screen: open() gives the surface to draw on, show() puts it on the glass."""

    kind: ClassVar[str]  # "window", "fullscreen", "fb" (as in fb:/dev/fbN) or "headless"

    def __init__(self, config: DisplayConfig, argument: str = "", *,
                 sysfs_root: str | os.PathLike = SYSFS_GRAPHICS) -> None:
        self.config = config
        self.argument = argument
        self.sysfs_root = sysfs_root

    @property
    def mode(self) -> str:
        """The display.mode value this screen answers to, as the status and logs show it."""
        return f"{self.kind}:{self.argument}" if self.argument else self.kind

    def mounted_size(self) -> tuple[int, int]:
        """The configured canvas size turned as the screen is mounted."""
        return turned_size((self.config.width, self.config.height), self.config.rotation)

    @abstractmethod
    def open(self) -> pygame.Surface:
        """The surface of the physical screen's size; ScreenUnavailable when it cannot be had."""

    def max_fps(self) -> float | None:
        """The most pictures a second this screen can show (after open), or None for no limit
        worth keeping to."""
        return None

    @abstractmethod
    def show(self, surface: pygame.Surface) -> bool:
        """Put SURFACE (from open) on the screen; True when someone asked to quit (a window's
        close button, Esc or q). A failing screen raises pygame.error or OSError."""

    def close(self) -> None:  # noqa: B027 - most screens hold nothing to release
        """Release the screen; safe to call twice."""


SCREENS: dict[str, type[Screen]] = {}


def register(cls: type[Screen]) -> type[Screen]:
    """Class decorator: make a screen available under its display.mode kind."""
    SCREENS[cls.kind] = cls
    return cls


def screen_class(kind: str) -> type[Screen]:
    try:
        return SCREENS[kind]
    except KeyError:
        raise ValueError(f"no screen of kind {kind!r} (one of: {', '.join(sorted(SCREENS))})") from None
