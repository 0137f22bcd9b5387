"""The site's gallery as one signed message: what the home sends and every other kiosk checks.

    MAGIC (8 bytes) | Ed25519 signature (64) | header length (4, big-endian) | header (JSON) | embeddings

The header says the site, the version (one more with every change on the home), the home's name,
when it was made, the encoder model, and per person their name, number of samples and id on
the home (format 2: a rename keeps the id, so members rename rather than forget); the
embeddings follow as little-endian float32 rows in that order (1000 people x 10 dlib samples is
about 5 MB). The signature covers everything after it, made with the site's private key, which
never leaves the home (PyNaCl, libsodium's Ed25519). `open_bundle` refuses anything not signed by
the site's key, not of this site, or not whole, with one line saying which; the version is the
receiver's to judge (older ones are refused there).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from kiosk.errors import Refused

MAGIC = b"KIOSKGAL"
FORMAT = 2
READS = (1, 2)  # format 1: no person ids (a rename then reaches members as a new person)
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 64 << 20


@dataclass(frozen=True)
class Bundle:
    site: str
    version: int
    home: str  # the home kiosk's device name
    made_at: float
    encoder: str  # the model that made every embedding
    people: dict[str, np.ndarray]  # name -> (samples x dimensions) float32
    ids: dict[str, int] = field(default_factory=dict)  # name -> the home's person id, kept by a rename

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
                         "made_at": bundle.made_at, "encoder": bundle.encoder,
                         "people": [[name, len(bundle.people[name]), bundle.ids.get(name)] for name in names]},
                        ensure_ascii=False).encode("utf-8")
    rows = [np.asarray(bundle.people[name], dtype="<f4") for name in names]
    body = struct.pack(">I", len(header)) + header + b"".join(r.tobytes() for r in rows)
    signature = SigningKey(secret).sign(body).signature
    return MAGIC + signature + body


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
        people = [(str(entry[0]), int(entry[1])) for entry in header["people"]]
        ids = {str(entry[0]): int(entry[2]) for entry in header["people"] if len(entry) > 2 and entry[2] is not None}
        version, made_at = int(header["version"]), float(header["made_at"])
        found_site, home, encoder = str(header["site"]), str(header["home"]), str(header["encoder"])
    except (ValueError, KeyError, TypeError, IndexError):
        raise Refused("its header is not a gallery's") from None
    if header.get("format") not in READS:
        raise Refused(f"it is of format {header.get('format')!r}, this kiosk reads formats "
                      f"{' and '.join(map(str, READS))}")
    if found_site != site:
        raise Refused(f"it is site {found_site!r}'s, this kiosk belongs to {site!r}")
    data = body[4 + length:]
    total = sum(count for _, count in people)
    if len(data) != total * dimensions * 4:
        raise Refused(f"it holds {len(data)} bytes of embeddings, {total} samples of {dimensions} need "
                      f"{total * dimensions * 4}")
    values = np.frombuffer(data, dtype="<f4").reshape(total, dimensions) if total else np.zeros((0, dimensions))
    gallery: dict[str, np.ndarray] = {}
    start = 0
    for name, count in people:
        gallery[name] = values[start:start + count].astype(np.float32)
        start += count
    return Bundle(found_site, version, home, made_at, encoder, gallery, ids)
