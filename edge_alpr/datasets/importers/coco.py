"""COCO JSON (``bbox`` = x, y, w, h pixels), text from ``attributes.text`` or ``text``."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from edge_alpr.datasets.importers.common import TEXT_ATTRIBUTES, Context, class_key, load_json, split_from_path
from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.errors import InputError

_COCO_KEYS = ("images", "annotations", "categories")


def read_coco(ctx: Context) -> None:
    files = [ctx.src] if ctx.src.is_file() else sorted(ctx.src.rglob("*.json"))
    found = False
    for path in files:
        data = load_json(path, ctx.report)
        is_coco = isinstance(data, dict) and all(isinstance(data.get(k), list) for k in _COCO_KEYS)
        if not is_coco:
            if data is not None:
                ctx.report.skip("JSON file that is not COCO (no images/annotations/categories)", path)
            continue
        found = True
        _read_coco_file(ctx, path, data)
    if not found:
        raise InputError(f"{ctx.src}: no COCO JSON (with images, annotations and categories) found")


def _read_coco_file(ctx: Context, path: Path, data: dict) -> None:
    categories = {c.get("id"): str(c.get("name", "")) for c in data["categories"]}
    by_image: dict[object, list[tuple[int, dict]]] = {}
    for index, ann in enumerate(data["annotations"]):
        by_image.setdefault(ann.get("image_id"), []).append((index, ann))
    split = split_from_path(path.relative_to(ctx.base), use_stem=True)
    here = path.parent
    for img in data["images"]:
        file_name = str(img.get("file_name", ""))
        image, tried = ctx.find_image([file_name, PurePosixPath(file_name).name],
                                      [here, here / "images", here.parent / "images"])
        if image is None:
            ctx.report.error(f"{path}: images[id={img.get('id')}]",
                             f"image {file_name!r} not found; looked in {', '.join(map(str, tried))}")
            ctx.report.skip("annotation whose image is missing", path)
            continue
        plates = _coco_plates(ctx, path, by_image.get(img.get("id"), []), categories)
        if plates is None:
            ctx.report.skip("image with annotation errors", image)
            continue
        try:
            width, height = int(img["width"]), int(img["height"])
        except (KeyError, TypeError, ValueError):
            size = ctx.image_size(image)
            if size is None:
                continue
            width, height = size
        ctx.add(image, width, height, plates, split or split_from_path(ctx.relpath(image)))


def _coco_plates(ctx: Context, path: Path, anns: list[tuple[int, dict]], categories: dict) -> list[PlateBox] | None:
    plates = []
    ok = True
    for index, ann in anns:
        where = f"{path}: annotations[{index}] (id {ann.get('id')})"
        if ann.get("category_id") not in categories:
            ctx.report.error(where, f"category_id {ann.get('category_id')!r} is not in 'categories'")
            ok = False
            continue
        is_plate, text = ctx.plate_label(categories[ann["category_id"]], where, text_allowed=True)
        if not is_plate:
            continue
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
        except (KeyError, TypeError, ValueError):
            ctx.report.error(where, f"expected 'bbox': [x, y, width, height] in pixels, got {ann.get('bbox')!r}")
            ok = False
            continue
        attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        raw = next((v for k, v in {**attributes, **ann}.items() if class_key(k) in TEXT_ATTRIBUTES and v), None)
        text = ctx.plate_text(raw, where) if raw is not None else text
        box = ctx.box(x, y, x + w, y + h, where)
        ok = ok and box is not None
        if box:
            plates.append(PlateBox(box, text))
    return plates if ok else None
