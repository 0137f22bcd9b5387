"""The camera stand-in for the appliance check: CLIP repeated to SECONDS of video at TARGET, at FPS.

    python clip.py CLIP TARGET SECONDS FPS

A file source ends with its file; a camera does not. Ten minutes of the sample clip outlast every
stage of the check, and the kiosk reads it exactly as a Pi's camera.source file: would. The
emulated machine is about 20 times slower than the processor it runs on, so the camera gives
fewer frames a second (every frame is decoded, as a camera's are delivered), the same moments.
"""

from __future__ import annotations

import sys

import cv2


def main(clip: str, target: str, seconds: float, rate: float) -> None:
    source = cv2.VideoCapture(clip)
    fps = source.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = source.read()
        if not ok:
            break
        frames.append(frame)
    source.release()
    if not frames:
        raise SystemExit(f"{clip}: no frames")
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), rate, (width, height))
    for index in range(round(seconds * rate)):
        writer.write(frames[round(index * fps / rate) % len(frames)])
    writer.release()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
