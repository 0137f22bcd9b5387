"""The import report on a stick of every kind of bad file, row by row."""

from __future__ import annotations

import io
import json

from PIL import Image

from conftest import encoded, require_data, run_kiosk


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def heic_claiming(width: int, height: int) -> bytes:
    """A real HEIC whose header (the 'ispe' box) claims another size."""
    data = bytearray(encoded(Image.open(require_data("people", "biden", "biden.jpg")).convert("RGB"), "heic"))
    box = data.find(b"ispe")
    data[box + 8:box + 16] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return bytes(data)


def tiff_with_entry(tag: int, type_: int | None = None, count: int | None = None) -> bytes:
    """A real TIFF with one field of its first directory given another type or count."""
    data = bytearray(encoded(Image.open(require_data("people", "biden", "biden.jpg")).convert("RGB"), "tiff"))
    directory = int.from_bytes(data[4:8], "little")
    for entry in range(directory + 2, directory + 2 + 12 * int.from_bytes(data[directory:directory + 2], "little"), 12):
        if int.from_bytes(data[entry:entry + 2], "little") == tag:
            if type_ is not None:
                data[entry + 2:entry + 4] = type_.to_bytes(2, "little")
            if count is not None:
                data[entry + 4:entry + 8] = count.to_bytes(4, "little")
    return bytes(data)


def jpeg_with_rational_make() -> bytes:
    """A photo turned by its EXIF orientation, whose camera make is a fraction instead of text."""
    entries = [(0x010F, 5, 1, 8 + 2 + 2 * 12 + 4), (0x0112, 3, 1, 6)]  # Make: RATIONAL; Orientation: 6
    directory = len(entries).to_bytes(2, "little") + b"".join(
        b"".join(v.to_bytes(n, "little") for v, n in zip(entry, (2, 2, 4, 4), strict=True)) for entry in entries)
    exif = b"Exif\x00\x00II*\x00" + (8).to_bytes(4, "little") + directory + bytes(4) + (1).to_bytes(4, "little") \
        + (3).to_bytes(4, "little")
    buffer = io.BytesIO()
    turned = Image.open(require_data("people", "obama", "obama.jpg")).transpose(Image.Transpose.ROTATE_90)
    turned.save(buffer, "JPEG", exif=exif)  # stored on its side, as a camera held upright writes it
    return buffer.getvalue()


def test_each_file_of_the_hostile_run_costs_only_itself(tmp_path):
    root = tmp_path / "stick"
    for name in ("obama", "biden", "alex_lacamoire"):
        (root / name).mkdir(parents=True)
    alex = require_data("people", "alex_lacamoire", "img1.jpg")
    (root / "alex_lacamoire" / "good.jpg").write_bytes(alex.read_bytes())
    (root / "biden" / "good.jpg").write_bytes(good_photo("biden"))
    (root / "obama" / "good.jpg").write_bytes(good_photo())
    hostile = {
        "biden/huge.heic": heic_claiming(100000, 100000),
        "biden/strips-as-doubles.tif": tiff_with_entry(273, type_=12),
        "biden/strips-as-bytes.tif": tiff_with_entry(273, type_=7),
        "biden/huge-count.tif": tiff_with_entry(258, count=0x7FFFFFFF),
        "biden/width-as-bytes.tif": tiff_with_entry(256, type_=7),
    }
    for file, data in hostile.items():
        (root / file).write_bytes(data)
    (root / "obama" / "odd-exif.jpg").write_bytes(jpeg_with_rational_make())
    result = run_kiosk("enroll", str(root), "--json", data_dir=tmp_path / "data", timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert set(reasons) == set(hostile) and all(reasons.values()), json.dumps(reasons)
    assert report["added"] == 4  # the three good photos, and the one with odd EXIF (upright)
    print(reasons)
