"""Tutorial pickles, devices and links on a stick: imported safely or refused, never followed."""

from __future__ import annotations

import json
import os

import pytest

from kiosk.config import EnrollmentConfig
from kiosk.enrollment.enroll import import_folder
from kiosk.store import Store

from conftest import require_data, run_kiosk

FAST = EnrollmentConfig(fallback_detector="none", jitters=1)  # no CNN second look: hundreds of photos


def good_photo(name: str = "obama") -> bytes:
    return (require_data("people", name) / f"{name}.jpg").read_bytes()


def skipped_reasons(report) -> dict[str, str]:
    return {item.file: item.reason for item in report.skipped}


@pytest.mark.parametrize("protocol", [0, 1, 2, 4])
def test_tutorial_pickles_of_every_protocol_import(tmp_path, protocol):
    import pickle

    import numpy as np
    rng = np.random.default_rng(protocol)
    gallery = {"encodings": [rng.normal(0, 0.1, 128) for _ in range(2)], "names": ["ada", "grace"]}
    path = tmp_path / "encodings.pickle"
    path.write_bytes(pickle.dumps(gallery, protocol=protocol))
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    people = json.loads(run_kiosk("people", "list", "--json", data_dir=tmp_path / "data").stdout)
    assert {p["name"] for p in people} == {"ada", "grace"}


def test_a_tiny_pickle_of_shared_nested_lists_is_refused_without_expanding_it(tmp_path):
    import pickle
    nested: list = [0.0] * 8
    for _ in range(30):  # 8**30 numbers if expanded; a few hundred bytes on disk
        nested = [nested] * 8
    path = tmp_path / "bomb.pickle"
    path.write_bytes(pickle.dumps({"encodings": [nested], "names": ["ada"]}))
    assert path.stat().st_size < 2000
    result = run_kiosk("import-pickle", str(path), data_dir=tmp_path / "data", timeout=60)
    assert result.returncode == 2 and "is not 128 finite numbers" in result.stderr


def test_devices_pipes_and_sockets_on_a_stick_are_never_opened(tmp_path):
    import socket
    import stat
    root = tmp_path / "stick" / "obama"
    root.mkdir(parents=True)
    (root / "good.jpg").write_bytes(good_photo())
    os.mkfifo(root / "pipe.jpg")  # opening it for reading would wait for a writer
    try:
        os.mknod(root / "tape.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a character device (/dev/null's)
    except PermissionError:  # a container without CAP_MKNOD: a FIFO in its place
        os.mkfifo(root / "tape.jpg")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(root / "socket.jpg"))
        with Store(tmp_path / "data") as store:
            report = import_folder(store, root.parent, FAST, encoder="dlib", workers=1, show_bar=False)
    assert report.added == 1 and skipped_reasons(report) == dict.fromkeys(
        ("obama/pipe.jpg", "obama/socket.jpg", "obama/tape.jpg"), "not a regular file (a device, pipe or socket)")


def test_a_hard_link_on_a_stick_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(good_photo())
    root = tmp_path / "stick"
    (root / "obama").mkdir(parents=True)
    os.link(outside, root / "obama" / "linked.jpg")
    (root / "obama" / "own.jpg").write_bytes(good_photo("biden"))
    with Store(tmp_path / "data") as store:
        report = import_folder(store, root, FAST, encoder="dlib", workers=1, show_bar=False)
    assert "hard link" in skipped_reasons(report)["obama/linked.jpg"] and report.added == 1
