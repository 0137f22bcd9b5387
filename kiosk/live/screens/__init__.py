"""Screens, one per file behind one base class (base.py), chosen by display.mode.

- window.py: a desktop window, or the whole console through SDL's KMS/DRM driver;
- framebuffer.py: a /dev/fbN device written directly (SPI panels without DRM);
- headless.py: no screen, the picture kept for snapshots;
- opening.py: "auto" decided, and the fall-back (the console's framebuffer, else headless) when
  a screen cannot be opened.
"""

from kiosk.live.screens.base import (
           SCREENS,
           SYSFS_GRAPHICS,
           Screen,
           ScreenUnavailable,
           register,
           screen_class,
           turned_size,
)
from kiosk.live.screens.framebuffer import Framebuffer, FramebufferScreen
from kiosk.live.screens.headless import HeadlessScreen
from kiosk.live.screens.opening import choose_mode, open_screen
from kiosk.live.screens.window import FullscreenScreen, WindowScreen

__all__ = ["SCREENS", "SYSFS_GRAPHICS", "Framebuffer", "FramebufferScreen", "FullscreenScreen", "HeadlessScreen",
           "Screen", "ScreenUnavailable", "WindowScreen", "choose_mode", "open_screen", "register", "screen_class",
           "turned_size"]
