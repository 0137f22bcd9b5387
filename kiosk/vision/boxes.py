"""Face boxes: (top, right, bottom, left) in pixels, as dlib and face_recognition give them.

How much two boxes overlap, pairing two lists of boxes one-to-one by overlap (the tracker pairs
detections with the faces it follows, detection recall pairs detections with labels), and
merging the boxes of searches that overlap (the CNN's strips).
"""

from __future__ import annotations

Box = tuple[int, int, int, int]  # top, right, bottom, left


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    inter = _intersection(a, b)
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: list[Box], covered: float = 0.5) -> list[Box]:
    """One box per face from searches that overlap: largest first, a box mostly (by `covered` of
    its own area) inside one already kept is the same face seen again, or part of it."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True):
        area = (box[2] - box[0]) * (box[1] - box[3])
        if not any(_intersection(box, other) > covered * area for other in kept):
            kept.append(box)
    return kept


def _intersection(a: Box, b: Box) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[1], b[1]) - max(a[3], b[3]))


def pair_boxes(first: list[Box], second: list[Box], min_overlap: float) -> list[tuple[int, int]]:
    """(i, j) pairs of first[i] and second[j], one-to-one, greedily by largest overlap first;
    pairs overlapping less than `min_overlap` are not made."""
    candidates = sorted(((overlap(a, b), i, j) for i, a in enumerate(first) for j, b in enumerate(second)),
                        reverse=True)
    used_first: set[int] = set()
    used_second: set[int] = set()
    pairs = []
    for score, i, j in candidates:
        if score < min_overlap:
            break
        if i in used_first or j in used_second:
            continue
        used_first.add(i)
        used_second.add(j)
        pairs.append((i, j))
    return pairs


def pair_nearby(first: list[Box], second: list[Box], reach: float, size_ratio: float) -> list[tuple[int, int]]:
    """(i, j) pairs of first[i] and second[j], one-to-one, nearest centres first, for boxes of
    about one size (widths within SIZE_RATIO of each other) whose centres lie within REACH of
    the larger box's width: the same face moved further than its boxes overlap."""
    def centre(box: Box) -> tuple[float, float]:
        return (box[1] + box[3]) / 2, (box[0] + box[2]) / 2

    candidates = []
    for i, a in enumerate(first):
        for j, b in enumerate(second):
            wide, narrow = max(a[1] - a[3], b[1] - b[3]), min(a[1] - a[3], b[1] - b[3])
            if narrow <= 0 or wide > size_ratio * narrow:
                continue
            (ax, ay), (bx, by) = centre(a), centre(b)
            distance = ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5
            if distance <= reach * wide:
                candidates.append((distance, i, j))
    used_first: set[int] = set()
    used_second: set[int] = set()
    pairs = []
    for _, i, j in sorted(candidates):
        if i not in used_first and j not in used_second:
            used_first.add(i)
            used_second.add(j)
            pairs.append((i, j))
    return pairs


def scale_box(box: Box, factor: float, offset: tuple[int, int], width: int, height: int) -> Box:
    """Map a box found on a scaled part of an image back to the image's pixels, clipped to it."""
    top, right, bottom, left = box
    dy, dx = offset
    return (max(0, round(top * factor) + dy), min(width, round(right * factor) + dx),
            min(height, round(bottom * factor) + dy), max(0, round(left * factor) + dx))
