"""The recognition stage's workers (kiosk/live/recognition.py) as the daemon stops."""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from kiosk.config import Config, RecognitionConfig
from kiosk.frame import Frame
from kiosk.live.recognition import Recognizer
from kiosk.store import Store
from kiosk.vision.engine import EngineSettings, FaceEngine

from conftest import require_data


class StoppedUnderIt:
    """An encoder process that systemd's SIGTERM (sent to every process of the unit) ended while
    a face was being encoded: the call fails once the daemon has begun to stop."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def encode_chips(self, chips):
        self.entered.set()
        self.release.wait(30)
        raise RuntimeError("cannot schedule new futures after shutdown")


def recognizing_a_face(store_dir, encoder) -> Recognizer:
    """A started recognizer with ENCODER, a face offered to it, once the face has reached it."""
    with Store(store_dir) as store:
        gallery = store.people.load_gallery()
    recognizer = Recognizer(FaceEngine(EngineSettings.live(Config().detection, "dlib")), gallery, RecognitionConfig(),
                            encoder=encoder)
    image = cv2.cvtColor(cv2.imread(str(require_data("probes", "obama1.jpg"))), cv2.COLOR_BGR2RGB)
    recognizer.start()
    recognizer.submit(Frame(image, 0.0, 0))
    assert encoder.entered.wait(60), "the face reached the encoder"
    return recognizer


def test_a_face_being_encoded_when_the_daemon_stops_is_no_error(enrolled_store_dir, caplog):
    caplog.set_level(logging.DEBUG, logger="kiosk.recognition")
    encoder = StoppedUnderIt()
    recognizer = recognizing_a_face(enrolled_store_dir, encoder)
    stopping = threading.Thread(target=recognizer.stop, kwargs={"timeout": 30})
    stopping.start()
    while not recognizer._stopping:  # the daemon has begun to stop; then the encoder fails
        threading.Event().wait(0.01)
    encoder.release.set()
    stopping.join(60)
    records = [r for r in caplog.records if r.name == "kiosk.recognition"]
    assert not [r for r in records if r.levelno >= logging.ERROR], [r.getMessage() for r in records]
    assert any("left unfinished: stopping" in r.getMessage() for r in records)


class Slow:
    """An encoder that takes seconds over a face, as dlib does on an emulated machine."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.entered = seconds, threading.Event()

    def encode_chips(self, chips):
        self.entered.set()
        threading.Event().wait(self.seconds)
        return np.zeros((len(chips), 128), np.float32)


def test_a_stop_waits_for_the_frame_in_hand_so_no_thread_is_left_inside_a_model(enrolled_store_dir, caplog):
    """A worker left inside dlib when the interpreter ends aborts the process (SIGABRT at a stop)."""
    recognizer = recognizing_a_face(enrolled_store_dir, Slow(3.0))
    recognizer.stop()
    assert not [thread for thread in recognizer._threads if thread.is_alive()]
    assert not [r for r in caplog.records if "still busy" in r.getMessage()]
