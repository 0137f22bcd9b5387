"""`kiosk bench-slow`: the kiosk as it ships, inside CPU quotas that stand in for a Raspberry Pi.

`kiosk run` plays the sample clip (looped) and the arrivals scene in real time with a headless
screen, once with the whole machine and once inside each quota (quota.py: a quarter and a tenth
of one core by default, in 1 GB of memory), with a unix datagram socket as NOTIFY_SOCKET and
systemd's watchdog interval set as the service sets it. Per run: how fast the screen moved,
how many tracks that stayed two seconds or more were named and how late, the longest wait
between two watchdog pings, peak memory and what the kiosk said about its own pace.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.measure.bench import DEFAULT_CLIP, clip_frame_count, enrolled_data_dir, scene_clips
from kiosk.measure.compare import spread, time_to_name
from kiosk.measure.processes import headless_env, kiosk_command
from kiosk.measure.quota import CpuQuota, NotifyListener, children_cpu_seconds
from kiosk.names import UNKNOWN
from kiosk.paths import SOURCE_TREE

SHARES = (0.25, 0.1)
MEMORY_MB = 1024
WATCHDOG_SECONDS = 30  # as systemd/kiosk.service sets WatchdogSec
LONG_TRACK_SECONDS = 2.0
CLIP_SECONDS = 60.0


def track_figures(stats: dict) -> dict:
    """Tracks that stayed LONG_TRACK_SECONDS or more: how many were named (or called unknown), how late."""
    taken = {int(index): t for index, t in stats["taken_at"].items()}
    long_tracks = []
    for track in stats["tracks"]:
        first, last = taken.get(track["first_seen_index"]), taken.get(track.get("last_seen_index", -1))
        if first is not None and last is not None and last - first >= LONG_TRACK_SECONDS:
            long_tracks.append(track)
    named = [t for t in long_tracks if t.get("name") not in (None, UNKNOWN)]
    decided = [t for t in long_tracks if t.get("name") is not None]
    late = sorted(round(t["confirmed_t"] - t["first_seen_t"], 2) for t in decided
                  if t.get("confirmed_t") is not None and t.get("first_seen_t") is not None)
    return {"tracks": len(stats["tracks"]), "long_tracks": len(long_tracks), "long_named": len(named),
            "long_decided": len(decided), "time_to_decide": spread(late),
            "slowest_decision": late[-1] if late else None,
            "undecided": [[t["first_seen_index"], t.get("last_seen_index")] for t in long_tracks
                          if t.get("name") is None]}


def run_limited(clip: Path, data_dir: Path, config_path: str, scratch: Path, share: float | None,
                extra: list[str], until: Callable[[], bool] | None = None, within: float = 300.0) -> dict:
    """One real-time `kiosk run` on CLIP, inside SHARE of one core when given; its figures. With
    UNTIL, the run is stopped (SIGTERM, as systemd stops it) once UNTIL() holds or WITHIN seconds
    have passed, whichever is first; `stopped_early` says whether UNTIL held."""
    label = f"{clip.stem}-{share or 'all'}"
    out = scratch / f"{label}.json"
    command = kiosk_command(config_path, data_dir) + [
        "run", "--source", f"file:{clip}", "--display", "headless", "--stats-json", str(out), *extra]
    listener = NotifyListener()
    env = dict(headless_env(), NOTIFY_SOCKET=listener.path, WATCHDOG_USEC=str(WATCHDOG_SECONDS * 1_000_000))
    quota = None
    try:
        quota = CpuQuota(share, MEMORY_MB) if share else None
        before = children_cpu_seconds()
        with subprocess.Popen(command, cwd=SOURCE_TREE, env=env, preexec_fn=quota.preexec if quota else None,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
            held = until is not None and wait_until(process, until, within)
            if until is not None and process.poll() is None:
                process.terminate()
            _, stderr = process.communicate()
        cpu = children_cpu_seconds() - before
        if process.returncode:
            where = f"in {share:g} of a core" if share else "on the whole machine"
            raise RuntimeError(f"kiosk run {where} failed: {stderr.strip()[-500:]}")
        stopping = listener.times("STOPPING=1")
        ended = stopping[0] if stopping else None
        stats = json.loads(out.read_text())
        ready = listener.times("READY=1")
        return {"display_fps": stats["display_fps"], "recognized_fps": stats["recognized_fps"],
                "detector_runs": stats["detector_runs"], "faces_encoded": stats["faces_encoded"],
                "wall_seconds": stats["wall_seconds"], "peak_rss_mb": stats["peak_rss_mb"],
                "cpu_seconds": round(cpu, 1), "cpu_share": round(cpu / stats["wall_seconds"], 3),
                "watchdog_pings": len(listener.times("WATCHDOG=1")),
                "watchdog_longest_gap": round(listener.longest_gap("WATCHDOG=1", ended) or 0, 2)
                if ready else None,
                "pace": stats.get("pace", {}), "stats": stats, "stopped_early": held}
    finally:
        listener.close()
        if quota is not None:
            quota.close()


def wait_until(process: subprocess.Popen, condition: Callable[[], bool], within: float) -> bool:
    """Whether CONDITION() held, checked twice a second, before PROCESS ended or WITHIN seconds passed."""
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def run(people: Path, config_path: str, shares: tuple[float, ...], clip_seconds: float,
        log: Callable[[str], None]) -> dict:
    """Every figure of `kiosk bench-slow`, as one JSON-ready object."""
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-slow-") as folder:
        scratch = Path(folder)
        data_dir = enrolled_data_dir(people, config_path, scratch)
        clips, arrivals = scene_clips(scratch, 4.0)
        frames = round(clip_seconds * 30)
        loops = max(1, round(frames / clip_frame_count(DEFAULT_CLIP)))
        results: dict = {"shares": list(shares), "memory_mb": MEMORY_MB, "clip_seconds": clip_seconds, "runs": []}
        for share in (None, *shares):
            where = f"{share:g} of one core" if share else "the whole machine"
            log(f"{where}: sample clip, {clip_seconds:g} s ...")
            clip = run_limited(DEFAULT_CLIP, data_dir, config_path, scratch, share,
                               ["--loop", "--max-frames", str(frames)])
            log(f"{where}: arrivals ...")
            walk_in = run_limited(clips["arrivals"], data_dir, config_path, scratch, share, [])
            taken = {int(index): t for index, t in walk_in["stats"]["taken_at"].items()}
            row = {"share": share, "loops": loops,
                   "clip": {**{k: v for k, v in clip.items() if k != "stats"}, **track_figures(clip["stats"])},
                   "arrivals": {**{k: v for k, v in walk_in.items() if k != "stats"},
                                "time_to_name": time_to_name(walk_in["stats"]["frames"], arrivals, taken)}}
            results["runs"].append(row)
    return results


def print_report(results: dict) -> None:
    print(f"kiosk run in real time, {results['memory_mb']} MB of memory in each quota; "
          f"sample clip looped {results['clip_seconds']:g} s, and the arrivals scene")
    for row in results["runs"]:
        clip, walk_in = row["clip"], row["arrivals"]
        where = f"{row['share']:g} of one core" if row["share"] else "whole machine"
        print(f"\n{where}:")
        print(f"  screen:        {clip['display_fps']:.1f} fps on the clip, {walk_in['display_fps']:.1f} fps "
              f"on the arrivals; recognition {clip['recognized_fps']:.1f} frames/s")
        late = clip["time_to_decide"]
        print(f"  long tracks:   {clip['long_named']} of {clip['long_tracks']} tracks of {LONG_TRACK_SECONDS:g} s "
              f"or more named, {clip['long_decided']} decided (named or unknown); first seen to decided "
              f"{_spread(late)} s, slowest {clip['slowest_decision']}")
        print(f"  arrivals:      time to name {walk_in['time_to_name']} s")
        print(f"  watchdog:      {clip['watchdog_pings']} pings, longest gap {clip['watchdog_longest_gap']} s "
              f"(WatchdogSec {WATCHDOG_SECONDS})")
        print(f"  memory:        peak {clip['peak_rss_mb']:.0f} MB (daemon process)")
        if clip["pace"].get("summary"):
            print(f"  pace:          {clip['pace']['summary']}")


def _spread(value: object) -> str:
    if isinstance(value, dict) and value.get("median") is not None:
        return f"median {value['median']}, worst {value['worst']}"
    return "-"


