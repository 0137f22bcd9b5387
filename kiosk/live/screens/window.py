"""pygame's own screens: a window on a desktop, or the whole console through SDL's KMS/DRM driver.

SDL2 has no framebuffer console driver: a Pi without a desktop shows the kiosk fullscreen
through kmsdrm, and an SPI panel that offers only /dev/fbN uses framebuffer.py instead.
"""

from __future__ import annotations

import os

import pygame

from kiosk.live.screens.base import Screen, ScreenUnavailable, register


class PygameScreen(Screen):
    """A screen pygame's display module opens and flips."""

    def open(self) -> pygame.Surface:
        try:
            return self._set_mode()
        except pygame.error as exc:
            pygame.display.quit()
            raise ScreenUnavailable(f"cannot open the {self.kind} display ({exc})") from exc

    def _set_mode(self) -> pygame.Surface:
        raise NotImplementedError

    def show(self, surface: pygame.Surface) -> bool:
        pygame.display.flip()
        quit_asked = False
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (
                    event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                quit_asked = True
        return quit_asked

    def close(self) -> None:
        if pygame.display.get_init():
            pygame.display.quit()


@register
class WindowScreen(PygameScreen):
    """A window of the canvas size, turned as mounted (a desktop, or trying the kiosk on a PC)."""

    kind = "window"

    def _set_mode(self) -> pygame.Surface:
        pygame.display.init()
        screen = pygame.display.set_mode(self.mounted_size())
        pygame.display.set_caption("Kiosk")
        return screen


@register
class FullscreenScreen(PygameScreen):
    """The whole screen at its native size, without a mouse pointer."""

    kind = "fullscreen"

    def _set_mode(self) -> pygame.Surface:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("SDL_VIDEODRIVER", "kmsdrm")
            # The console's window is drawn through OpenGL ES, the Pi GPU's own interface. SDL's
            # default there, desktop OpenGL, showed only black under Mesa's software renderers
            # (a screen without a GPU driver) while every frame was flipped.
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "opengles2")
        pygame.display.init()
        screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
        return screen
