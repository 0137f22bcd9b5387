"""`kiosk detection-recall`: how many labelled faces HOG finds at each detection width.

Labelled photos come in dlib's imglab XML (`<image file=...><box top left width height/>`);
boxes marked ignore='1' are neither required nor counted as false positives when found. Each
photo is searched by the live engine (FaceEngine.detect, as `kiosk run` searches a frame) set to
each detection width (a photo narrower than the width is searched as it is) and upsample 0 and 1. A labelled box
counts as found when a detection overlaps it with IoU >= 0.5, and also at IoU >= 0.3 because
imglab boxes are framed looser than HOG's (forehead and chin included).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kiosk.config import DetectionConfig
from kiosk.paths import SAMPLE_DATA
from kiosk.vision.boxes import Box, overlap, pair_boxes
from kiosk.vision.encoders import DEFAULT as DEFAULT_ENCODER
from kiosk.vision.engine import EngineSettings, FaceEngine

DEFAULT_DETECTION_DATA = SAMPLE_DATA / "detection"
LABEL_FILES = ("testing.xml", "training.xml")
NEGATIVE_PHOTOS = ("dogs.jpg",)  # photos known to hold no human face
WIDTHS = (160, 240, 320, 480, 640, None)  # None = the photo as it is
UPSAMPLES = (0, 1)
IOU_THRESHOLDS = (0.5, 0.3)
# Face widths in detection pixels, to read recall off for any camera and detection width.
SIZE_BINS = ((0, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80), (80, 100), (100, 10_000))

Rect = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass
class LabelledImage:
    path: Path
    boxes: list[Rect] = field(default_factory=list)
    ignored: list[Rect] = field(default_factory=list)


def parse_imglab(xml_path: Path) -> list[LabelledImage]:
    """Images and their face boxes from an imglab XML file; paths are relative to the file."""
    root = ElementTree.parse(xml_path).getroot()
    images = []
    for element in root.iter("image"):
        image = LabelledImage(xml_path.parent / element.attrib["file"])
        for box in element.findall("box"):
            left, top = float(box.attrib["left"]), float(box.attrib["top"])
            rect = (left, top, left + float(box.attrib["width"]), top + float(box.attrib["height"]))
            (image.ignored if box.get("ignore", "0") not in ("0", "") else image.boxes).append(rect)
        images.append(image)
    return images


def as_box(rect: Rect) -> Box:
    left, top, right, bottom = (round(v) for v in rect)
    return (top, right, bottom, left)


def match_detections(labelled: list[Rect], ignored: list[Rect], found: list[Rect],
                     threshold: float) -> tuple[set[int], int]:
    """(indices of labelled boxes found, false positives): one-to-one, best overlap first."""
    pairs = pair_boxes([as_box(r) for r in labelled], [as_box(r) for r in found], threshold)
    used_found = {j for _, j in pairs}
    false_positives = sum(1 for j, d in enumerate(found) if j not in used_found
                          and not any(overlap(as_box(d), as_box(g)) >= threshold for g in ignored))
    return {i for i, _ in pairs}, false_positives


def engines(detection: DetectionConfig, widths: tuple[int | None, ...],
            upsamples: tuple[int, ...]) -> dict[tuple[int | None, int], FaceEngine]:
    """The live engine, as configured for `kiosk run`, at each width and upsample setting."""
    live = EngineSettings.live(detection, DEFAULT_ENCODER)  # only detection is measured
    return {(width, upsample): FaceEngine(dataclasses.replace(live, detect_width=width, upsample=upsample))
            for width in widths for upsample in upsamples}


def detect(engine: FaceEngine, rgb: np.ndarray) -> list[Rect]:
    """The engine's boxes as (left, top, right, bottom) in the photo's own pixels."""
    return [(left, top, right, bottom) for top, right, bottom, left in engine.detect(rgb)]


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise ValueError(f"{path}: cannot read the photo")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def measure(data_dir: Path, widths: tuple[int | None, ...] = WIDTHS, upsamples: tuple[int, ...] = UPSAMPLES,
            detection: DetectionConfig | None = None) -> dict:
    """Recall, false positives and ms per photo for every width and upsample setting."""
    images = [image for name in LABEL_FILES if (data_dir / name).exists()
              for image in parse_imglab(data_dir / name)]
    if not images:
        raise FileNotFoundError(f"{data_dir}: no {' or '.join(LABEL_FILES)} found")
    pixels = {image.path: load_rgb(image.path) for image in images}
    negatives = {path: load_rgb(path) for path in (data_dir / n for n in NEGATIVE_PHOTOS) if path.exists()}
    labelled_total = sum(len(image.boxes) for image in images)
    face_widths = [box[2] - box[0] for image in images for box in image.boxes]
    photo_widths = [pixels[image.path].shape[1] for image in images]
    searchers = engines(detection or DetectionConfig(), widths, upsamples)
    for engine in searchers.values():  # warm-up, so the first row's time is not inflated
        engine.warm_up()
    detect(next(iter(searchers.values())), pixels[images[0].path])
    rows = []
    by_size = {upsample: {bin_: [0, 0] for bin_ in SIZE_BINS} for upsample in upsamples}
    for upsample in upsamples:
        for width in widths:
            found = {threshold: 0 for threshold in IOU_THRESHOLDS}
            false_positives = {threshold: 0 for threshold in IOU_THRESHOLDS}
            times = []
            for image in images:
                started = time.perf_counter()
                boxes = detect(searchers[width, upsample], pixels[image.path])
                times.append((time.perf_counter() - started) * 1000)
                scale = min(1.0, (width or pixels[image.path].shape[1]) / pixels[image.path].shape[1])
                for threshold in IOU_THRESHOLDS:
                    hits, extra = match_detections(image.boxes, image.ignored, boxes, threshold)
                    found[threshold] += len(hits)
                    false_positives[threshold] += extra
                    if threshold == 0.3:
                        for index, box in enumerate(image.boxes):
                            tally = by_size[upsample][size_bin((box[2] - box[0]) * scale)]
                            tally[0] += index in hits
                            tally[1] += 1
            on_negatives = sum(len(detect(searchers[width, upsample], rgb)) for rgb in negatives.values())
            scales = [min(1.0, (width or w) / w) for w in photo_widths]
            rows.append({
                "width": width, "upsample": upsample,
                "recall_iou50": round(found[0.5] / labelled_total, 3),
                "recall_iou30": round(found[0.3] / labelled_total, 3),
                "found_iou50": found[0.5], "found_iou30": found[0.3],
                "false_positives_iou50": false_positives[0.5], "false_positives_iou30": false_positives[0.3],
                "detections_on_negatives": on_negatives,
                "ms_per_image": round(statistics.mean(times), 1),
                "median_face_px": round(statistics.median(face_widths) * statistics.median(scales)),
            })
    return {"data": str(data_dir), "images": len(images), "labelled_faces": labelled_total,
            "ignored_boxes": sum(len(image.ignored) for image in images),
            "negative_photos": [p.name for p in negatives], "median_photo_width": statistics.median(photo_widths),
            "rows": rows,
            "recall_by_face_px": [
                {"upsample": upsample, "face_px": f"{low}-{high}" if high < 10_000 else f"{low}+",
                 "faces": total, "recall_iou30": round(hits / total, 3) if total else None}
                for upsample, bins in by_size.items() for (low, high), (hits, total) in bins.items()]}


def size_bin(face_px: float) -> tuple[int, int]:
    return next(bin_ for bin_ in SIZE_BINS if bin_[0] <= face_px < bin_[1])


def print_report(result: dict) -> None:
    print(f"{result['images']} photos (median width {result['median_photo_width']:.0f} px), "
          f"{result['labelled_faces']} labelled faces, {result['ignored_boxes']} ignored; "
          f"negatives: {', '.join(result['negative_photos']) or 'none'}")
    print(f"{'width':>6}{'up':>4}{'face px':>9}{'recall@.5':>11}{'recall@.3':>11}{'FP@.5':>7}{'FP@.3':>7}"
          f"{'on neg.':>9}{'ms/img':>8}")
    for row in result["rows"]:
        width = "full" if row["width"] is None else str(row["width"])
        print(f"{width:>6}{row['upsample']:>4}{row['median_face_px']:>9}{100 * row['recall_iou50']:>10.1f}%"
              f"{100 * row['recall_iou30']:>10.1f}%{row['false_positives_iou50']:>7}{row['false_positives_iou30']:>7}"
              f"{row['detections_on_negatives']:>9}{row['ms_per_image']:>8.1f}")
    print("\nrecall (IoU >= 0.3) by face width in detection pixels, all widths pooled:")
    print(f"{'face px':>9}" + "".join(f"{'up ' + str(u):>16}" for u in UPSAMPLES))
    for low, high in SIZE_BINS:
        label = f"{low}-{high}" if high < 10_000 else f"{low}+"
        cells = []
        for upsample in UPSAMPLES:
            entry = next(e for e in result["recall_by_face_px"] if e["upsample"] == upsample and e["face_px"] == label)
            recall = "-" if entry["recall_iou30"] is None else f"{100 * entry['recall_iou30']:.0f}%"
            cells.append(f"{recall} of {entry['faces']}")
        print(f"{label:>9}" + "".join(f"{cell:>16}" for cell in cells))
