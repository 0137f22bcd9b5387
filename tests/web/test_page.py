"""The face library page in a real browser (Debian's chromium through chromedriver) against the real
server on a free loopback port and a real store: each change made on the page is checked with
the command line, and each page is saved as a screenshot."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import Config, RecognitionConfig
from kiosk.store import Store
from kiosk.store.faces import add_event_with_face, save_unknown_face
from kiosk.vision.engine import EngineSettings, FaceEngine
from kiosk.vision.images import kept_face, load_image

from conftest import REPO, needs_package, require_data, run_kiosk

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [needs_package("chromium", "chromium"), needs_package("chromium-driver", "chromedriver")]


def face_of(path: Path):
    """The largest face of the photo at PATH: its crop as the daemon keeps it, and its encoding."""
    engine = FaceEngine(EngineSettings.identification(Config()))
    image = load_image(path.read_bytes()).pixels
    boxes, encodings = engine.detect_and_encode(image)
    assert boxes, path
    return kept_face(image, boxes[0]), encodings[0]


@pytest.fixture
def library(enrolled_copy, tmp_path) -> Path:
    """people/ enrolled; a photo of Alex Lacamoire enrolled under obama (held back by the check); an event
    with Obama's face logged as biden; three kept faces each of two strangers."""
    probes, dev = require_data("probes"), require_data("faces_dev", "probes")
    wrong = tmp_path / "more" / "obama"
    wrong.mkdir(parents=True)
    for name in ("obama1.jpg", "obama3.jpg"):
        shutil.copy(probes / name, wrong / name)
    shutil.copy(probes / "alex_lacamoire1.jpg", wrong / "not-obama.jpg")
    result = run_kiosk("enroll", "--json", str(tmp_path / "more"), data_dir=enrolled_copy)
    assert result.returncode == 0, result.stderr
    assert [s["file"] for s in json.loads(result.stdout)["suspects"]] == ["obama/not-obama.jpg"]
    limits = RecognitionConfig()
    with Store(enrolled_copy) as store:
        crop, encoding = face_of(probes / "obama-720p.jpg")
        add_event_with_face(store, limits, "biden", 0.55, 7, time.time() - 60, crop, encoding)
        for person in ("ben_afflek", "elton_john"):
            for number in (1, 2, 3):
                crop, encoding = face_of(dev / person / f"{number}.jpg")
                save_unknown_face(store, limits, crop, encoding, track_id=None)
    return enrolled_copy


@pytest.fixture
def server(library):
    """`kiosk web --port 0` on the library: (base URL, the login address, the data dir)."""
    process = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--data-dir", str(library), "web", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               env={**os.environ, "KIOSK_CONFIG": str(REPO / "config.yaml")})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))  # type: ignore[union-attr]
        login = run_kiosk("web", "--url", "--port", str(port), data_dir=library)
        assert login.returncode == 0, login.stderr
        yield f"http://localhost:{port}", login.stdout.strip(), library
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def shown_images(driver) -> list[int]:
    """The natural widths of every picture on the page, once they have loaded (0: a broken one)."""
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = driver.execute_script("return Array.from(document.images).every(i => i.complete)")
        if done:
            break
        time.sleep(0.1)
    return driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")


def said(driver, timeout: float = 60) -> str:
    """The one line the page came back with after a change (waiting for it: an upload encodes)."""
    from selenium.webdriver.common.by import By
    deadline = time.monotonic() + timeout
    while not (boxes := driver.find_elements(By.CSS_SELECTOR, ".said, .error")) and time.monotonic() < deadline:
        time.sleep(0.1)
    return boxes[0].text if boxes else ""


def cli_json(data_dir: Path, *args: str):
    result = run_kiosk(*args, "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_an_admin_works_through_the_library_in_a_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base, login, data_dir = server
    browser.get(login)
    assert browser.current_url == f"{base}/people"
    cards = {card.find_element(By.TAG_NAME, "h2").text: card for card in browser.find_elements(By.CLASS_NAME, "card")}
    assert {"Obama", "Biden", "Lin Manuel Miranda"} <= set(cards)
    widths = shown_images(browser)
    assert widths and all(width > 0 for width in widths), widths
    browser.save_screenshot(str(tmp_path / "people.png"))

    # A person's photos, the held-back one marked with its reason; accept it.
    browser.find_element(By.LINK_TEXT, "Obama").click()
    held = browser.find_elements(By.CSS_SELECTOR, ".photo.held")
    assert len(held) == 1 and "obama/not-obama.jpg" in held[0].text and "held back" in held[0].text
    assert all(width > 0 for width in shown_images(browser))
    browser.save_screenshot(str(tmp_path / "person.png"))
    held[0].find_element(By.XPATH, ".//button[text()='Accept']").click()
    assert "accepted photo" in said(browser)
    statuses = {s["source"]: s["status"] for s in cli_json(data_dir, "people", "show", "obama")["samples"]}
    assert statuses["obama/not-obama.jpg"] == "accepted"

    # The log: the event logged as biden shows Obama's face; correct it.
    browser.find_element(By.LINK_TEXT, "Log").click()
    row = browser.find_element(By.XPATH, "//tr[td[contains(., 'biden')]]")
    assert all(width > 0 for width in shown_images(browser))
    browser.save_screenshot(str(tmp_path / "log.png"))
    row.find_element(By.NAME, "name").send_keys("obama")
    row.find_element(By.XPATH, ".//button[text()='Correct']").click()
    assert "now obama" in said(browser)
    [event] = cli_json(data_dir, "events")
    assert event["name"] == "obama" and event["corrected_from"] == "biden"

    # Unknown visitors: two strangers, three faces each, in two groups; name one.
    browser.find_element(By.LINK_TEXT, "Visitors").click()
    groups = browser.find_elements(By.CLASS_NAME, "card")
    assert [len(g.find_elements(By.CSS_SELECTOR, ".faces img")) for g in groups] == [3, 3]
    assert all(width > 0 for width in shown_images(browser))
    browser.save_screenshot(str(tmp_path / "visitors.png"))
    first = groups[0]
    first_faces = set(cli_json(data_dir, "unknowns", "groups")[0]["face_ids"])
    first.find_element(By.NAME, "name").send_keys("Visitor One")
    first.find_element(By.NAME, "new").click()
    first.find_element(By.XPATH, ".//button[text()='Name']").click()
    assert "3 face(s) enrolled as Visitor One" in said(browser)
    assert len(cli_json(data_dir, "people", "show", "Visitor One")["samples"]) == 3
    left = cli_json(data_dir, "unknowns", "groups")
    assert len(left) == 1 and not set(left[0]["face_ids"]) & first_faces

    # Photos uploaded for somebody new: a broken one is skipped with its reason, the rest enrolled
    # (the photo check may hold one back: this Ben is enrolled as Visitor One already).
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a photo")
    browser.find_element(By.LINK_TEXT, "People").click()
    form = browser.find_element(By.XPATH, "//form[@action='/person/upload']")
    form.find_element(By.NAME, "name").send_keys("Ben Affleck")
    photos = [require_data("faces_dev", "enroll", "ben_afflek", name) for name in ("1.jpg", "2.jpg")]
    form.find_element(By.NAME, "photos").send_keys("\n".join(str(p) for p in [*photos, broken]))
    form.find_element(By.TAG_NAME, "button").click()
    outcome = said(browser)
    assert outcome.startswith("added 2 photo(s) for Ben Affleck") and "1 skipped (upload-3.jpg: " in outcome, outcome
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Ben Affleck")
    assert len(cli_json(data_dir, "people", "show", "ben affleck")["samples"]) == 2

    # Status: what `kiosk status` says.
    browser.find_element(By.LINK_TEXT, "Status").click()
    assert "daemon:     not running" in browser.find_element(By.CLASS_NAME, "status").text
    browser.save_screenshot(str(tmp_path / "status.png"))
    for name in ("people", "person", "log", "visitors", "status"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def request(base: str, method: str, path: str, headers: dict | None = None, body: str = ""):
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    connection.request(method, path, body=body or None, headers={"Host": f"{host}:{port}", **(headers or {})})
    response = connection.getresponse()
    return response.status, response.getheader("Location"), response.read().decode("utf-8", "replace")


def test_requests_without_the_token_from_elsewhere_or_for_other_files_are_refused(server):
    base, login, data_dir = server
    token = login.split("token=")[1]
    cookie = {"Cookie": f"kiosk_token={token}"}
    same_site = {**cookie, "Origin": base, "Content-Type": "application/x-www-form-urlencoded"}

    assert request(base, "GET", "/people")[:2] == (303, f"{base}/login")
    assert request(base, "GET", "/image/sample/1")[0] == 403
    assert request(base, "GET", "/people", {"Cookie": "kiosk_token=wrong"})[0] == 303
    assert request(base, "GET", "/login?token=wrong")[0] == 403
    assert request(base, "GET", "/people", cookie)[0] == 200
    # Another site's page posting in a logged-in browser, and a name that points at loopback.
    status, _, text = request(base, "POST", "/person/remove", {**same_site, "Origin": "http://evil.example"},
                              "name=obama&confirm=yes")
    assert status == 403 and "cross-site" in text
    assert request(base, "POST", "/person/remove", {**cookie, "Content-Type": "application/x-www-form-urlencoded"},
                   "name=obama&confirm=yes")[0] == 403  # no Origin, no Referer
    assert request(base, "GET", "/people", {**cookie, "Host": "evil.example"})[0] == 403
    assert any(p["name"] == "obama" for p in cli_json(data_dir, "people", "list"))
    # Paths outside the data folder, and a stored file name aimed at one.
    for path in ("/image/sample/..%2F..%2Fetc%2Fpasswd", "/image/../../etc/passwd", "/image/file/1",
                 "/style.css/../../kiosk.db", "/screen.png"):
        status, _, text = request(base, "GET", path, cookie)
        assert status in (403, 404) and "root:" not in text, (path, status)
    with sqlite3.connect(data_dir / "kiosk.db") as db:
        [(unknown_id,)] = db.execute("SELECT min(id) FROM unknown_faces").fetchall()
        db.execute("UPDATE unknown_faces SET crop_file = '../../../../etc/passwd' WHERE id = ?", (unknown_id,))
    status, _, text = request(base, "GET", f"/image/unknown/{unknown_id}", cookie)
    assert status == 404 and "not one the kiosk writes" in text and "root:" not in text
    # A rename to another person's name comes back to the person, saying why; a good one follows the name.
    status, location, _ = request(base, "POST", "/person/rename", same_site, "name=biden&new=obama")
    assert status == 303 and location.startswith(f"{base}/person?name=biden&error=obama%3A+already+enrolled")
    status, location, _ = request(base, "POST", "/person/rename", same_site, "name=biden&new=Joe+Biden")
    assert status == 303 and location.startswith(f"{base}/person?name=Joe+Biden&said=renamed+biden+to+Joe+Biden")
    assert any(p["name"] == "Joe Biden" for p in cli_json(data_dir, "people", "list"))

    # The same change from the page itself goes through, after its confirmation.
    status, _, text = request(base, "POST", "/person/remove", same_site, "name=obama")
    assert status == 200 and "Remove obama" in text
    assert any(p["name"] == "obama" for p in cli_json(data_dir, "people", "list"))
    assert request(base, "POST", "/person/remove", same_site, "name=obama&confirm=yes")[0] == 303
    assert not any(p["name"] == "obama" for p in cli_json(data_dir, "people", "list"))
