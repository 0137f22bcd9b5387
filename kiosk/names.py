"""Person names: what the kiosk calls a face it does not know, which names a person may have,
and how a typed name finds its person.

A person is stored under one name (their folder's, or what an admin renamed them to). Its key,
`name_key`, is that name without accents, case or punctuation ("José Núñez" -> jose_nunez): no
two people share a key, so a stick folder `Obama` beside an enrolled `obama` is the same person,
and whatever an admin types is looked up by it. The screen shows `display_name`.

One owner for both, on the ground floor, because every room meets names: enrollment reads them
from folder names and stick lists, the CLI from the admin, backups from their manifest, the live
kiosk and MQTT show them, and none may be "unknown" however it is spelled.
"""

from __future__ import annotations

import difflib
import re
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


def name_key(name: str) -> str:
    """NAME as typed by anyone: accents dropped, case folded, each run of other characters one _."""
    letters = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "_", letters.casefold()).strip("_")


def display_name(name: str) -> str:
    """How the screen writes a person: a name written like a key (lin_manuel_miranda, obama)
    with spaces and capitals; any other name exactly as it was given ("José Núñez", "k.d. lang")."""
    if name == name.lower() and name.isascii() and " " not in name and any(ch.isalpha() for ch in name):
        return " ".join(word[:1].upper() + word[1:] for word in name.split("_") if word)
    return name


def first_name(name: str) -> str:
    """The first word of a display name: what is left to show when the whole name does not fit."""
    words = display_name(name).split()
    return words[0] if words else ""


def close_names(typed: str, names: list[str], count: int = 3) -> list[str]:
    """The names most like TYPED, best first: close in spelling, or having it as a whole word."""
    keys = {name_key(n): n for n in names}
    wanted = name_key(typed)
    close = difflib.get_close_matches(wanted, list(keys), n=count, cutoff=0.7)
    words = [key for key in keys if wanted and wanted in key.split("_") and key not in close]
    return [keys[key] for key in close + words][:count]
