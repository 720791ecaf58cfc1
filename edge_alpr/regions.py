"""Motion regions: where in a big frame the detector should look, from what moved and where the
live tracks are heading (the way Frigate picks its detection regions).

    changed-pixel mask -> boxes (frame pixels) -> merged boxes -> detector-sized regions

The motion gate already compares a small grey copy of each frame with the last frame the
detector saw; the pixels that changed are vehicles moving. Each moving area, and the predicted
box of each live track (grown, so a plate that moved on is still inside), becomes a square
region of ``size`` frame pixels at native resolution: a far plate keeps its pixels instead of
being shrunk with the whole frame. Areas that overlap, or that one region can hold together, are
merged first, so two cars side by side cost one detector run; a moving area bigger than a region
is covered by overlapping regions (tiles of it). No motion and no live track: no region, no run.

Every function is pure (arrays in, rectangles out), so the pipeline and the strategies bench
plan regions the same way.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from edge_alpr.tiling import Rect, tile_grid

#: Changed mask pixels are grown by this many pixels before grouping: the edges of one vehicle
#: that moved (front, wheels, roof) become one area instead of a scatter of small ones.
MASK_DILATE_PX = 2


def mask_boxes(mask: np.ndarray, frame_w: int, frame_h: int, min_pixels: int = 2) -> np.ndarray:
    """Bounding boxes, in frame pixels, of the groups of changed pixels of a small ``mask``.

    ``mask`` (h, w) bool covers the whole ``frame_w`` x ``frame_h`` frame at a lower resolution;
    each box is scaled up and rounded outwards to whole frame pixels. Groups of fewer than
    ``min_pixels`` changed pixels (after dilation) are noise and give no box. Returns (N, 4) float32.
    """
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"expected a 2-D motion mask, got shape {mask.shape}")
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * MASK_DILATE_PX + 1,) * 2, np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    sx, sy = frame_w / mask.shape[1], frame_h / mask.shape[0]
    boxes = [
        (np.floor(x * sx), np.floor(y * sy), np.ceil((x + w) * sx), np.ceil((y + h) * sy))
        for x, y, w, h, area in stats[1:count]
        if area >= min_pixels
    ]
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def expand_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Each (N, 4) box grown about its centre to ``factor`` times its width and height."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return np.concatenate([centre - half, centre + half], axis=1)


def _square_around(box: np.ndarray, size: int, bounds: Rect) -> Rect:
    """A ``size`` x ``size`` rectangle centred on ``box``, shifted to lie inside ``bounds``
    (and cut to them along an axis where they are smaller than ``size``)."""
    bx1, by1, bx2, by2 = bounds

    def axis(lo: float, hi: float, start: int, end: int) -> tuple[int, int]:
        side = min(size, end - start)
        first = round((lo + hi) / 2 - side / 2)
        first = min(max(first, start), end - side)
        return first, first + side

    x1, x2 = axis(float(box[0]), float(box[2]), bx1, bx2)
    y1, y2 = axis(float(box[1]), float(box[3]), by1, by2)
    return x1, y1, x2, y2


def box_regions(boxes: np.ndarray, size: int, overlap: float, bounds: Rect) -> list[Rect]:
    """Detector regions for areas to look at: a ``size`` px square centred on each box that fits
    in one, and tiles of ``size`` px (sharing ``overlap`` of a tile) over each box that does not,
    so a big moving area is seen at native resolution too. Boxes are clipped to ``bounds``
    (the frame, or the roi's bounding box); boxes wholly outside give nothing."""
    bx1, by1, bx2, by2 = bounds
    regions: list[Rect] = []
    for box in np.asarray(boxes, np.float32).reshape(-1, 4):
        x1, y1 = max(float(box[0]), bx1), max(float(box[1]), by1)
        x2, y2 = min(float(box[2]), bx2), min(float(box[3]), by2)
        if x2 <= x1 or y2 <= y1:
            continue
        if x2 - x1 <= size and y2 - y1 <= size:
            regions.append(_square_around(np.array([x1, y1, x2, y2]), size, bounds))
            continue
        # Tiles over the area, grown to a whole tile along an axis where it is narrower.
        ax1, ay1, ax2, ay2 = _square_around(np.array([x1, y1, x2, y2]), size, bounds)
        left, top = int(min(np.floor(x1), ax1)), int(min(np.floor(y1), ay1))
        right, bottom = int(max(np.ceil(x2), ax2)), int(max(np.ceil(y2), ay2))
        for tx1, ty1, tx2, ty2 in tile_grid(right - left, bottom - top, size, overlap):
            regions.append((left + tx1, top + ty1, left + tx2, top + ty2))
    return regions


def _fits(box: np.ndarray, size: int) -> bool:
    return bool(box[2] - box[0] <= size and box[3] - box[1] <= size)


def merge_boxes(boxes: np.ndarray, size: int) -> np.ndarray:
    """Areas to look at, merged: two boxes become their union when they overlap or when the union
    still fits in one region of ``size`` px, so neighbouring cars share a detector run and one
    vehicle's scattered motion is one area. Repeats until nothing merges; (N, 4) float32."""
    merged = [b for b in np.asarray(boxes, np.float32).reshape(-1, 4)]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                union = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])
                overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
                if overlap or _fits(union, size):
                    merged = [m for k, m in enumerate(merged) if k not in (i, j)] + [union]
                    changed = True
                    break
            if changed:
                break
    return np.asarray(merged, np.float32).reshape(-1, 4)


def drop_contained(regions: Sequence[Rect]) -> list[Rect]:
    """The regions without repeats and without those lying wholly inside another, sorted."""
    unique = sorted(set(regions))
    return [r for r in unique if not any(
        o != r and o[0] <= r[0] and o[1] <= r[1] and o[2] >= r[2] and o[3] >= r[3] for o in unique)]


def plan_regions(
    mask: np.ndarray | None,
    track_boxes: np.ndarray,
    *,
    frame_w: int,
    frame_h: int,
    bounds: Rect | None = None,
    size: int,
    overlap: float,
    track_growth: float,
    min_pixels: int = 2,
) -> list[Rect]:
    """The merged detector regions of one frame: from the changed pixels ``mask`` (covering
    ``bounds``, the part of the frame the motion gate watches; None when nothing moved) and
    the predicted boxes of the live tracks, grown ``track_growth`` times. Empty: do not detect."""
    bounds = bounds or (0, 0, frame_w, frame_h)
    bx1, by1, bx2, by2 = bounds
    boxes = [expand_boxes(track_boxes, track_growth)]
    if mask is not None:
        moving = mask_boxes(mask, bx2 - bx1, by2 - by1, min_pixels)
        boxes.append(moving + np.array([bx1, by1, bx1, by1], np.float32))
    return drop_contained(box_regions(merge_boxes(np.concatenate(boxes), size), size, overlap, bounds))
