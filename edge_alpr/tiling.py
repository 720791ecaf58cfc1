"""Finding small plates in big frames: run the detector on several views of a frame (the whole
frame, a fixed region, overlapping tiles) and merge what the views found into one box per plate.

The detector letterboxes whatever it is given to its square input, so the views decide how many
source pixels each model pixel stands for. ``StrategyConfig`` (``edge_alpr/config/strategy.py``)
picks the views; ``edge_alpr/bench/strategies.py`` measures the choices. Merging the views' boxes
into one per plate is ``view_merge``'s job.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.errors import ConfigError
from edge_alpr.types import Detections
from edge_alpr.view_merge import (  # noqa: F401  (re-exported: the views' boxes and how they merge)
    Rect,
    ViewBoxes,
    cut_sides,
    drop_big_tile_boxes,
    merge_views,
    sharpen_coarse_boxes,
)

ViewKind = Literal["whole", "roi", "tile", "region"]



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
        (or roi) and tiles, tile boxes kept only where the whole view is blind (``drop_big_tile_boxes``),
        and the whole view's boxes of small plates placed where a tile saw them (``sharpen_coarse_boxes``)."""
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
            side = max(coarse.width, coarse.height)
            kept = drop_big_tile_boxes(found, 0, side, self.input_size, cfg.auto_min_model_px)
            found = sharpen_coarse_boxes(kept, found, 0, side, self.input_size, cfg.auto_min_model_px)
        merged = merge_views(found, cfg.merge, cfg.merge_iou, cfg.merge_containment)
        if self.config.roi is not None and len(merged):
            merged = merged[centres_inside(merged.boxes, self.config.roi)]
        self.last_merge_ms = (time.perf_counter() - started) * 1000.0
        self.last_timings = tuple(timings)
        return merged
