"""Who may use the web page: the holder of the token, from a page of this server, through loopback.

- The token is a secret in DATA_DIR/web-token (0600), made once (by the installer, or by the first
  `kiosk web`); `kiosk web --url` prints the address that logs in with it, and the login leaves
  it in a cookie that the browser sends to this server only (HttpOnly, SameSite=Strict).
- The Host a request names must be this loopback address, so a web site that points its own name
  at 127.0.0.1 (DNS rebinding) reaches nothing.
- A change (any method but GET and HEAD) must come from a page of this server: its Origin (or,
  without one, its Referer) must be this server, and Sec-Fetch-Site, when the browser sends it,
  same-origin. A form on another site that posts here is refused even in a logged-in browser.
`refusal` decides on plain values, so the rules are tested without a server.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.paths import WEB_TOKEN
from kiosk.store.records import write_private_file

COOKIE = "kiosk_token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD")


def token_path(data_dir: Path) -> Path:
    return data_dir / WEB_TOKEN


def ensure_token(data_dir: Path) -> str:
    """The web token, made (random, 0600) when there is none yet."""
    path = token_path(data_dir)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        token = secrets.token_urlsafe(24)
        write_private_file(path, token.encode("ascii") + b"\n")
    return token


@dataclass(frozen=True)
class Asked:
    """What of a request the rules look at."""
    method: str
    host: str  # the Host header
    cookie: str  # the token cookie's value, "" when absent
    origin: str = ""  # the Origin header
    referer: str = ""
    fetch_site: str = ""  # Sec-Fetch-Site
    token_given: str = ""  # a token typed into the login form or given in the login address


def same_token(given: str, token: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def refusal(asked: Asked, token: str, port: int, *, login: bool = False) -> str:
    """Why ASKED is refused ("" when it is allowed). LOGIN: the login page, the one place a
    token is given instead of carried in the cookie."""
    allowed_hosts = {f"{host}:{port}" for host in LOOPBACK_HOSTS}
    if asked.host not in allowed_hosts:
        return f"this page answers only at http://localhost:{port}/ (through the SSH tunnel)"
    if asked.method not in SAFE_METHODS:
        origin = asked.origin or _origin_of(asked.referer)
        if origin != f"http://{asked.host}":
            return "a change must come from this page itself (cross-site request refused)"
        if asked.fetch_site not in ("", "same-origin", "none"):
            return "a change must come from this page itself (cross-site request refused)"
    if login:
        return ""
    if not same_token(asked.cookie, token):
        return "log in with the address `kiosk web --url` prints"
    return ""


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
