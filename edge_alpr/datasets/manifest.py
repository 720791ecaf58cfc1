"""The manifest format shared by ``../shared/datasets`` and everything this project writes.

One JSON object per line::

    {"image": "images/x.jpg", "width": 640, "height": 480,
     "plates": [{"box": [x1, y1, x2, y2], "text": "KA01AB1234" or null}]}

Boxes are axis-aligned pixel corners; ``image`` is relative to the manifest's folder.
Extra keys (``split``, ``reviewed``, ``layout``...) are kept in ``extra``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge_alpr.errors import InputError

# Separators people type inside plate numbers; a line break joins a two-line plate's lines.
_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalise_plate_text(text: str) -> str:
    """The manifest's spelling of a plate: uppercase, without spaces, line breaks, dashes,
    underscores or dots. A two-line plate reads top line first, then the bottom line."""
    return _SEPARATORS.sub("", text).upper()


@dataclass(frozen=True)
class Problem:
    """Something wrong in a dataset file, found by an importer or ``data check``."""

    where: str  # "file:line", or the file and the part of it
    message: str  # what is wrong and what was expected
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class PlateBox:
    box: tuple[float, float, float, float]
    text: str | None = None
    layout: str | None = None  # "one" | "two" where known
    background: str | None = None  # the plate's colour ("white", "yellow", ...) where known
    tight_box: tuple[float, float, float, float] | None = None  # where the reader reads the text, where known
    plate_box: tuple[float, float, float, float] | None = None  # the plate's own outline inside a loose box

    @property
    def outline(self) -> tuple[float, float, float, float]:
        """The box detection is trained and scored on: the plate's checked outline where a loose
        label has one, else the label's box."""
        return self.plate_box or self.box

    def to_json(self) -> dict:
        out: dict = {"box": [round(float(v), 2) for v in self.box], "text": self.text}
        if self.layout:
            out["layout"] = self.layout
        if self.background:
            out["background"] = self.background
        if self.tight_box:
            out["tight_box"] = [round(float(v), 2) for v in self.tight_box]
        if self.plate_box:
            out["plate_box"] = [round(float(v), 2) for v in self.plate_box]
        return out


@dataclass(frozen=True)
class ManifestRow:
    image: Path  # absolute
    width: int
    height: int
    plates: tuple[PlateBox, ...]
    split: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def to_json(self, root: Path) -> dict:
        try:
            rel = self.image.relative_to(root).as_posix()
        except ValueError:
            rel = str(self.image)
        out = {"image": rel, "width": self.width, "height": self.height,
               "plates": [p.to_json() for p in self.plates]}
        if self.split:
            out["split"] = self.split
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


def _parse_row(obj: object, root: Path, where: str) -> ManifestRow:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        image = obj["image"]
        width, height = int(obj["width"]), int(obj["height"])
        plates_raw = obj.get("plates", [])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: expected keys image, width, height and plates ({exc})") from None
    plates = []
    for j, p in enumerate(plates_raw):
        try:
            box = tuple(float(v) for v in p["box"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: plates[{j}].box must be [x1, y1, x2, y2] numbers") from None
        if len(box) != 4:
            raise InputError(f"{where}: plates[{j}].box must have 4 numbers, got {len(box)}")
        tight, outline = (_optional_box(p, key, f"{where}: plates[{j}]") for key in ("tight_box", "plate_box"))
        plates.append(PlateBox(box, p.get("text"), p.get("layout"), p.get("background"), tight, outline))  # type: ignore[arg-type]
    known = {"image", "width", "height", "plates", "split"}
    extra = {k: v for k, v in obj.items() if k not in known}
    return ManifestRow((root / image).resolve(), width, height, tuple(plates), obj.get("split"), extra)


def _optional_box(plate: dict, key: str, where: str) -> tuple[float, ...] | None:
    if plate.get(key) is None:
        return None
    try:
        box = tuple(float(v) for v in plate[key])
    except (TypeError, ValueError):
        raise InputError(f"{where}.{key} must be [x1, y1, x2, y2] numbers") from None
    if len(box) != 4:
        raise InputError(f"{where}.{key} must have 4 numbers, got {len(box)}")
    return box


def load_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: manifest not found")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            rows.append(_parse_row(obj, path.parent, f"{path}:{lineno}"))
    return rows


def write_manifest(rows: list[ManifestRow], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.to_json(path.parent.resolve())) + "\n")
