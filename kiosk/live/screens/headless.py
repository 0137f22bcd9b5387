"""No screen at all (`display.mode: headless`): the picture is still drawn, for snapshots and tests."""

from __future__ import annotations

import pygame

from kiosk.live.screens.base import Screen, register


@register
class HeadlessScreen(Screen):
    kind = "headless"

    def open(self) -> pygame.Surface:
        return pygame.Surface(self.mounted_size())

    def show(self, surface: pygame.Surface) -> bool:
        return False
