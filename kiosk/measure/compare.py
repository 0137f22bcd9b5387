"""Comparing the kiosk with the tutorial loop on the same frames: agreement, latencies, time to a name.

Pure functions of the figures each side wrote (their --stats-json and JSON output).
"""

from __future__ import annotations

import statistics

from kiosk.measure import scenes


def normalised(names: list[str]) -> list[str]:
    return sorted(name.lower() for name in names)


def agreement(baseline_frames: list[dict], kiosk_frames: list[dict]) -> dict:
    """Share of frames, among those where both sides show a name, on which the names are the same."""
    baseline_by_index = {f["index"]: normalised(f["names"]) for f in baseline_frames}
    compared = same = same_known = 0
    kiosk_frames = [f for f in kiosk_frames if f["index"] in baseline_by_index]
    for frame in kiosk_frames:
        theirs = baseline_by_index.get(frame["index"])
        ours = normalised(frame["names"])
        if not theirs or not ours:
            continue
        compared += 1
        same += ours == theirs
        same_known += {n for n in ours if n != "unknown"} == {n for n in theirs if n != "unknown"}
    return {"frames_compared": compared,
            "percent": round(100 * same / compared, 1) if compared else None,
            "known_names_percent": round(100 * same_known / compared, 1) if compared else None,
            # How many frames each side labels with an enrolled person's name at all.
            "frames": len(kiosk_frames),
            "baseline_named_frames": sum(1 for f in baseline_frames if _known(f["names"])),
            "kiosk_named_frames": sum(1 for f in kiosk_frames if _known(f["names"]))}


def _known(names: list[str]) -> bool:
    return any(name.lower() != "unknown" for name in names)


def baseline_latency(frames: list[dict]) -> dict:
    """The tutorial names a face on its first frame; the latency is that frame's processing time."""
    first_ms: dict[str, float] = {}
    for frame in frames:
        for name in frame["names"]:
            if name != "Unknown":
                first_ms.setdefault(name, frame["ms"])
    values = list(first_ms.values())
    return {"frames": 0 if values else None, "ms": round(statistics.median(values), 1) if values else None,
            "names": sorted(first_ms)}


def kiosk_latency(tracks: list[dict]) -> dict:
    """Median over named tracks of first-seen frame to confirmed name, in frames and ms."""
    named = [t for t in tracks if t.get("confirmed_index") is not None and t.get("name") not in (None, "unknown")]
    frames = [t["confirmed_index"] - t["first_seen_index"] for t in named]
    ms = [(t["confirmed_t"] - t["first_seen_t"]) * 1000 for t in named
          if t.get("confirmed_t") is not None and t.get("first_seen_t") is not None]
    return {"frames": statistics.median(frames) if frames else None,
            "ms": round(statistics.median(ms), 1) if ms else None,
            "names": sorted({t["name"] for t in named})}


def kiosk_figures(fast: dict, realtime: dict | None) -> dict:
    wall = fast["wall_seconds"] or float("nan")
    figures = {
        "fps": round(fast["frames_recognized"] / wall, 2),
        "faces_per_second": round(fast["faces_encoded"] / wall, 2),
        "frames_recognized": fast["frames_recognized"],
        "wall_seconds": fast["wall_seconds"],
        "cpu_seconds": fast["cpu_seconds"],
        "peak_rss_mb": fast["peak_rss_mb"],
        "fast_display_fps": fast["display_fps"],
    }
    if realtime is not None:
        figures.update(realtime_display_fps=realtime["display_fps"],
                       realtime_frames_recognized=realtime["frames_recognized"],
                       realtime_cpu_seconds=realtime["cpu_seconds"],
                       realtime_peak_rss_mb=realtime["peak_rss_mb"])
    return figures


def taken_time(taken_at: dict[int, float], index: int) -> float | None:
    """When frame INDEX of a clip was taken, or (skipped by a resting camera) would have been:
    from the last frame taken before it, at the clip's frame rate."""
    if index in taken_at:
        return taken_at[index]
    earlier = max((i for i in taken_at if i < index), default=None)
    return None if earlier is None else taken_at[earlier] + (index - earlier) / scenes.FPS


def time_to_name(frames: list[dict], arrivals: list[scenes.Arrival], taken_at: dict[int, float]) -> list:
    """Seconds from when each arrival's first frame was taken from the camera (or would have
    been, had the camera not been resting) to the first frame drawn with their name."""
    times = []
    for arrival in arrivals:
        start = taken_time(taken_at, arrival.frame)
        named = next((f["t"] for f in frames if f["index"] >= arrival.frame and arrival.name in f["names"]), None)
        times.append(None if start is None or named is None else round(named - start, 3))
    return times


def time_to_find(tracks: list[dict], arrivals: list[scenes.Arrival], taken_at: dict[int, float]) -> list:
    """Seconds from each arrival's first frame to the first frame in which a face was found while
    they were arriving (before the next one)."""
    times = []
    for arrival, following in zip(arrivals, [*arrivals[1:], None], strict=True):
        end = following.frame if following is not None else float("inf")
        found = [t["first_seen_index"] for t in tracks if arrival.frame <= t["first_seen_index"] < end]
        start, seen = taken_time(taken_at, arrival.frame), taken_at.get(min(found)) if found else None
        times.append(None if start is None or seen is None else round(seen - start, 3))
    return times


def tutorial_time_to_name(frames: list[dict], arrivals: list[scenes.Arrival]) -> list:
    """The tutorial loop keeping pace with the camera: frames until it names the person, plus the
    time it spends on the frame that does."""
    times = []
    for arrival in arrivals:
        named = next((f for f in frames if f["index"] >= arrival.frame and arrival.name in f["names"]), None)
        times.append(None if named is None else
                     round((named["index"] - arrival.frame) / scenes.FPS + named["ms"] / 1000, 3))
    return times


def spread(values: list) -> dict:
    known = [v for v in values if v is not None]
    return {"median": round(statistics.median(known), 3) if known else None,
            "worst": max(known) if known else None, "missed": len(values) - len(known)}
