"""Uploads to the face library page as a real server must take them (web/uploads.py, app.py):
many small photos at once, a size judged before the body is read, no folder left behind by a
killed server, and every answer (a 500 included) with the security headers."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from kiosk.web.serving import HEADERS
from kiosk.web.uploads import UPLOAD_PREFIX

from conftest import REPO, require_data, run_kiosk


def start(data_dir: Path) -> tuple[subprocess.Popen, int, str]:
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir), "web", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               env={**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml")})
    assert process.stdout is not None
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))  # type: ignore[union-attr]
    token = run_kiosk("web", "--url", "--port", str(port), data_dir=data_dir).stdout.strip().split("token=")[1]
    return process, port, token


@pytest.fixture
def page(enrolled_copy):
    process, port, token = start(enrolled_copy)
    try:
        yield port, token, enrolled_copy
    finally:
        process.terminate()
        process.wait(timeout=10)


def post(port: int, token: str, path: str, body: bytes, content_type: str, length: int | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("POST", path, skip_host=True)
    for key, value in {"Host": f"localhost:{port}", "Cookie": f"kiosk_token={token}",
                       "Origin": f"http://localhost:{port}", "Content-Type": content_type,
                       "Content-Length": str(len(body) if length is None else length)}.items():
        connection.putheader(key, value)
    connection.endheaders()
    if length is None:
        connection.send(body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def form(fields: dict[str, str], photos: list[Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for photo in photos:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="{photo.name}"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + photo.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def said(headers: dict) -> str:
    query = parse_qs(urlparse(headers.get("Location", "")).query)
    return (query.get("said") or query.get("error") or [""])[0]


def test_an_upload_of_many_small_photos_is_taken_whole(page):
    port, token, data_dir = page
    photos = sorted((require_data("faces_dev", "enroll") / "ben_afflek").glob("*.jpg"))[:6]
    assert all(p.stat().st_size < 100_000 for p in photos[:3])
    body, kind = form({"name": "Ben Affleck", "new": "1"}, photos)
    status, headers, _ = post(port, token, "/person/upload", body, kind)
    assert status == 303 and said(headers).startswith("added "), (status, said(headers), _)
    assert "Ben Affleck" in run_kiosk("people", "list", data_dir=data_dir).stdout
    assert not list(data_dir.glob(UPLOAD_PREFIX + "*"))


def test_a_size_over_the_limit_is_refused_before_the_body_is_read(page):
    port, token, data_dir = page
    started = time.monotonic()
    status, headers, body = post(port, token, "/person/upload", b"", "multipart/form-data; boundary=x",
                                 length=570 * 1024 * 1024)
    assert status in (303, 413), body  # the page's own refusal, or the server's before the app
    assert time.monotonic() - started < 60  # answered without 570 MB being sent
    if status == 303:
        assert "upload too large" in said(headers)


def test_every_answer_carries_the_security_headers_a_500_included(page):
    port, token, _ = page
    huge = "9" * 40
    for path in (f"/image/sample/{huge}", "/person?name=%ff%fe", "/nothing-here"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers={"Host": f"localhost:{port}", "Cookie": f"kiosk_token={token}"})
        response = connection.getresponse()
        response.read()
        assert all(response.getheader(key) == value for key, value in HEADERS.items()), (path, response.status)
        assert "Traceback" not in (response.reason or "")


def test_a_killed_servers_upload_folders_are_swept_at_start(enrolled_copy):
    left = enrolled_copy / f"{UPLOAD_PREFIX}abc" / "ben"
    left.mkdir(parents=True)
    (left / "upload-1.jpg").write_bytes(b"photo")
    process, _, _ = start(enrolled_copy)
    try:
        assert not list(enrolled_copy.glob(UPLOAD_PREFIX + "*"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
