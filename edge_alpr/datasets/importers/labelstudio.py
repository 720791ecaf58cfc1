"""Label Studio's JSON export: rectangles in percent of the original size, text from a textarea."""
from __future__ import annotations

import re
from math import cos, radians, sin
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlparse

from edge_alpr.datasets.importers.common import Context, load_json, split_from_path
from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.errors import InputError

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes uploaded files with a hash
_TEXT_FROM_NAMES = frozenset({"text", "transcription"})


def read_labelstudio(ctx: Context) -> None:
    files = [ctx.src] if ctx.src.is_file() else sorted(ctx.src.glob("*.json"))
    if not files:
        raise InputError(f"{ctx.src}: no .json file found; export the project from Label Studio as JSON")
    for path in files:
        data = load_json(path, ctx.report)
        if data is None:
            continue
        if not (isinstance(data, list) and all(isinstance(t, dict) and "data" in t for t in data)):
            ctx.report.error(path, "expected Label Studio's JSON export: a list of tasks with 'data' and "
                                   "'annotations' (JSON-MIN and CSV exports are not supported)")
            continue
        for index, task in enumerate(data):
            _read_labelstudio_task(ctx, path, index, task)


def _read_labelstudio_task(ctx: Context, path: Path, index: int, task: dict) -> None:
    where = f"{path}: task {task.get('id', f'#{index}')}"
    annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not annotations:
        ctx.report.skip("Label Studio task without a finished annotation", where)
        return
    if len(annotations) > 1:
        ctx.report.warn(where, f"{len(annotations)} annotations; using the first (id {annotations[0].get('id')})")
    image = _labelstudio_image(ctx, task, where)
    if image is None:
        ctx.report.skip("annotation whose image is missing", where)
        return
    results = annotations[0].get("result") or []
    rects = [r for r in results if r.get("type") == "rectanglelabels"]
    texts = [r for r in results if r.get("type") == "textarea"]
    plates = []
    ok = True
    for rect in rects:
        plate = _labelstudio_plate(ctx, rect, rects, texts, f"{where} result {rect.get('id')}")
        ok = ok and plate is not False
        if isinstance(plate, PlateBox):
            plates.append(plate)
    if not ok:
        ctx.report.skip("image with annotation errors", where)
        return
    if rects:
        width, height = int(rects[0]["original_width"]), int(rects[0]["original_height"])
    else:
        size = ctx.image_size(image)
        if size is None:
            return
        width, height = size
    ctx.add(image, width, height, plates, split_from_path(ctx.relpath(image)))


def _labelstudio_image(ctx: Context, task: dict, where: str) -> Path | None:
    data = task["data"]
    ref = data.get("image") or next((v for v in data.values() if isinstance(v, str)), "")
    url = urlparse(str(ref))
    local = parse_qs(url.query).get("d", [""])[0]  # /data/local-files/?d=folder/x.jpg
    name = PurePosixPath(local or url.path).name
    names = [local, name, _UPLOAD_PREFIX.sub("", name)]
    image, tried = ctx.find_image(names, [ctx.base / "images"])
    if image is None:
        looked_for = ", ".join(dict.fromkeys(n for n in names if n))
        ctx.report.error(where, f"image {ref!r} not found; looked for {looked_for} "
                                f"in {', '.join(map(str, tried))} (add the folder with --images)")
    return image


def _labelstudio_plate(ctx: Context, rect: dict, rects: list[dict], texts: list[dict], where: str
                       ) -> PlateBox | bool:
    """The plate for a rectangle; True for a rectangle that is not a plate, False for an error."""
    value = rect.get("value") or {}
    try:
        width, height = float(rect["original_width"]), float(rect["original_height"])
        x, y = float(value["x"]) * width / 100, float(value["y"]) * height / 100
        w, h = float(value["width"]) * width / 100, float(value["height"]) * height / 100
        labels = list(value["rectanglelabels"])
    except (KeyError, TypeError, ValueError):
        ctx.report.error(where, "expected original_width, original_height and value x, y, width, height "
                                "(percent) and rectanglelabels")
        return False
    is_plate, text = ctx.plate_label(labels[0] if labels else "", where, text_allowed=True)
    if not is_plate:
        return True
    angle = float(value.get("rotation") or 0.0)
    if angle:
        ctx.report.note("rotated rectangle imported as its upright bounding box", where)
    box = ctx.box(*_rotated_bounds(x, y, w, h, angle), where)
    if box is None:
        return False
    same_region = [t for t in texts if t.get("id") == rect.get("id")]
    shared = [t for t in texts if t.get("from_name") in _TEXT_FROM_NAMES and t not in same_region]
    chosen = same_region or (shared if len(rects) == 1 else [])
    if not same_region and shared and len(rects) > 1:
        ctx.report.warn(where, f"a '{shared[0].get('from_name')}' text is not tied to one of the {len(rects)} "
                               "rectangles (use a per-region textarea); imported without text")
    if chosen:
        # One line per list entry: a two-line plate is typed top line first.
        text = ctx.plate_text("".join(chosen[0].get("value", {}).get("text") or []), where)
    return PlateBox(box, text)


def _rotated_bounds(x: float, y: float, w: float, h: float, angle_deg: float) -> tuple[float, float, float, float]:
    """Upright box around Label Studio's rectangle rotated clockwise by ``angle_deg`` about (x, y)."""
    if not angle_deg:
        return x, y, x + w, y + h
    c, s = cos(radians(angle_deg)), sin(radians(angle_deg))
    xs = [x + dx * c - dy * s for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    ys = [y + dx * s + dy * c for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    return min(xs), min(ys), max(xs), max(ys)
