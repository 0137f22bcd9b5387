"""Handlers for the log of who was seen: list it, and correct an event."""

from __future__ import annotations

import argparse

from kiosk.admin.eventlog import daily_summary, event_rows, parse_when, print_rows
from kiosk.cli.common import UsageError, checked_name, open_store
from kiosk.config import Config
from kiosk.enrollment.labels import correct_event


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    try:
        since = parse_when(args.since, "--since") if args.since else None
        until = parse_when(args.until, "--until") if args.until else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with open_store(config, create=True) as store:
        events = store.events.query(since=since, until=until, person=args.person)
    rows = daily_summary(events) if args.daily else event_rows(events)
    print_rows(rows, "json" if args.json else "csv" if args.csv else "text")
    return 0


def cmd_events_correct(args: argparse.Namespace, config: Config) -> int:
    if (args.name is None) == (args.not_name is None):
        raise UsageError("events correct: give the right NAME, or --not NAME")
    name = checked_name(args.name) if args.name is not None else None
    with open_store(config) as store:
        print(correct_event(store, config, args.event_id, name, args.not_name))
    return 0
