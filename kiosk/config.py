"""One typed configuration object, loaded once from YAML and validated strictly.

Every key has a type and, where it matters, a range or a set of allowed values. Unknown keys,
wrong types and out-of-range values raise ConfigError with a message that names the key, so a
typo in /etc/kiosk/config.yaml is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kiosk.errors import ConfigError
from kiosk.typed_yaml import build_section, check_value, refuse_duplicate_keys

if typing.TYPE_CHECKING:
    pass

SYSTEM_CONFIG = Path("/etc/kiosk/config.yaml")
# The frame sources camera.source may name: kind -> (the pattern its argument must match, or None
# for a kind that takes none; how the form is written). One row per plug-in in live/sources/, whose
# own declarations a test holds equal to this table (the config sits below the code it names).
SOURCE_KINDS: dict[str, tuple[str | None, str]] = {
    "auto": (None, "auto"),
    "picamera": (None, "picamera"),
    "usb": (r"\d+|/dev/video\d+", "usb:N, usb:/dev/videoN"),
    "file": (r".+", "file:PATH"),
    "dir": (r".+", "dir:PATH"),
}
SOURCE_FORMS = ", ".join(form for _, form in SOURCE_KINDS.values())
# The plug-ins the other settings name, each list held equal to its registry by a test:
DETECTORS = ("hog", "cnn")  # vision/detectors/
ENCODERS = ("dlib", "mobilefacenet", "dlib+mobilefacenet")  # vision/encoders/


@dataclass(frozen=True)
class SourceSpec:
    """A parsed camera.source / --source value."""
    kind: str  # a key of SOURCE_KINDS
    argument: str = ""  # usb: index or /dev/videoN; file:/dir: the path


def parse_source(spec: str) -> SourceSpec:
    """The one grammar of frame sources; raises ValueError naming the allowed forms."""
    kind, colon, argument = spec.partition(":")
    if kind in SOURCE_KINDS:
        pattern = SOURCE_KINDS[kind][0]
        if pattern is None and not colon:
            return SourceSpec(kind)
        if pattern is not None and re.fullmatch(pattern, argument):
            return SourceSpec(kind, argument)
    raise ValueError(f"{spec!r} is not allowed, allowed values: {SOURCE_FORMS}")


def _topic_part(text: str, allowed: str = "") -> None:
    """A piece of an MQTT topic: no wildcards, no empty levels; slashes only where ALLOWED."""
    if text and (re.search(r"[#+\x00]", text) or (not allowed and "/" in text)
                 or "" in text.split("/")):
        raise ValueError(f"{text!r} is not allowed: a topic {'prefix' if allowed else 'level'} without + or #"
                         f"{', levels joined by single /' if allowed else ' or /'}")


def _choice(*allowed: str, pattern: str | None = None, forms: str = "") -> dict:
    """Allowed literal values, plus an optional regex for parameterised forms described by `forms`."""
    return {"choices": allowed, "pattern": pattern, "forms": forms}


def _range(low: float | None = None, high: float | None = None) -> dict:
    return {"low": low, "high": high}


@dataclass(frozen=True)
class CameraConfig:
    source: str = field(default="auto", metadata={"parse": parse_source})  # see SOURCE_FORMS
    width: int = field(default=640, metadata=_range(160, 4096))
    height: int = field(default=480, metadata=_range(120, 3072))
    fps: float = field(default=30.0, metadata=_range(1, 120))
    rotation: int = field(default=0, metadata=_choice("0", "90", "180", "270"))
    mirror: bool = False
    capture_timeout: float = field(default=2.0, metadata=_range(0.1, 60))
    retry_max_delay: float = field(default=30.0, metadata=_range(0.5, 600))
    # Pi camera only: width of a second, hardware-scaled stream the face detector searches
    # instead of shrinking every frame in software; 0 = off.
    lores_width: int = field(default=0, metadata=_range(0, 4096))
    # With nobody in view and nothing moving, frames are taken only this many times a second
    # (the camera slowed, or frames skipped before any conversion); motion restores `fps`. 0 = off.
    rest_fps: float = field(default=5.0, metadata=_range(0, 120))


@dataclass(frozen=True)
class DisplayConfig:
    # auto | fullscreen | window | headless | fb:/dev/fbN
    mode: str = field(default="auto", metadata=_choice(
        "auto", "fullscreen", "window", "headless", pattern=r"fb:/dev/fb\d+", forms="fb:/dev/fbN"))
    width: int = field(default=480, metadata=_range(160, 7680))
    height: int = field(default=320, metadata=_range(120, 4320))
    rotation: int = field(default=0, metadata=_choice("0", "90", "180", "270"))
    mirror: bool = False
    greeting: str = "Welcome, {name}"
    greeting_seconds: float = field(default=3.0, metadata=_range(0, 60))
    snapshot_path: str = ""
    snapshot_interval: float = field(default=5.0, metadata=_range(0.5, 3600))
    show_status: bool = False  # the strip of figures; off, a small mark shows the camera's state
    idle_fps: float = field(default=5.0, metadata=_range(0, 60))
    # Frames drawn per second at most; 0: what the screen can show (an SPI framebuffer's rate
    # from its size at 16 MHz, about 6.5 for 480x320; unlimited for other screens).
    max_fps: float = field(default=0.0, metadata=_range(0, 120))


@dataclass(frozen=True)
class DetectionConfig:
    """Settings for live frames: fast, one jitter, HOG on a downscaled copy."""
    model: str = field(default="hog", metadata=_choice(*DETECTORS))
    width: int = field(default=640, metadata=_range(80, 4096))
    upsample: int = field(default=0, metadata=_range(0, 3))
    landmarks: int = field(default=5, metadata=_choice("5", "68"))
    jitters: int = field(default=1, metadata=_range(1, 100))
    workers: int = field(default=2, metadata=_range(1, 16))
    full_scan_seconds: float = field(default=0.25, metadata=_range(0, 10))
    motion_area: float = field(default=0.005, metadata=_range(0, 1))
    idle_scan_seconds: float = field(default=2.0, metadata=_range(0.1, 60))
    # A slow processor: when a whole-frame search takes longer than scan_budget seconds (the
    # median of the last few; 0 never adapts), the kiosk searches at a smaller width, down to
    # min_width, spaces whole-frame searches out and fits liveness landmarks less often.
    scan_budget: float = field(default=0.3, metadata=_range(0, 10))
    min_width: int = field(default=320, metadata=_range(80, 4096))


@dataclass(frozen=True)
class EnrollmentConfig:
    """Settings for enrolled photos: accuracy over speed, and limits for untrusted files."""
    detector: str = field(default="hog", metadata=_choice(*DETECTORS))
    upsample: int = field(default=1, metadata=_range(0, 3))
    landmarks: int = field(default=5, metadata=_choice("5", "68"))
    jitters: int = field(default=5, metadata=_range(1, 100))
    max_side: int = field(default=1600, metadata=_range(200, 10000))
    max_file_mb: float = field(default=30.0, metadata=_range(0.1, 1000))
    max_megapixels: float = field(default=60.0, metadata=_range(1, 500))
    max_decode_mb: float = field(default=200.0, metadata=_range(10, 4000))  # decoded picture in memory
    max_decode_seconds: float = field(default=30.0, metadata=_range(1, 600))  # decoding one photo
    keep_photos: bool = True
    max_depth: int = field(default=8, metadata=_range(1, 64))  # folders below a person's folder
    max_files: int = field(default=10000, metadata=_range(1, 1000000))  # photos read in one import
    workers: int = field(default=0, metadata=_range(0, 64))  # 0 = all cores
    # When `detector` finds no face, try this one on a copy this long on its longest side.
    fallback_detector: str = field(default="cnn", metadata=_choice(*DETECTORS, "none"))
    fallback_side: int = field(default=800, metadata=_range(200, 2000))
    # A photo is held back when its median distance to the person's other photos is above
    # suspect_distance, or suspect_spread above their typical one (`kiosk eval-check` chose both).
    suspect_distance: float = field(default=0.70, metadata=_range(0.3, 2.0))
    suspect_spread: float = field(default=0.25, metadata=_range(0.0, 2.0))


@dataclass(frozen=True)
class RecognitionConfig:
    # Which network turns a face into numbers: one registered in vision/encoders/ (a test holds
    # the two lists equal). After a change, `kiosk retrain` re-encodes the kept photos; only
    # samples of this encoder are matched until then.
    encoder: str = field(default="dlib", metadata=_choice(*ENCODERS))
    tolerance: float = field(default=0.6, metadata=_range(0.1, 1.0))
    # The share of strangers' faces the gallery may name (vision/calibration.py): the tolerance
    # is chosen for it, never looser than `tolerance`; 0 uses `tolerance` as it is.
    false_accept_target: float = field(default=0.01, metadata=_range(0.0, 0.5))
    margin: float = field(default=0.05, metadata=_range(0.0, 0.5))
    neighbors: int = field(default=3, metadata=_range(1, 20))
    confirm_votes: int = field(default=2, metadata=_range(1, 20))
    vote_window: int = field(default=5, metadata=_range(1, 50))
    confirm_at_once: float = field(default=0.1, metadata=_range(0, 1))
    # Is it a person or a picture? See vision/liveness.py. auto: "both" with a door, else off.
    liveness: str = field(default="auto", metadata=_choice("auto", "off", "blink", "motion", "both"))
    liveness_seconds: float = field(default=6.0, metadata=_range(1, 60))
    recheck_seconds: float = field(default=1.0, metadata=_range(0.1, 60))
    track_timeout: float = field(default=1.0, metadata=_range(0.1, 30))
    event_cooldown: float = field(default=60.0, metadata=_range(0, 86400))
    capture_unknown: bool = False
    unknown_max_count: int = field(default=200, metadata=_range(1, 100000))
    unknown_max_age_days: float = field(default=30.0, metadata=_range(0.01, 3650))
    # Two kept unknown faces are one visitor when their groups lie within this mean distance
    # (kiosk unknowns groups; measured by kiosk eval-groups).
    group_tolerance: float = field(default=0.5, metadata=_range(0.1, 1.0))
    capture_faces: bool = False
    face_max_count: int = field(default=1000, metadata=_range(1, 100000))
    face_max_age_days: float = field(default=30.0, metadata=_range(0.01, 3650))
    # Events older than this many days are deleted with their faces; 0 keeps them all.
    event_retention_days: float = field(default=0.0, metadata=_range(0, 36500))

    def liveness_check(self, door: bool = False) -> str | None:
        """The liveness check faces get (blink, motion or both), or None; the one place "auto"
        is decided: "both" when a DOOR opens for faces, else none."""
        if self.liveness == "auto":
            return "both" if door else None
        return None if self.liveness == "off" else self.liveness


@dataclass(frozen=True)
class MqttConfig:
    """Events to an MQTT broker, with Home Assistant discovery; nothing leaves the device when off."""
    enabled: bool = False
    host: str = ""
    port: int = field(default=1883, metadata=_range(1, 65535))
    tls: bool = False
    ca_file: str = ""  # CA bundle for the broker's certificate; empty: the system's
    username: str = ""
    password_file: str = ""  # the password, alone in a file only the kiosk user can read
    client_id: str = ""  # empty: kiosk-<device>
    topic_prefix: str = field(default="kiosk", metadata={"parse": lambda text: _topic_part(text, "/")})
    device: str = field(default="", metadata={"parse": _topic_part})  # empty: the host name
    keepalive: int = field(default=60, metadata=_range(5, 3600))
    discovery: bool = True
    discovery_prefix: str = field(default="homeassistant", metadata={"parse": _topic_part})
    away_seconds: float = field(default=300.0, metadata=_range(5, 86400))
    outbox_limit: int = field(default=10000, metadata=_range(10, 1000000))
    publish_faces: bool = False  # the event's face as a JPEG in the event message
    max_message_mb: float = field(default=64.0, metadata=_range(0.1, 1024))  # larger messages are refused unread


@dataclass(frozen=True)
class DoorConfig:
    """A door strike on a GPIO pin through a relay, opened for listed people."""
    enabled: bool = False
    pin: int = field(default=17, metadata=_range(0, 53))  # BCM numbering
    active_high: bool = True
    open_seconds: float = field(default=5.0, metadata=_range(0.5, 60))
    allow: tuple[str, ...] = ()  # names, or "any known"
    # The share of strangers the door may let in (its threshold on the gallery's curve, stricter
    # than recognition's), and the frames in a row that must name the person on their own.
    false_accept_target: float = field(default=0.001, metadata=_range(0.0, 0.5))
    frames: int = field(default=3, metadata=_range(1, 20))


@dataclass(frozen=True)
class WebConfig:
    """`kiosk web`: the face library page, on 127.0.0.1 only (reached through an SSH tunnel)."""
    port: int = field(default=8080, metadata=_range(1, 65535))


DOOR_WITHOUT_LIVENESS = ("door.enabled with recognition.liveness off: nothing checks that the face is a person, so a "
                         "printed photo of an allowed person opens the door (set recognition.liveness to both)")


@dataclass(frozen=True)
class Config:
    data_dir: str = "./var"
    log_level: str = field(default="info", metadata=_choice("debug", "info", "warning", "error"))
    camera: CameraConfig = field(default_factory=CameraConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    enrollment: EnrollmentConfig = field(default_factory=EnrollmentConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    door: DoorConfig = field(default_factory=DoorConfig)
    web: WebConfig = field(default_factory=WebConfig)
    source_path: str = field(default="", metadata={"internal": True})

    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def door_without_liveness(self) -> bool:
        """A door opened by a face with no check that it is a person: a printed photo opens it."""
        return self.door.enabled and self.recognition.liveness_check(door=True) is None


def check_setting(section: type, name: str, value: object, label: str) -> object:
    """Validate one value as the config file would (for command-line overrides such as --source)."""
    f = {f.name: f for f in dataclasses.fields(section)}[name]
    return check_value(label, value, typing.get_type_hints(section)[name], f.metadata)


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parse YAML text into a validated Config; errors name the source and the key."""
    try:
        refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        raw = yaml.safe_load(text)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}".replace("\n", " ")) from None
    try:
        config = build_section(Config, raw, "")
        _check_together(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return dataclasses.replace(config, source_path=source)


def _check_together(config: Config) -> None:
    """Settings that only make sense with another one."""
    if config.mqtt.enabled and not config.mqtt.host:
        raise ConfigError("mqtt.host: required when mqtt.enabled is true (the broker's name or address)")
    if config.door.enabled and not config.door.allow:
        raise ConfigError('door.allow: required when door.enabled is true, allowed values: names, or "any known"')


def find_config_file(explicit: str | None = None) -> Path | None:
    """--config PATH, else $KIOSK_CONFIG, else ./config.yaml, else /etc/kiosk/config.yaml."""
    if explicit:
        return Path(explicit)
    if os.environ.get("KIOSK_CONFIG"):
        return Path(os.environ["KIOSK_CONFIG"])
    for candidate in (Path("config.yaml"), SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None = None, data_dir: str | None = None) -> Config:
    """Load the config once; data dir: --data-dir, else $KIOSK_DATA_DIR, else the config's value."""
    path = find_config_file(explicit)
    if path is None:
        config = Config()
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        config = parse_config(text, str(path))
    chosen_dir = data_dir or os.environ.get("KIOSK_DATA_DIR") or config.data_dir
    return dataclasses.replace(config, data_dir=chosen_dir)
