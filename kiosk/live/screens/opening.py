"""Opening `display.mode`: "auto" decided, the screen looked up in the registry and opened; when
fullscreen cannot be (no SDL video driver for the console, no GPU driver), the kernel's
framebuffer of the same screen (/dev/fb0, which a DRM driver provides beside its card) with a
warning, and headless only when nothing can be drawn at all (the daemon never dies because of
its display).

Importing this module registers every screen this package ships (one file each).
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Mapping

import pygame

from kiosk.config import DisplayConfig
from kiosk.live.screens.base import SCREENS, SYSFS_GRAPHICS, Screen, ScreenUnavailable, screen_class
from kiosk.live.screens.framebuffer import FramebufferScreen
from kiosk.live.screens.headless import HeadlessScreen
from kiosk.live.screens.window import FullscreenScreen, WindowScreen

log = logging.getLogger("kiosk.display")

SHIPPED = (WindowScreen, FullscreenScreen, FramebufferScreen, HeadlessScreen)  # registered on import
FALLBACK_FRAMEBUFFER = "/dev/fb0"  # the console's screen, where fullscreen cannot open


def choose_mode(environ: Mapping[str, str], dri_present: bool) -> str:
    """The display mode for "auto": a window on a desktop, fullscreen on a console with a DRM
    device (a Pi without a desktop), headless otherwise."""
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return "window"
    if dri_present:
        return "fullscreen"
    return "headless"


def open_screen(mode: str, config: DisplayConfig,
                sysfs_root: str | os.PathLike = SYSFS_GRAPHICS) -> tuple[Screen, pygame.Surface]:
    """The screen MODE names, opened, and its surface; see the module docstring for what it falls
    back to (with a warning) when it cannot be."""
    if mode == "auto":
        mode = choose_mode(os.environ, bool(glob.glob("/dev/dri/card*")))
    kind, _, argument = mode.partition(":")
    try:
        screen = screen_class(kind)(config, argument, sysfs_root=sysfs_root)
        return screen, screen.open()
    except (ScreenUnavailable, ValueError) as exc:
        problem = str(exc)
    if kind == "fullscreen" and os.path.exists(FALLBACK_FRAMEBUFFER):
        try:
            framebuffer = FramebufferScreen(config, FALLBACK_FRAMEBUFFER, sysfs_root=sysfs_root)
            surface = framebuffer.open()
            log.warning("%s; drawing to the framebuffer %s instead", problem, FALLBACK_FRAMEBUFFER)
            return framebuffer, surface
        except (ScreenUnavailable, ValueError) as exc:
            problem += f"; the framebuffer {FALLBACK_FRAMEBUFFER}: {exc}"
    log.warning("%s; drawing headless instead", problem)
    headless = HeadlessScreen(config, sysfs_root=sysfs_root)
    return headless, headless.open()


__all__ = ["SCREENS", "choose_mode", "open_screen"]
