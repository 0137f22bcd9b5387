"""`kiosk events`: the log of who was seen, as text, CSV or JSON, or per person per day.

Text is a table with a header line, leaving out columns no row fills; per day, faces nobody
could name are counted apart, not listed as a person called "unknown". Text cells go through
util.printable (one stored value, one line); CSV cells that a spreadsheet
would run as a formula get the usual leading quote (util.spreadsheet_cell).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime, timedelta

from kiosk.names import UNKNOWN
from kiosk.store import Event
from kiosk.util import printable, spreadsheet_cell

RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str, option: str, now: datetime | None = None) -> float:
    """YYYY-MM-DD, an ISO date-time, 'today', 'yesterday' or an age like 2h / 7d, as epoch seconds."""
    now = now or datetime.now().astimezone()
    text = text.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight.timestamp()
    if text == "yesterday":
        return (midnight - timedelta(days=1)).timestamp()
    relative = RELATIVE.fullmatch(text)
    if relative:
        seconds = int(relative.group(1)) * UNIT_SECONDS[relative.group(2)]
        if seconds > now.timestamp():
            raise ValueError(f"{option}: {text!r} reaches back before 1970")
        return now.timestamp() - seconds
    try:
        parsed = datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not a date; use YYYY-MM-DD, an ISO date-time, "
                         "today, yesterday, or an age like 2h or 7d") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # local time
    return parsed.timestamp()


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def daily_summary(events: list[Event]) -> tuple[list[dict], list[dict]]:
    """First and last time each person was seen on each local day, and per day how many visits
    were of faces nobody could name."""
    days: dict[tuple[str, str], dict] = {}
    unknown: dict[str, int] = {}
    # The door opening is not another visit, and a picture held up to the camera is no visit at all.
    for event in (e for e in events if e.kind == "seen" and e.liveness != "failed"):
        day = datetime.fromtimestamp(event.at).astimezone().date().isoformat()
        if event.name == UNKNOWN:
            unknown[day] = unknown.get(day, 0) + 1
            continue
        entry = days.setdefault((day, event.name), {"day": day, "name": event.name, "first_seen": event.at,
                                                   "last_seen": event.at, "visits": 0})
        entry["first_seen"] = min(entry["first_seen"], event.at)
        entry["last_seen"] = max(entry["last_seen"], event.at)
        entry["visits"] += 1
    rows = sorted(days.values(), key=lambda e: (e["day"], e["first_seen"]))
    return ([{**row, "first_seen": local(row["first_seen"]), "last_seen": local(row["last_seen"])} for row in rows],
            [{"day": day, "visits": count} for day, count in sorted(unknown.items())])


def event_rows(events: list[Event]) -> list[dict]:
    return [{"id": e.id, "time": local(e.at), "kind": e.kind, "name": e.name,
             "distance": round(e.distance, 4) if e.distance is not None else None,
             "threshold": round(e.threshold, 4) if e.threshold is not None else None, "frames": e.frames,
             "track": e.track_id, "face_kept": e.has_face, "corrected_from": e.corrected_from, "liveness": e.liveness}
            for e in events]


def print_rows(rows: list[dict], fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False), file=out)
    elif fmt == "csv":
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)
    else:
        if not rows:
            print("no events", file=out)
            return
        cells = [[_cell(key, value) for key, value in row.items()] for row in rows]
        keys = [key for i, key in enumerate(rows[0]) if any(row[i] for row in cells)]
        shown = [i for i, key in enumerate(rows[0]) if key in keys]
        table = [[HEADINGS.get(key, key) for key in keys]] + [[row[i] for i in shown] for row in cells]
        widths = [max(len(line[i]) for line in table) for i in range(len(keys))]
        for line in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip(), file=out)


HEADINGS = {"id": "event", "time": "time", "kind": "what", "name": "name", "distance": "distance",
            "threshold": "limit", "frames": "frames", "track": "track", "face_kept": "face",
            "corrected_from": "correction", "liveness": "liveness", "day": "day", "first_seen": "first seen",
            "last_seen": "last seen", "visits": "visits"}


def _cell(key: str, value: object) -> str:
    if key == "id":
        return f"#{value}"
    if key == "kind":
        return "door opened for" if value == "door" else "seen"
    if key == "liveness":
        return {"passed": "live", "failed": "NOT LIVE (a picture?)"}.get(str(value), "")
    if key == "face_kept":
        return "face kept" if value else ""
    if key == "corrected_from":
        return f"(corrected, was {printable(str(value))})" if value else ""
    return "" if value is None else printable(str(value))
