"""Handlers for the people in the store: list, show, accept/reject held-back photos, check, rename,
remove; and the unknown faces the daemon kept (list, label as a person, purge)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kiosk.admin.visitors import GROUP_ID, dismiss_group, find_group, label_group, visitor_groups
from kiosk.cli.common import UsageError, checked_name, confirm, open_store, person, person_or_new, samples_of
from kiosk.config import Config
from kiosk.enrollment.consistency import MIN_PHOTOS, check_people
from kiosk.enrollment.labels import label_unknown
from kiosk.names import display_name
from kiosk.paths import UNKNOWNS_DIR
from kiosk.store.faces import delete_unknown_faces
from kiosk.util import format_time, printable
from kiosk.vocabulary import SampleStatus

HELD_STATUSES = (SampleStatus.SUSPECT, SampleStatus.PENDING)


def cmd_people_list(args: argparse.Namespace, config: Config) -> int:
    with open_store(config, create=True) as store:
        people = store.people.summaries()
    if args.json:
        print(json.dumps([{"name": p.name, "samples": p.samples, "held_back": p.held} for p in people],
                         ensure_ascii=False))
    else:
        for person in people:
            held = f", {person.held} held back" if person.held else ""
            print(f"{person.name}\t{person.samples} sample(s){held}")
        if not people:
            print("nobody enrolled yet")
    return 0


def cmd_people_show(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        name = person(store, args.name)
        samples = samples_of(store, name)
        created_at = next(p.created_at for p in store.people.summaries() if p.name == name)
        confusions = store.events.confusions_of(name)
        rows: list[dict[str, Any]] = [
            {"id": s.id, "source": s.source, "encoder": s.settings.encoder, "detector": s.settings.detector,
             "landmarks": s.settings.landmarks, "jitters": s.settings.jitters, "added_at": s.created_at,
             "photo_kept": store.photo_path(s.photo_sha256).is_file(), "status": s.status,
             "reason": s.status_reason} for s in samples]
    if args.json:
        print(json.dumps({"name": name, "created_at": created_at, "samples": rows,
                          "confusions": confusions}, ensure_ascii=False))
        return 0
    held = [row for row in rows if row["status"] in HELD_STATUSES]
    print(f"{name}: {len(rows) - len(held)} sample(s) used for matching, {len(held)} held back, "
          f"enrolled {format_time(created_at)}")
    for row in rows:
        kept = "photo kept" if row["photo_kept"] else "photo not kept"
        accepted = "  accepted by an admin" if row["status"] == SampleStatus.ACCEPTED else ""
        detector = printable(str(row["detector"]))
        print(f"  #{row['id']} {printable(row['source'])}  {detector}, {row['landmarks']} landmarks, "
              f"{row['jitters']} jitter(s)  added {format_time(row['added_at'])}  {kept}{accepted}")
    if held:
        print("held back from matching (kiosk people accept / reject NAME FILE):")
        for row in held:
            reason = (row["reason"] if row["status"] == SampleStatus.SUSPECT
                      else "waiting for the check (kiosk people check)")
            print(f"  #{row['id']} {printable(row['source'])}: {printable(reason)}")
    if confusions:
        print(f"{confusions} face(s) recorded as not {name} (kiosk events correct --not)")
    return 0


def cmd_people_decide(args: argparse.Namespace, config: Config) -> int:
    """kiosk people accept|reject NAME FILE|--all."""
    with open_store(config) as store:
        name = person(store, args.name)
        samples = samples_of(store, name)
        if args.all:
            chosen = [s for s in samples if s.status in HELD_STATUSES]
            if not chosen:
                raise UsageError(f"{name}: no photo is held back")
        else:
            chosen = [s for s in samples if args.file in (s.source, f"#{s.id}", str(s.id))
                      or s.source.rsplit("/", 1)[-1] == args.file]
            if not chosen:
                raise UsageError(f"{args.file}: no photo of {name} by that name (see kiosk people show "
                                 f"{name})")
            if len(chosen) > 1:
                raise UsageError(f"{args.file}: several photos of {name} match, give the full name or #ID")
        ids = [s.id for s in chosen]
        if args.action == "accept":
            done = store.people.accept(name, ids)
            print(f"accepted {done} photo(s) of {name}: used for matching from now on")
        else:
            done = store.people.reject(name, ids)
            print(f"rejected {done} photo(s) of {name}: deleted, and refused if imported again as "
                  f"{name}")
    return 0


def cmd_people_check(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        names = [person(store, args.name)] if args.name is not None else store.people.names()
        result = check_people(store, names, config.enrollment, config.recognition.encoder)
    if args.json:
        print(json.dumps({"checked": names, "suspects": [s.as_dict() for s in result.suspects],
                          "too_few_to_check": result.too_few}, ensure_ascii=False))
        return 0
    print(f"checked {len(names)} people: {len(result.suspects)} photo(s) held back as suspects")
    for suspect in result.suspects:
        print(f"  {suspect.file}: {suspect.reason}")
    for name in result.too_few:
        print(f"  {name}: fewer than {MIN_PHOTOS} photos, the check for wrong photos needs more")
    return 0


def cmd_people_rename(args: argparse.Namespace, config: Config) -> int:
    new = checked_name(args.new)
    with open_store(config) as store:
        old = person(store, args.old)
        store.people.rename(old, new)
    print(f"renamed {old} to {new} (shown as {display_name(new)})")
    return 0


def cmd_people_merge(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        source, target = person(store, args.source), person(store, args.target)
        if source == target:
            raise UsageError(f"{args.source} and {args.target} are the same person: {source}")
        samples = len(samples_of(store, source))
        if not confirm(f"Merge {source} ({samples} sample(s)) into {target}? Their events follow.",
                       f"merging {source} into {target} needs --yes when not run on a terminal", yes=args.yes):
            print("nothing merged")
            return 0
        moved = store.people.merge(source, target)
        result = check_people(store, [target], config.enrollment, config.recognition.encoder)
    print(f"merged {source} into {target}: {moved} sample(s), events and corrections moved; "
          f"{len(result.suspects)} photo(s) held back by the check")
    return 0

def cmd_people_remove(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        name = person(store, args.name)
        samples = samples_of(store, name)
        what = " and their events" if args.events else ""
        if not confirm(f"Remove {name} ({len(samples)} sample(s)){what}?",
                       f"removing {name} needs --yes when not run on a terminal", yes=args.yes):
            print("nothing removed")
            return 0
        copies = len(store.copies_before_restore())
        removed = store.people.remove(name, events=args.events)
    print(f"removed {name}: {removed} sample(s)" + (" and their events" if args.events else "") +
          (f"; deleted the {copies} copies of the store kept before restores, which held them" if copies else ""))
    return 0


# --- unknown faces ---------------------------------------------------------------------------

def cmd_unknowns_list(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        faces = store.unknowns.all()
        rows: list[dict[str, Any]] = [
            {"id": f.id, "at": f.at, "track_id": f.track_id, "crop": str(store.unknown_face_path(f.crop_file))}
            for f in faces]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"{row['id']}\t{format_time(row['at'])}\ttrack {row['track_id']}\t{row['crop']}")
    if not rows:
        print("no unknown faces kept" + ("" if config.recognition.capture_unknown
                                         else " (recognition.capture_unknown is off)"))
    return 0


def cmd_unknowns_groups(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        groups = visitor_groups(store, config)
        rows = [dict(group.as_dict(), crops=[str(store.unknown_face_path(face.crop_file)) for face in group.faces])
                for group in groups]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"{row['group']}\t{row['faces']} face(s), {row['visits']} visit(s)"
              f"\tfirst {format_time(row['first_seen'])}\tlast {format_time(row['last_seen'])}\t{row['crops'][0]}")
    if rows:
        print("name one: kiosk unknowns label gID NAME [--new]; forget one: kiosk unknowns dismiss gID")
    else:
        print("no unknown faces kept" + ("" if config.recognition.capture_unknown
                                         else " (recognition.capture_unknown is off)"))
    return 0


def cmd_unknowns_label(args: argparse.Namespace, config: Config) -> int:
    typed = args.id.strip()
    if not typed.isdigit() and not GROUP_ID.fullmatch(typed):
        raise UsageError(f"{args.id}: not a face id (17) or a group (g17); see kiosk unknowns groups")
    with open_store(config) as store:
        group = find_group(store, config, typed) if not typed.isdigit() else None
        name = person_or_new(store, args.name, new=args.new)
        if group is None:
            label_unknown(store, config, int(typed), name)
            print(f"unknown face {typed} enrolled as {name}")
            return 0
        result = label_group(store, config, group, name)
    held = f"; {len(result.suspects)} held back by the photo check" if result.suspects else ""
    print(f"group {group.key}: {len(group.faces)} face(s) enrolled as {name}{held}")
    for suspect in result.suspects:
        print(f"  {suspect.file}: {suspect.reason}")
    return 0


def cmd_unknowns_dismiss(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        group = find_group(store, config, args.group)
        deleted = dismiss_group(store, group)
    print(f"group {group.key}: {deleted} face(s) deleted")
    return 0


def cmd_unknowns_purge(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        deleted = delete_unknown_faces(store, [f.id for f in store.unknowns.all()])
        store.checkpoint()
        folder = store.data_dir / UNKNOWNS_DIR
        leftovers = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        for path in leftovers:  # crops whose row never committed (a crash between the two writes)
            path.unlink(missing_ok=True)
    print(f"deleted {deleted} unknown face(s)")
    return 0
