"""Bring your own data: other annotation formats -> ``DIR/manifest.jsonl`` + ``DIR/images/``.

``edge-alpr data import --format FORMAT SRC -o DIR``. Formats:

- ``oidv4``: OIDv4 toolkit download, ``<split>/<Class name>/*.jpg`` with
  ``<split>/<Class name>/Label/<stem>.txt`` lines ``Class name x1 y1 x2 y2`` in pixels.
- ``yolo``: Darknet/YOLO ``class cx cy w h`` (normalised 0..1) per image, a ``.txt`` beside
  the image or under the matching ``labels/`` folder; class names from ``data.yaml``,
  ``obj.names`` or ``classes.txt``. An image without a ``.txt`` has no plates (YOLO's rule).
- ``voc``: Pascal VOC XML (LabelImg, CVAT); plate text from a CVAT attribute
  (``text``/``plate``/``number``) or from ``<name>`` when that is the plate itself.
- ``coco``: COCO JSON (``bbox`` = x, y, w, h pixels); text from ``attributes.text`` or ``text``.
- ``labelstudio``: Label Studio's JSON export; rectangles in percent of the original size,
  text from a per-region textarea (same result id) or a ``text``/``transcription`` textarea.
- ``review``: the daemon's review folder (see ``review.py``), using the person's corrections.

Images are hard-linked into ``DIR/images/`` (copied when a link is impossible) under their
path relative to SRC. Plate text is normalised (uppercase, no spaces or dashes). An image
with any broken annotation is left out entirely, so a plate is never turned into background;
boxes of classes that are not plates are dropped and counted. Every skip is counted with a
reason and every problem names its file: nothing is dropped silently.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from math import cos, radians, sin
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlparse

import cv2
import yaml

from edge_alpr.datasets.manifest import ManifestRow, PlateBox, Problem, normalise_plate_text, write_manifest
from edge_alpr.datasets.review import ReviewItem
from edge_alpr.errors import InputError

FORMATS = ("oidv4", "yolo", "voc", "coco", "labelstudio", "review")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def class_key(name: str) -> str:
    """Class names compared without case, spaces or punctuation: "License-Plate" == "licenseplate"."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: Class names that mean "a number plate" in public datasets; more with ``--plate-class``.
PLATE_CLASSES = frozenset(
    class_key(n)
    for n in (
        "plate", "plates", "license plate", "license plates", "licence plate", "licence plates",
        "number plate", "number plates", "numberplate", "vehicle registration plate",
        "registration plate", "car plate", "plate number", "lp",
    )
)
#: Attribute names (CVAT, COCO) whose value is the plate text.
TEXT_ATTRIBUTES = frozenset({"text", "plate", "number", "platenumber", "platetext", "transcription"})
_PLATE_TEXT = re.compile(r"[A-Z0-9]+")
_SPLITS = {"train": "train", "training": "train", "val": "val", "valid": "val",
           "validation": "val", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class ImportedImage:
    """One image found in the source, before it is linked into the output folder."""

    source: Path
    relpath: PurePosixPath  # under DIR/images/
    width: int
    height: int
    plates: tuple[PlateBox, ...]
    split: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


@dataclass
class Skip:
    count: int
    first_where: str


@dataclass
class ImportReport:
    """What an import did: counts, every skip with its reason, every problem with its place."""

    format: str
    manifest: Path | None = None
    images: int = 0
    background: int = 0  # images written without any plate
    plates: int = 0
    with_text: int = 0
    skipped: dict[str, Skip] = field(default_factory=dict)  # reason -> how often, first place
    notes: dict[str, Skip] = field(default_factory=dict)  # imported, but worth knowing how
    problems: list[Problem] = field(default_factory=list)

    def error(self, where: str | Path, message: str) -> None:
        self.problems.append(Problem(str(where), message, "error"))

    def warn(self, where: str | Path, message: str) -> None:
        self.problems.append(Problem(str(where), message, "warning"))

    def skip(self, reason: str, where: str | Path) -> None:
        _count(self.skipped, reason, where)

    def note(self, what: str, where: str | Path) -> None:
        _count(self.notes, what, where)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def summary(self) -> str:
        lines = [
            f"{self.format}: {self.images} images ({self.background} without plates), "
            f"{self.plates} plates, {self.with_text} with text" + (f" -> {self.manifest}" if self.manifest else "")
        ]
        if self.skipped:
            lines.append("skipped:")
            lines += [f"  {s.count} x {reason} (first: {s.first_where})" for reason, s in self.skipped.items()]
            if any(r.startswith("box of unknown class") for r in self.skipped):
                lines.append("  (if one of those classes is a plate, re-run with --plate-class NAME)")
        if self.notes:
            lines.append("notes:")
            lines += [f"  {s.count} x {what} (first: {s.first_where})" for what, s in self.notes.items()]
        for severity in ("error", "warning"):
            found = [p for p in self.problems if p.severity == severity]
            if found:
                lines.append(f"{severity}s ({len(found)}):")
                lines += [f"  {p}" for p in found]
        return "\n".join(lines)


def _count(table: dict[str, Skip], reason: str, where: str | Path) -> None:
    if reason in table:
        table[reason].count += 1
    else:
        table[reason] = Skip(1, str(where))


class _Context:
    """What every reader needs: the source, the report, class names and image lookup."""

    def __init__(self, src: Path, report: ImportReport, plate_classes: Iterable[str], image_dirs: Sequence[Path]):
        self.src = src
        self.base = src if src.is_dir() else src.parent
        self.report = report
        self.plate_classes = PLATE_CLASSES | {class_key(c) for c in plate_classes}
        self.image_dirs = list(image_dirs)
        self.items: list[ImportedImage] = []

    def plate_label(self, name: str, where: str, text_allowed: bool) -> tuple[bool, str | None]:
        """``(is_plate, text)`` for an annotation's class name.

        Where ``text_allowed``, a name that is itself a plate number ("MH12AB1234": letters and
        digits, 4 to 12 of them) is a plate with that text, as in datasets labelled that way.
        """
        if class_key(name) in self.plate_classes:
            return True, None
        text = normalise_plate_text(name)
        if text_allowed and re.fullmatch(r"(?=.*\d)(?=.*[A-Z])[A-Z0-9]{4,12}", text):
            self.report.note("plate whose class name was taken as its text", where)
            return True, text
        self.report.skip(f"box of unknown class {name!r}", where)
        return False, None

    def plate_text(self, raw: str | None, where: str) -> str | None:
        """Normalised text, or None (with a warning) when it has characters outside A-Z0-9."""
        if raw is None:
            return None
        text = normalise_plate_text(str(raw))
        if not text:
            return None
        if not _PLATE_TEXT.fullmatch(text):
            self.report.warn(where, f"plate text {raw!r} has characters outside A-Z0-9; imported as null")
            return None
        return text

    def box(self, x1: float, y1: float, x2: float, y2: float, where: str) -> tuple[float, float, float, float] | None:
        if x2 <= x1 or y2 <= y1:
            self.report.error(where, f"degenerate box x1={x1:g} y1={y1:g} x2={x2:g} y2={y2:g}: "
                                     "needs x2 > x1 and y2 > y1")
            return None
        return (x1, y1, x2, y2)

    def image_size(self, path: Path) -> tuple[int, int] | None:
        """(width, height) as OpenCV decodes the image (EXIF rotation applied), like training does;
        None, with the error reported and the image counted as skipped, when it cannot be read."""
        image = cv2.imread(str(path))
        if image is None:
            self.report.error(path, "cannot read the image (empty, truncated or not an image)")
            self.report.skip("unreadable image", path)
            return None
        return image.shape[1], image.shape[0]

    def find_image(self, names: Iterable[str], dirs: Iterable[Path]) -> tuple[Path | None, list[Path]]:
        """The first ``dir/name`` that is a file, and the folders tried (for the error message)."""
        tried: list[Path] = []
        candidates = [n for n in dict.fromkeys(names) if n]
        for d in [*dirs, self.base, *self.image_dirs]:
            if d in tried:
                continue
            tried.append(d)
            for name in candidates:
                path = d / name
                if path.is_file():
                    return path, tried
                if not Path(name).suffix:
                    for suffix in IMAGE_SUFFIXES:
                        if path.with_suffix(suffix).is_file():
                            return path.with_suffix(suffix), tried
        return None, tried

    def add(self, source: Path, width: int, height: int, plates: Sequence[PlateBox],
            split: str | None = None, extra: dict | None = None) -> None:
        self.items.append(ImportedImage(source, self.relpath(source), width, height, tuple(plates),
                                        split, extra or {}))

    def relpath(self, path: Path) -> PurePosixPath:
        """Where the image sits under SRC (or an --images folder), as written; symlinks are not
        followed, so a linked image keeps its place in the source layout."""
        absolute = Path(os.path.normpath(path.absolute()))
        for root in [self.base, *self.image_dirs]:
            if root in absolute.parents:
                return PurePosixPath(absolute.relative_to(root).as_posix())
        return PurePosixPath(path.name)


def split_from_path(path: PurePosixPath | Path, use_stem: bool = False) -> str | None:
    """``train``/``val``/``test`` from folder names (the innermost decides), and from the file
    name's tokens with ``use_stem`` ("instances_val2017.json"); None when nothing says."""
    parts = [*path.parent.parts, path.stem] if use_stem else list(path.parent.parts)
    for part in reversed(parts):
        for token in reversed(re.split(r"[_\-. ]", part.lower())):
            split = _SPLITS.get(re.sub(r"\d+$", "", token))
            if split:
                return split
    return None


def _floats(tokens: Sequence[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _images_in(folder: Path, recursive: bool = False) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; a UTF-8 BOM is dropped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield lineno, line.strip()


def _load_json(path: Path, report: ImportReport) -> object | None:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        report.error(f"{path}:{exc.lineno}", f"not valid JSON ({exc.msg})")
    except (OSError, UnicodeDecodeError) as exc:
        report.error(path, f"cannot read ({exc})")
    return None


# --------------------------------------------------------------------------- oidv4


def read_oidv4(ctx: _Context) -> None:
    if not any(p.is_dir() for p in ctx.base.rglob("Label")):
        raise InputError(f"{ctx.src}: no '<split>/<Class name>/Label/' folder found; "
                         "is this an OIDv4 toolkit download?")
    for image in _images_in(ctx.base, recursive=True):
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


def _oidv4_plates(ctx: _Context, label_file: Path) -> list[PlateBox] | None:
    plates: list[PlateBox] = []
    ok = True
    for lineno, line in _lines(label_file):
        where = f"{label_file}:{lineno}"
        # Class names contain spaces ("Vehicle registration plate"): the numbers are the last 4.
        tokens = line.split()
        coords = _floats(tokens[-4:]) if len(tokens) >= 5 else None
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


# --------------------------------------------------------------------------- yolo

_NAMES_FILES = ("data.yaml", "data.yml", "obj.names", "classes.txt")


def read_yolo(ctx: _Context) -> None:
    names = _read_names(_find_names_file(ctx.base))
    for image in _images_in(ctx.base, recursive=True):
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


def _yolo_plates(ctx: _Context, label_file: Path, names: dict[int, str]
                 ) -> list[tuple[float, float, float, float]] | None:
    """Normalised (cx, cy, w, h) of the plate boxes, or None if any line is broken."""
    plates = []
    ok = True
    for lineno, line in _lines(label_file):
        where = f"{label_file}:{lineno}"
        tokens = line.split()
        values = _floats(tokens[1:]) if len(tokens) == 5 and tokens[0].isdigit() else None
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


# --------------------------------------------------------------------------- voc


def read_voc(ctx: _Context) -> None:
    xml_files = sorted(ctx.base.rglob("*.xml"))
    if not xml_files:
        raise InputError(f"{ctx.src}: no .xml files found; is this a Pascal VOC folder?")
    for xml_file in xml_files:
        try:
            root = ET.parse(xml_file).getroot()
        except ET.ParseError as exc:
            ctx.report.error(f"{xml_file}:{exc.position[0]}", f"not valid XML ({exc})")
            continue
        if root.tag != "annotation":
            ctx.report.skip("XML file that is not a VOC <annotation>", xml_file)
            continue
        _read_voc_file(ctx, xml_file, root)


def _read_voc_file(ctx: _Context, xml_file: Path, root: ET.Element) -> None:
    filename = (root.findtext("filename") or "").strip()
    path_text = (root.findtext("path") or "").strip()
    names = [filename, PurePosixPath(path_text.replace("\\", "/")).name]
    here = xml_file.parent
    dirs = [here, here.parent / "JPEGImages", here.parent / "images"]
    image, tried = ctx.find_image(names, dirs)
    if image is None and path_text and Path(path_text).is_file():
        image = Path(path_text)
    if image is None:
        # Renamed images often keep their XML's name while <filename> goes stale.
        image, _ = ctx.find_image([xml_file.stem], dirs)
        if image is not None:
            ctx.report.warn(xml_file, f"<filename> {filename!r} not found; using {image.name}, named like the XML")
    if image is None:
        named = f"<filename> {filename!r}" if filename else f"<path> {path_text!r}" if path_text else "no <filename>"
        ctx.report.error(xml_file, f"image not found: {named}; looked in {', '.join(map(str, tried))}")
        ctx.report.skip("annotation whose image is missing", xml_file)
        return

    plates: list[PlateBox] = []
    ok = True
    for i, obj in enumerate(root.iter("object"), 1):
        name = (obj.findtext("name") or "").strip()
        where = f"{xml_file}: <object> {i} ({name!r})"
        try:
            x1, y1, x2, y2 = (float(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError:
            ctx.report.error(where, "expected <bndbox> with numeric <xmin> <ymin> <xmax> <ymax>")
            ok = False
            continue
        is_plate, text = ctx.plate_label(name, where, text_allowed=True)
        if not is_plate:
            continue
        attributes = {class_key(a.findtext("name") or ""): a.findtext("value")
                      for a in obj.iterfind("attributes/attribute")}
        text = next((ctx.plate_text(v, where) for k, v in attributes.items() if k in TEXT_ATTRIBUTES and v), text)
        box = ctx.box(x1, y1, x2, y2, where)
        ok = ok and box is not None
        if box:
            plates.append(PlateBox(box, text))
    if not ok:
        ctx.report.skip("image with annotation errors", xml_file)
        return
    width, height = int(float(root.findtext("size/width") or 0)), int(float(root.findtext("size/height") or 0))
    if width <= 0 or height <= 0:  # LabelImg writes 0 x 0 for some images
        size = ctx.image_size(image)
        if size is None:
            return
        width, height = size
    ctx.add(image, width, height, plates, split_from_path(ctx.relpath(image)))


# --------------------------------------------------------------------------- coco


_COCO_KEYS = ("images", "annotations", "categories")


def read_coco(ctx: _Context) -> None:
    files = [ctx.src] if ctx.src.is_file() else sorted(ctx.src.rglob("*.json"))
    found = False
    for path in files:
        data = _load_json(path, ctx.report)
        is_coco = isinstance(data, dict) and all(isinstance(data.get(k), list) for k in _COCO_KEYS)
        if not is_coco:
            if data is not None:
                ctx.report.skip("JSON file that is not COCO (no images/annotations/categories)", path)
            continue
        found = True
        _read_coco_file(ctx, path, data)
    if not found:
        raise InputError(f"{ctx.src}: no COCO JSON (with images, annotations and categories) found")


def _read_coco_file(ctx: _Context, path: Path, data: dict) -> None:
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


def _coco_plates(ctx: _Context, path: Path, anns: list[tuple[int, dict]], categories: dict) -> list[PlateBox] | None:
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


# --------------------------------------------------------------------------- label studio

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio prefixes uploaded files with a hash
_TEXT_FROM_NAMES = frozenset({"text", "transcription"})


def read_labelstudio(ctx: _Context) -> None:
    files = [ctx.src] if ctx.src.is_file() else sorted(ctx.src.glob("*.json"))
    if not files:
        raise InputError(f"{ctx.src}: no .json file found; export the project from Label Studio as JSON")
    for path in files:
        data = _load_json(path, ctx.report)
        if data is None:
            continue
        if not (isinstance(data, list) and all(isinstance(t, dict) and "data" in t for t in data)):
            ctx.report.error(path, "expected Label Studio's JSON export: a list of tasks with 'data' and "
                                   "'annotations' (JSON-MIN and CSV exports are not supported)")
            continue
        for index, task in enumerate(data):
            _read_labelstudio_task(ctx, path, index, task)


def _read_labelstudio_task(ctx: _Context, path: Path, index: int, task: dict) -> None:
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


def _labelstudio_image(ctx: _Context, task: dict, where: str) -> Path | None:
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


def _labelstudio_plate(ctx: _Context, rect: dict, rects: list[dict], texts: list[dict], where: str
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


# --------------------------------------------------------------------------- review


def read_review(ctx: _Context) -> None:
    sidecars = sorted(ctx.base.glob("*.json"))
    if not sidecars:
        raise InputError(f"{ctx.src}: no review .json sidecars found; is this the daemon's review folder?")
    for sidecar in sidecars:
        data = _load_json(sidecar, ctx.report)
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
        if not _PLATE_TEXT.fullmatch(text):
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


# --------------------------------------------------------------------------- driver

READERS: dict[str, Callable[[_Context], None]] = {
    "oidv4": read_oidv4,
    "yolo": read_yolo,
    "voc": read_voc,
    "coco": read_coco,
    "labelstudio": read_labelstudio,
    "review": read_review,
}


def import_dataset(
    fmt: str,
    src: str | Path,
    out_dir: str | Path,
    *,
    plate_classes: Iterable[str] = (),
    image_dirs: Sequence[str | Path] = (),
    overwrite: bool = False,
) -> ImportReport:
    """Convert SRC in format ``fmt`` into ``out_dir/manifest.jsonl`` + ``out_dir/images/``.

    Raises :class:`InputError` when SRC cannot be imported at all; problems with single files
    are in the report (``report.errors`` non-empty means the import is incomplete).
    """
    if fmt not in READERS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    src_path, out = Path(src).resolve(), Path(out_dir).resolve()
    if not src_path.exists():
        raise InputError(f"{src_path}: not found")
    manifest = out / "manifest.jsonl"
    if manifest.exists() and not overwrite:
        raise InputError(f"{manifest} already exists; choose another -o folder or pass --overwrite")
    base = src_path if src_path.is_dir() else src_path.parent
    if out == base or base in out.parents:
        raise InputError(f"{out}: the output folder must not be inside the source {base}")
    dirs = [Path(d).resolve() for d in image_dirs]
    for d in dirs:
        if not d.is_dir():
            raise InputError(f"{d}: --images folder not found")

    report = ImportReport(fmt)
    ctx = _Context(src_path, report, plate_classes, dirs)
    READERS[fmt](ctx)
    rows = _link_images(ctx.items, out, report)
    write_manifest(rows, manifest)
    report.manifest = manifest
    report.images = len(rows)
    report.background = sum(not r.plates for r in rows)
    report.plates = sum(len(r.plates) for r in rows)
    report.with_text = sum(p.text is not None for r in rows for p in r.plates)
    return report


def _link_images(items: list[ImportedImage], out: Path, report: ImportReport) -> list[ManifestRow]:
    rows = []
    taken: dict[PurePosixPath, Path] = {}
    for item in sorted(items, key=lambda i: (str(i.relpath), str(i.source))):
        if item.relpath in taken:
            if taken[item.relpath] != item.source:
                report.error(item.source, f"same output name images/{item.relpath} as {taken[item.relpath]}; "
                                          "rename one")
            else:
                report.warn(item.source, "annotated more than once; kept the first")
            continue
        taken[item.relpath] = item.source
        dest = out / "images" / item.relpath
        try:
            _link_or_copy(item.source, dest)
        except OSError as exc:
            report.error(item.source, f"cannot copy to {dest} ({exc})")
            continue
        rows.append(ManifestRow(dest, item.width, item.height, item.plates, item.split, item.extra))
    return rows


def _link_or_copy(source: Path, dest: Path) -> None:
    """Hard-link (no extra disk), else copy (other file system)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if dest.samefile(source):
            return
        dest.unlink()
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)
