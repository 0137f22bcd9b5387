"""Loading untrusted photo files into 8-bit RGB arrays, or a clear reason why not.

Photos come from USB sticks and folders we do not control, so every step is defensive: only the
formats we accept are tried, the pixel count, decoded size and JPEG scan count are checked
before decoding, Pillow's decompression-bomb warning is an error, truncated files are refused
(never padded with grey), EXIF orientation is applied, and every mode ends up as 8-bit RGB.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from kiosk.config import EnrollmentConfig

pillow_heif.register_heif_opener()

# Formats handed to Image.open(formats=...): anything else is refused without trying other decoders.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "HEIF")
PHOTO_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif"})


class ImageRejected(ValueError):
    """A file that is not a usable photo; the message is the reason, for the import report."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 60_000_000
    max_side: int = 1600
    max_decode_bytes: int = 200_000_000  # the decoded picture in memory, before it is shrunk

    @classmethod
    def from_config(cls, config: EnrollmentConfig) -> ImageLimits:
        return cls(max_bytes=int(config.max_file_mb * 1e6), max_pixels=int(config.max_megapixels * 1e6),
                   max_side=config.max_side, max_decode_bytes=int(config.max_decode_mb * 1e6))


@dataclass(frozen=True)
class LoadedImage:
    """RGB pixels (possibly downscaled) and the factor that maps their coordinates back."""
    pixels: np.ndarray  # HxWx3 uint8, C-contiguous
    scale: float  # original size / loaded size (1.0 when not downscaled)


def load_image(data: bytes, limits: ImageLimits = ImageLimits()) -> LoadedImage:
    """Decode photo bytes; raise ImageRejected with a one-line reason for anything unusable."""
    if not data:
        raise ImageRejected("empty file")
    if len(data) > limits.max_bytes:
        raise ImageRejected(f"file too large ({len(data) / 1e6:.1f} MB, limit {limits.max_bytes / 1e6:.1f} MB)")
    # face_recognition sets this process-wide on import; a truncated photo must be refused here.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageRejected(
                    f"image too large ({width}x{height} pixels, limit {limits.max_pixels / 1e6:.0f} megapixels)")
            original_side = max(width, height)
            if image.format == "JPEG" and (scans := data.count(b"\xff\xda")) > MAX_JPEG_SCANS:
                # Each scan of a progressive JPEG is a pass over the whole picture: a crafted file
                # of thousands of tiny scans takes minutes to decode. Cameras write about ten.
                raise ImageRejected(f"JPEG of {scans} scans (limit {MAX_JPEG_SCANS}), too slow to decode")
            if image.format in ("JPEG", "HEIF"):
                # libjpeg decodes at 1/2, 1/4 or 1/8 size when the photo is far larger than needed;
                # a HEIC decodes an embedded thumbnail instead when one is large enough.
                image.draft("RGB", (limits.max_side, limits.max_side))
            decoded = image.size[0] * image.size[1] * BYTES_PER_PIXEL.get(image.mode, 8)
            if decoded > limits.max_decode_bytes:
                raise ImageRejected(f"image too large to decode ({image.size[0]}x{image.size[1]} {image.mode}, "
                                    f"{decoded / 1e6:.0f} MB, limit {limits.max_decode_bytes / 1e6:.0f} MB)")
            image.load()
            image = _shrunk(image, limits.max_side)  # before any conversion, which copies
            image = _upright(image)
            image = _to_rgb(image)
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected("image too large (decompression bomb check)") from None
    except UnidentifiedImageError:
        raise ImageRejected(
            f"not a photo in an accepted format ({', '.join(ACCEPTED_FORMATS)})") from None
    except OSError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in reason:
            raise ImageRejected("truncated image file") from None
        raise ImageRejected(f"unreadable image: {reason}") from None
    except (ValueError, SyntaxError, EOFError, struct.error) as exc:  # malformed headers
        raise ImageRejected(f"corrupt image: {exc}".splitlines()[0]) from None

    if max(image.size) > limits.max_side:
        image.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    return LoadedImage(pixels=pixels, scale=original_side / max(image.size))


# Start-of-scan markers a JPEG may have (counted in the raw bytes: an upper bound, which also
# counts the scans of an embedded thumbnail).
MAX_JPEG_SCANS = 100

# Bytes Pillow holds per pixel once a mode is decoded (RGB is stored as 4); unknown modes count 8.
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2,
                   "LA": 4, "PA": 4, "La": 4, "RGB": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "YCbCr": 4,
                   "LAB": 4, "HSV": 4, "I": 4, "F": 4}


# EXIF orientation -> the turn that makes the picture upright (as ImageOps.exif_transpose).
ORIENTATIONS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


def _upright(image: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation says. Pillow's own way also rewrites the rest
    of the EXIF block, and fails on values of an unexpected type there: then only the turn is made."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # any error in the metadata rewrite: the pixels are fine
        turn = ORIENTATIONS.get(image.getexif().get(0x0112, 1))
        return image.transpose(turn) if turn is not None else image


def _shrunk(image: Image.Image, max_side: int) -> Image.Image:
    """A decoded picture far larger than needed, box-reduced by a whole factor first (cheap, and
    every later step then works on the small copy); 16-bit greys become 8-bit on the way."""
    factor = max(image.size) // max_side
    if factor >= 2:
        if image.mode in ("L", "LA", "RGB", "RGBA", "RGBa", "La", "CMYK", "I", "F"):
            image = image.reduce(factor)
        else:  # 16-bit greys and the rarer modes: the same box average, by resizing
            image = image.resize((image.size[0] // factor, image.size[1] // factor), Image.Resampling.BOX)
    if image.mode.startswith("I;16"):
        image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), "L")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode (palette, alpha, 16-bit, CMYK, greyscale) to 8-bit RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float64)
        # 16-bit data is scaled to 8 bits; 32-bit integer data is assumed to hold 16-bit values.
        eight_bit = np.clip(values / 257.0, 0, 255).astype(np.uint8)
        return Image.fromarray(eight_bit, "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image)
        top = float(values.max()) or 1.0
        scale = 255.0 if top <= 1.0 else 255.0 / top
        return Image.fromarray(np.clip(values * scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info or image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


KEPT_FACE_SIDE = 160  # pixels: a kept face (event or unknown) is at least this large, to be recognised
KEPT_FACE_MARGIN = 0.4  # share of the box added on each side: hair, chin and ears tell people apart
DARK = 90.0  # mean grey level below which a kept face is brightened for the admin's eye


def kept_face(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The face in BOX of IMAGE (RGB) as a picture an admin can recognise someone by: with a margin
    around it, at least KEPT_FACE_SIDE pixels on its shorter side, and brightened when dark. It is
    also what `kiosk unknowns label` keeps as the person's photo, which retraining finds a face in
    again more easily with the margin."""
    top, right, bottom, left = box
    grow_y, grow_x = round((bottom - top) * KEPT_FACE_MARGIN), round((right - left) * KEPT_FACE_MARGIN)
    height, width = image.shape[:2]
    crop = image[max(0, top - grow_y):min(height, bottom + grow_y), max(0, left - grow_x):min(width, right + grow_x)]
    if crop.size == 0:
        return np.ascontiguousarray(crop)
    picture = Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8))
    shorter = min(picture.size)
    if shorter < KEPT_FACE_SIDE:
        scale = KEPT_FACE_SIDE / shorter
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.Resampling.BICUBIC)
    level = float(np.asarray(picture.convert("L")).mean())
    if level < DARK:
        picture = ImageOps.autocontrast(picture, cutoff=1)
    return np.asarray(picture)
