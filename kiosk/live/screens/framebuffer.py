"""A Linux framebuffer written directly (`display.mode: fb:/dev/fbN`), for SPI panels with no DRM driver."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygame

from kiosk.live.screens.base import SYSFS_GRAPHICS, Screen, ScreenUnavailable, register

# The SPI clock small panels (ILI9486 and the like, through fbtft) usually run at; users report
# up to 32 MHz, with tearing above.
SPI_HZ = 16_000_000


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
        name_file = info / "name"  # "fb_ili9486" for an fbtft SPI panel, "...drmfb" for a DRM driver's
        self.of_drm = name_file.exists() and name_file.read_text().strip().endswith("drmfb")
        self.row_bytes = width * self.bits_per_pixel // 8
        stride_file = info / "stride"
        self.stride = int(stride_file.read_text().strip()) if stride_file.exists() else self.row_bytes
        if self.stride < self.row_bytes:
            raise ValueError(f"{device}: stride {self.stride} is shorter than a row of {self.row_bytes} bytes")
        self.device = device
        self._fd = os.open(device, os.O_WRONLY)
        self._rows = np.zeros((height, self.stride), np.uint8)  # reused; padding bytes stay zero
        # A 16-bit surface laid out as the panel's RGB565: SDL converts into it in C, several times
        # quicker than packing the bits with numpy (and the same bits).
        self._packed = pygame.Surface(self.size, 0, 16, (0xF800, 0x07E0, 0x001F, 0)) \
            if self.bits_per_pixel == 16 else None

    def pixel_bytes(self, surface: pygame.Surface) -> np.ndarray:
        """The surface as rows of framebuffer bytes: RGB565 little-endian or BGRA (XRGB8888)."""
        width, height = self.size
        if self.bits_per_pixel == 32:
            pixels = np.frombuffer(pygame.image.tobytes(surface, "BGRA"), np.uint8).reshape(height, width * 4)
        else:
            assert self._packed is not None  # made for 16 bits per pixel
            self._packed.blit(surface, (0, 0))
            pitch = self._packed.get_pitch()
            pixels = np.frombuffer(self._packed.get_buffer().raw, np.uint8).reshape(height, pitch)
            pixels = pixels if pitch == self.row_bytes else pixels[:, :self.row_bytes]
        if self.stride == self.row_bytes and pixels.flags.c_contiguous:
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


@register
class FramebufferScreen(Screen):
    """The framebuffer device named by the mode's argument, at the size sysfs gives for it."""

    kind = "fb"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._framebuffer: Framebuffer | None = None

    def open(self) -> pygame.Surface:
        try:
            self._framebuffer = Framebuffer(self.argument, self.sysfs_root)
        except (OSError, ValueError) as exc:
            raise ScreenUnavailable(f"cannot use the framebuffer {self.argument} ({exc})") from exc
        return pygame.Surface(self._framebuffer.size)

    def max_fps(self) -> float | None:
        """What an SPI panel at SPI_HZ carries: its clock over the bits of one whole picture
        (about 6.5 a second for 480x320 at 16 bits). A faster panel is set in display.max_fps.
        A DRM driver's framebuffer (a screen's own, where fullscreen could not open) has no such
        limit."""
        if self._framebuffer is None or self._framebuffer.of_drm:
            return None
        width, height = self._framebuffer.size
        return SPI_HZ / (width * height * self._framebuffer.bits_per_pixel)

    def show(self, surface: pygame.Surface) -> bool:
        if self._framebuffer is not None:
            self._framebuffer.write(surface)
        return False

    def close(self) -> None:
        if self._framebuffer is not None:
            self._framebuffer.close()
            self._framebuffer = None
