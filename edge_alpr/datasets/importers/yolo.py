"""Darknet/YOLO labels: ``class cx cy w h`` (normalised 0..1) per image, class names from a names file."""
from __future__ import annotations

from pathlib import Path

import yaml

from edge_alpr.datasets.importers.common import Context, images_in, parse_floats, split_from_path, text_lines
from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.errors import InputError

_NAMES_FILES = ("data.yaml", "data.yml", "obj.names", "classes.txt")


def read_yolo(ctx: Context) -> None:
    names = _read_names(_find_names_file(ctx.base))
    for image in images_in(ctx.base, recursive=True):
        label_file = _yolo_label_file(image)
        normalised = [] if label_file is None else _yolo_plates(ctx, label_file, names)
        if normalised is None:
            ctx.report.skip("image with annotation errors", image)
            continue
        size = ctx.image_size(image)
        if size is None:
            continue
        w_img, h_img = size
        plates = [PlateBox(((cx - w / 2) * w_img, (cy - h / 2) * h_img, (cx + w / 2) * w_img, (cy + h / 2) * h_img))
                  for cx, cy, w, h in normalised]
        ctx.add(image, w_img, h_img, plates, split_from_path(ctx.relpath(image)))


def _find_names_file(base: Path) -> Path:
    for name in _NAMES_FILES:
        if (base / name).is_file():
            return base / name
    for name in _NAMES_FILES:
        found = sorted(base.rglob(name), key=lambda p: (len(p.parts), p))
        if found:
            return found[0]
    raise InputError(f"{base}: no {', '.join(_NAMES_FILES)} found; YOLO class ids cannot be named without one")


def _read_names(path: Path) -> dict[int, str]:
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({exc})") from None
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, list):
            return {i: str(n) for i, n in enumerate(names)}
        if isinstance(names, dict):
            return {int(k): str(v) for k, v in names.items()}
        raise InputError(f"{path}: expected 'names:' as a list or an id -> name mapping")
    return {i: line for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines()) if line.strip()}


def _yolo_label_file(image: Path) -> Path | None:
    """``x.txt`` beside ``x.jpg``, or in the ``labels/`` folder matching its ``images/`` folder."""
    beside = image.with_suffix(".txt")
    if beside.is_file():
        return beside
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            candidate = Path(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")
            return candidate if candidate.is_file() else None
    return None


def _yolo_plates(ctx: Context, label_file: Path, names: dict[int, str]
                 ) -> list[tuple[float, float, float, float]] | None:
    """Normalised (cx, cy, w, h) of the plate boxes, or None if any line is broken."""
    plates = []
    ok = True
    for lineno, line in text_lines(label_file):
        where = f"{label_file}:{lineno}"
        tokens = line.split()
        values = parse_floats(tokens[1:]) if len(tokens) == 5 and tokens[0].isdigit() else None
        if values is None:
            ctx.report.error(where, f"expected 'class cx cy w h' (an integer class and 4 numbers), got {line!r}")
            ok = False
            continue
        class_id = int(tokens[0])
        if class_id not in names:
            ctx.report.error(where, f"class id {class_id} is not in the names file ({len(names)} names)")
            ok = False
            continue
        if any(v > 1.0 + 1e-6 or v < 0.0 for v in values):
            ctx.report.error(where, f"values {' '.join(tokens[1:])} are not normalised to 0..1 "
                                    "(pixels?); YOLO boxes are centre x, centre y, width, height / image size")
            ok = False
            continue
        is_plate, _ = ctx.plate_label(names[class_id], where, text_allowed=False)
        if not is_plate:
            continue
        cx, cy, w, h = values
        if w <= 0 or h <= 0:
            ctx.report.error(where, f"degenerate box: width {w:g} and height {h:g} must be > 0")
            ok = False
            continue
        plates.append((cx, cy, w, h))
    return plates if ok else None
