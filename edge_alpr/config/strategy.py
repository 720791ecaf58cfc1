"""How the detector looks at a frame: the whole frame at once, a fixed region at native
resolution, overlapping tiles, the whole frame plus one of those (``two_scale``), the regions
where something moves (``motion``), or whichever of these suits the frame size (``auto``).

The detector letterboxes each view to its square input (typically 320 px), so a 1920 px frame
seen whole is shrunk six times and a plate 3 % of the frame wide becomes 10 px: too small to
find. Cropping (``roi``) or tiling (``tiles``) shows the detector fewer source pixels per view,
at the price of one detector run per view. ``edge_alpr.tiling.MultiViewDetector`` runs the
views and merges their boxes; ``edge_alpr/regions.py`` plans the motion regions;
``python -m edge_alpr.bench.strategies`` measures what each mode costs and finds.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge_alpr.config.base import StrictModel

StrategyMode = Literal["auto", "whole", "roi", "tiles", "two_scale", "motion"]

#: A polygon vertex in frame pixels; the bound makes errors name the path ``roi[2][0]``.
Coordinate = Annotated[int, Field(ge=0, le=100_000)]
Point = tuple[Coordinate, Coordinate]


def polygon_area(points: list[Point] | list[tuple[float, float]]) -> float:
    """Shoelace formula: the absolute area enclosed by the polygon."""
    twice = 0.0
    for (x1, y1), (x2, y2) in zip(points, list(points[1:]) + list(points[:1])):
        twice += x1 * y2 - x2 * y1
    return abs(twice) / 2.0


class StrategyConfig(StrictModel):
    """Which views of a frame the detector runs on, and how their boxes are merged."""

    mode: StrategyMode = Field(
        "auto",
        description="'auto': 'whole' on frames small enough that a plate of detector.min_plate_width_px "
        "is still auto_min_model_px wide in the detector input, else 'motion' in the daemon and 'tiles' "
        "on still images. 'motion': one run per region of tile_size px around what moved since the last "
        "detected frame and around the live tracks, at native resolution; nothing moving costs no run; "
        "without motion gating (or on a still image) it is 'tiles'. "
        "'whole': one detector run on the whole frame, cheapest, but plates narrower than "
        "about 3 % of the frame width are missed on big frames. 'roi': one run on the bounding box of "
        "'roi' (needs roi); a region no larger than the detector input sees plates at native resolution. "
        "'tiles': one run per overlapping tile of tile_size px over the roi's bounding box (or the "
        "frame): finds small plates everywhere, costs a run per tile. 'two_scale': the whole frame plus "
        "the far view chosen by 'far'; near (big) plates come from the whole view, far ones from the "
        "far view, at the cost of both.",
    )
    roi: list[Point] | None = Field(
        None,
        description="Region of interest in frame pixels: a polygon [[x, y], [x, y], [x, y], ...] of at least "
        "3 points, or a rectangle given as two opposite corners [[x1, y1], [x2, y2]]. Plates whose "
        "centre is outside are dropped in every mode; 'roi' mode and tiles look only at its bounding "
        "box. A tighter region saves detector time and false boxes but misses plates outside it.",
    )
    tile_size: int = Field(
        640, ge=64, le=8192,
        description="Source-frame pixels each (square) tile or motion region covers. Smaller tiles show plates bigger to the "
        "detector (a 640 px tile on a 320 px model halves them) but need more tiles, each a detector run; "
        "tiles below the model input size only upscale and add runs. Frames no bigger than this are one tile.",
    )
    tile_overlap: float = Field(
        0.25, ge=0.0, le=0.5,
        description="Fraction of tile_size that neighbouring tiles share (at least; the last row and column "
        "snap to the frame border, so they may share more). A plate narrower than tile_overlap x tile_size "
        "is whole in some tile; wider ones are cut and their fragments fused. More overlap keeps bigger "
        "plates whole but adds tiles.",
    )
    merge: Literal["nms", "wbf"] = Field(
        "wbf",
        description="How boxes of one plate seen in several views become one: 'nms' keeps the best-scored "
        "box; 'wbf' (weighted box fusion) averages the boxes weighted by score and by how fine the view's "
        "pixels are, so a tile's sharp box of a far plate outweighs the whole view's coarse one. Fragments of a plate "
        "cut by a tile edge are dropped when another view sees it whole, and joined when none does.",
    )
    merge_iou: float = Field(
        0.45, gt=0.0, lt=1.0,
        description="Boxes from different views with at least this IoU are one plate. Lower merges more "
        "(two plates close together may become one box); higher leaves duplicates across views.",
    )
    merge_containment: float = Field(
        0.7, gt=0.0, le=1.0,
        description="A box with at least this fraction of its area inside a box from another view is the "
        "same plate (plates never nest), which catches a fragment or a coarse whole-view box that IoU "
        "alone would miss. Lower merges more eagerly; higher leaves more duplicates.",
    )
    cut_edge_margin: float = Field(
        0.01, ge=0.0, le=0.1,
        description="A box within this fraction of its view's size of a view edge that is inside the frame "
        "(a tile or roi border, not the frame border) is treated as possibly cut by that edge. Larger "
        "catches fragments whose box stops a little short of the edge, but also treats more whole "
        "plates near tile edges as fragments (they then lose to another view's box of the same plate).",
    )
    auto_min_model_px: float = Field(
        12.0, ge=1.0, le=200.0,
        description="auto only: the narrowest plate (detector.min_plate_width_px) must be at least this many "
        "detector-input pixels wide for the whole frame to be enough; the detector finds few plates "
        "narrower than ~10 input pixels. Lower keeps 'whole' on bigger frames (cheaper, misses small plates); "
        "higher switches to regions or tiles sooner. On still images too big for 'whole' the whole frame "
        "and the tiles both run; plates at least this wide in the whole-frame view come from it alone "
        "(tiles fire on textures and cut big plates), narrower ones from the tiles. Higher keeps "
        "more tile boxes.",
    )
    region_track_growth: float = Field(
        2.0, ge=1.0, le=10.0,
        description="motion (and auto on big frames): each live track's predicted plate box is grown this many "
        "times its width and height before it becomes a region, so a plate that sped up is still inside. "
        "Larger is safer for fast plates; a region is tile_size wide anyway, so it rarely costs a run.",
    )
    far: Literal["tiles", "roi"] = Field(
        "tiles",
        description="two_scale only: the second, high-resolution view. 'tiles' covers the roi's bounding box "
        "(or the frame) with tiles; 'roi' is a single run on the roi's bounding box (needs roi), "
        "cheaper when the far part of the road is a small region.",
    )

    @field_validator("roi")
    @classmethod
    def _check_roi(cls, roi: list[Point] | None) -> list[Point] | None:
        if roi is None:
            return None
        if len(roi) == 2:
            (x1, y1), (x2, y2) = roi
            if x1 == x2 or y1 == y2:
                raise ValueError(
                    f"a rectangle's two corners must differ in both x and y, got {list(roi[0])} and {list(roi[1])}"
                )
            left, right, top, bottom = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
            return [(left, top), (right, top), (right, bottom), (left, bottom)]
        if len(roi) < 2:
            raise ValueError(
                f"expected a polygon of at least 3 [x, y] points or a rectangle of 2 corners, got {len(roi)} point(s)"
            )
        if polygon_area(roi) < 1.0:
            raise ValueError("the polygon has no area (are its points all on one line, or repeated?)")
        return roi

    @model_validator(mode="after")
    def _check_roi_is_given_when_needed(self) -> StrategyConfig:
        if self.mode == "roi" and self.roi is None:
            raise ValueError("mode 'roi' needs a roi: a polygon [[x, y], ...] or a rectangle [[x1, y1], [x2, y2]]")
        if self.mode == "two_scale" and self.far == "roi" and self.roi is None:
            raise ValueError("mode 'two_scale' with far 'roi' needs a roi; give one or use far 'tiles'")
        return self
