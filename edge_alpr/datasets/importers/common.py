"""What every importer shares: the report, the reading context (class names, plate text, boxes,
image lookup) and small readers of text and JSON files.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2

from edge_alpr.datasets.manifest import PlateBox, Problem, normalise_plate_text
from edge_alpr.errors import InputError

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
PLATE_TEXT = re.compile(r"[A-Z0-9]+")
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


class Context:
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
        if not PLATE_TEXT.fullmatch(text):
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


def parse_floats(tokens: Sequence[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def images_in(folder: Path, recursive: bool = False) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; a UTF-8 BOM is dropped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield lineno, line.strip()


def load_json(path: Path, report: ImportReport) -> object | None:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        report.error(f"{path}:{exc.lineno}", f"not valid JSON ({exc.msg})")
    except (OSError, UnicodeDecodeError) as exc:
        report.error(path, f"cannot read ({exc})")
    return None
