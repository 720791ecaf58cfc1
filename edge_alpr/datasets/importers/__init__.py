"""Bring your own data: other annotation formats -> ``DIR/manifest.jsonl`` + ``DIR/images/``.

``edge-alpr data import --format FORMAT SRC -o DIR``. Formats, one module each:

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
- ``review``: the daemon's review folder (see ``edge_alpr.datasets.review``), using the person's
  corrections.

What the readers share (the report, the reading context, small file readers) is in ``common``.

Images are hard-linked into ``DIR/images/`` (copied when a link is impossible) under their
path relative to SRC. Plate text is normalised (uppercase, no spaces or dashes). An image
with any broken annotation is left out entirely, so a plate is never turned into background;
boxes of classes that are not plates are dropped and counted. Every skip is counted with a
reason and every problem names its file: nothing is dropped silently.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from edge_alpr.datasets.importers.coco import read_coco
from edge_alpr.datasets.importers.common import Context, ImportedImage, ImportReport
from edge_alpr.datasets.importers.labelstudio import read_labelstudio
from edge_alpr.datasets.importers.oidv4 import read_oidv4
from edge_alpr.datasets.importers.review_folder import read_review
from edge_alpr.datasets.importers.voc import read_voc
from edge_alpr.datasets.importers.yolo import read_yolo
from edge_alpr.datasets.manifest import ManifestRow, write_manifest
from edge_alpr.errors import InputError

FORMATS = ("oidv4", "yolo", "voc", "coco", "labelstudio", "review")

READERS: dict[str, Callable[[Context], None]] = {
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
    ctx = Context(src_path, report, plate_classes, dirs)
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
