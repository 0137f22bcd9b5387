"""Opening `camera.source`: its kind looked up in the registry, made, and wrapped for retrying.

Importing this module registers every source this package ships (one file each).
"""

from __future__ import annotations

from functools import partial

from kiosk.config import CameraConfig, parse_source
from kiosk.live.sources.auto import AutoSource
from kiosk.live.sources.base import SOURCES, SourceImpossible, source_class
from kiosk.live.sources.image_folder import ImageFolderSource
from kiosk.live.sources.picamera import PicameraSource
from kiosk.live.sources.retrying import RetryingSource
from kiosk.live.sources.usb import UsbSource
from kiosk.live.sources.video_file import VideoFileSource

SHIPPED = (AutoSource, PicameraSource, UsbSource, VideoFileSource, ImageFolderSource)  # registered on import


def check_source(spec: str) -> None:
    """Raise SourceImpossible when `spec` names a source that can never deliver frames."""
    parsed = parse_source(spec)
    if problem := source_class(parsed.kind).impossible(parsed.argument):
        raise SourceImpossible(f"camera source {problem}")


def open_source(spec: str, camera: CameraConfig, *, fast: bool = False, loop: bool = False) -> RetryingSource:
    """The source named by `spec` (see config.SOURCE_FORMS), wrapped in a RetryingSource and opened once.

    `fast` reads files and folders as fast as possible instead of in real time; `loop` starts
    them over at the end. A spec that is not one of the allowed forms raises ValueError, one
    that can never deliver frames SourceImpossible; an absent camera is retried.
    """
    check_source(spec)
    parsed = parse_source(spec)
    make = partial(source_class(parsed.kind).create, camera, parsed.argument, fast=fast, loop=loop)
    source = RetryingSource(make, spec, camera.retry_max_delay)
    source.open()
    return source


__all__ = ["SOURCES", "SourceImpossible", "check_source", "open_source"]
