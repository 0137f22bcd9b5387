"""A changed gallery made ready beside the frame loop: loaded from the store and calibrated
(vision/calibration.py) in a thread of its own, while the kiosk goes on naming faces with the
gallery it has. The daemon asks (`request`) when the store's gallery changed, and swaps in what
is ready (`take`) between two frames, which costs no more than assigning it: a site's 1000-person
gallery, or garbage that makes a home publish again and again, never stalls the screen or the
watchdog.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import Config, DoorConfig, RecognitionConfig
from kiosk.store import Store
from kiosk.vision.calibration import Calibration, door_threshold, rule_for
from kiosk.vision.matcher import Gallery, MatchRule

log = logging.getLogger("kiosk.gallery")


@dataclass(frozen=True)
class ReadyGallery:
    """A gallery with the rule calibrated for it and, with a door, the door's threshold."""
    gallery: Gallery
    rule: MatchRule
    calibration: Calibration | None
    door_tolerance: float | None


def prepare(gallery: Gallery, recognition: RecognitionConfig, door: DoorConfig | None) -> ReadyGallery:
    """GALLERY with its rule (calibrated when recognition.false_accept_target is set) and, with a
    DOOR, its stricter threshold from the same curve; said in the log as the kiosk will use it.
    A track's evidence is held to the single photo's threshold (its scores' mean stays where
    single photos put them), and the tracker's at-once confirmation follows the same tolerance."""
    rule, calibration = rule_for(gallery, recognition)
    if calibration is not None:
        log.info("%s", calibration.said_with_warning())
    threshold = None
    if door is not None:
        threshold = door_threshold(gallery, rule, door.false_accept_target, calibration)
        log.info("the door opens at a score of %.3f or less (door.false_accept_target %g), on %d agreeing "
                 "frames", threshold, door.false_accept_target, door.frames)
    return ReadyGallery(gallery, rule, calibration, threshold)


class GalleryLoader:
    """Loads and prepares the newest gallery from its own thread and store connection."""

    def __init__(self, config: Config, data_dir: Path):
        self.config, self.data_dir = config, data_dir
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._ready: ReadyGallery | None = None
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="gallery", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Load the store's gallery as it is now (a request while one is loading waits for it)."""
        self._wanted.set()

    @property
    def busy(self) -> bool:
        """Loading, asked to, or holding a gallery not yet taken: asking again would load twice."""
        return self._busy or self._wanted.is_set() or self._ready is not None

    def take(self) -> ReadyGallery | None:
        """The gallery made ready since the last call, if any."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join(5)

    def _run(self) -> None:
        store: Store | None = None
        try:
            while not self._stopping:
                self._wanted.wait()
                if self._stopping:
                    break
                self._busy = True
                self._wanted.clear()
                try:
                    if store is None or store.replaced():
                        if store is not None:
                            store.close()
                        store = Store(self.data_dir)
                    ready = prepare(store.people.load_gallery(self.config.recognition.encoder),
                                    self.config.recognition, self.config.door if self.config.door.enabled else None)
                    with self._lock:
                        self._ready = ready
                except Exception as exc:  # a busy or briefly locked store: the daemon asks again
                    log.warning("gallery reload failed: %s", exc)
                finally:
                    self._busy = False
        finally:
            if store is not None:
                store.close()
