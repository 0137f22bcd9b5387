"""What the command handlers share: the usage error, opening the store, finding a person by what
was typed, checking a new name, asking before something that cannot be undone."""

from __future__ import annotations

import sys

from kiosk.admin import naming
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.store import Sample, Store


class UsageError(KioskError):
    """A problem with what the user typed (arguments that do not fit together, a missing folder)."""


def open_store(config: Config, *, create: bool = False) -> Store:
    """The store in the configured data directory. Only commands that add people create one:
    the admin commands never leave an empty store behind a typo in --data-dir."""
    return Store(config.data_path(), create=create)


def confirm(question: str, refusal: str, *, yes: bool) -> bool:
    """True when the user agreed (or gave --yes): QUESTION is asked on a terminal, and without
    one REFUSAL (what needs --yes) is the UsageError, so a script never waits for an answer."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(refusal)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:  # Ctrl-D counts as no
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def samples_of(store: Store, name: str) -> list[Sample]:
    """NAME's samples (NAME as stored: see person), or a UsageError when nobody has that name."""
    samples = store.people.samples_of(name)
    if samples is None:
        raise UsageError(f"{name}: nobody of that name")
    return samples


def person(store: Store, typed: str) -> str:
    """The stored name of the person TYPED names, by their name or key in any case and without
    accents ("jose nunez" for "José Núñez"); NotFound says who was perhaps meant."""
    return store.people.resolve(typed)


def person_or_new(store: Store, typed: str, *, new: bool) -> str:
    """Like `person`, but with --new a name nobody has becomes a new person; without it, a typo
    is an error and never a person made by accident (admin/naming.py)."""
    name, warning = naming.person_or_new(store, typed, new=new)
    if warning:
        print(f"kiosk: warning: {warning}", file=sys.stderr)
    return name


def checked_name(name: str) -> str:
    """A valid person name, or an error naming the bad value."""
    name, warning = naming.new_name(name)
    if warning:
        print(f"kiosk: warning: {warning}", file=sys.stderr)
    return name
