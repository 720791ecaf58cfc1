"""``edge-alpr data check DIR``: every problem in a manifest, with its file and line.

Read-only: it never changes, fixes or drops anything. Errors (the data is wrong or unusable)
make the command fail; warnings (worth a look) do not.

Checked per line: JSON and required keys; the image exists, decodes, and has the width and
height the line says; boxes are 4 numbers with x2 > x1 and y2 > y1 inside the image; text is
null or A-Z0-9; unknown keys, splits and layouts. Across lines: the same image file listed
twice, and duplicate pictures by perceptual hash (dHash, 64 bits, equal hashes), which are an
error when the copies sit in different splits (validation leaking into training).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.manifest import Problem
from edge_alpr.errors import InputError

ROW_KEYS = frozenset({"image", "width", "height", "plates"})
OPTIONAL_ROW_KEYS = frozenset({"split", "reviewed", "background", "camera_id"})
PLATE_KEYS = frozenset({"box", "text", "layout"})
SPLITS = frozenset({"train", "val", "test"})
LAYOUTS = frozenset({"one", "two"})
_PLATE_TEXT = re.compile(r"[A-Z0-9]+")


@dataclass
class CheckReport:
    manifest: Path
    hash_method: str
    rows: int = 0
    plates: int = 0
    with_text: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def summary(self) -> str:
        lines = [f"{self.manifest}: {self.rows} rows, {self.plates} plates ({self.with_text} with text); "
                 f"duplicate check: {self.hash_method}"]
        lines += [str(p) for p in self.problems]
        lines.append(f"{len(self.errors)} errors, {len(self.warnings)} warnings")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Seen:
    """What later lines are compared with."""

    lineno: int
    image: str
    split: str | None


def check_manifest(path: str | Path, use_imagehash: bool | None = None) -> CheckReport:
    """Check ``path`` (a manifest, or a folder holding ``manifest.jsonl``).

    ``use_imagehash``: None uses the ``imagehash`` package when it is installed, else a numpy
    dHash (same idea, slightly different resize); True or False forces one.
    """
    manifest = Path(path)
    if manifest.is_dir():
        manifest = manifest / "manifest.jsonl"
    if not manifest.is_file():
        raise InputError(f"{manifest}: manifest not found")
    hasher, method = _hasher(use_imagehash)
    report = CheckReport(manifest, method)
    by_path: dict[Path, _Seen] = {}
    by_hash: dict[str, _Seen] = {}
    with manifest.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                _check_line(line, lineno, manifest, report, hasher, by_path, by_hash)
    return report


def _check_line(line: str, lineno: int, manifest: Path, report: CheckReport, hasher: Callable[[np.ndarray], str],
                by_path: dict[Path, _Seen], by_hash: dict[str, _Seen]) -> None:
    where = f"{manifest}:{lineno}"

    def error(message: str) -> None:
        report.problems.append(Problem(where, message, "error"))

    def warn(message: str) -> None:
        report.problems.append(Problem(where, message, "warning"))

    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        error(f"not valid JSON ({exc.msg})")
        return
    if not isinstance(row, dict):
        error(f"expected a JSON object, got {type(row).__name__}")
        return
    report.rows += 1
    missing = sorted(ROW_KEYS - row.keys())
    if missing:
        error(f"missing key(s) {', '.join(missing)}")
    unknown = sorted(row.keys() - ROW_KEYS - OPTIONAL_ROW_KEYS)
    if unknown:
        warn(f"unknown key(s) {', '.join(unknown)}")
    split = row.get("split")
    if split is not None and split not in SPLITS:
        warn(f"split {split!r} is not one of {', '.join(sorted(SPLITS))}")

    width, height = row.get("width"), row.get("height")
    size_ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height))
    if not size_ok and "width" in row and "height" in row:
        error(f"width and height must be positive integers, got {width!r} x {height!r}")

    plates = row.get("plates", [])
    if not isinstance(plates, list):
        error(f"'plates' must be a list, got {type(plates).__name__}")
        plates = []
    for j, plate in enumerate(plates):
        _check_plate(plate, f"plates[{j}]", (width, height) if size_ok else None, report, error, warn)

    image_name = row.get("image")
    if not isinstance(image_name, str) or not image_name:
        if "image" in row:
            error(f"'image' must be a path, got {image_name!r}")
        return
    if Path(image_name).is_absolute():
        warn(f"image {image_name!r} is an absolute path; manifests keep paths relative to their folder")
    image_path = (manifest.parent / image_name).resolve()
    seen = _Seen(lineno, image_name, split if isinstance(split, str) else None)
    if image_path in by_path:
        error(f"image {image_name!r} is already listed on line {by_path[image_path].lineno}")
        return
    by_path[image_path] = seen
    if not image_path.is_file():
        error(f"image {image_name!r} not found")
        return
    image = cv2.imread(str(image_path))
    if image is None:
        error(f"image {image_name!r} cannot be decoded (empty, truncated or not an image)")
        return
    real_h, real_w = image.shape[:2]
    if size_ok and (real_w, real_h) != (width, height):
        error(f"image {image_name!r} is {real_w}x{real_h} but the line says {width}x{height}")

    digest = hasher(image)
    first = by_hash.setdefault(digest, seen)
    if first is not seen:
        same = f"image {image_name!r} looks the same as {first.image!r} on line {first.lineno}"
        if first.split and seen.split and first.split != seen.split:
            error(f"{same}, which is in split {first.split!r} and this one in {seen.split!r}")
        else:
            warn(f"{same} (perceptual hash {digest})")


def _check_plate(plate: object, name: str, size: tuple[int, int] | None, report: CheckReport,
                 error: Callable[[str], None], warn: Callable[[str], None]) -> None:
    if not isinstance(plate, dict):
        error(f"{name} must be an object with 'box' and 'text', got {plate!r}")
        return
    report.plates += 1
    unknown = sorted(plate.keys() - PLATE_KEYS)
    if unknown:
        warn(f"{name}: unknown key(s) {', '.join(unknown)}")
    if plate.get("layout") is not None and plate["layout"] not in LAYOUTS:
        warn(f"{name}: layout {plate['layout']!r} is not one of {', '.join(sorted(LAYOUTS))}")

    text = plate.get("text")
    if "text" not in plate:
        warn(f"{name}: no 'text' key; write null when the text is unknown")
    elif text is not None:
        report.with_text += 1
        if not isinstance(text, str):
            error(f"{name}: text must be a string or null, got {text!r}")
        elif not text:
            warn(f"{name}: text is empty; write null when the text is unknown")
        elif not _PLATE_TEXT.fullmatch(text):
            error(f"{name}: text {text!r} has characters outside A-Z0-9 (uppercase, no spaces or dashes)")

    box = plate.get("box")
    if not (isinstance(box, list) and len(box) == 4 and all(_is_number(v) for v in box)):
        error(f"{name}: box must be [x1, y1, x2, y2] numbers, got {box!r}")
        return
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        error(f"{name}: degenerate box {box}: needs x2 > x1 and y2 > y1")
    if size and (x1 < 0 or y1 < 0 or x2 > size[0] or y2 > size[1]):
        error(f"{name}: box {box} is outside the {size[0]}x{size[1]} image")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _hasher(use_imagehash: bool | None) -> tuple[Callable[[np.ndarray], str], str]:
    if use_imagehash is not False:
        try:
            import imagehash
            from PIL import Image
        except ImportError:
            if use_imagehash:
                raise InputError("imagehash is not installed (pip install 'edge-alpr[test]')") from None
        else:
            def with_imagehash(image: np.ndarray) -> str:
                return str(imagehash.dhash(Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))))

            return with_imagehash, "imagehash dHash"
    return numpy_dhash, "numpy dHash (imagehash not installed)" if use_imagehash is None else "numpy dHash"


def numpy_dhash(image_bgr: np.ndarray) -> str:
    """64-bit difference hash: is each pixel of a 9x8 grey thumbnail brighter than its left neighbour?"""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"
