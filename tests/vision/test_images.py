"""Untrusted photo bytes to pixels, or a reason why not."""

from __future__ import annotations

import io

import face_recognition
import numpy as np
import pytest
from PIL import Image

from kiosk.names import validate_person_name
from kiosk.vision.images import KEPT_FACE_SIDE, ImageLimits, ImageRejected, kept_face, load_image

from conftest import huge_png_header, require_data


def _jpeg_bytes(image: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **kwargs)
    return out.getvalue()


def test_exif_orientation_is_applied():
    upright = Image.new("RGB", (40, 20), (200, 30, 30))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 20x40, as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    loaded = load_image(_jpeg_bytes(stored, exif=exif))
    assert loaded.pixels.shape == (20, 40, 3)


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "L", "I;16", "CMYK", "1"])
def test_every_mode_becomes_8bit_rgb(mode):
    source = Image.new("RGB", (32, 24), (10, 120, 250)).convert(mode) if mode != "I;16" else \
        Image.fromarray(np.full((24, 32), 40000, np.uint16))
    out = io.BytesIO()
    source.save(out, "TIFF" if mode in ("CMYK", "I;16") else "PNG")
    pixels = load_image(out.getvalue()).pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (24, 32, 3)


def test_large_photo_is_resized_and_scale_reported():
    big = Image.new("RGB", (4000, 2000), (90, 90, 90))
    loaded = load_image(_jpeg_bytes(big), ImageLimits(max_side=1000))
    assert max(loaded.pixels.shape[:2]) <= 1000 and loaded.scale == pytest.approx(4.0, rel=0.01)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"this is plain text, not a photo\n", "accepted format"),
    (huge_png_header(30000, 30000), "too large"),
])
def test_hostile_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ImageRejected, match=reason):
        load_image(data)


def test_truncated_jpeg_is_refused_even_after_face_recognition_import():
    import kiosk.vision.engine  # noqa: F401  (importing face_recognition flips a Pillow global)
    whole = _jpeg_bytes(Image.effect_noise((300, 300), 60).convert("RGB"))
    with pytest.raises(ImageRejected, match="truncated|corrupt|unreadable"):
        load_image(whole[: len(whole) // 2])


def test_person_names_are_validated():
    assert validate_person_name("Zoë O'Brien") == "Zoë O'Brien"
    for bad in ["..", ".", "", "a/b", "new\nline", "x" * 65, ".hidden", " padded"]:
        with pytest.raises(ValueError):
            validate_person_name(bad)


def test_a_kept_face_is_large_enough_to_recognise_with_a_margin_and_not_dark():
    """A far face (obama_small.jpg's is about 70 px) kept for an admin: at least 160 px, with the
    hair and chin around it, and a dark one brightened."""
    rgb = np.asarray(Image.open(require_data("probes", "obama_small.jpg")).convert("RGB"))
    (box,) = face_recognition.face_locations(rgb)
    top, right, bottom, left = box
    assert right - left < KEPT_FACE_SIDE
    kept = kept_face(rgb, box)
    assert min(kept.shape[:2]) >= KEPT_FACE_SIDE
    (found,) = face_recognition.face_locations(kept)  # found again, for retraining from it
    assert found[1] - found[3] < 0.75 * kept.shape[1]  # with room around the face
    dark = (rgb * 0.25).astype(np.uint8)
    assert np.asarray(kept_face(dark, box)).mean() > 2 * dark[top:bottom, left:right].mean()
