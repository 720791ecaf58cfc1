"""The daemon's review folder (see ``edge_alpr.datasets.review``), with the person's corrections."""
from __future__ import annotations

from edge_alpr.datasets.importers.common import PLATE_TEXT, Context, load_json
from edge_alpr.datasets.manifest import PlateBox, normalise_plate_text
from edge_alpr.datasets.review import ReviewItem
from edge_alpr.errors import InputError


def read_review(ctx: Context) -> None:
    sidecars = sorted(ctx.base.glob("*.json"))
    if not sidecars:
        raise InputError(f"{ctx.src}: no review .json sidecars found; is this the daemon's review folder?")
    for sidecar in sidecars:
        data = load_json(sidecar, ctx.report)
        if data is None:
            continue
        try:
            item = ReviewItem.from_json(data)
        except ValueError as exc:
            ctx.report.error(sidecar, str(exc))
            continue
        if item.text is None:
            ctx.report.skip("review item not reviewed yet (text is null)", sidecar)
            continue
        if not item.text.strip():
            ctx.report.skip('review item marked unreadable (text is "")', sidecar)
            continue
        text = normalise_plate_text(item.text)
        if not PLATE_TEXT.fullmatch(text):
            ctx.report.error(sidecar, f"'text' {item.text!r} has characters outside A-Z0-9")
            continue
        image = ctx.base / item.image
        if not image.is_file():
            ctx.report.error(sidecar, f"image {item.image!r} named by 'image' not found in {ctx.base}")
            continue
        box = ctx.box(*item.box, str(sidecar))
        if box is None:
            continue
        ctx.add(image, item.width, item.height, [PlateBox(box, text)],
                extra={"reviewed": True, "camera_id": item.camera_id})
