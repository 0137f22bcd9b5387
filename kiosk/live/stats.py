"""Figures of one `kiosk run`, written with --stats-json for benchmarks and tests.

Per frame: when it was taken from the camera and, when drawn, which names were on screen over
which picture (Frame.origin: a slideshow's file); per
track: the frame it was first seen in and the frame its name was confirmed in, with the times of
both; and the run's frame rates, CPU time and peak memory.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.live.recognition import Recognizer
from kiosk.util import peak_rss_mb


@dataclass
class RunStats:
    started: float = field(default_factory=time.monotonic)
    frames_displayed: int = 0
    frame_names: list[dict] = field(default_factory=list)
    taken_at: dict[int, float] = field(default_factory=dict)  # frame index -> seconds since start
    shown_at: dict[int, float] = field(default_factory=dict)  # the same, for frames drawn
    confirmed_shown_at: dict[int, float] = field(default_factory=dict)  # track id -> seconds since start
    loop_start: tuple[float, float] | None = None  # (wall, CPU) when the loop began, after start-up
    source_cpu: float = 0.0  # CPU seconds the loop spent reading frames (decoding, for a video file)

    def loop_started(self) -> None:
        self.loop_start = (time.monotonic(), time.process_time())
        self.source_cpu = 0.0

    def frame_taken(self, index: int, now: float) -> None:
        self.taken_at[index] = now - self.started

    def frame_shown(self, index: int, now: float, names: list[str], origin: str = "") -> None:
        self.shown_at.setdefault(index, now - self.started)
        self.frame_names.append({"index": index, "t": round(now - self.started, 4), "names": sorted(names),
                                 "origin": origin})

    def display_fps(self) -> float:
        """Frames shown per second between the first and the last frame (start-up excluded)."""
        times = sorted(self.shown_at.values())
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def write(self, path: Path, recognizer: Recognizer) -> None:
        wall = time.monotonic() - self.started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        tracks = []
        for entry in (recognizer.track_log or {}).values():
            first = entry["first_seen_index"]
            confirmed = self.confirmed_shown_at.get(entry["track_id"])
            tracks.append({**entry, "first_seen_t": self.taken_at.get(first), "confirmed_t": confirmed})
        figures = {
            "frames_displayed": self.frames_displayed,
            "frames_recognized": recognizer.frames_recognized,
            "faces_encoded": recognizer.faces_encoded,
            "wall_seconds": round(wall, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": peak_rss_mb(),
            "display_fps": round(self.display_fps(), 2),
            "recognized_fps": round(recognizer.frames_recognized / wall, 2) if wall else 0.0,
            "detector_runs": recognizer.detector_runs,
            # This process's CPU while the loop ran, as a share of one core (start-up left out).
            "loop_cpu_share": self._loop_share(time.process_time() - self.loop_start[1] if self.loop_start else None),
            # Of which reading frames: decoding a video file, which a camera does not need.
            "source_cpu_share": self._loop_share(self.source_cpu),
            "pace": {**dataclasses.asdict(pace := recognizer.pace.state()), "summary": pace.summary()},
            "frames": self.frame_names,
            "taken_at": self.taken_at,
            "tracks": tracks,
        }
        path.write_text(json.dumps(figures), encoding="utf-8")

    def _loop_share(self, cpu_seconds: float | None) -> float | None:
        """CPU_SECONDS as a share of one core over the loop's wall time."""
        if self.loop_start is None or cpu_seconds is None:
            return None
        wall = time.monotonic() - self.loop_start[0]
        return round(cpu_seconds / wall, 4) if wall > 0 else None
