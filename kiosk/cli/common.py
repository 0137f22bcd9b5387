"""What the command handlers share: the usage error, opening the store, checking a name."""

from __future__ import annotations

import sys

from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.names import mixed_scripts, validate_person_name
from kiosk.store import Sample, Store


class UsageError(KioskError):
    """A problem with what the user typed (arguments that do not fit together, a missing folder)."""


def open_store(config: Config, *, create: bool = False) -> Store:
    """The store in the configured data directory. Only commands that add people create one:
    the admin commands never leave an empty store behind a typo in --data-dir."""
    return Store(config.data_path(), create=create)


def samples_of(store: Store, name: str) -> list[Sample]:
    """NAME's samples, or a UsageError when nobody has that name."""
    samples = store.people.samples_of(name)
    if samples is None:
        raise UsageError(f"{name}: nobody of that name")
    return samples


def checked_name(name: str) -> str:
    """A valid person name, or a UsageError naming the bad value."""
    try:
        name = validate_person_name(name)
    except ValueError as exc:
        raise UsageError(f"{name!r}: {exc}") from None
    if warning := mixed_scripts(name):
        print(f"kiosk: warning: {name!r} {warning}", file=sys.stderr)
    return name
