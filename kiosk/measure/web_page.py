"""`kiosk bench-web`: the face library page as it ships, on a store of a site's size.

A scratch store gets PEOPLE people with five kept photos each (the sample people's real photos,
each copy made distinct so it is kept as a photo of its own, with its real encoding), then the
real `kiosk web` serves it in its own process, exactly as kiosk-web.service starts it. Measured
from outside through loopback HTTP with the login cookie: the people page and one person's page
(median of several loads), thumbnails made from the kept photos, and the server's memory and CPU
while nobody uses it.
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kiosk.config import Config
from kiosk.enrollment.encoding import PhotoEncoder
from kiosk.enrollment.enroll import sample_settings
from kiosk.enrollment.photos import read_photo
from kiosk.errors import KioskError
from kiosk.measure.evaluate import person_photos
from kiosk.paths import SOURCE_TREE
from kiosk.store import Store, sha256_hex

PHOTOS_PER_PERSON = 5
PAGE_LOADS = 10
THUMBNAILS = 40
IDLE_SECONDS = 10.0


def build_store(data_dir: Path, people_dir: Path, people: int, config: Config) -> int:
    """PEOPLE people of PHOTOS_PER_PERSON photos each; returns the samples added."""
    jobs = person_photos(people_dir)
    encoder = PhotoEncoder(config.enrollment, 1, config.recognition.encoder)
    photos: list[tuple[bytes, np.ndarray]] = []
    try:
        for file, result in encoder.map((file, read_photo(people_dir, file, 50 << 20)) for _, file in jobs):
            if result.embedding is not None:
                photos.append((read_photo(people_dir, file, 50 << 20), result.embedding))
    finally:
        encoder.close()
    settings = sample_settings(config.enrollment, config.recognition.encoder)
    samples = []
    with Store(data_dir) as store:
        for index in range(people * PHOTOS_PER_PERSON):
            data, embedding = photos[index % len(photos)]
            distinct = data + index.to_bytes(4, "big")  # decoders stop at the image's end
            digest = sha256_hex(distinct)
            store.people.keep_photo(digest, distinct)
            samples.append((f"person_{index // PHOTOS_PER_PERSON:03d}", embedding, settings, digest,
                            f"person_{index // PHOTOS_PER_PERSON:03d}/photo{index % PHOTOS_PER_PERSON}.jpg"))
        return store.people.add_samples(samples)


def _proc(pid: int) -> tuple[float, int]:
    """CPU seconds used so far and resident memory in bytes of process PID."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as handle:
        rss = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS:"))
    return cpu, rss


def _get(port: int, path: str, cookie: str) -> tuple[float, int, int]:
    """Seconds to the whole answer, its status and its size."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Host": f"localhost:{port}", "Cookie": cookie})
    response = connection.getresponse()
    body = response.read()
    took = time.perf_counter() - started
    connection.close()
    return took, response.status, len(body)


def run(people_dir: Path, config: Config, people: int = 200, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-web-") as scratch:
        data_dir = Path(scratch) / "data"
        log(f"building a store of {people} people, {PHOTOS_PER_PERSON} photos each")
        added = build_store(data_dir, people_dir, people, config)
        command = [sys.executable, "-m", "kiosk.cli", "--data-dir", str(data_dir)]
        server = subprocess.Popen(command + ["web", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=SOURCE_TREE)
        try:
            assert server.stdout is not None
            started = time.perf_counter()
            match = re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline())
            if match is None:
                raise KioskError(f"kiosk web did not start: {server.stderr.read() if server.stderr else ''}")
            startup = time.perf_counter() - started
            port = int(match.group(1))
            url = subprocess.run(command + ["web", "--url", "--port", str(port)], capture_output=True, text=True,
                                 check=True, cwd=SOURCE_TREE).stdout.strip()
            cookie = f"kiosk_token={url.split('token=')[1]}"
            time.sleep(1.0)
            _, rss_fresh = _proc(server.pid)
            people_page = [_get(port, "/people", cookie) for _ in range(PAGE_LOADS)]
            person_page = [_get(port, f"/person?name=person_{people // 2:03d}", cookie) for _ in range(PAGE_LOADS)]
            thumbnails = [_get(port, f"/image/sample/{number}", cookie) for number in range(1, THUMBNAILS + 1)]
            failed = [status for _, status, _ in people_page + person_page + thumbnails if status != 200]
            if failed:
                raise KioskError(f"kiosk web answered {failed[0]} to a page or picture of the scratch store")
            cpu_before, rss_used = _proc(server.pid)
            time.sleep(IDLE_SECONDS)
            cpu_after, rss_idle = _proc(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "people": people, "samples": added, "startup_s": round(startup, 2),
        "people_page_ms": round(1000 * statistics.median(t for t, _, _ in people_page), 1),
        "people_page_kb": round(people_page[0][2] / 1024, 1),
        "person_page_ms": round(1000 * statistics.median(t for t, _, _ in person_page), 1),
        "thumbnail_ms": round(1000 * statistics.median(t for t, _, _ in thumbnails), 1),
        "rss_mb_fresh": round(rss_fresh / 2**20, 1), "rss_mb_after_use": round(rss_used / 2**20, 1),
        "rss_mb_idle": round(rss_idle / 2**20, 1),
        "idle_cpu_percent": round(100 * (cpu_after - cpu_before) / IDLE_SECONDS, 2),
    }


def print_report(result: dict) -> None:
    print(f"the face library page, {result['people']} people ({result['samples']} kept photos):")
    print(f"  server start to listening  {result['startup_s']:.2f} s")
    print(f"  people page                {result['people_page_ms']:.1f} ms (median of {PAGE_LOADS}), "
          f"{result['people_page_kb']:.0f} KB")
    print(f"  one person's page          {result['person_page_ms']:.1f} ms")
    print(f"  a thumbnail                {result['thumbnail_ms']:.1f} ms (median of {THUMBNAILS}, from kept photos)")
    print(f"  memory                     {result['rss_mb_fresh']:.1f} MB at start, {result['rss_mb_after_use']:.1f} MB "
          f"after use, {result['rss_mb_idle']:.1f} MB idle")
    print(f"  CPU while idle             {result['idle_cpu_percent']:.2f} % of one core over {IDLE_SECONDS:.0f} s")
