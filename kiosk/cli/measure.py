"""Handlers for the measurements: bench (speed), eval (accuracy), detection-recall."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from kiosk.admin.visitors import grouping_tolerance
from kiosk.cli.common import UsageError
from kiosk.config import Config
from kiosk.enrollment.photos import scan_people
from kiosk.measure import (
    bench,
    detection_recall,
    grouping,
    photo_check,
    report,
    site,
    slow,
    stage_costs,
    visits,
    web_page,
)
from kiosk.measure.evaluate import (
    DEFAULT_TOLERANCES,
    EvalPlan,
    evaluate,
    parse_tolerances,
    person_photos,
    print_report,
    split_photos,
)
from kiosk.measure.quota import QuotaUnavailable
from kiosk.vision.matcher import MatchRule


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    clip = Path(args.clip or bench.DEFAULT_CLIP)
    people = Path(args.people or bench.DEFAULT_PEOPLE)
    for path, what in ((clip, "clip"), (people, "people folder")):
        if not path.exists():
            raise UsageError(f"{path}: {what} not found (sample data lives in ../shared/data beside the "
                             f"repository; or pass --clip/--people)")
    quiet = args.json
    if args.stages:
        try:
            stages = stage_costs.measure(config, clip, log=lambda message: None if quiet else
                                         print(message, file=sys.stderr, flush=True))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.json:
            print(json.dumps(stages))
        else:
            stage_costs.print_report(stages)
        return 0
    results = bench.run_bench(clip, people, config, quick=args.quick, one_core=not (args.skip_one_core or args.quick),
                              log=lambda message: None if quiet else print(message, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(results))
    else:
        report.print_report(results)
    return 0


def cmd_bench_slow(args: argparse.Namespace, config: Config) -> int:
    try:
        shares = tuple(float(part) for part in args.cpu.split(","))
    except ValueError:
        raise UsageError(f"--cpu {args.cpu}: expected shares of one core such as 0.25,0.1") from None
    if not all(0.01 <= share <= 64 for share in shares) or not 5 <= args.seconds <= 3600:
        raise UsageError("--cpu: each share 0.01-64; --seconds: 5-3600")
    people = Path(bench.DEFAULT_PEOPLE)
    if not people.is_dir() or not bench.DEFAULT_CLIP.is_file():
        raise UsageError(f"{people.parent}: the sample people and clip are not there (../shared/data beside the "
                         "repository)")
    try:
        results = slow.run(people, config.source_path, shares, args.seconds,
                           log=lambda message: None if args.json else print(message, file=sys.stderr, flush=True))
    except QuotaUnavailable as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(results))
    else:
        slow.print_report(results)
    return 0


def cmd_eval_check(args: argparse.Namespace, config: Config) -> int:
    root = Path(args.photos_dir)
    for folder, option in ((root, "PHOTOS_DIR"), (Path(args.strangers) if args.strangers else None, "--strangers")):
        if folder is not None and not folder.is_dir():
            raise UsageError(f"{folder}: not a folder of person folders ({option})")
    if not 1 <= args.draws <= 50:
        raise UsageError(f"--draws {args.draws}: expected 1 to 50")
    embeddings, owners, skipped = grouping.encode_folders(root, config)
    if not owners:
        raise UsageError(f"{root}: no photo with a face in its person folders")
    strangers = None
    if args.strangers:
        chosen = photo_check.stranger_people(Path(args.strangers), 2 * len(set(owners)))
        found, stranger_owners, _ = grouping.encode_folders(Path(args.strangers), config, chosen)
        strangers = (found, stranger_owners) if stranger_owners else None
    rows = photo_check.measure(embeddings, owners, strangers, args.draws, config.enrollment)
    if args.json:
        print(json.dumps({"faces": len(owners), "people": len(set(owners)), "skipped": skipped,
                          "configured": [config.enrollment.suspect_distance, config.enrollment.suspect_spread],
                          "results": [row.as_dict() for row in rows]}))
    else:
        photo_check.print_report(rows, config.enrollment, len(owners), len(set(owners)), skipped, bool(strangers))
    return 0


def cmd_eval_groups(args: argparse.Namespace, config: Config) -> int:
    root = Path(args.photos_dir)
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder of person folders")
    try:
        tolerances = parse_tolerances(args.tolerances) if args.tolerances else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    default = grouping_tolerance(config)
    embeddings, owners, skipped = grouping.encode_folders(root, config)
    if not owners:
        raise UsageError(f"{root}: no photo with a face in its person folders")
    rows = grouping.measure(embeddings, owners, list(tolerances or [default]))
    if args.json:
        print(json.dumps({"faces": len(owners), "people": len(set(owners)), "skipped": skipped,
                          "tolerance": default, "results": [row.as_dict() for row in rows]}))
    else:
        grouping.print_report(rows, len(owners), len(set(owners)), skipped, default)
    return 0


def cmd_bench_web(args: argparse.Namespace, config: Config) -> int:
    photos = Path(args.photos or bench.DEFAULT_PEOPLE)
    if not photos.is_dir():
        raise UsageError(f"{photos}: not a folder of person folders (--photos)")
    if not 1 <= args.people <= 100000:
        raise UsageError(f"--people: {args.people} is out of range, 1-100000")
    result = web_page.run(photos, config, args.people,
                          log=lambda message: None if args.json else print(message, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(result))
    else:
        web_page.print_report(result)
    return 0


def cmd_bench_site(args: argparse.Namespace, config: Config) -> int:
    if not (1 <= args.people <= 100000 and 1 <= args.samples <= 100):
        raise UsageError("--people 1-100000 and --samples 1-100")
    people = Path(bench.DEFAULT_PEOPLE)
    if not people.is_dir():
        raise UsageError(f"{people}: the sample people are not there (../shared/data beside the repository)")
    result = site.run(people, config, args.people, args.samples)
    if args.json:
        print(json.dumps(result))
    else:
        site.print_report(result)
    return 0


def cmd_detection_recall(args: argparse.Namespace, config: Config) -> int:
    data_dir = Path(args.data) if args.data else detection_recall.DEFAULT_DETECTION_DATA
    if not any((data_dir / name).exists() for name in detection_recall.LABEL_FILES):
        raise UsageError(f"{data_dir}: no testing.xml or training.xml here (pass --data DIR)")
    try:
        result = detection_recall.measure(data_dir, detection=config.detection)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(result))
    else:
        detection_recall.print_report(result)
    return 0


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    try:
        tolerances = parse_tolerances(args.tolerances) if args.tolerances else \
            tuple(sorted(set(DEFAULT_TOLERANCES) | {config.recognition.tolerance}))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for option, value in (("PHOTOS_DIR", args.photos_dir), ("--enroll-dir", args.enroll_dir),
                          ("--probe-dir", args.probe_dir), ("--strangers", args.strangers)):
        if value is not None and not Path(value).is_dir():
            raise UsageError(f"{value}: not a folder of person folders ({option})" if option != "--strangers"
                             else f"{value}: not a folder of photos (--strangers)")
    if (args.photos_dir is None) == (args.enroll_dir is None):
        raise UsageError("give either PHOTOS_DIR (split into enrolled photos and probes) or --enroll-dir")
    if args.enroll < 1:
        raise UsageError("--enroll must be at least 1")
    if args.live:
        return _eval_live(args, config)
    strangers = Path(args.strangers) if args.strangers else None
    if args.photos_dir is not None:
        if args.probe_dir:
            raise UsageError("--probe-dir goes with --enroll-dir, not with PHOTOS_DIR")
        folder = Path(args.photos_dir)
        known = {person.name for person in scan_people(folder)[0]}
        unknown_names = sorted(set(args.exclude) - known)
        if unknown_names:
            raise UsageError(f"--exclude {unknown_names[0]}: no such person folder in {folder}")
        to_enroll, probe_files = split_photos(folder, args.enroll, set(args.exclude))
        plan = EvalPlan(folder, to_enroll, [(folder, p, f) for p, f in probe_files if p not in args.exclude],
                        [(folder, p, f) for p, f in probe_files if p in args.exclude],
                        args.open_set, (folder,), strangers)
    else:
        if args.exclude:
            raise UsageError("--exclude goes with PHOTOS_DIR; with --enroll-dir use --open-set")
        enroll_dir = Path(args.enroll_dir)
        probe_dir = Path(args.probe_dir) if args.probe_dir else None
        closed = [(probe_dir, p, f) for p, f in person_photos(probe_dir)] if probe_dir else []
        roots = (enroll_dir,) + ((probe_dir,) if probe_dir else ())
        plan = EvalPlan(enroll_dir, None, closed, [], args.open_set, roots, strangers)
    rule = MatchRule.from_config(config.recognition)
    rules = [replace(rule, tolerance=t) for t in tolerances]
    rules.append(MatchRule(config.recognition.tolerance, 0.0, 1))  # the tutorials' rule, for comparison
    report = evaluate(plan, config, rules)
    report["enroll_per_person"] = args.enroll if args.photos_dir is not None else None
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report, config.recognition.tolerance)
    return 0


def _eval_live(args: argparse.Namespace, config: Config) -> int:
    """`kiosk eval --live`: enroll --enroll-dir with `kiosk enroll`, then run the visits (visits.py)."""
    if args.enroll_dir is None or args.photos_dir is not None:
        raise UsageError("--live goes with --enroll-dir (and --probe-dir and/or --strangers)")
    if args.probe_dir is None and args.strangers is None:
        raise UsageError("--live needs --probe-dir or --strangers: whose visits to make")
    people = [(person.name, [Path(args.probe_dir) / file for file in sorted(person.photo_files)])
              for person in scan_people(Path(args.probe_dir))[0]] if args.probe_dir else []
    strangers = visits.stranger_photos(Path(args.strangers)) if args.strangers else []
    log = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="kiosk-eval-live-") as scratch:
        data_dir = Path(scratch) / "data"
        log(f"enrolling {args.enroll_dir}")
        subprocess.run(bench.kiosk_command(config.source_path or None, data_dir) + ["enroll", args.enroll_dir],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report = visits.measure(people, strangers, data_dir, config.source_path or None, Path(scratch), log)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        visits.print_report(report)
    return 0
