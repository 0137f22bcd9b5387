"""`kiosk bench`'s figures as the report it prints."""

from __future__ import annotations

from kiosk.measure.bench import QUICK_FRAMES


def _fmt(value, spec: str = ".1f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_report(results: dict) -> None:
    print(f"clip {results['clip']}, people {results['people']}, {results['cores']} core(s)"
          f"{f' (quick: first {QUICK_FRAMES} frames)' if results['quick'] else ''}")
    for key, title in (("all_cores", "all cores"), ("one_core", "one core (taskset -c 0)")):
        if key not in results:
            continue
        section = results[key]
        base, kiosk = section["baseline"], section["kiosk"]
        print(f"\n== clip, {title} ==")
        print(f"{'':28}{'baseline':>14}{'kiosk':>14}")
        rows = [
            ("frames recognized/s", _fmt(base["fps"], ".2f"), _fmt(kiosk["fps"], ".2f")),
            ("faces encoded/s", _fmt(base["faces_per_second"], ".2f"), _fmt(kiosk["faces_per_second"], ".2f")),
            ("latency, frames", _fmt(base["latency"]["frames"], "g"), _fmt(kiosk["latency"]["frames"], "g")),
            ("latency, ms", _fmt(base["latency"]["ms"]), _fmt(kiosk["latency"]["ms"])),
            ("CPU s", _fmt(base["cpu_seconds"], ".2f"), _fmt(kiosk["cpu_seconds"], ".2f")),
            ("peak RSS MB", _fmt(base["peak_rss_mb"]), _fmt(kiosk["peak_rss_mb"])),
            ("display fps (real time)", "-", _fmt(kiosk.get("realtime_display_fps"), ".2f")),
        ]
        for label, left, right in rows:
            print(f"{label:28}{left:>14}{right:>14}")
        agree = kiosk["agreement"]
        alone = kiosk["recognizer_alone"]
        print(f"speed-up (recognized frames/s, --fast run): {_fmt(section['speedup'], '.2f')}x")
        print(f"kiosk recognition stage alone, every frame, no display: {alone['fps']:.2f} frames/s "
              f"({alone['ms_per_frame']:.1f} ms/frame, {alone['faces_per_second']:.2f} faces encoded/s), "
              f"{alone['fps'] / base['fps']:.2f}x the baseline")
        print(f"agreement (real-time run): {_fmt(agree['percent'])} % of {agree['frames_compared']} frames "
              f"where both show a name (known names only: {_fmt(agree['known_names_percent'])} %)")
        print(f"frames showing an enrolled name: baseline {agree['baseline_named_frames']}, "
              f"kiosk {agree['kiosk_named_frames']} of {agree['frames']}")
    print("\n== gallery matching, one face per call (median ms/face) ==")
    print(f"{'encodings':>10}{'people':>8}{'default BLAS':>14}{'1 BLAS thread':>15}")
    for row, single in zip(results["gallery"], results["gallery_one_blas_thread"], strict=True):
        print(f"{row['encodings']:>10}{row['people']:>8}{row['ms_per_face']:>14.3f}{single['ms_per_face']:>15.3f}")
    if "scenes" in results:
        scene = results["scenes"]
        print("\n== at rest and arriving, real time (CPU share of one core after start-up) ==")
        for label, title in (("still", "still empty scene"), ("noisy", "noise, light drifting"),
                             ("arrivals", "three people walk in")):
            row = scene[label]
            share, reading = (_fmt(None if row[key] is None else 100 * row[key]) for key in
                              ("cpu_share", "source_cpu_share"))
            print(f"{title:24}{share:>6} % CPU ({reading} % reading the file){row['detector_per_second']:>7.2f}"
                  f" detector runs/s{row['display_fps']:>6.1f} fps shown")
        found = scene["arrivals"]["time_to_find"]
        print(f"time to find: kiosk median {_fmt(found['median'], '.3f')} s, worst {_fmt(found['worst'], '.3f')} s, "
              f"missed {found['missed']}")
        ours, theirs = scene["arrivals"]["time_to_name"], scene["tutorial_time_to_name"]
        print(f"time to name: kiosk median {_fmt(ours['median'], '.3f')} s, worst {_fmt(ours['worst'], '.3f')} s, "
              f"missed {ours['missed']}; tutorial loop median {_fmt(theirs['median'], '.3f')} s, worst "
              f"{_fmt(theirs['worst'], '.3f')} s, missed {theirs['missed']}")
        print(f"names shown in the arrivals clip: {', '.join(scene['arrivals']['names_shown']) or 'none'}")
    if "liveness" in results:
        live = results["liveness"]
        print("\n== liveness check (recognition.liveness: both), clip in real time ==")
        print(f"CPU share {100 * live['cpu_share_off']:.1f} % off, {100 * live['cpu_share_on']:.1f} % on: "
              f"{_fmt(live['cpu_seconds_per_face_second'], '.3f')} CPU s per second of a named face "
              f"({live['face_seconds']} s of the clip)")
        timing = live["time_to_pass"]
        print(f"named tracks passed {live['passed']} of {live['named_tracks']}; time to pass median "
              f"{_fmt(timing['median'], '.3f')} s, worst {_fmt(timing['worst'], '.3f')} s")
    enrollment = results["enrollment"]
    print("\n== enrollment of people/ ==")
    for label in ("serial", "all_cores"):
        row = enrollment[label]
        print(f"{label:10} {row['workers']} worker(s): {row['seconds']:.2f} s for {row['photos']} photos")
