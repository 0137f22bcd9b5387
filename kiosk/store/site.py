"""Which site this kiosk belongs to, and as what: DATA_DIR/site.json, and on the home its signing key.

`kiosk fleet init` makes this kiosk a site's home (it alone changes the gallery; its key signs
each version, DATA_DIR/site-signing.key, 0600, never sent anywhere); `kiosk fleet join` makes it a
member (it takes the home's versions and changes nothing itself). The record also keeps the
gallery version last published (home) or applied (member), and when, for `kiosk status`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from kiosk.errors import Refused, StoreError
from kiosk.store.records import write_private_file

SITE_FILE = "site.json"
KEY_FILE = "site-signing.key"
KIOSK_KEY_FILE = "kiosk-signing.key"  # this kiosk's own key: its reports and events (outside/signing.py)
HOME, MEMBER = "home", "member"


@dataclass(frozen=True)
class Site:
    name: str
    role: str  # home or member
    public_key: str  # hex
    home: str  # the home kiosk's device name
    version: int = 0  # the gallery version last published (home) or applied (member)
    made_at: float = 0.0  # when that version was made on the home
    applied_at: float = 0.0  # when this kiosk published or applied it
    digest: str = ""  # on the home: SHA-256 of that version's message, to know it among replays
    erased: int | None = None  # on a member: the home's count of people erased, as of that version
    kiosks: dict[str, str] = field(default_factory=dict)  # on the home: admitted kiosk -> its public key

    @property
    def is_home(self) -> bool:
        return self.role == HOME


def read_site(data_dir: Path) -> Site | None:
    """This kiosk's site, or None when it belongs to none."""
    path = data_dir / SITE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Site(**raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise StoreError(f"{path}: not a site record ({exc}); kiosk fleet join again") from None


def write_site(data_dir: Path, site: Site) -> None:
    write_private_file(data_dir / SITE_FILE, json.dumps(asdict(site), ensure_ascii=False, indent=1).encode())


def updated(data_dir: Path, **changes) -> Site:
    """The site record with CHANGES written."""
    site = read_site(data_dir)
    if site is None:
        raise Refused("this kiosk belongs to no site (kiosk fleet init or join)")
    site = replace(site, **changes)
    write_site(data_dir, site)
    return site


def read_signing_key(data_dir: Path, file: str = KEY_FILE) -> bytes:
    """The site's key (on the home), or with FILE=KIOSK_KEY_FILE this kiosk's own."""
    try:
        secret = (data_dir / file).read_bytes()
    except OSError as exc:
        raise StoreError(f"{data_dir / file}: the signing key cannot be read ({exc.strerror})") from None
    if len(secret) != 32:
        raise StoreError(f"{data_dir / file}: not a signing key")
    return secret


def kiosk_key(data_dir: Path) -> bytes | None:
    """This kiosk's own key, None when it has none (off a site, or joined before kiosks had keys)."""
    return read_signing_key(data_dir, KIOSK_KEY_FILE) if (data_dir / KIOSK_KEY_FILE).exists() else None


def write_signing_key(data_dir: Path, secret: bytes, file: str = KEY_FILE) -> None:
    write_private_file(data_dir / file, secret)


def refuse_on_member(data_dir: Path, what: str = "this change") -> None:
    """On a member kiosk, the gallery is the home's: Refused naming the home."""
    site = read_site(data_dir)
    if site is not None and not site.is_home:
        raise Refused(f"{what}: this kiosk is a member of site {site.name}; enroll and change people on its home, "
                      f"{site.home}")
