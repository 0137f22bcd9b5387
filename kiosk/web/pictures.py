"""The pictures the page shows, found by what the store says and never by a path from a request.

A request names a kind and a number (`/image/sample/12`); the file is whatever the store's row
for it names, through the same check every stored file name passes (paths.kept_file: a name the
kiosk writes, inside its folder, no link leading out). It is decoded with the import's limits and
sent as a small JPEG, so a 50-megapixel photo costs the browser a thumbnail.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from kiosk.config import Config
from kiosk.errors import NotFound, StoreError
from kiosk.store import Store
from kiosk.vision.images import ImageLimits, ImageRejected, load_image

KINDS = ("sample", "event", "unknown")
SIZES = {"small": 200, "large": 640}


def stored_file(store: Store, kind: str, number: int) -> Path:
    """The file the store holds for KIND number NUMBER; NotFound when there is none."""
    try:
        if kind == "sample":
            found = store.people.sample(number)
            if found is not None:
                return store.photo_path(found[1].photo_sha256)
        elif kind == "event":
            face = store.events.face(number)
            if face is not None:
                return store.event_face_path(face.crop_file)
        elif kind == "unknown":
            unknown = store.unknowns.get(number)
            if unknown is not None:
                return store.unknown_face_path(unknown.crop_file)
    except StoreError as exc:  # a stored name that is not one the kiosk writes (paths.kept_file)
        raise NotFound(str(exc)) from None
    raise NotFound(f"{kind} {number}: no picture kept")


def thumbnail(path: Path, config: Config, size: str = "small") -> bytes:
    """PATH as a JPEG at most SIZES[size] pixels on its longer side."""
    try:
        data = path.read_bytes()
    except OSError:
        raise NotFound(f"{path.name}: not kept any more") from None
    try:
        pixels = load_image(data, ImageLimits.from_config(config.enrollment)).pixels
    except ImageRejected as exc:
        raise NotFound(f"{path.name}: {exc}") from None
    picture = Image.fromarray(pixels)
    side = SIZES.get(size, SIZES["small"])
    picture.thumbnail((side, side))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def png_file(path: Path) -> bytes:
    """The screen's snapshot (display.snapshot_path), checked to be a PNG."""
    try:
        data = path.read_bytes()
    except OSError:
        raise NotFound(f"{path}: no snapshot yet") from None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise NotFound(f"{path}: not a PNG")
    return data
