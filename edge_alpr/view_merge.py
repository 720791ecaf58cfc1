"""Merging what several views of one frame found into one box per plate (``tiling`` plans and
runs the views).

Merging across views has one problem NMS alone does not solve: a plate cut by a tile border
comes out of each tile as a fragment, and fragments overlap the whole plate (or each other)
too little for IoU. So every box remembers which of its sides touch a view edge inside the
frame ("cut" sides). A cut box is the same plate as a box from another view that mostly
contains it, or that it meets and agrees with on every axis where neither is cut. Fragments
lose to a whole view of the plate, and are joined into their union when no view saw it whole.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge_alpr.detector import box_iou
from edge_alpr.types import Detections

#: A rectangle of frame pixels: x1, y1, x2, y2 with x2/y2 exclusive, as in ``image[y1:y2, x1:x2]``.
Rect = tuple[int, int, int, int]

# Sides of a box, in the order of the ``cut`` columns.
LEFT, TOP, RIGHT, BOTTOM = range(4)


def cut_sides(boxes: np.ndarray, view: Rect, frame_w: int, frame_h: int, margin: float) -> np.ndarray:
    """(N, 4) bool, columns left/top/right/bottom: the box (frame pixels) reaches within
    ``margin`` x the view's longer side of that view edge, and the edge is inside the frame, so
    the plate may go on beyond it. A frame border cuts nothing: no view sees past it."""
    x1, y1, x2, y2 = view
    tol = margin * max(x2 - x1, y2 - y1)
    cut = np.zeros((len(boxes), 4), dtype=bool)
    cut[:, LEFT] = (x1 > 0) & (boxes[:, 0] <= x1 + tol)
    cut[:, TOP] = (y1 > 0) & (boxes[:, 1] <= y1 + tol)
    cut[:, RIGHT] = (x2 < frame_w) & (boxes[:, 2] >= x2 - tol)
    cut[:, BOTTOM] = (y2 < frame_h) & (boxes[:, 3] >= y2 - tol)
    return cut


@dataclass(frozen=True)
class ViewBoxes:
    """Boxes from all views of one frame, in frame pixels, before merging."""

    boxes: np.ndarray  # float32 (N, 4)
    scores: np.ndarray  # float32 (N,)
    view: np.ndarray  # int (N,): index of the view each box came from
    cut: np.ndarray  # bool (N, 4): see cut_sides
    view_side: np.ndarray  # float (N,): the longer side of the box's view in frame px; the detector
    # letterboxes the view, so one model pixel spans view_side / input_size frame pixels

    @classmethod
    def concat(cls, parts: Sequence[ViewBoxes]) -> ViewBoxes:
        if not parts:
            return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                       np.zeros((0, 4), bool), np.zeros(0, np.float64))
        return cls(
            np.concatenate([p.boxes for p in parts]).astype(np.float32),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            np.concatenate([p.view for p in parts]).astype(np.int64),
            np.concatenate([p.cut for p in parts]),
            np.concatenate([p.view_side for p in parts]).astype(np.float64),
        )


def _axis_iou(lo_a: np.ndarray, hi_a: np.ndarray, lo_b: np.ndarray, hi_b: np.ndarray) -> np.ndarray:
    """1-D IoU of every interval a with every interval b."""
    inter = np.clip(np.minimum(hi_a[:, None], hi_b[None]) - np.maximum(lo_a[:, None], lo_b[None]), 0, None)
    union = (hi_a - lo_a)[:, None] + (hi_b - lo_b)[None] - inter
    return inter / np.maximum(union, 1e-9)


def same_plate_matrix(found: ViewBoxes, iou: float, containment: float) -> np.ndarray:
    """(N, N) bool: boxes i and j show the same plate.

    They do when one has at least ``containment`` of its area inside the other: plates never
    nest, so this is a partial or coarse box of one plate, from any view (the detector's own NMS
    keeps a box of a plate's text inside the plate's box). Boxes from different views also do
    when their IoU is at least ``iou``, or when at least one is cut, they meet, and on every axis
    where neither is cut their extents agree (1-D IoU at least ``iou``): two fragments of a plate
    split between neighbouring tiles.
    """
    b = found.boxes.astype(np.float64)
    pair_iou = box_iou(b, b)
    tl = np.maximum(b[:, None, :2], b[None, :, :2])
    br = np.minimum(b[:, None, 2:], b[None, :, 2:])
    overlap_wh = np.clip(br - tl, 0, None)
    inter = overlap_wh[..., 0] * overlap_wh[..., 1]
    area = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    contained = inter / np.maximum(np.minimum(area[:, None], area[None]), 1e-9)

    x_cut = found.cut[:, LEFT] | found.cut[:, RIGHT]
    y_cut = found.cut[:, TOP] | found.cut[:, BOTTOM]
    either_x_cut = x_cut[:, None] | x_cut[None]
    either_y_cut = y_cut[:, None] | y_cut[None]
    x_agrees = either_x_cut | (_axis_iou(b[:, 0], b[:, 2], b[:, 0], b[:, 2]) >= iou)
    y_agrees = either_y_cut | (_axis_iou(b[:, 1], b[:, 3], b[:, 1], b[:, 3]) >= iou)
    any_cut = (x_cut | y_cut)[:, None] | (x_cut | y_cut)[None]
    fragments = any_cut & (inter > 0) & x_agrees & y_agrees

    other_view = found.view[:, None] != found.view[None]
    same = (contained >= containment) | (other_view & ((pair_iou >= iou) | fragments))
    np.fill_diagonal(same, False)
    return same


def _fused_box(found: ViewBoxes, seed: int, whole: np.ndarray, iou: float) -> np.ndarray:
    """Weighted box fusion of the group's whole boxes that overlap the seed by ``iou``; boxes
    only contained in it (a plate's text, a coarse view) are duplicates, not estimates of it."""
    fused = whole & (box_iou(found.boxes[seed : seed + 1], found.boxes)[0] >= iou)
    fused[seed] = True
    weights = fusion_weights(found.scores[fused], found.view_side[fused])
    return (found.boxes[fused] * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-9)


def fusion_weights(scores: np.ndarray, view_side: np.ndarray) -> np.ndarray:
    """How much each box counts in a fusion: its score per frame pixel of one model pixel, as a
    box is as precise as its view's pixels are fine."""
    return scores.astype(np.float64) / view_side


def merge_views(found: ViewBoxes, method: Literal["nms", "wbf"], iou: float, containment: float) -> Detections:
    """One box per plate from the boxes of all views, best score first.

    Greedy like NMS: the best box not yet used (whole boxes before cut ones) starts a group,
    which takes every box showing the same plate as it, plus fragments showing the same plate
    as any member. A group with whole boxes gives the best-scored one (``nms``) or the fusion of
    those overlapping it (``wbf``), its fragments dropped; a group of fragments only gives their
    union. The score is the group's best: a plate seen in one view is no less likely for it.
    """
    n = len(found.boxes)
    if n == 0:
        return Detections.empty()
    same = same_plate_matrix(found, iou, containment)
    is_cut = found.cut.any(axis=1)
    order = np.lexsort((-found.scores, is_cut))  # whole boxes first, then by score
    used = np.zeros(n, dtype=bool)
    out_boxes, out_scores = [], []
    for seed in order:
        if used[seed]:
            continue
        members = ~used & same[seed]
        members[seed] = True
        members |= ~used & is_cut & same[members].any(axis=0)
        used |= members
        whole = members & ~is_cut
        if whole.any():
            box = found.boxes[seed] if method == "nms" else _fused_box(found, seed, whole, iou)
        else:
            parts = found.boxes[members]
            box = np.concatenate([parts[:, :2].min(axis=0), parts[:, 2:].max(axis=0)])
        out_boxes.append(box)
        out_scores.append(found.scores[members].max())
    boxes = np.asarray(out_boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(out_scores, np.float32)
    best_first = np.argsort(-scores, kind="stable")
    return Detections(boxes[best_first], scores[best_first])


def drop_big_tile_boxes(found: ViewBoxes, coarse_view: int, coarse_side: float, input_size: int,
                        min_seen_px: float) -> ViewBoxes:
    """``found`` without the boxes of the other views (tiles) that would be at least
    ``min_seen_px`` input pixels wide in the coarse view (``coarse_view``: the whole frame,
    letterboxed from ``coarse_side`` px to ``input_size``). The coarse view speaks for plates that
    big, found or not: on big stills the tiles' boxes of them are textures (signboards, grilles)
    the shrunk frame rightly ignores, plates cut by tile edges, and boxes of plates it found that
    fusion would only move off the plate. The tiles keep the plates the coarse view is blind to."""
    seen = (found.view != coarse_view) & (
        (found.boxes[:, 2] - found.boxes[:, 0]) * (input_size / coarse_side) >= min_seen_px)
    keep = ~seen
    return ViewBoxes(found.boxes[keep], found.scores[keep], found.view[keep], found.cut[keep], found.view_side[keep])


def sharpen_coarse_boxes(kept: ViewBoxes, found: ViewBoxes, coarse_view: int, coarse_side: float,
                         input_size: int, min_seen_px: float) -> ViewBoxes:
    """``kept`` with each coarse-view box narrower than 2 x ``min_seen_px`` input pixels moved
    onto the surest uncut tile box of the same plate in ``found`` (IoU >= 0.3, area within 2x).
    A plate that small is a few input pixels high in the shrunk frame, so one pixel of error
    there is a large share of it; the tile saw it at native resolution. The coarse box's score
    stands: it is the coarse view that found the plate."""
    scale = input_size / coarse_side
    tiles = (found.view != coarse_view) & ~found.cut.any(axis=1)
    if not tiles.any() or not len(kept.boxes):
        return kept
    tile_boxes, tile_scores = found.boxes[tiles], found.scores[tiles]
    tile_areas = (tile_boxes[:, 2] - tile_boxes[:, 0]) * (tile_boxes[:, 3] - tile_boxes[:, 1])
    boxes = kept.boxes.copy()
    small = (kept.view == coarse_view) & ((boxes[:, 2] - boxes[:, 0]) * scale < 2 * min_seen_px)
    for i in np.flatnonzero(small):
        area = max(float((boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])), 1e-6)
        same = (box_iou(boxes[i][None], tile_boxes)[0] >= 0.3) & (tile_areas >= 0.5 * area) & (tile_areas <= 2 * area)
        if same.any():
            boxes[i] = tile_boxes[np.flatnonzero(same)[np.argmax(tile_scores[same])]]
    return ViewBoxes(boxes, kept.scores, kept.view, kept.cut, kept.view_side)


# --------------------------------------------------------------------------- the detector
