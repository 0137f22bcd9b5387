"""An upload of photos read as a server should read it: its size judged from Content-Length
before a byte of it is read, each photo streamed to a temporary file as it arrives (only small
parts, up to SMALL_PART each and IN_MEMORY together, are held in memory), and any that is not a
form of this page refused with one line. bottle's own form reading keeps parts under 100 KB in
memory and fails a whole upload of a few small photos; its multipart parser is used here with
limits made for photos.

Upload folders (kiosk-upload-*) live only while their request does; `sweep` removes what a killed
server left behind, at start.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO

import bottle

from kiosk.errors import Refused

UPLOAD_PREFIX = "kiosk-upload-"
SMALL_PART = 64 * 1024  # a part up to this size is held in memory, a larger one goes to a temporary file
IN_MEMORY = 4 * 1024 * 1024  # all small parts of one upload together
FIELDS = ("name", "new")  # the form's fields besides the photos


def read_upload(max_bytes: int) -> tuple[dict[str, str], list[tuple[str, IO[bytes]]]]:
    """The current request's form fields and (file name, open file) per photo; Refused saying why
    when it is larger than MAX_BYTES, has no length, or is not a multipart form."""
    request = bottle.request
    length = request.content_length
    if length < 0:
        raise Refused("the upload says nothing of its size (no Content-Length): send it from the page")
    if length > max_bytes:
        raise Refused(f"upload too large (at most {max_bytes >> 20} MB at once)")
    kind, options = bottle._parse_http_header(request.environ.get("CONTENT_TYPE", ""))[0]
    if not kind.startswith("multipart/form-data") or not options.get("boundary"):
        raise Refused("not an upload of photos (a multipart form)")
    parser = bottle._MultipartParser(request.environ["wsgi.input"], options["boundary"], length,
                                     disk_limit=max_bytes, mem_limit=IN_MEMORY, memfile_limit=SMALL_PART,
                                     charset="utf8")
    fields: dict[str, str] = {}
    files: list[tuple[str, IO[bytes]]] = []
    try:
        for part in parser.parse():
            if part.filename:
                files.append((part.filename, part.file))
            elif part.name in FIELDS:
                fields[part.name] = part.value
    except (bottle.MultipartError, UnicodeDecodeError, ValueError) as exc:
        for _, data in files:
            data.close()
        raise Refused(f"the upload could not be read ({exc})") from None
    return fields, files


def sweep(data_dir: Path) -> int:
    """Remove the upload folders a killed server left in DATA_DIR; returns how many."""
    left = [path for path in data_dir.glob(UPLOAD_PREFIX + "*") if path.is_dir()]
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    return len(left)
