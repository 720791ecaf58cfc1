"""Pascal VOC XML (LabelImg, CVAT), plate text from a CVAT attribute or from ``<name>``."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

from edge_alpr.datasets.importers.common import TEXT_ATTRIBUTES, Context, class_key, split_from_path
from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.errors import InputError


def read_voc(ctx: Context) -> None:
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


def _read_voc_file(ctx: Context, xml_file: Path, root: ET.Element) -> None:
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
