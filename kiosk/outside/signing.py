"""Each kiosk's own signature on what it tells the site: its `applied/<kiosk>` reports and its
event messages. The home trusts a report or an event only when the kiosk it names was admitted
there (`kiosk fleet admit`, with the public key `kiosk fleet join` printed) and the message is
signed by that kiosk's key; anyone else who may publish on the broker can neither forge a
"current" nor take a real event's place in the site's log.

A signed message is the JSON object with one more field, "signature": the hex Ed25519 signature
(PyNaCl) of the object without that field, written canonically (keys sorted, no spaces, UTF-8),
so a subscriber that ignores the field reads the message as before.
"""

from __future__ import annotations

import json

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

SIGNATURE = "signature"


def canonical(body: dict) -> bytes:
    """BODY without its signature, as the bytes that are signed."""
    return json.dumps({k: v for k, v in body.items() if k != SIGNATURE}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def signed(body: dict, secret: bytes | None) -> dict:
    """BODY with this kiosk's signature (as it is when the kiosk has no key: off a site)."""
    if secret is None:
        return body
    return {**body, SIGNATURE: SigningKey(secret).sign(canonical(body)).signature.hex()}


def signed_by(body: dict, public_key: str) -> bool:
    """Whether BODY carries a valid signature of PUBLIC_KEY (hex)."""
    signature = body.get(SIGNATURE)
    if not isinstance(signature, str) or len(signature) != 128:
        return False
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(canonical(body), bytes.fromhex(signature))
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False
