"""Every `kiosk` command and its arguments, in one parser.

Handlers are named, not imported: each command's module (and with it dlib, OpenCV or pygame) is
loaded only when that command runs, so `kiosk people list` over SSH answers at once.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from kiosk.config import DETECTORS, SOURCE_FORMS, Config


class Handler:
    """The function MODULE.NAME, imported when the command runs (see the module docstring)."""

    def __init__(self, module: str, name: str):
        self.module, self.__name__ = f"kiosk.cli.{module}", name

    def __call__(self, args: argparse.Namespace, config: Config) -> int:
        function: Callable[[argparse.Namespace, Config], int] = getattr(importlib.import_module(self.module),
                                                                         self.__name__)
        return function(args, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Face-recognition kiosk.")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $KIOSK_CONFIG, ./config.yaml, /etc/kiosk/config.yaml)")
    parser.add_argument("--data-dir", metavar="DIR", help="data directory (default: $KIOSK_DATA_DIR or config)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_enroll_commands(commands)
    add_recognize_commands(commands)
    add_people_commands(commands)
    add_events_commands(commands)
    add_admin_commands(commands)
    add_measure_commands(commands)
    return parser


Commands = argparse._SubParsersAction


def add_enroll_commands(commands: Commands) -> None:
    enroll = commands.add_parser("enroll", help="add people from PHOTOS_DIR/<name>/<photos>",
                                 description="Enroll people from a folder holding one folder per person.")
    enroll.add_argument("photos_dir", metavar="PHOTOS_DIR")
    enroll.add_argument("--json", action="store_true", help="print one JSON object")
    enroll.set_defaults(handler=Handler("enroll", "cmd_enroll"))

    usb = commands.add_parser("import-usb", help="enroll from a mounted USB stick (faces/<name>/<photos>)",
                              description="Import faces/<name>/<photos> from a stick and apply remove.txt.")
    usb.add_argument("mountpoint", metavar="MOUNTPOINT")
    usb.add_argument("--json", action="store_true", help="print one JSON object")
    usb.add_argument("--write-report", action="store_true",
                     help="also write a summary file onto the stick (only if it is mounted writable)")
    usb.set_defaults(handler=Handler("enroll", "cmd_import_usb"))

    capture = commands.add_parser(
        "capture", help="enroll the person standing in front of the running kiosk",
        description="Ask the running kiosk to take VIEWS good views of the single face in front of it "
                    "(large, sharp, roughly frontal, a few angles, live when liveness is on) and enroll them "
                    "as NAME, through the same photo check as a USB stick's photos.")
    capture.add_argument("name", metavar="NAME")
    capture.add_argument("--views", type=int, default=8, metavar="N", help="views to take, 1-50 (default 8)")
    capture.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                         help="give up after this long, 5-600 (default 60)")
    capture.add_argument("--new", action="store_true", help="NAME is a new person")
    capture.set_defaults(handler=Handler("enroll", "cmd_capture"))

    retrain = commands.add_parser(
        "retrain", help="re-encode the kept photos with new settings",
        description="Re-encode the kept photos (all cores) and replace each person's samples in one "
                    "transaction. Samples whose photo was not kept are reported and left as they are.")
    retrain.add_argument("--person", metavar="NAME", help="only this person")
    retrain.add_argument("--jitters", type=int, metavar="N", help="re-sampled encodings per photo, 1-100")
    retrain.add_argument("--landmarks", type=int, choices=(5, 68), help="landmark model")
    retrain.add_argument("--detector", choices=DETECTORS, help="face detector")
    retrain.add_argument("--json", action="store_true", help="print one JSON object")
    retrain.set_defaults(handler=Handler("enroll", "cmd_retrain"))

    legacy = commands.add_parser("import-pickle", help="migrate an encodings.pickle from older face scripts",
                                 description='Import {"encodings": [...], "names": [...]} from a pickle file, '
                                             "allowing nothing in it but numpy arrays.")
    legacy.add_argument("path", metavar="PATH")
    legacy.add_argument("--json", action="store_true", help="print one JSON object")
    legacy.set_defaults(handler=Handler("enroll", "cmd_import_pickle"))


def add_recognize_commands(commands: Commands) -> None:
    run = commands.add_parser("run", help="the live kiosk: camera, recognition, screen",
                              description="Run the kiosk: recognize faces from the camera and show names.")
    run.add_argument("--source", help=f"{SOURCE_FORMS} (default: camera.source)")
    run.add_argument("--display", help="fullscreen, window, headless or fb:/dev/fbN (default: display.mode)")
    run.add_argument("--snapshot", metavar="PATH.png", help="save what the screen shows every few seconds")
    run.add_argument("--max-frames", type=int, metavar="N", help="exit after N frames")
    run.add_argument("--fast", action="store_true",
                     help="process every frame of a video file as fast as the pipeline can (benchmarks)")
    run.add_argument("--loop", action="store_true", help="play a video file or photo folder forever")
    run.add_argument("--stats-json", metavar="PATH", help="write run figures to PATH on exit")
    run.set_defaults(handler=Handler("recognize", "cmd_run"))

    identify = commands.add_parser("identify", help="name the faces in photos",
                                   description="Name each face found in each image.")
    identify.add_argument("images", metavar="IMAGE", nargs="+",
                          help="photos, or folders of photos (searched below too); on every core")
    identify.add_argument("--json", action="store_true", help="print a JSON list, one object per image")
    identify.set_defaults(handler=Handler("recognize", "cmd_identify"))


def add_people_commands(commands: Commands) -> None:
    people = commands.add_parser("people", help="list and manage enrolled people",
                                 description="List and manage enrolled people.")
    actions = people.add_subparsers(dest="people_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each person with their number of samples")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=Handler("people", "cmd_people_list"))

    show = actions.add_parser("show", help="a person's samples: source photo, settings, when added",
                              description="Show one person's samples.")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=Handler("people", "cmd_people_show"))

    for action, verb in (("accept", "use for matching"), ("reject", "delete, and refuse in later imports")):
        decide = actions.add_parser(
            action, help=f"held-back photos of a person: {verb}",
            description=f"Decide about photos the consistency check held back: {verb}. "
                        "FILE is the photo as listed by `kiosk people show NAME` (or #ID).")
        decide.add_argument("name", metavar="NAME")
        target = decide.add_mutually_exclusive_group(required=True)
        target.add_argument("file", metavar="FILE", nargs="?")
        target.add_argument("--all", action="store_true", help="every held-back photo of NAME")
        decide.set_defaults(handler=Handler("people", "cmd_people_decide"), action=action)

    check = actions.add_parser(
        "check", help="run the check for wrong photos again (everyone, or NAME)",
        description="Check whether each person's photos show one person; photos that look like "
                    "someone else are held back from matching.")
    check.add_argument("name", metavar="NAME", nargs="?")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=Handler("people", "cmd_people_check"))

    rename = actions.add_parser("rename", help="rename a person (their events too)",
                                description="Rename a person; their recognition events follow.")
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")
    rename.set_defaults(handler=Handler("people", "cmd_people_rename"))

    merge = actions.add_parser(
        "merge", help="one person enrolled under two names: make SOURCE part of TARGET",
        description="Move SOURCE's samples, events and corrections to TARGET and forget SOURCE.")
    merge.add_argument("source", metavar="SOURCE")
    merge.add_argument("target", metavar="TARGET")
    merge.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    merge.set_defaults(handler=Handler("people", "cmd_people_merge"))

    remove = actions.add_parser(
        "remove", help="forget a person: samples and kept photos, overwritten on disk",
        description="Forget a person. Their samples are overwritten in the database file, their kept "
                    "photos deleted. Asks for confirmation on a terminal.")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    remove.add_argument("--events", action="store_true", help="also delete the person's recognition events")
    remove.set_defaults(handler=Handler("people", "cmd_people_remove"))

    unknowns = commands.add_parser("unknowns", help="faces seen but not recognised (recognition.capture_unknown)",
                                   description="List, label or purge the faces kept by capture_unknown.")
    unknown_actions = unknowns.add_subparsers(dest="unknowns_command", metavar="ACTION", required=True)
    unknown_list = unknown_actions.add_parser("list", help="each kept face: id, when, crop file")
    unknown_list.add_argument("--json", action="store_true")
    unknown_list.set_defaults(handler=Handler("people", "cmd_unknowns_list"))
    groups = unknown_actions.add_parser(
        "groups", help="the kept faces grouped into individuals (g17: a group named by its first face)",
        description="Group the kept faces into individuals, each with its count and first and last seen.")
    groups.add_argument("--json", action="store_true")
    groups.set_defaults(handler=Handler("people", "cmd_unknowns_groups"))
    label = unknown_actions.add_parser("label", help="enroll a kept face (ID) or a whole group (gID) as NAME",
                                       description="Enroll kept face ID, or every face of group gID, as "
                                                   "samples of NAME; a group's faces go through the photo check.")
    label.add_argument("id", metavar="ID_OR_GROUP")
    label.add_argument("name", metavar="NAME")
    label.add_argument("--new", action="store_true", help="NAME is a new person, enrolled with this face")
    label.set_defaults(handler=Handler("people", "cmd_unknowns_label"))
    dismiss = unknown_actions.add_parser("dismiss", help="delete the faces of one group (gID)",
                                         description="Delete every kept face of group gID.")
    dismiss.add_argument("group", metavar="GROUP")
    dismiss.set_defaults(handler=Handler("people", "cmd_unknowns_dismiss"))
    purge = unknown_actions.add_parser("purge", help="delete every kept face")
    purge.set_defaults(handler=Handler("people", "cmd_unknowns_purge"))


def add_events_commands(commands: Commands) -> None:
    events = commands.add_parser("events", help="who was seen, and when",
                                 description="List recognition events (the attendance log).")
    events.add_argument("--since", metavar="DATE", help="YYYY-MM-DD, ISO time, today, or an age like 2h / 7d")
    events.add_argument("--until", metavar="DATE")
    events.add_argument("--person", metavar="NAME")
    events.add_argument("--daily", action="store_true", help="first and last seen per person per day")
    events.add_argument("--site", action="store_true",
                        help="on a site's home: every kiosk's events, read from the broker (kiosk fleet)")
    form = events.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true")
    events.set_defaults(handler=Handler("events", "cmd_events"))
    actions = events.add_subparsers(dest="events_command", metavar="ACTION")
    correct = actions.add_parser(
        "correct", help="say who an event really showed (needs recognition.capture_faces)",
        description="Correct a logged event: NAME adds its face to that person; --not NAME records that "
                    "faces like it are not NAME.")
    correct.add_argument("event_id", type=int, metavar="EVENT_ID")
    correct.add_argument("name", metavar="NAME", nargs="?", help="who it really was")
    correct.add_argument("--not", dest="not_name", metavar="NAME", help="it was not this person")
    correct.add_argument("--new", action="store_true", help="NAME is a new person, enrolled with this face")
    correct.add_argument("--undo", action="store_true", help="take back the event's correction (and --not)")
    correct.set_defaults(handler=Handler("events", "cmd_events_correct"))
    delete = actions.add_parser(
        "delete", help="delete events by id or range (test runs)",
        description="Delete events (and their kept faces) by id, or ranges like 12-20; the log notes it.")
    delete.add_argument("ids", nargs="+", metavar="ID_OR_RANGE")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.set_defaults(handler=Handler("events", "cmd_events_delete"))


def add_admin_commands(commands: Commands) -> None:
    status = commands.add_parser("status", help="is the daemon running, fps, camera, store size, disk",
                                 description="Show the daemon's state and the store's size.")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=Handler("admin", "cmd_status"))

    doctor = commands.add_parser("doctor", help="check models, camera, display, store, disk, service, MQTT and GPIO",
                                 description="Check the installation; exit status 1 when a check fails.")
    doctor.add_argument("--json", action="store_true", help="print a JSON list of checks")
    doctor.set_defaults(handler=Handler("admin", "cmd_doctor"))

    tune = commands.add_parser("tune", help="distance distributions and a suggested tolerance",
                               description="Compare same-person and different-person distances between "
                                           "the enrolled samples and suggest recognition.tolerance.")
    tune.add_argument("--json", action="store_true", help="print one JSON object")
    tune.set_defaults(handler=Handler("admin", "cmd_tune"))

    backup = commands.add_parser("backup", help="write the store and kept photos to one .tar file",
                                 description="Write a consistent copy of the store and kept photos to PATH.")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(handler=Handler("admin", "cmd_backup"))

    restore = commands.add_parser("restore", help="replace the store with a backup made by `kiosk backup`",
                                  description="Replace the store and kept photos with a kiosk backup.")
    restore.add_argument("path", metavar="PATH")
    restore.add_argument("--yes", action="store_true",
                         help="do not ask (required when not on a terminal); the replaced store is kept anyway")
    restore.set_defaults(handler=Handler("admin", "cmd_restore"))

    sandbox = commands.add_parser(
        "sandbox", help="the systemd drop-ins MQTT and the door need (network to the broker, GPIO)",
        description="Print the drop-ins for kiosk.service that the mqtt: and door: settings need; --write puts "
                    "them into /etc/systemd/system/kiosk.service.d/ and removes those no longer needed.")
    sandbox.add_argument("--write", action="store_true", help="write them (then: systemctl daemon-reload)")
    sandbox.add_argument("--dir", metavar="DIR", help="drop-in folder (default: /etc/systemd/system/kiosk.service.d)")
    sandbox.set_defaults(handler=Handler("admin", "cmd_sandbox"))

    fleet = commands.add_parser("fleet", help="several kiosks as one site, through the MQTT broker",
                                description="Make this kiosk a site's home, or a member that takes the home's "
                                            "signed gallery; see which kiosk runs which version.")
    fleet_actions = fleet.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    init = fleet_actions.add_parser("init", help="make this kiosk the home of a new site (it holds the gallery)")
    init.add_argument("--site", required=True, metavar="NAME")
    init.set_defaults(handler=Handler("fleet", "cmd_fleet_init"))
    join = fleet_actions.add_parser("join", help="make this kiosk a member of a site (the line fleet init printed)")
    join.add_argument("--site", required=True, metavar="NAME")
    join.add_argument("--home", required=True, metavar="DEVICE", help="the home kiosk's name")
    join.add_argument("--key", required=True, metavar="HEX", help="the site's public key")
    join.add_argument("--yes", action="store_true", help="replace the people enrolled here with the home's")
    join.set_defaults(handler=Handler("fleet", "cmd_fleet_join"))
    admit = fleet_actions.add_parser("admit", help="on the home: trust a member's reports and events")
    admit.add_argument("device", metavar="KIOSK")
    admit.add_argument("--key", required=True, metavar="HEX", help="its key, as fleet join printed it")
    admit.set_defaults(handler=Handler("fleet", "cmd_fleet_admit"))
    publish = fleet_actions.add_parser("publish", help="on the home: publish the gallery now (kiosk run does so "
                                                       "after every change)")
    publish.set_defaults(handler=Handler("fleet", "cmd_fleet_publish"))
    fleet_status = fleet_actions.add_parser("status", help="which kiosk runs which gallery version")
    fleet_status.add_argument("--json", action="store_true")
    fleet_status.set_defaults(handler=Handler("fleet", "cmd_fleet_status"))

    web = commands.add_parser(
        "web", help="the face library page on 127.0.0.1 (through an SSH tunnel)",
        description="Serve the face library page on 127.0.0.1 only; with --url, print the address that logs "
                    "in (with the token) and exit. From another machine: ssh -L 8080:localhost:8080 pi@kiosk.local")
    web.add_argument("--port", type=int, metavar="N", help="port on 127.0.0.1 (default: web.port, 8080; 0: any free)")
    web.add_argument("--url", action="store_true", help="print the address with its token, then exit")
    web.set_defaults(handler=Handler("admin", "cmd_web"))

    door = commands.add_parser("door", help="the door relay: close it now",
                               description="Drive the door relay closed (run by kiosk.service after the daemon ends).")
    door_actions = door.add_subparsers(dest="door_command", metavar="ACTION", required=True)
    door_close = door_actions.add_parser("close", help="drive the relay closed")
    door_close.set_defaults(handler=Handler("admin", "cmd_door_close"))


def add_measure_commands(commands: Commands) -> None:
    bench = commands.add_parser("bench", help="speed of the kiosk against the tutorial loop",
                                description="Benchmark recognition on the sample clip against the classic "
                                            "tutorial loop; also gallery matching and enrollment.")
    bench.add_argument("--clip", metavar="PATH", help="video clip (default: ../shared/data/video/...)")
    bench.add_argument("--people", metavar="DIR", help="person folders to enroll (default: ../shared/data/people)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--skip-one-core", action="store_true", help="do not repeat the clip runs on one core")
    bench.add_argument("--quick", action="store_true",
                       help="a short run: the start of the clip, all cores only, small galleries")
    bench.add_argument("--stages", action="store_true",
                       help="only what each stage of the live pipeline costs on this machine (median and 90th "
                            "percentile), with the expected time to name and the CPU at rest")
    bench.set_defaults(handler=Handler("measure", "cmd_bench"))

    slow = commands.add_parser(
        "bench-slow", help="the kiosk inside CPU quotas that stand in for a Raspberry Pi (needs root)",
        description="Run `kiosk run` on the sample clip and the arrivals scene with the whole machine and inside "
                    "each CPU quota (a cgroup; 1 GB of memory): screen rate, long tracks named and how late, "
                    "watchdog pings, memory, and what the kiosk says about its pace.")
    slow.add_argument("--cpu", metavar="SHARES", default="0.25,0.1",
                      help="shares of one core, comma-separated (default 0.25,0.1)")
    slow.add_argument("--seconds", type=float, default=60.0, help="seconds of the looped sample clip (default 60)")
    slow.add_argument("--json", action="store_true", help="print one JSON object")
    slow.set_defaults(handler=Handler("measure", "cmd_bench_slow"))

    evaluate = commands.add_parser("eval", help="recognition accuracy on a folder of person folders",
                                   description="Enroll the first N photos of each person into a scratch "
                                               "store and identify the rest.")
    evaluate.add_argument("photos_dir", metavar="PHOTOS_DIR", nargs="?",
                          help="one folder of photos per person, split into enrolled photos and probes")
    evaluate.add_argument("--enroll", type=int, default=1, metavar="N",
                          help="with PHOTOS_DIR: photos per person to enroll, first by name (default 1)")
    evaluate.add_argument("--exclude", action="append", default=[], metavar="NAME",
                          help="with PHOTOS_DIR: keep this person out of enrollment, all their photos should "
                               "be unknown (repeatable)")
    evaluate.add_argument("--enroll-dir", metavar="DIR", help="enroll this folder of person folders")
    evaluate.add_argument("--probe-dir", metavar="DIR",
                          help="identify these person folders against it (closed set)")
    evaluate.add_argument("--open-set", action="store_true",
                          help="leave each enrolled person out in turn: all their photos must come out unknown")
    evaluate.add_argument("--strangers", metavar="DIR", help="photos of people not enrolled (any layout)")
    evaluate.add_argument("--tolerances", metavar="LIST",
                          help="comma-separated tolerances to score (default 0.4,0.5,0.6 and "
                               "recognition.tolerance)")
    evaluate.add_argument("--live", action="store_true",
                          help="with --enroll-dir: the live decision instead, on visits made from the probe and "
                               "stranger photos (each person's photos in turn for 2 s) run through `kiosk run`")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=Handler("measure", "cmd_eval"))

    grouping = commands.add_parser(
        "eval-groups", help="how well unknown visitors are grouped, on a folder of person folders",
        description="Treat every photo of PHOTOS_DIR as a kept unknown face, group them as `kiosk unknowns "
                    "groups` does, and score the pairs put together against the folders.")
    grouping.add_argument("photos_dir", metavar="PHOTOS_DIR")
    grouping.add_argument("--tolerances", metavar="LIST",
                          help="comma-separated tolerances to score (default: recognition.group_tolerance)")
    grouping.add_argument("--json", action="store_true", help="print one JSON object")
    grouping.set_defaults(handler=Handler("measure", "cmd_eval_groups"))

    check = commands.add_parser(
        "eval-check", help="how the photo check treats honest folders and foreign photos planted in them",
        description="Encode PHOTOS_DIR's folders (taken as honest), plant foreign photos in them and run the "
                    "photo check over a grid of enrollment.suspect_distance and suspect_spread.")
    check.add_argument("photos_dir", metavar="PHOTOS_DIR")
    check.add_argument("--strangers", metavar="DIR", help="foreign photos from these person folders (default: "
                                                          "other people of PHOTOS_DIR, left out of the gallery)")
    check.add_argument("--draws", type=int, default=2, help="plantings per person and count (default 2)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=Handler("measure", "cmd_eval_check"))

    web_bench = commands.add_parser(
        "bench-web", help="speed and footprint of the face library page on a store of N people",
        description="Serve a scratch store of N people (five kept photos each) with the real `kiosk web` and "
                    "time its pages and thumbnails, and its memory and CPU while idle.")
    web_bench.add_argument("--people", type=int, default=200, metavar="N", help="people in the store (default 200)")
    web_bench.add_argument("--photos", metavar="DIR", help="person folders whose photos are used "
                                                           "(default: ../shared/data/people)")
    web_bench.add_argument("--json", action="store_true", help="print one JSON object")
    web_bench.set_defaults(handler=Handler("measure", "cmd_bench_web"))

    site_bench = commands.add_parser(
        "bench-site", help="the site's signed gallery at N people: size, sealing, applying, memory",
        description="Seal a gallery of N people x S samples as a site's home does, then check and apply it "
                    "into a scratch member store and load it as the daemon does.")
    site_bench.add_argument("--people", type=int, default=1000, metavar="N", help="default 1000")
    site_bench.add_argument("--samples", type=int, default=10, metavar="S", help="per person, default 10")
    site_bench.add_argument("--json", action="store_true", help="print one JSON object")
    site_bench.set_defaults(handler=Handler("measure", "cmd_bench_site"))

    recall = commands.add_parser("detection-recall", help="HOG face recall per detection width",
                                 description="Recall and false positives of the live detector on labelled "
                                             "photos at several detection widths and upsample settings.")
    recall.add_argument("--data", metavar="DIR", help="folder with testing.xml/training.xml "
                                                      "(default: ../shared/data/detection)")
    recall.add_argument("--json", action="store_true", help="print one JSON object")
    recall.set_defaults(handler=Handler("measure", "cmd_detection_recall"))
