"""Finding small plates in big frames: run the detector on several views of a frame (the whole
frame, a fixed region, overlapping tiles) and merge what the views found into one box per plate.

The detector letterboxes whatever it is given to its square input, so the views decide how many
source pixels each model pixel stands for. ``StrategyConfig`` (``edge_alpr/config/strategy.py``)
picks the views; ``edge_alpr/bench/strategies.py`` measures the choices.

Merging across views has one problem NMS alone does not solve: a plate cut by a tile border
comes out of each tile as a fragment, and fragments overlap the whole plate (or each other)
too little for IoU. So every box remembers which of its sides touch a view edge inside the
frame ("cut" sides). A cut box is the same plate as a box from another view that mostly
contains it, or that it meets and agrees with on every axis where neither is cut. Fragments
lose to a whole view of the plate, and are joined into their union when no view saw it whole.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.detector import box_iou
from edge_alpr.errors import ConfigError
from edge_alpr.types import Detections

#: A rectangle of frame pixels: x1, y1, x2, y2 with x2/y2 exclusive, as in ``image[y1:y2, x1:x2]``.
Rect = tuple[int, int, int, int]
ViewKind = Literal["whole", "roi", "tile", "region"]

# Sides of a box, in the order of the ``cut`` columns.
LEFT, TOP, RIGHT, BOTTOM = range(4)


class ViewDetector(Protocol):
    """Anything that finds plates in one image, boxes in that image's pixels (``PlateDetector``)."""

    def detect(self, image_bgr: np.ndarray) -> Detections: ...


# --------------------------------------------------------------------------- geometry


def _axis_starts(length: int, tile: int, overlap_px: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px along an axis of ``length`` px.

    The first tile starts at 0 and the last ends at ``length``; the ones between are spread
    evenly, so every neighbouring pair shares at least ``overlap_px`` (rounding the even
    spacing never exceeds the stride ``tile - overlap_px``, which is an integer).
    """
    if length <= tile:
        return [0]
    stride = tile - overlap_px
    count = -(-(length - tile) // stride) + 1  # ceil division
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_grid(frame_w: int, frame_h: int, tile_size: int, overlap: float) -> list[Rect]:
    """Square tiles of ``tile_size`` px covering every pixel of a ``frame_w`` x ``frame_h`` frame.

    Neighbouring tiles share at least ``overlap`` x ``tile_size`` px (rounded down); the last row
    and column are snapped to the frame border, never past it. A tile is smaller than
    ``tile_size`` only along an axis where the frame itself is. Row-major order.
    """
    if frame_w < 1 or frame_h < 1:
        raise ValueError(f"frame size must be positive, got {frame_w}x{frame_h}")
    if tile_size < 1:
        raise ValueError(f"tile_size must be at least 1 px, got {tile_size}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap}")
    overlap_px = int(overlap * tile_size)
    tw, th = min(tile_size, frame_w), min(tile_size, frame_h)
    xs = _axis_starts(frame_w, tile_size, overlap_px)
    ys = _axis_starts(frame_h, tile_size, overlap_px)
    return [(x, y, x + tw, y + th) for y in ys for x in xs]


def roi_bounds(polygon: Sequence[tuple[float, float]], frame_w: int | None = None, frame_h: int | None = None) -> Rect:
    """The polygon's bounding box in whole pixels (grown outwards), clipped to the frame when its
    size is given. Raises ``ConfigError`` when the polygon lies entirely outside the frame."""
    points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x1, y1 = (int(v) for v in np.floor(points.min(axis=0)))
    x2, y2 = (int(v) for v in np.ceil(points.max(axis=0)))
    if frame_w is not None and frame_h is not None:
        clipped = max(0, x1), max(0, y1), min(frame_w, x2), min(frame_h, y2)
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            raise ConfigError(
                f"detector strategy roi spans x {x1}..{x2}, y {y1}..{y2}, which is outside the "
                f"{frame_w}x{frame_h} frame; give roi points in this camera's frame pixels"
            )
        return clipped
    return x1, y1, x2, y2


def polygon_mask(polygon: Sequence[tuple[float, float]], frame_w: int, frame_h: int) -> np.ndarray:
    """Boolean (frame_h, frame_w) mask, True inside the polygon (its border included)."""
    mask = np.zeros((frame_h, frame_w), np.uint8)
    points = np.round(np.asarray(polygon, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [points], 1)
    return mask.astype(bool)


def centres_inside(boxes: np.ndarray, polygon: Sequence[tuple[float, float]]) -> np.ndarray:
    """True for each (N, 4) box whose centre lies inside the polygon or on its border."""
    contour = np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in centres], bool)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class View:
    """One part of the frame the detector is run on."""

    kind: ViewKind
    rect: Rect

    @property
    def width(self) -> int:
        return self.rect[2] - self.rect[0]

    @property
    def height(self) -> int:
        return self.rect[3] - self.rect[1]


@dataclass(frozen=True)
class ViewTiming:
    """How long one view's detector run took in the last ``detect`` call, for the bench."""

    view: View
    ms: float
    boxes: int  # boxes the detector returned for this view, before merging


def choose_mode(config: StrategyConfig, frame_w: int, frame_h: int, input_size: int, min_plate_px: float) -> str:
    """The mode ``config`` means on this frame size: ``auto`` becomes one view of the frame (or of
    the roi's bounding box: ``whole`` / ``roi``) when a plate ``min_plate_px`` wide is still
    ``auto_min_model_px`` wide once that view is shrunk to the ``input_size`` px detector input,
    else ``motion`` (regions where things move; tiles when no regions are given)."""
    if config.mode != "auto":
        return config.mode
    x1, y1, x2, y2 = roi_bounds(config.roi, frame_w, frame_h) if config.roi is not None else (0, 0, frame_w, frame_h)
    shrink = min(1.0, input_size / max(x2 - x1, y2 - y1))
    if min_plate_px * shrink >= config.auto_min_model_px:
        return "whole" if config.roi is None else "roi"
    return "motion"


def plan_views(config: StrategyConfig, frame_w: int, frame_h: int, mode: str | None = None) -> list[View]:
    """The views ``config`` (in ``mode``, default its own) asks for on a ``frame_w`` x ``frame_h``
    frame, whole view first. ``motion`` without regions (a still image) is ``tiles``."""
    mode = mode or config.mode
    if mode == "auto":
        raise ValueError("plan_views needs the mode auto stands for on this frame: see choose_mode")
    whole = View("whole", (0, 0, frame_w, frame_h))
    region = roi_bounds(config.roi, frame_w, frame_h) if config.roi is not None else whole.rect

    def tiles() -> list[View]:
        x0, y0, x1, y1 = region
        grid = tile_grid(x1 - x0, y1 - y0, config.tile_size, config.tile_overlap)
        return [View("tile", (x0 + a, y0 + b, x0 + c, y0 + d)) for a, b, c, d in grid]

    if mode == "whole":
        return [whole]
    if mode == "roi":
        return [View("roi", region)]
    if mode in ("tiles", "motion"):
        return tiles()
    far = tiles() if config.far == "tiles" else [View("roi", region)]
    # A far view identical to the whole frame (a small frame, one tile) would only repeat it.
    return [whole] + [v for v in far if v.rect != whole.rect]


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


# --------------------------------------------------------------------------- merging


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


# --------------------------------------------------------------------------- the detector


class MultiViewDetector:
    """Runs ``detector`` on the views ``config`` asks for and merges them: the same
    ``detect(image) -> Detections`` as ``PlateDetector``, boxes in frame pixels. In ``motion``
    mode (and ``auto`` on big frames) the caller may pass the regions to look at
    (``edge_alpr.regions``); without them it looks at tiles.

    ``min_plate_px`` is the narrowest plate wanted (``detector.min_plate_width_px``): ``auto``
    picks the whole frame only where such a plate survives the shrink to the detector input.
    ``last_timings`` holds each view's detector time in the last call and ``last_merge_ms`` the
    merge's, for the bench and the service's latency figures. Not thread-safe (one loop calls it).
    """

    def __init__(self, detector: ViewDetector, config: StrategyConfig, min_plate_px: float = 32.0) -> None:
        self.detector = detector
        self.config = config
        self.min_plate_px = min_plate_px
        self.input_size = int(getattr(detector, "input_size", 320))
        self.model_info = getattr(detector, "model_info", {})
        self.last_timings: tuple[ViewTiming, ...] = ()
        self.last_merge_ms = 0.0
        self._views_for_size: dict[tuple[int, int], list[View]] = {}

    def mode(self, frame_w: int, frame_h: int) -> str:
        """The mode used on frames of this size (``auto`` resolved)."""
        return choose_mode(self.config, frame_w, frame_h, self.input_size, self.min_plate_px)

    def uses_regions(self, frame_w: int, frame_h: int) -> bool:
        """True when frames of this size are looked at in motion regions (given by the caller)."""
        return self.mode(frame_w, frame_h) == "motion"

    def still_auto(self, frame_w: int, frame_h: int) -> bool:
        """True when ``auto`` looks at a big frame without regions (a still image): the whole frame
        (or roi) and tiles, tile boxes kept only where the whole view is blind (``drop_big_tile_boxes``)."""
        return self.config.mode == "auto" and self.uses_regions(frame_w, frame_h)

    def views(self, frame_w: int, frame_h: int) -> list[View]:
        """The views of a frame of this size when no regions are given (planned once per size)."""
        key = (frame_w, frame_h)
        if key not in self._views_for_size:
            views = plan_views(self.config, frame_w, frame_h, self.mode(frame_w, frame_h))
            if self.still_auto(frame_w, frame_h):
                coarse = plan_views(self.config, frame_w, frame_h, "whole" if self.config.roi is None else "roi")
                views = coarse + [v for v in views if v.rect != coarse[0].rect]
            self._views_for_size[key] = views
        return self._views_for_size[key]

    def detect(self, image_bgr: np.ndarray, regions: Sequence[Rect] | None = None) -> Detections:
        """Plates in ``image_bgr`` (H, W, 3), merged across views, whose centre is in the roi.
        ``regions`` (frame pixels) replace the views where this frame size uses regions; an empty
        list there means nothing to look at: no detector run, no plate."""
        if image_bgr is None or image_bgr.ndim != 3:
            shape = None if image_bgr is None else image_bgr.shape
            raise ValueError(f"expected a BGR image of shape (H, W, 3), got {shape}")
        frame_h, frame_w = image_bgr.shape[:2]
        if regions is not None and self.uses_regions(frame_w, frame_h):
            views = [View("region", tuple(int(v) for v in r)) for r in regions]  # type: ignore[misc]
        else:
            views = self.views(frame_w, frame_h)
        parts, timings = [], []
        for index, view in enumerate(views):
            x1, y1, x2, y2 = view.rect
            started = time.perf_counter()
            found = self.detector.detect(image_bgr[y1:y2, x1:x2])
            timings.append(ViewTiming(view, (time.perf_counter() - started) * 1000.0, len(found)))
            boxes = found.boxes + np.array([x1, y1, x1, y1], np.float32)
            parts.append(ViewBoxes(
                boxes, found.scores, np.full(len(boxes), index),
                cut_sides(boxes, view.rect, frame_w, frame_h, self.config.cut_edge_margin),
                np.full(len(boxes), float(max(view.width, view.height))),
            ))
        started = time.perf_counter()
        cfg = self.config
        found = ViewBoxes.concat(parts)
        if regions is None and self.still_auto(frame_w, frame_h):
            coarse = views[0]
            found = drop_big_tile_boxes(found, 0, max(coarse.width, coarse.height), self.input_size,
                                        cfg.auto_min_model_px)
        merged = merge_views(found, cfg.merge, cfg.merge_iou, cfg.merge_containment)
        if self.config.roi is not None and len(merged):
            merged = merged[centres_inside(merged.boxes, self.config.roi)]
        self.last_merge_ms = (time.perf_counter() - started) * 1000.0
        self.last_timings = tuple(timings)
        return merged
