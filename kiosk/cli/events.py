"""Handlers for the log of who was seen: list it, correct an event (or undo that), delete events."""

from __future__ import annotations

import argparse
import json
import re

from kiosk.admin.eventlog import daily_summary, event_rows, local, parse_when, print_rows
from kiosk.cli.common import UsageError, confirm, open_store, person, person_or_new
from kiosk.config import Config
from kiosk.enrollment.labels import correct_event, undo_correction
from kiosk.names import UNKNOWN
from kiosk.store import Store

ID_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
MAX_IDS = 1_000_000  # one delete never walks more ids than this


def logged_name(store: Store, typed: str) -> str:
    """The name to filter the log by: a person's stored name, or a name only the log still has
    (a removed person, "unknown"); anything else is an error with suggestions."""
    if typed.casefold() == UNKNOWN or store.events.query(person=typed, limit=1):
        return UNKNOWN if typed.casefold() == UNKNOWN else typed
    return person(store, typed)


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    if args.site:
        return print_site_log(args, config)
    try:
        since = parse_when(args.since, "--since") if args.since else None
        until = parse_when(args.until, "--until") if args.until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with open_store(config, create=True) as store:
        name = logged_name(store, args.person) if args.person else None
        events = store.events.query(since=since, until=until, person=name)
        deletions = store.events.deletions()
    fmt = "json" if args.json else "csv" if args.csv else "text"
    if not args.daily:
        print_rows(event_rows(events), fmt)
        if fmt == "text":
            for at, ids, count in deletions:
                print(f"({count} event(s) deleted by an admin on {local(at)}: {ids})")
        return 0
    people, unknown = daily_summary(events)
    if fmt == "json":
        print(json.dumps({"people": people, "unknown": unknown}, ensure_ascii=False))
        return 0
    print_rows(people, fmt)
    if fmt == "text":
        for day in unknown:
            print(f"{day['day']}: {day['visits']} visit(s) by faces nobody could name (unknown)")
    return 0


def print_site_log(args: argparse.Namespace, config: Config) -> int:
    """kiosk events --site: the site's events, each once, with the kiosk that decided it."""
    if args.daily or args.person or args.since or args.until:
        raise UsageError("--site lists the whole site's log; --daily, --person, --since and --until are for "
                         "this kiosk's own")
    from kiosk.cli.fleet import site_log  # late on purpose: the broker client only for --site

    rows = site_log(config)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    shown = [{"time": local(r["at"]), "kiosk": r["kiosk"], "id": r["id"], "kind": r["kind"], "name": r["name"],
              "distance": round(r["distance"], 4) if r["distance"] is not None else None,
              "gallery_version": r["gallery_version"]} for r in rows]
    print_rows(shown, "csv" if args.csv else "text")
    return 0


def cmd_events_correct(args: argparse.Namespace, config: Config) -> int:
    if args.undo:
        if args.name is not None or args.not_name is not None:
            raise UsageError("events correct --undo takes only the EVENT_ID")
        with open_store(config) as store:
            print(undo_correction(store, args.event_id))
        return 0
    if (args.name is None) == (args.not_name is None):
        raise UsageError("events correct: give the right NAME, or --not NAME")
    with open_store(config) as store:
        name = person_or_new(store, args.name, new=args.new) if args.name is not None else None
        not_name = person(store, args.not_name) if args.not_name is not None else None
        print(correct_event(store, config, args.event_id, name, not_name))
    return 0


def event_ids(arguments: list[str]) -> list[int]:
    """The ids of `kiosk events delete 12 15-20`, in order, each once."""
    ids: dict[int, None] = {}
    for argument in arguments:
        match = ID_RANGE.fullmatch(argument.strip())
        if match is None:
            raise UsageError(f"{argument!r}: not an event id or a range of them like 12-20")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first or last - first >= MAX_IDS:
            raise UsageError(f"{argument!r}: a range goes from the lower id to the higher one")
        ids.update(dict.fromkeys(range(first, last + 1)))
    return list(ids)


def cmd_events_delete(args: argparse.Namespace, config: Config) -> int:
    ids = event_ids(args.ids)
    what = " ".join(args.ids)
    with open_store(config) as store:
        found = [event_id for event_id in ids if store.events.get(event_id) is not None]
        if not found:
            raise UsageError(f"events {what}: no such event (see kiosk events)")
        if not confirm(f"Delete {len(found)} event(s) ({what}) and their kept faces?",
                       "deleting events needs --yes when not run on a terminal", yes=args.yes):
            print("nothing deleted")
            return 0
        deleted = store.events.delete(found, what)
    print(f"deleted {deleted} event(s) ({what}); kiosk events notes the deletion")
    return 0
