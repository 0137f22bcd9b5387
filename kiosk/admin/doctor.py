"""`kiosk doctor`: check the installation, each check OK, WARN or FAIL with an explanation.

FAIL means the kiosk cannot work (missing models, a damaged store, an unusable data directory);
WARN means something is missing or unusual but the kiosk may still run (no camera attached yet,
no picamera2 on a desktop). The exit status is 1 when any check fails.
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
import sqlite3
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiosk.admin.status import free_space
from kiosk.config import DOOR_WITHOUT_LIVENESS, Config
from kiosk.errors import ConfigError, StoreError
from kiosk.outside.mqtt import check_broker
from kiosk.paths import DB_NAME, EVENT_FACES_DIR, PHOTOS_DIR, UNKNOWNS_DIR
from kiosk.store import Store, waiting_for_retrain
from kiosk.util import format_bytes
from kiosk.vision.build import dlib_build
from kiosk.vision.calibration import rule_for
from kiosk.vision.encoders import encoder_class

OK, WARN, FAIL = "OK", "WARN", "FAIL"
LOW_DISK_BYTES = 500 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    result: str  # OK, WARN or FAIL
    detail: str


def check_models() -> Check:
    try:  # late on purpose: whether it imports is what this checks
        import face_recognition_models as models
    except ImportError as exc:
        return Check("models", FAIL, f"face_recognition_models is not installed ({exc})")
    files = [models.face_recognition_model_location(), models.pose_predictor_model_location(),
             models.pose_predictor_five_point_model_location(), models.cnn_face_detector_model_location()]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        return Check("models", FAIL, f"model files missing: {', '.join(missing)}")
    return Check("models", OK, f"{len(files)} model files in {os.path.dirname(files[0])}")


def check_dlib() -> Check:
    try:  # whether it imports is what this checks (dlib_build imports it late, on purpose)
        build = dlib_build()
    except ImportError as exc:
        return Check("dlib", FAIL, f"cannot import dlib ({exc})")
    detail = f"dlib {build.version} on {build.machine}: {build.flags()}"
    if build.warning:
        return Check("dlib", WARN, f"{detail}; {build.warning}")
    return Check("dlib", OK, detail)


def check_picamera2() -> Check:
    try:
        importlib.import_module("picamera2")
    except Exception as exc:  # a broken binary module raises ValueError, not only ImportError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "numpy.dtype size changed" in message:
            return Check("picamera2", WARN, f"picamera2 cannot load ({message}): apt's picamera2 is built against "
                                            "numpy 1.x and pip installed numpy 2; reinstall with "
                                            "scripts/pi-constraints.txt, which keeps numpy<2")
        return Check("picamera2", WARN, f"not importable ({message}); on a Pi: sudo apt install python3-picamera2 "
                                        "and a venv with --system-site-packages (USB cameras work without it)")
    return Check("picamera2", OK, "importable")


def check_camera(config: Config) -> Check:
    source = config.camera.source
    if source.startswith(("file:", "dir:")):
        return Check("camera", OK, f"camera.source is {source}, no camera device needed")
    devices = sorted(glob.glob("/dev/video*") + glob.glob("/dev/media*"))
    if not devices:
        return Check("camera", WARN,
                     "no /dev/video* or /dev/media* device: connect a camera (and check the ribbon cable)")
    return Check("camera", OK, ", ".join(devices))


def check_display(config: Config) -> Check:
    if config.display.mode == "headless":
        return Check("display", OK, "display.mode is headless, no screen needed")
    devices = sorted(glob.glob("/dev/dri/card*") + glob.glob("/dev/fb*"))
    if not devices:
        return Check("display", WARN, "no /dev/dri/card* or /dev/fb* device: no screen found "
                                      "(display.mode: headless runs without one)")
    return Check("display", OK, ", ".join(devices))


def check_data_dir(config: Config) -> Check:
    path = config.data_path()
    if not path.exists():
        return Check("data directory", WARN, f"{path} does not exist yet (created by the first enroll)")
    if not path.is_dir():
        return Check("data directory", FAIL, f"{path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check("data directory", FAIL, f"{path} is not writable by this user")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check("data directory", WARN, f"{path} has mode {mode:04o}; faces are personal data: chmod 700 {path}")
    exposed = exposed_private_files(path)
    if exposed:
        return Check("data directory", WARN, f"{len(exposed)} file(s) readable by other users, such as {exposed[0]}; "
                                             f"faces are personal data: chmod -R go-rwx {path}")
    return Check("data directory", OK, f"{path}, writable, mode 0700, private files 0600")


def exposed_private_files(data_dir: Path) -> list[Path]:
    """The database files, kept photos and unknown-face crops that other users could read."""
    candidates = list(data_dir.glob(f"{DB_NAME}*"))
    for folder in (data_dir / PHOTOS_DIR, data_dir / UNKNOWNS_DIR, data_dir / EVENT_FACES_DIR):
        if folder.is_dir():
            candidates.extend(folder.iterdir())
    exposed = []
    for file in sorted(candidates):
        try:
            info = file.lstat()
        except OSError:
            continue  # removed meanwhile
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
            exposed.append(file)
    return exposed


def check_store(config: Config) -> Check:
    if not (config.data_path() / DB_NAME).exists():
        return Check("store", WARN, f"no {DB_NAME} in {config.data_path()} yet: enroll someone")
    try:
        with Store(config.data_path(), create=False) as store:
            result = store.db.execute("PRAGMA integrity_check").fetchone()[0]
            people, samples = store.people.counts()
    except (StoreError, sqlite3.DatabaseError) as exc:
        return Check("store", FAIL, str(exc))
    if result != "ok":
        return Check("store", FAIL, f"integrity check failed: {result}; restore a backup (kiosk restore)")
    return Check("store", OK, f"integrity ok, {people} people, {samples} samples")


def check_recognition(config: Config) -> Check:
    """What to expect from the gallery as it is now: strangers named, members left unknown."""
    if not (config.data_path() / DB_NAME).exists():
        return Check("recognition", WARN, "nobody enrolled yet")
    encoder = config.recognition.encoder
    unavailable = encoder_class(encoder).unavailable()
    if unavailable:
        return Check("recognition", FAIL, f"recognition.encoder {encoder}: {unavailable}")
    try:
        with Store(config.data_path(), create=False) as store:
            gallery = store.people.load_gallery(encoder)
            waiting = waiting_for_retrain(store, encoder)
    except (StoreError, sqlite3.DatabaseError) as exc:
        return Check("recognition", FAIL, str(exc))
    if waiting:
        return Check("recognition", WARN, waiting)
    _, calibration = rule_for(gallery, config.recognition)
    if calibration is None:
        return Check("recognition", OK, f"fixed tolerance {config.recognition.tolerance:.2f} "
                                        "(recognition.false_accept_target is 0)")
    kept = f"; {calibration.kept.line(calibration.tolerance)}" if calibration.kept else ""
    if calibration.warning:
        return Check("recognition", WARN, calibration.said_with_warning() + kept)
    return Check("recognition", OK, calibration.expectation() + kept)


def check_disk(config: Config) -> Check:
    free = free_space(config.data_path())
    if free < LOW_DISK_BYTES:
        return Check("disk space", WARN, f"only {format_bytes(free)} free for {config.data_path()}")
    return Check("disk space", OK, f"{format_bytes(free)} free")


def check_config(config: Config) -> Check:
    if config.source_path:
        return Check("config", OK, f"{config.source_path} is valid")
    return Check("config", OK, "no config file found, using the built-in defaults")


def check_service() -> Check:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return Check("service", WARN, "systemctl not found: the kiosk service cannot be checked here")
    try:
        result = subprocess.run([systemctl, "is-enabled", "kiosk"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("service", WARN, f"systemctl is-enabled kiosk did not answer ({exc})")
    answer = (result.stdout.strip() or result.stderr.strip() or "no answer").splitlines()[0]
    if result.returncode == 0 and answer == "enabled":
        return Check("service", OK, "kiosk.service is enabled")
    return Check("service", WARN, f"kiosk.service is not enabled ({answer}): sudo systemctl enable --now kiosk")


def check_mqtt(config: Config) -> Check:
    """The broker answers with the configured address, TLS and credentials (one short connection)."""
    settings = config.mqtt
    if not settings.enabled:
        return Check("mqtt", OK, "off (mqtt.enabled is false): no events leave the device")
    try:
        problem = check_broker(config)
    except ConfigError as exc:
        return Check("mqtt", FAIL, str(exc))
    if problem:
        return Check("mqtt", WARN, f"{problem}; events wait in the outbox until the broker answers")
    return Check("mqtt", OK, f"broker {settings.host}:{settings.port} accepted the connection"
                             f"{' over TLS' if settings.tls else ''}")


def check_door(config: Config, dev: Path = Path("/dev")) -> Check:
    """A GPIO chip this user may drive (the running daemon holds the pin, so it is not toggled)."""
    door = config.door
    if not door.enabled:
        return Check("door", OK, "off (door.enabled is false)")
    chips = sorted(dev.glob("gpiochip*"))
    if not chips:
        return Check("door", FAIL, f"no GPIO chip ({dev}/gpiochip*) on this machine for door.pin {door.pin}")
    usable = [chip for chip in chips if os.access(chip, os.R_OK | os.W_OK)]
    if not usable:
        return Check("door", FAIL, f"no access to {', '.join(map(str, chips))}: the kiosk user needs the gpio group")
    allowed = "any known person" if "any known" in door.allow else ", ".join(door.allow)
    if config.door_without_liveness:
        return Check("door", WARN, DOOR_WITHOUT_LIVENESS)
    return Check("door", OK, f"GPIO {door.pin} via {usable[0].name}, active {'high' if door.active_high else 'low'}, "
                             f"{door.open_seconds:g} s for {allowed}")


def run_checks(config: Config) -> list[Check]:
    return [check_models(), check_dlib(), check_picamera2(), check_camera(config), check_display(config),
            check_data_dir(config), check_store(config), check_recognition(config), check_disk(config),
            check_config(config),
            check_service(), check_mqtt(config), check_door(config)]
