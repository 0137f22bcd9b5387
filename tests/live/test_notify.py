"""The notify protocol against real unix datagram sockets standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from kiosk.live.notify import Notifier, WatchdogGate, watchdog_interval


@pytest.fixture
def listener(tmp_path, monkeypatch):
    """A datagram socket bound in tmp_path and announced as $NOTIFY_SOCKET."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every message waiting on the socket, in order."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_ready_status_watchdog_stopping_arrive(listener):
    notifier = Notifier()
    assert notifier.enabled
    assert notifier.ready()
    assert notifier.status("loading models")
    assert notifier.watchdog()
    assert notifier.stopping()
    assert received(listener) == ["READY=1", "STATUS=loading models", "WATCHDOG=1", "STOPPING=1"]


def test_a_start_up_step_asks_for_time_of_its_own(listener):
    Notifier().starting("loading the face models", seconds=90)
    assert received(listener) == ["STATUS=loading the face models\nEXTEND_TIMEOUT_USEC=90000000"]


def test_send_fields_and_raw_text(listener):
    notifier = Notifier()
    notifier.send(READY=1, STATUS="up")
    notifier.send("STATUS=raw text")
    assert received(listener) == ["READY=1\nSTATUS=up", "STATUS=raw text"]


def test_status_stays_on_one_line(listener):
    Notifier().status("camera lost\nretrying")
    assert received(listener) == ["STATUS=camera lost retrying"]


def test_undecodable_status_text_is_sent_not_raised(listener):
    # A file name from a FAT stick with invalid UTF-8 reaches Python as a lone surrogate.
    assert Notifier().status("importing bad\udcff.jpg")
    assert received(listener) == ["STATUS=importing bad?.jpg"]


def test_abstract_socket(monkeypatch):
    name = f"kiosk-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert Notifier().ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


def test_unset_socket_is_a_quiet_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False


def test_missing_socket_is_logged_once_not_raised(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    notifier = Notifier()
    with caplog.at_level("DEBUG", logger="kiosk.notify"):
        assert notifier.ready() is False
        assert notifier.watchdog() is False
    assert len([r for r in caplog.records if "notify failed" in r.getMessage()]) == 1


def test_watchdog_interval_is_half_the_period(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0


def test_watchdog_interval_for_another_process_or_unset(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "garbage")
    assert watchdog_interval() is None


def test_watchdog_only_while_frames_flow(listener):
    gate = WatchdogGate(Notifier(), interval=5.0, stall_after=10.0)

    # No frame yet (models loading, camera opening): no keep-alive.
    assert gate.tick(0.0) is False
    assert received(listener) == []

    gate.frame_processed(1.0)
    assert gate.tick(1.0) is True
    assert gate.tick(3.0) is False  # within the interval
    gate.frame_processed(5.5)
    assert gate.tick(6.0) is True
    assert received(listener) == ["WATCHDOG=1", "WATCHDOG=1"]

    # Frames stop at 5.5: keep-alives go on until stall_after has passed, then stop.
    assert gate.tick(11.0) is True
    assert gate.tick(16.0) is False
    assert gate.tick(30.0) is False
    assert received(listener) == ["WATCHDOG=1"]

    # Frames resume: keep-alives resume at once.
    gate.frame_processed(31.0)
    assert gate.tick(31.0) is True
    assert received(listener) == ["WATCHDOG=1"]
