"""Frame sources: the Pi camera, USB cameras, video files and image folders behind one base class.

- base.py: the FrameSource base class, the registry of `camera.source` kinds and the Frames
  protocol the daemon reads;
- picamera.py, usb.py, video_file.py, image_folder.py, auto.py: one source each;
- retrying.py: RetryingSource, which reopens a failed camera with backoff and never raises;
- opening.py: `open_source`, from a `camera.source` value to a RetryingSource, and
  `check_source`, which refuses a source that can never deliver frames.
"""

from kiosk.live.sources.auto import USB_DEVICE_PATHS, first_working_camera
from kiosk.live.sources.base import (
    SOURCES,
    CameraUnavailable,
    Frames,
    FrameSource,
    SourceImpossible,
    orient,
    register,
    source_class,
)
from kiosk.live.sources.image_folder import ImageFolderSource
from kiosk.live.sources.opening import check_source, open_source
from kiosk.live.sources.picamera import PicameraSource
from kiosk.live.sources.retrying import RetryingSource
from kiosk.live.sources.usb import UsbSource
from kiosk.live.sources.video_file import VideoFileSource

__all__ = ["SOURCES", "USB_DEVICE_PATHS", "CameraUnavailable", "FrameSource", "Frames", "ImageFolderSource",
           "PicameraSource", "RetryingSource", "SourceImpossible", "UsbSource", "VideoFileSource", "check_source",
           "first_working_camera", "open_source",
           "orient", "register", "source_class"]
