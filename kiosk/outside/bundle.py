"""The site's gallery as one signed message: what the home sends and every other kiosk checks.

    MAGIC (8 bytes) | Ed25519 signature (64) | header length (4, big-endian) | header (JSON) | embeddings

The header says the site, the version (one more with every change on the home), the home's name,
when it was made, the encoder model, how many people the home has ever erased, and per person
their name, number of samples and id on the home (format 2: a rename keeps the id, so members
rename rather than forget); the
embeddings follow as little-endian float32 rows in that order (1000 people x 10 dlib samples is
about 5 MB). The signature covers everything after it, made with the site's private key, which
never leaves the home (PyNaCl, libsodium's Ed25519). `open_bundle` refuses anything not signed by
the site's key, not of this site, or not whole, with one line saying which; the version is the
receiver's to judge (older ones are refused there).
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field

import numpy as np
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from kiosk.errors import Refused
from kiosk.names import name_key, validate_person_name
from kiosk.util import finite, printable, whole_number

MAGIC = b"KIOSKGAL"
FORMAT = 2
READS = (1, 2)  # format 1: no person ids (a rename then reaches members as a new person)
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 64 << 20
MAX_VERSION = 2 ** 53  # JSON's exact integers; a version beyond is no home's
MAX_PEOPLE = 1_000_000
MAX_SAMPLES = 10_000  # per person: far above what enrollment keeps (recognition.max_samples_per_person)
MAX_LABEL = 200  # characters in the site's, home's and encoder's names
FUTURE_SECONDS = 86_400  # a version made later than a day from now is from a wrong clock, or forged


@dataclass(frozen=True)
class Bundle:
    site: str
    version: int
    home: str  # the home kiosk's device name
    made_at: float
    encoder: str  # the model that made every embedding
    people: dict[str, np.ndarray]  # name -> (samples x dimensions) float32
    ids: dict[str, int] = field(default_factory=dict)  # name -> the home's person id, kept by a rename
    erased: int | None = None  # people ever erased on the home (a member forgets many only when it grew)

    @property
    def samples(self) -> int:
        return sum(len(rows) for rows in self.people.values())


def new_signing_key() -> tuple[bytes, str]:
    """A fresh Ed25519 key: its 32 secret bytes and its public key in hex."""
    key = SigningKey.generate()
    return bytes(key), key.verify_key.encode().hex()


def public_key_of(secret: bytes) -> str:
    return SigningKey(secret).verify_key.encode().hex()


def seal(bundle: Bundle, secret: bytes) -> bytes:
    """BUNDLE as the signed message."""
    names = sorted(bundle.people)
    header = json.dumps({"format": FORMAT, "site": bundle.site, "version": bundle.version, "home": bundle.home,
                         "made_at": bundle.made_at, "encoder": bundle.encoder, "erased": bundle.erased,
                         "people": [[name, len(bundle.people[name]), bundle.ids.get(name)] for name in names]},
                        ensure_ascii=False).encode("utf-8")
    rows = [np.asarray(bundle.people[name], dtype="<f4") for name in names]
    body = struct.pack(">I", len(header)) + header + b"".join(r.tobytes() for r in rows)
    signature = SigningKey(secret).sign(body).signature
    return MAGIC + signature + body


def checked_people(entries: object) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """The header's people as (name, samples) and name -> id, held to the rules the home holds its
    own input to: names it would accept (names.py), 1 to MAX_SAMPLES samples, no name twice
    (by its key), each id a positive whole number used once; Refused naming the first that breaks one."""
    if not isinstance(entries, list) or len(entries) > MAX_PEOPLE:
        raise Refused(f"its list of people is not a list of at most {MAX_PEOPLE}")
    people: list[tuple[str, int]] = []
    ids: dict[str, int] = {}
    keys: set[str] = set()
    used_ids: set[int] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, list) or len(entry) not in (2, 3) or not isinstance(entry[0], str):
            raise Refused(f"its person {index + 1} is not [name, samples, id]")
        try:
            name = validate_person_name(entry[0])
        except ValueError as exc:
            raise Refused(f"its person {index + 1} {shown(entry[0])!r}: {exc}") from None
        if name != entry[0] or name_key(name) in keys:
            raise Refused(f"its person {shown(name)!r} is there twice (or not written as the home writes it)")
        keys.add(name_key(name))
        count = entry[1]
        if not whole_number(count) or not 1 <= count <= MAX_SAMPLES:
            raise Refused(f"its person {shown(name)!r} has {str(count)[:20]!r} samples, not 1 to {MAX_SAMPLES}")
        people.append((name, count))
        if len(entry) == 3 and entry[2] is not None:
            if not whole_number(entry[2]) or entry[2] < 1 or entry[2] in used_ids:
                raise Refused(f"its person {shown(name)!r} has the id {str(entry[2])[:20]!r}, not a new "
                              "positive whole number")
            ids[name] = entry[2]
            used_ids.add(entry[2])
    return people, ids


def shown(text: str) -> str:
    """TEXT cut to 40 characters, through the printable rule: for a refusal's one line."""
    return printable(text[:40])


def open_bundle(message: bytes, site: str, public_key: str, dimensions: int) -> Bundle:
    """The bundle in MESSAGE, checked: signed by PUBLIC_KEY (hex), of SITE, whole, with
    DIMENSIONS values per embedding; Refused with the reason otherwise."""
    if not message.startswith(MAGIC) or len(message) < len(MAGIC) + SIGNATURE_BYTES + 4:
        raise Refused("not a signed gallery of a kiosk site")
    signature = message[len(MAGIC):len(MAGIC) + SIGNATURE_BYTES]
    body = message[len(MAGIC) + SIGNATURE_BYTES:]
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(body, signature)
    except (BadSignatureError, ValueError):
        raise Refused("its signature is not the site's (another site's key, or changed on the way)") from None
    (length,) = struct.unpack(">I", body[:4])
    if length > MAX_HEADER_BYTES or 4 + length > len(body):
        raise Refused("its header is cut short")
    try:
        header = json.loads(body[4:4 + length])
    except ValueError:
        raise Refused("its header is not a gallery's") from None
    if not isinstance(header, dict):
        raise Refused("its header is not a gallery's")
    version, made_at = header.get("version"), header.get("made_at")
    found_site, home, encoder = header.get("site"), header.get("home"), header.get("encoder")
    people, ids = checked_people(header.get("people"))
    if header.get("format") not in READS:
        raise Refused(f"it is of format {header.get('format')!r}, this kiosk reads formats "
                      f"{' and '.join(map(str, READS))}")
    if not whole_number(version) or not 1 <= version <= MAX_VERSION:
        raise Refused(f"its version {str(version)[:40]!r} is not a whole number from 1 to {MAX_VERSION}")
    if not finite(made_at):
        raise Refused(f"its time made {str(made_at)[:40]!r} is not a time")
    if made_at > time.time() + FUTURE_SECONDS:
        raise Refused(f"it says it was made {round((made_at - time.time()) / 86400)} days from now")
    erased = header.get("erased")
    if erased is not None and (not whole_number(erased) or not 0 <= erased <= MAX_VERSION):
        raise Refused(f"its count of people erased {str(erased)[:40]!r} is not a whole number")
    for field_name, value in (("site", found_site), ("home", home), ("encoder", encoder)):
        if not isinstance(value, str) or not value or not value.isprintable() or len(value) > MAX_LABEL:
            raise Refused(f"its {field_name} is not a printable name of at most {MAX_LABEL} characters")
    if found_site != site:
        raise Refused(f"it is site {found_site!r}'s, this kiosk belongs to {site!r}")
    data = body[4 + length:]
    total = sum(count for _, count in people)
    if len(data) != total * dimensions * 4:
        raise Refused(f"it holds {len(data)} bytes of embeddings, {total} samples of {dimensions} need "
                      f"{total * dimensions * 4}")
    values = np.frombuffer(data, dtype="<f4").reshape(total, dimensions) if total else np.zeros((0, dimensions))
    if not np.isfinite(values).all():
        raise Refused("its embeddings hold values that are not numbers")
    gallery: dict[str, np.ndarray] = {}
    start = 0
    for name, count in people:
        gallery[name] = values[start:start + count].astype(np.float32)
        start += count
    return Bundle(found_site, version, str(home), float(made_at), str(encoder), gallery, ids, erased)
