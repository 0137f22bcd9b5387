"""`kiosk import-usb MOUNTPOINT`: enroll people from an operator's USB stick.

Stick layout: `faces/<name>/<photos>` (or person folders at the top level when there is no
`faces/` folder), and optionally `remove.txt` listing people to forget, one name per line.
Everything on the stick is treated as hostile: the same safe walk and loader as `kiosk enroll`
(same code), nothing outside MOUNTPOINT is read, and a stick pulled mid-import leaves every
committed photo in place while the rest is reported. Progress goes to a small file the running
kiosk shows on screen; the summary goes to the journal.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import Config
from kiosk.enrollment.enroll import ImportReport, enrolled_as, import_folder, live_rule
from kiosk.enrollment.photos import Skipped, read_photo
from kiosk.names import close_names, validate_person_name
from kiosk.paths import import_progress_path
from kiosk.runtime import STALE_AFTER_SECONDS, ImportProgress, publish
from kiosk.store import Store
from kiosk.util import printable

log = logging.getLogger("kiosk.usb")

FACES_FOLDER = "faces"
REMOVE_LIST = "remove.txt"
REPORT_NAME = "kiosk-import-report.txt"
MAX_REMOVE_LIST_BYTES = 64 * 1024
PROGRESS_EVERY_SECONDS = 0.3


@dataclass
class StickReport:
    imported: ImportReport
    removed: list[str] = field(default_factory=list)
    not_found: dict[str, list[str]] = field(default_factory=dict)  # name -> the names perhaps meant

    def as_dict(self) -> dict:
        return {**self.imported.as_dict(), "removed": self.removed, "remove_not_found": list(self.not_found)}


def photos_root(mount: Path) -> Path:
    """`faces/` when the stick has a real folder of that name (not a link), else the stick itself."""
    try:
        info = os.lstat(mount / FACES_FOLDER)
    except OSError:
        return mount
    return mount / FACES_FOLDER if stat.S_ISDIR(info.st_mode) else mount


def read_remove_list(mount: Path, skipped: list[Skipped]) -> list[str]:
    """Names from remove.txt (blank lines and # comments ignored); bad names are reported."""
    if not os.path.lexists(mount / REMOVE_LIST):
        return []
    try:
        text = read_photo(mount, REMOVE_LIST, MAX_REMOVE_LIST_BYTES).decode("utf-8-sig")  # Notepad's BOM
    except (ValueError, UnicodeDecodeError) as exc:
        skipped.append(Skipped(REMOVE_LIST, f"unreadable list: {exc}"))
        return []
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            names.append(validate_person_name(line))
        except ValueError as exc:
            skipped.append(Skipped(f"{REMOVE_LIST}:{number}", f"{exc}: {printable(line)}"))
    return names


class ProgressPublisher:
    """Writes import progress for the screen, at most a few times a second, and again every few
    seconds while one photo takes long (a slow processor): the screen takes progress older than
    STALE_AFTER_SECONDS for an import that died, and would drop its banner mid-import."""

    def __init__(self, path: Path):
        self.path = path
        self.last_write = 0.0
        self.last: ImportProgress | None = None
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.keeper = threading.Thread(target=self._keep_fresh, name="import-progress", daemon=True)

    def __enter__(self) -> ProgressPublisher:
        self.keeper.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.finished.set()
        self.keeper.join()

    def publish(self, progress: ImportProgress, force: bool = False) -> None:
        with self.lock:
            self.last = progress
            now = time.monotonic()
            if not force and now - self.last_write < PROGRESS_EVERY_SECONDS:
                return
            self.last_write = now
            self._write(progress)

    def _keep_fresh(self) -> None:
        while not self.finished.wait(STALE_AFTER_SECONDS / 3):
            with self.lock:
                if self.last is not None and self.last.running:
                    self.last_write = time.monotonic()
                    self._write(self.last)

    def _write(self, progress: ImportProgress) -> None:
        try:
            publish(self.path, progress)
        except OSError as exc:
            log.debug("cannot write progress to %s: %s", self.path, exc)


def import_stick(config: Config, mount: Path, *, write_report: bool = False) -> StickReport:
    """Import photos and apply remove.txt from a mounted stick. A name in remove.txt finds its
    person as a typed name does (any case, no accents needed); a new folder whose photos are
    recognised as an enrolled person stays its own person and is reported as a look-alike."""
    if not mount.is_dir():
        raise FileNotFoundError(f"{mount}: not a mounted folder")
    with ProgressPublisher(import_progress_path(config.data_path())) as progress:
        progress.publish(ImportProgress("running", str(mount)), force=True)
        extra_skipped: list[Skipped] = []
        to_remove = read_remove_list(mount, extra_skipped)
        with Store(config.data_path()) as store:
            imported = import_folder(
                store, photos_root(mount), config.enrollment, encoder=config.recognition.encoder,
                on_progress=lambda done, total, _file: progress.publish(
                    ImportProgress("running", str(mount), done, total)),
                layout=f"{FACES_FOLDER}/<name>/<photos> on the stick",
                same_face=live_rule(store, config))
            imported.skipped.extend(extra_skipped)
            report = StickReport(imported)
            if to_remove and imported.hint:
                imported.hint = ""  # a stick that only removes people is laid out as it should be
            for typed in to_remove:
                name = enrolled_as(store, typed)
                if store.people.remove(name, events=False) is None:
                    report.not_found[typed] = close_names(typed, store.people.names())
                else:
                    report.removed.append(name)
        progress.publish(ImportProgress("done", str(mount), imported.photos, imported.photos, added=imported.added,
                                        duplicates=imported.duplicates, skipped=len(imported.skipped),
                                        removed=len(report.removed), suspects=len(imported.suspects),
                                        hint=imported.hint), force=True)
    log.info("USB import from %s: %d added for %d people, %d duplicates, %d skipped, %d held back as suspects, "
             "%d removed", mount, imported.added, imported.people, imported.duplicates, len(imported.skipped),
             len(imported.suspects), len(report.removed))
    for line in imported.summary_lines():
        log.info("%s", line.strip())
    if write_report:
        _write_report(mount, report)
    return report


def _write_report(mount: Path, report: StickReport) -> None:
    """Only with --write-report: a plain text summary back onto a writable stick."""
    lines = [f"added {report.imported.added}, duplicates {report.imported.duplicates}, "
             f"skipped {len(report.imported.skipped)}, held back as suspects {len(report.imported.suspects)}, "
             f"removed {len(report.removed)}"]
    lines += [line.strip() for line in report.imported.summary_lines()]
    try:
        fd = os.open(mount / REPORT_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except OSError as exc:
        log.warning("cannot write the report to %s: %s", mount, exc.strerror)
