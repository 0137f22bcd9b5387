"""The appliance check's stages, run by scripts/appliance-check on the image it built.

Each stage prints its time and what it saw, and keeps its evidence in OUT: screenshots (PNG),
journal excerpts, command outputs. A stage that finds the appliance wrong stops the check with
one line saying what; the machine is driven only through vm.Machine (SSH, the monitor, the screen).

    python stages.py --work WORK --out OUT --data DATA [--install-seconds N]
"""

from __future__ import annotations

import argparse
import json
import re
import time
import urllib.request
from pathlib import Path

from check import BAD_LINES, KIOSK, NAME, Check, daemon_links, guest_time, listed, lost
from vm import Machine, free_port, kvm_works


def boot(check: Check, label: str) -> None:
    """Power on to READY: SSH, then kiosk.service active (its READY=1)."""
    check.stage(f"power on ({label})")
    machine = check.machine
    machine.start()
    ssh_after = machine.wait_for_ssh()
    machine.wait_until("systemctl is-active --quiet kiosk", 600)
    ready_us = int(check.run("systemctl show -p ActiveEnterTimestampMonotonic --value kiosk").strip())
    analyze = check.run("systemd-analyze time", check=False).strip().splitlines()
    check.done(f"SSH after {ssh_after:.0f} s; kiosk.service READY {ready_us / 1e6:.0f} s after the kernel started; "
               f"{analyze[0] if analyze else ''}")


# The daemon's status file (its `message` is the banner, what `kiosk status` shows), the import's
# progress record (what the banner is made from) and the import unit's state, read in one cheap
# call: the summary stays on the screen for seconds only, and a poll must not slow the machine.
IMPORT_STATE = ("cat /run/kiosk/status.json 2>/dev/null; echo; cat /run/kiosk/import.json 2>/dev/null; echo; "
                "systemctl is-active kiosk-import@sda1 || true")


def watch_import(check: Check, timeout: float = 1200) -> tuple[list[str], list[Path], dict]:
    """Every banner the screen shows while the stick is imported and until its summary, each
    photographed when first seen; (banners, screenshots, the import's last progress record)."""
    shots: list[Path] = []
    banners: list[str] = []
    record: dict = {}
    deadline = time.monotonic() + timeout
    finished_at = None
    while time.monotonic() < deadline:
        status, record_text, unit = (check.run(IMPORT_STATE).split("\n") + ["", ""])[:3]
        banner = reading(status).get("message", "")
        record = reading(record_text) or record
        if banner and banner not in banners:
            banners.append(banner)
            shots.append(check.screen(f"import-{len(shots):02d}"))
        if banner.startswith(("Import done", "Nothing imported")):
            break
        if unit.strip() in ("inactive", "failed"):
            finished_at = finished_at or time.monotonic()
            if time.monotonic() - finished_at > 30:  # the summary's seconds on the screen were missed
                break
        time.sleep(1)
    return banners, shots, record


def reading(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def first_boot_and_stick(check: Check) -> None:
    boot(check, "the image as built, display.mode fullscreen")
    check.stage("an operator's stick: plugged in through the monitor, imported by kiosk-import@ as shipped")
    unit = check.run("systemctl cat kiosk.service")
    check.keep("kiosk.service.txt", unit)
    drop_ins = check.run("ls /etc/systemd/system/kiosk.service.d 2>/dev/null || true").split()
    check.say(f"kiosk.service as shipped; drop-ins: {', '.join(drop_ins) or 'none'}")
    started = float(check.run("date +%s"))  # events carry the machine's clock
    check.machine.plug_stick(check.machine.work / "stick.img")
    check.machine.wait_until("systemctl list-units --all --no-legend 'kiosk-import@*' | grep -q .", 120, every=1)
    banners, shots, record = watch_import(check)
    check.machine.wait_until("! systemctl is-active --quiet kiosk-import@sda1", 300, every=2)
    journal = check.run("journalctl --no-pager -o cat -u 'kiosk-import@sda1'")
    check.keep("import-journal.txt", journal)
    if "added" not in journal:
        raise SystemExit(f"appliance-check: the stick's import did not finish: {journal.strip()[-600:]}")
    people = check.kiosk_json("people list")
    if not any(b.startswith("Importing") for b in banners) or record.get("state") != "done":
        raise SystemExit(f"appliance-check: the screen did not show the import's progress, or the import did not "
                         f"record its end: banners {banners}, record {record}")
    if not any(b.startswith("Import done") for b in banners):
        check.say(f"the summary's seconds on the screen fell between two looks; the import's record, which the "
                  f"banner is drawn from, says done: {record.get('added')} added, {record.get('skipped')} skipped")
    check.done(f"kiosk-import@sda1: {next(line for line in journal.splitlines() if 'added' in line).strip()}; "
               f"{len(people)} people; banners on the screen: {' | '.join(banners)}; {len(shots)} screenshots")
    check.machine.pull_stick()

    check.stage(f"the name on the screen ({NAME}, the clip as the camera), drawn through the kernel's DRM device")
    waited = check.wait_seen(NAME, started, 600)
    named, looked = check.named_on_screen("named-fullscreen", 300)
    status = check.run(f"{KIOSK} status")
    check.keep("status.txt", status)
    if "running" not in status:
        raise SystemExit(f"appliance-check: kiosk status does not show the running kiosk: {status}")
    drawn = [line for line in check.run("journalctl -b -u kiosk -o cat --no-pager").splitlines()
             if "display: " in line or "instead" in line]
    check.keep("display-journal.txt", "\n".join(drawn))
    if not drawn or "instead" in "".join(drawn) or "display: fullscreen" not in drawn[-1]:
        raise SystemExit(f"appliance-check: fullscreen did not draw through the DRM device: {drawn}")
    check.say("stand-in: no GPU here, so Mesa renders in software (softpipe, as kiosk.service sets for that case); "
              "a Pi draws with v3d/vc4")
    check.done(f"{NAME} named {waited:.0f} s after the import, on the screen {looked:.0f} s later ({named.name}); "
               f"{drawn[-1].split(':', 1)[-1].strip() if drawn else 'no display line'}; kiosk status: "
               f"{status.splitlines()[0].strip()}")


def sandbox(check: Check) -> None:
    check.stage("the sandbox: systemd-analyze security, and no network without the MQTT drop-in")
    security = check.run("systemd-analyze security kiosk.service --no-pager", check=False)
    check.keep("security.txt", security)
    exposure = re.search(r"Overall exposure level for kiosk.service: ([0-9.]+)", security)
    links = daemon_links(check)
    if links != ["lo"]:
        raise SystemExit(f"appliance-check: the kiosk's network namespace holds {links}, not only lo")
    check.done(f"exposure {exposure.group(1) if exposure else '?'}; the daemon's network: {links}")


def watchdog(check: Check) -> None:
    check.stage("a hung daemon (SIGSTOP): the watchdog kills and restarts it")
    pid = check.run("systemctl show -p MainPID --value kiosk").strip()
    stopped = time.monotonic()
    check.run(f"kill -STOP {pid}")
    check.cause(f"SIGSTOP to the daemon ({pid})", r"kiosk\.service: (Watchdog timeout|Killing process|"
                r"Main process exited, code=(dumped|killed), status=6/ABRT|Failed with result 'watchdog'|"
                r"Scheduled restart job)|kernel: .*kiosk.*(core dump|dumped)|systemd-coredump")
    check.machine.wait_until(f"test \"$(systemctl show -p MainPID --value kiosk)\" != {pid} && "
                             "systemctl is-active --quiet kiosk", 300, every=2)
    back = time.monotonic() - stopped
    lines = [line for line in check.run("journalctl --no-pager -o short-monotonic -u kiosk").splitlines()
             if "atchdog" in line or "Scheduled restart" in line]
    check.keep("watchdog-journal.txt", "\n".join(lines))
    killed = next((line for line in lines if "Watchdog timeout" in line), "no watchdog line")
    check.done(f"killed and active again {back:.0f} s after SIGSTOP (WatchdogSec=30): {killed}")


def vivid(check: Check) -> None:
    check.stage("a V4L2 camera (the kernel's vivid) as camera.source usb:/dev/video0 under DevicePolicy=closed")
    check.run("modprobe vivid n_devs=1 node_types=0x1")
    check.machine.wait_until("test -c /dev/video0", 30, every=1)
    check.set_config("camera.source", "usb:/dev/video0")
    check.restart_kiosk()
    state = check.machine.wait_until(f"{KIOSK} status --json | python3 -c 'import json,sys; d=json.load(sys.stdin)"
                                     "[\"daemon\"]; print(d[\"camera_state\"], d.get(\"source\")); "
                                     "sys.exit(d[\"camera_state\"] != \"ok\")'", 300, every=5).strip()
    shot = check.screen("vivid")
    check.keep("vivid-status.txt", check.run(f"{KIOSK} status"))
    check.done(f"camera {state}; {shot.name}")


def framebuffer_and_mqtt(check: Check) -> None:
    check.stage("display.mode fb:/dev/fb0 as user kiosk, and MQTT: kiosk sandbox --write opens the broker only")
    check.set_config("camera.source", "file:/srv/camera/clip.mp4")
    check.set_config("display.mode", "fb:/dev/fb0")
    check.run("systemctl enable --now mosquitto")
    check.run("sed -i -e '/^mqtt:/,/^[a-z]/ s|^  enabled: false|  enabled: true|' "
              "-e '/^mqtt:/,/^[a-z]/ s|^  host: \"\"|  host: 127.0.0.1|' "
              "-e '/^mqtt:/,/^[a-z]/ s|^  device: \"\"|  device: appliance|' /etc/kiosk/config.yaml")
    written = check.run(f"{KIOSK} sandbox --write")
    check.keep("kiosk-mqtt.conf", check.run("cat /etc/systemd/system/kiosk.service.d/kiosk-mqtt.conf"))
    check.run("systemctl daemon-reload")
    check.run("systemd-run --unit=check-listener --property=Type=simple "
              "mosquitto_sub -h 127.0.0.1 -v -t 'kiosk/#' -F '%t %p'")
    since = guest_time(check)
    restart = check.restart_kiosk()
    heard = check.machine.wait_until(f"journalctl -o cat -u check-listener | grep -q '/event .*{NAME}' && "
                                     "journalctl -o cat -u check-listener", 600, every=5)
    check.keep("mqtt-heard.txt", heard)
    shot, _ = check.named_on_screen("named-fb0", 300)
    display = [line for line in check.run("journalctl -b -u kiosk -o cat --no-pager").splitlines()
               if "display: " in line][-1]
    if "fb:/dev/fb0" not in display:
        raise SystemExit(f"appliance-check: the daemon did not draw to /dev/fb0: {display}")
    links = daemon_links(check)
    # The drop-in's address filter belongs to the unit's control group: a probe joins it.
    probe = ("python3 -c 'import os, socket, sys; open(\"/sys/fs/cgroup/system.slice/kiosk.service/cgroup.procs\", "
             "\"w\").write(str(os.getpid())); socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); "
             "print(\"connected\")' {} {} 2>&1 | tail -n 1; true")
    broker = check.run(probe.format("127.0.0.1", 1883)).strip()
    address = check.run("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n 1").strip()
    outside = check.run(probe.format(address, 22)).strip()
    check.run("systemctl stop check-listener")
    check.done(f"restarted in {restart:.0f} s ({guest_time(check) - since:.0f} s of the machine's time to an event); "
               f"{display.split(':', 1)[-1].strip()}; {shot.name}; {check.run('id kiosk').strip()}; "
               f"{written.strip().splitlines()[0] if written.strip() else 'drop-in written'}; an event for {NAME} "
               f"heard on the broker; the daemon's network {links}; from its control group the broker: {broker}, "
               f"{address}:22 (not the broker): {outside}")
    if broker != "connected" or outside == "connected":
        raise SystemExit("appliance-check: with the MQTT drop-in the kiosk's control group reached "
                         f"{'an address that is not the broker' if outside == 'connected' else 'no broker'}")


# Every photo the store holds, matched or held back (what `kiosk people list` adds up), read as the
# daemon's own user so that no file of the store is created as root.
PHOTOS_STORED = ("runuser -u kiosk -- sqlite3 -cmd '.timeout 10000' /var/lib/kiosk/kiosk.db "
                 "'SELECT count(*) FROM samples'")


def big_import(check: Check, photos: int, timeout: float = 600) -> tuple[dict[str, int], set[int]]:
    """The big stick plugged in; what is listed once its import has committed PHOTOS more photos."""
    start = sum(listed(check)[0].values())
    check.machine.plug_stick(check.machine.work / "stick-big.img", "big")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the count read cheaply, what is listed read as an admin would
        if int(check.run(PHOTOS_STORED)) >= start + photos:
            return listed(check)
        time.sleep(1)
    raise SystemExit(f"appliance-check: the big stick's import committed fewer than {photos} photos in {timeout:g} s")


def pulled_stick(check: Check) -> None:
    check.stage("a stick pulled out half-way through its import")
    before = big_import(check, 1)  # pulled once its first photo is committed
    check.machine.pull_stick("big")
    check.cause("the stick pulled out", r"kiosk-import@sd[a-z]1|kiosk-usb-import|I/O error|FAT-fs|"
                r"Buffer I/O|usb-storage|blk_update_request|dev-sd[a-z]1?\.device")
    check.machine.wait_until("! systemctl is-active --quiet 'kiosk-import@*'", 300, every=2)
    mounts = check.run("findmnt -rn -o TARGET | grep -i kiosk || true").strip()
    after = listed(check)
    check.keep("pulled-journal.txt", check.run("journalctl -b -o cat --no-pager -u 'kiosk-import@*' | tail -n 40"))
    problem = lost(before, after)
    integrity = check.run("sqlite3 /var/lib/kiosk/kiosk.db 'PRAGMA integrity_check'").strip()
    if mounts or problem or integrity != "ok":
        raise SystemExit(f"appliance-check: after the stick was pulled: mounts {mounts or 'none'}; "
                         f"{problem or 'nothing lost'}; integrity {integrity}")
    check.done(f"import stopped, no mount left, integrity ok; {sum(after[0].values())} photos of {len(after[0])} "
               f"people (listed before the pull: {sum(before[0].values())})")


def web(check: Check) -> None:
    check.stage("kiosk-web.service through an SSH port forward, at the address kiosk web --url prints")
    # The page answers only at the port it serves (its Host check), so the forward keeps the port
    # number, as README's `ssh -L 8080:localhost:8080`; web.port is set to one free on this side.
    port = free_port()
    check.set_config("web.port", str(port))
    check.run("systemctl enable kiosk-web && systemctl restart kiosk-web")
    check.machine.wait_until(f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))'", 180)
    said = check.run(f"{KIOSK} web --url 2>/dev/null").strip()
    address = re.search(rf"http://localhost:{port}(/\S*)", said)
    if address is None:
        raise SystemExit(f"appliance-check: kiosk web --url printed no address at web.port {port}: {said}")
    tunnel = check.machine.tunnel(port)
    try:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # the login sets a cookie
        page = browser.open(address.group(0), timeout=60).read()
    finally:
        tunnel.kill()
    html = page.decode("utf-8", "replace")
    check.keep("web-page.html", html)
    people = [person["name"] for person in check.kiosk_json("people list")]
    missing = [name for name in people if f"name={name}\"" not in html]
    if not people or missing:
        raise SystemExit(f"appliance-check: the library page does not list {missing or 'anybody'}")
    check.done(f"logged in at {address.group(0).split('?')[0]} through ssh -L {port}:localhost:{port}; the library "
               f"page ({len(page)} bytes) lists all {len(people)} enrolled people")


def reinstall(check: Check) -> None:
    check.stage("scripts/install.sh again on the booted system: an upgrade in place")
    people = check.kiosk_json("people list")
    check.run("echo '# edited by the administrator' >> /etc/kiosk/config.yaml")
    log = check.run("/opt/kiosk-src/scripts/install.sh 2>&1", timeout=1800)
    check.keep("reinstall.log", log)
    check.run("grep -q '^# edited by the administrator' /etc/kiosk/config.yaml")
    check.machine.wait_until("systemctl is-active --quiet kiosk", 300)
    if check.kiosk_json("people list") != people:
        raise SystemExit("appliance-check: the reinstall changed the enrolled people")
    check.done("config kept, the same people, kiosk.service active again")


def power_cuts(check: Check, cuts: int = 2) -> None:
    for cut in range(1, cuts + 1):
        check.stage(f"power cut {cut} of {cuts}: during an import and the events it causes")
        before = big_import(check, cut)  # cut once its first (then second) new photo is committed
        check.machine.power_cut()
        check.cause("the power cuts", r"kiosk-import@sd[a-z]1|uncleanly shut down|corrupted or uncleanly|"
                    r"recovering journal|orphan|EXT4-fs .*(recovery|orphan)")
        check.done(f"cut with {len(before[0])} people, {sum(before[0].values())} photos and {len(before[1])} "
                   "events listed")
        boot(check, f"after power cut {cut}")
        check.stage(f"after power cut {cut}: the store")
        integrity = check.run("sqlite3 /var/lib/kiosk/kiosk.db 'PRAGMA integrity_check'").strip()
        after = listed(check)
        problem = lost(before, after)
        if integrity != "ok" or problem:
            raise SystemExit(f"appliance-check: after power cut {cut}: integrity {integrity}; {problem}")
        mounts = check.run("findmnt -rn -o TARGET | grep -i kiosk || true").strip()
        check.done(f"integrity ok; every person, photo and event listed before is there ({len(after[0])} people, "
                   f"{sum(after[0].values())} photos, {len(after[1])} events); "
                   f"{'mounts left: ' + mounts if mounts else 'no mount left'}")


def uninstall(check: Check) -> None:
    check.stage("scripts/install.sh --uninstall: the kiosk gone, its people and config left")
    counts = "sqlite3 /var/lib/kiosk/kiosk.db 'SELECT count(*) FROM people; SELECT count(*) FROM samples'"
    before = check.run(counts)
    log = check.run("/opt/kiosk-src/scripts/install.sh --uninstall 2>&1", timeout=600)
    check.keep("uninstall.log", log)
    left = check.run("systemctl list-unit-files --no-legend 'kiosk*' | wc -l; test -e /opt/kiosk && echo /opt/kiosk; "
                     "command -v kiosk || true").split()
    after = check.run(counts)
    config = check.run("test -s /etc/kiosk/config.yaml && echo kept || echo gone").strip()
    if left != ["0"] or after != before or config != "kept":
        raise SystemExit(f"appliance-check: after --uninstall: units and files left {left}; store {before.split()} -> "
                         f"{after.split()}; config {config}")
    check.done(f"no kiosk unit, program or command left; /var/lib/kiosk kept ({' people, '.join(after.split())} "
               "photos) and /etc/kiosk/config.yaml kept")


def journal_review(check: Check) -> None:
    check.stage("the journal of the whole run: no denial, traceback or restart the check did not cause")
    journal = check.run("journalctl --no-pager -o short-monotonic", timeout=300)
    check.keep("journal.txt", journal)
    flagged = [line for line in journal.splitlines() if BAD_LINES.search(line)]
    unexplained = [line for line in flagged if not any(p.search(line) for p in check.caused.values())]
    check.keep("journal-flagged.txt", "\n".join(flagged))
    if unexplained:
        raise SystemExit(f"appliance-check: {len(unexplained)} journal lines the check did not cause, e.g. "
                         f"{unexplained[0].strip()[:300]} (all in journal-flagged.txt)")
    check.done(f"{len(flagged)} lines flagged, each caused by the check ({', '.join(check.caused) or 'nothing'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--install-seconds", type=float, default=0)
    parser.add_argument("--only", default="", help="comma-separated stages (for a closer look)")
    args = parser.parse_args()
    works, why = kvm_works()
    accel = "kvm" if works else "tcg"
    print(f"    accelerator: {accel} ({why})", flush=True)
    machine = Machine(args.work, args.out, accel)
    check = Check(machine, args.out, args.data)
    stages = [first_boot_and_stick, sandbox, watchdog, vivid, framebuffer_and_mqtt, web, pulled_stick, reinstall,
              power_cuts, uninstall, journal_review]
    chosen = [s for s in stages if not args.only or s.__name__ in args.only.split(",")]
    try:
        for stage in chosen:
            stage(check)
        if chosen:
            machine.shutdown()
    except BaseException:
        if machine.process is not None:  # the machine's own account of what went wrong
            try:
                check.keep("journal-at-failure.txt", check.run("journalctl --no-pager -o short-monotonic",
                                                               check=False, timeout=120))
                print(f"    the machine's journal: {args.out / 'journal-at-failure.txt'}", flush=True)
            except Exception as exc:  # noqa: BLE001 - the failure itself is what matters
                print(f"    no journal from the machine: {exc}", flush=True)
        raise
    finally:
        machine.power_cut()
        print("==> appliance-check: time by stage")
        for title, seconds in check.times:
            print(f"    {seconds:6.0f} s  {title}")
        print(f"    install.sh in the image: {args.install_seconds:.0f} s")


if __name__ == "__main__":
    main()
