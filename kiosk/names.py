"""Person names: what the kiosk calls a face it does not know, and which names a person may have.

One owner for both, on the ground floor, because every room meets names: enrollment reads them
from folder names and stick lists, the CLI from the admin, backups from their manifest, the live
kiosk and MQTT show them, and none may be "unknown" however it is spelled.
"""

from __future__ import annotations

import unicodedata

UNKNOWN = "unknown"  # the name given to a face that matches nobody
RESERVED_NAMES = {UNKNOWN}  # what the kiosk calls a face it does not know, in any case
MAX_NAME_LENGTH = 64
LOOK_ALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")  # whose letters share shapes: О and O, Α and A


def utf8_problem(name: str) -> str:
    """Why NAME (as read from a file system) cannot be stored, or "" when it is valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8 (written by another system?); rename it"
    return ""


def mixed_scripts(name: str) -> str:
    """A warning when NAME mixes letters of look-alike scripts ("Оbama" with a Cyrillic О), or "".
    Such a name is allowed (a person may spell it so) but is more often a typo or a trick."""
    scripts = sorted({unicodedata.name(ch, "").split(" ")[0] for ch in name if ch.isalpha()} &
                     set(LOOK_ALIKE_SCRIPTS))
    if len(scripts) < 2:
        return ""
    return f"mixes {' and '.join(s.title() for s in scripts)} letters, which look alike: check its spelling"


def validate_person_name(name: str) -> str:
    """Return the NFC-normalised name, or raise ValueError saying what is wrong with it."""
    if problem := utf8_problem(name):
        raise ValueError(f"person {problem}")
    name = unicodedata.normalize("NFC", name)
    if name.casefold() in RESERVED_NAMES:
        raise ValueError(f"{name!r} is reserved: it is what the kiosk shows for a face it does not know")
    if not name.strip():
        raise ValueError("empty person name")
    if name != name.strip():
        raise ValueError("person name starts or ends with a space")
    if set(name) <= {"."}:
        raise ValueError("person name made only of dots")
    if name.startswith("."):
        raise ValueError("hidden folder (name starts with a dot)")
    if "/" in name or "\\" in name:
        raise ValueError("person name contains a path separator")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise ValueError("person name contains control characters")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"person name longer than {MAX_NAME_LENGTH} characters")
    return name
