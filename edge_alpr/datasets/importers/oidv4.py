"""OIDv4 toolkit downloads: ``<split>/<Class name>/Label/<stem>.txt``, ``Class name x1 y1 x2 y2`` in pixels."""
from __future__ import annotations

from pathlib import Path

from edge_alpr.datasets.importers.common import Context, images_in, parse_floats, split_from_path, text_lines
from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.errors import InputError


def read_oidv4(ctx: Context) -> None:
    if not any(p.is_dir() for p in ctx.base.rglob("Label")):
        raise InputError(f"{ctx.src}: no '<split>/<Class name>/Label/' folder found; "
                         "is this an OIDv4 toolkit download?")
    for image in images_in(ctx.base, recursive=True):
        if image.parent.name == "Label":
            continue
        label_file = image.parent / "Label" / f"{image.stem}.txt"
        if not label_file.is_file():
            ctx.report.skip("OIDv4 image without a Label/<name>.txt file", image)
            continue
        plates = _oidv4_plates(ctx, label_file)
        if plates is None:
            ctx.report.skip("image with annotation errors", image)
            continue
        size = ctx.image_size(image)
        if size is None:
            continue
        ctx.add(image, *size, plates, split_from_path(ctx.relpath(image)))


def _oidv4_plates(ctx: Context, label_file: Path) -> list[PlateBox] | None:
    plates: list[PlateBox] = []
    ok = True
    for lineno, line in text_lines(label_file):
        where = f"{label_file}:{lineno}"
        # Class names contain spaces ("Vehicle registration plate"): the numbers are the last 4.
        tokens = line.split()
        coords = parse_floats(tokens[-4:]) if len(tokens) >= 5 else None
        if coords is None:
            ctx.report.error(where, f"expected 'Class name x1 y1 x2 y2' (pixels), got {line!r}")
            ok = False
            continue
        x1, y1, x2, y2 = coords
        is_plate, _ = ctx.plate_label(" ".join(tokens[:-4]), where, text_allowed=False)
        if not is_plate:
            continue
        box = ctx.box(x1, y1, x2, y2, where)
        ok = ok and box is not None
        if box:
            plates.append(PlateBox(box))
    return plates if ok else None
