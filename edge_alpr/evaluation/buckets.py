"""The buckets plate-text figures are split by: plate height, layout (one/two lines), plate
width as a share of the image width, and plate colour where the manifest gives it."""
from __future__ import annotations

from typing import Literal

from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.evaluation.metrics import TextSummary, height_bucket

Layout = Literal["one", "two"]

#: A plate box narrower than this many heights is taken to be two-line where the manifest
#: does not say (an Indian one-line plate is 500x120 mm, ~4.2; a two-line one 340x200, ~1.7).
TWO_LINE_MAX_ASPECT = 2.2

#: The order buckets are shown in (the accumulator sorts them alphabetically).
BUCKET_ORDER: dict[str, tuple[str, ...]] = {
    "height": ("<20", "20-40", ">40"),
    "layout": ("one", "two"),
    "width": ("<3%", "3-6%", ">6%"),
    "background": ("white", "yellow", "green", "black", "red", "blue", "other"),
}
BUCKET_TITLES = {"height": "plate height (px)", "layout": "layout", "width": "plate width / image width",
                 "background": "plate colour"}


def plate_layout(plate: PlateBox) -> Layout:
    """The manifest's ``layout`` where given, else a guess from the box's aspect ratio."""
    if plate.layout in ("one", "two"):
        return plate.layout  # type: ignore[return-value]
    x1, y1, x2, y2 = plate.outline
    width, height = x2 - x1, y2 - y1
    return "two" if height > 0 and width / height < TWO_LINE_MAX_ASPECT else "one"


def width_bucket(plate_width: float, image_width: float) -> str:
    """Plate width as a share of the image width: ``"<3%"``, ``"3-6%"``, ``">6%"``. A plate
    filling under 3 % of a 1280 px frame is under 38 px wide: far, or a wide-angle camera."""
    share = plate_width / image_width if image_width > 0 else 0.0
    if share < 0.03:
        return "<3%"
    return "3-6%" if share <= 0.06 else ">6%"


def plate_buckets(plate: PlateBox, image_width: float) -> dict[str, str]:
    x1, y1, x2, y2 = plate.outline
    buckets = {
        "height": height_bucket(y2 - y1),
        "layout": plate_layout(plate),
        "width": width_bucket(x2 - x1, image_width),
    }
    if plate.background:  # only labelled sets say; a guess from pixels would be the thing measured
        buckets["background"] = plate.background
    return buckets


def ordered_buckets(by_bucket: dict[str, dict[str, TextSummary]]) -> dict[str, dict[str, TextSummary]]:
    """The accumulator's buckets in reading order (small to large), unknown names last."""
    out = {}
    keys = [k for k in BUCKET_ORDER if k in by_bucket] + sorted(k for k in by_bucket if k not in BUCKET_ORDER)
    for key in keys:
        values = by_bucket[key]
        order = BUCKET_ORDER.get(key, ())
        names = [n for n in order if n in values] + sorted(n for n in values if n not in order)
        out[key] = {n: values[n] for n in names}
    return out
