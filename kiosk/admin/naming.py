"""Which person a typed name means, for every front end (the command line, the web page).

A name is looked up as typed, then by its key (case, accents, punctuation: names.name_key); a
name nobody has becomes a new person only when the admin says so (`--new`, the page's "new
person" box), so a typo is an error with suggestions and never a person made by accident.
"""

from __future__ import annotations

from kiosk.errors import NotFound, Refused
from kiosk.names import close_names, mixed_scripts, validate_person_name
from kiosk.store import Store


def new_name(typed: str) -> tuple[str, str]:
    """A valid name for a new person, and a warning about it ("" when none); Refused names the bad value."""
    try:
        name = validate_person_name(typed)
    except ValueError as exc:
        raise Refused(f"{typed!r}: {exc}") from None
    warning = mixed_scripts(name)
    return name, f"{name!r} {warning}" if warning else ""


def person_or_new(store: Store, typed: str, *, new: bool) -> tuple[str, str]:
    """The stored name TYPED means, or with NEW a new person's checked name; and a warning."""
    if (found := store.people.find(typed)) is not None:
        return found, ""
    if not new:
        guesses = close_names(typed, store.people.names())
        maybe = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
        raise NotFound(f"{typed}: nobody of that name{maybe}; add --new to enroll a new person of that name")
    return new_name(typed)
