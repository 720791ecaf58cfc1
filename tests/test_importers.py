"""Importers on small hand-made datasets: the exact manifest written and the exact problems reported.

Annotation files live in tests/fixtures/import/<format>/; the images they name are drawn here
(64 x 48 noise, different per file) so no binaries are committed.
"""
from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.datasets.cli import main
from edge_alpr.datasets.importers import import_dataset
from edge_alpr.datasets.importers.common import split_from_path
from edge_alpr.datasets.importers.labelstudio import _rotated_bounds
from edge_alpr.datasets.review import write_review_item
from edge_alpr.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "import"
W, H = 64, 48


def draw_image(path: Path, width: int = W, height: int = H) -> None:
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def dataset(tmp_path: Path, fmt: str, images: list[str]) -> Path:
    src = tmp_path / fmt
    shutil.copytree(FIXTURES / fmt, src)
    for rel in images:
        draw_image(src / rel)
    return src


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def problems(report, root: Path) -> list[tuple[str, str, str]]:
    """(where relative to root, severity, message with root removed) for every problem."""
    return [(p.where.replace(f"{root}/", ""), p.severity, p.message.replace(f"{root}/", "")) for p in report.problems]


def skipped(report) -> dict[str, int]:
    return {reason: s.count for reason, s in report.skipped.items()}


def row(image: str, plates: list[tuple[list[float], str | None]], split: str | None = None, **extra) -> dict:
    out = {"image": image, "width": W, "height": H, "plates": [{"box": b, "text": t} for b, t in plates]}
    if split:
        out["split"] = split
    return {**out, **extra}


def test_oidv4(tmp_path):
    plate_dir = "Vehicle registration plate"
    src = dataset(tmp_path, "oidv4", [f"train/{plate_dir}/img1.jpg", f"train/{plate_dir}/img2.jpg",
                                      f"validation/{plate_dir}/img3.jpg", f"test/{plate_dir}/img4.jpg"])
    report = import_dataset("oidv4", src, tmp_path / "out")

    assert manifest(tmp_path / "out") == [
        row(f"images/train/{plate_dir}/img1.jpg", [([10.0, 20.5, 30.0, 28.0], None), ([40, 5, 60, 15], None)], "train"),
        row(f"images/train/{plate_dir}/img2.jpg", [([12, 30, 40, 40], None)], "train"),
    ]
    assert problems(report, src) == [
        (f"validation/{plate_dir}/Label/img3.txt:1", "error",
         "expected 'Class name x1 y1 x2 y2' (pixels), got 'Vehicle registration plate 1 2 3'"),
    ]
    assert skipped(report) == {
        "box of unknown class 'Car'": 1,
        "image with annotation errors": 1,
        "OIDv4 image without a Label/<name>.txt file": 1,
    }
    assert (report.images, report.plates, report.with_text, report.background) == (2, 3, 0, 0)
    # Hard-linked or copied, the output image is the source's bytes.
    assert (tmp_path / "out/images/train" / plate_dir / "img1.jpg").read_bytes() == (
        src / "train" / plate_dir / "img1.jpg").read_bytes()


def test_oidv4_extra_plate_class_keeps_boxes_of_that_class(tmp_path):
    src = dataset(tmp_path, "oidv4", ["train/Vehicle registration plate/img2.jpg"])
    report = import_dataset("oidv4", src, tmp_path / "out", plate_classes=["car"])
    assert manifest(tmp_path / "out")[0]["plates"] == [{"box": [0, 0, 64, 48], "text": None},
                                                       {"box": [12, 30, 40, 40], "text": None}]
    assert "box of unknown class 'Car'" not in report.skipped


def test_yolo(tmp_path):
    src = dataset(tmp_path, "yolo", ["images/train/a.jpg", "images/train/b.jpg", "images/val/c.jpg",
                                     "images/val/d.jpg", "images/val/e.jpg"])
    report = import_dataset("yolo", src, tmp_path / "out")

    assert manifest(tmp_path / "out") == [
        row("images/images/train/a.jpg", [([24, 18, 40, 30], None)], "train"),  # 0.5 +- 0.125 of 64 x 48
        row("images/images/train/b.jpg", [], "train"),  # no .txt: YOLO's "no objects"
        row("images/images/val/d.jpg", [], "val"),  # empty .txt
    ]
    assert problems(report, src) == [
        ("labels/val/c.txt:1", "error", "values 32 24 16 12 are not normalised to 0..1 (pixels?); "
                                        "YOLO boxes are centre x, centre y, width, height / image size"),
        ("labels/val/e.txt:2", "error", "class id 7 is not in the names file (2 names)"),
    ]
    assert skipped(report) == {"box of unknown class 'car'": 1, "image with annotation errors": 2}
    assert report.background == 2


def test_yolo_darknet_layout_with_obj_names(tmp_path):
    src = tmp_path / "darknet"
    (src / "obj_train_data").mkdir(parents=True)
    (src / "obj.names").write_text("Number Plate\n")
    draw_image(src / "obj_train_data/x.png", 100, 50)
    (src / "obj_train_data/x.txt").write_text("0 0.25 0.5 0.1 0.2\n")
    report = import_dataset("yolo", src, tmp_path / "out")
    # CVAT's Darknet export names its training folder obj_train_data: that says the split.
    assert manifest(tmp_path / "out") == [{"image": "images/obj_train_data/x.png", "width": 100, "height": 50,
                                           "plates": [{"box": [20, 20, 30, 30], "text": None}], "split": "train"}]
    assert report.problems == []


def test_yolo_without_names_file_is_refused(tmp_path):
    draw_image(tmp_path / "src/x.jpg")
    with pytest.raises(InputError, match="no data.yaml, data.yml, obj.names, classes.txt found"):
        import_dataset("yolo", tmp_path / "src", tmp_path / "out")


def test_voc(tmp_path):
    src = dataset(tmp_path, "voc", ["JPEGImages/car1.jpg", "JPEGImages/car2.png", "JPEGImages/car3.jpg",
                                    "JPEGImages/car4.jpg"])
    report = import_dataset("voc", src, tmp_path / "out")

    assert manifest(tmp_path / "out") == [
        row("images/JPEGImages/car1.jpg", [([5, 6, 30, 20], "MH12AB1234")]),  # from the CVAT attribute
        row("images/JPEGImages/car2.png", [([20.5, 30, 50, 40], "KA01AB1234")]),  # <name> is the plate
        row("images/JPEGImages/car3.jpg", []),  # no <object>: background
    ]
    assert problems(report, src) == [
        ("Annotations/flipped.xml: <object> 1 ('number_plate')", "error",
         "degenerate box x1=30 y1=6 x2=5 y2=20: needs x2 > x1 and y2 > y1"),
        ("Annotations/missing.xml", "error",
         f"image not found: <filename> 'gone.jpg'; looked in Annotations, JPEGImages, images, {src}"),
    ]
    assert skipped(report) == {
        "box of unknown class 'car'": 1,
        "image with annotation errors": 1,
        "annotation whose image is missing": 1,
    }
    assert (report.images, report.plates, report.with_text) == (3, 2, 2)
    assert {what: n.count for what, n in report.notes.items()} == {"plate whose class name was taken as its text": 1}


def test_voc_stale_filename_falls_back_to_the_xml_name_with_a_warning(tmp_path):
    src = dataset(tmp_path, "voc", ["JPEGImages/car2.png"])
    for name in ("car1", "car3", "missing", "flipped"):
        (src / f"Annotations/{name}.xml").unlink()
    xml = src / "Annotations/car2.xml"
    stale = xml.read_text().replace("<filename>car2.png", "<filename>IMG_0001.png")
    xml.write_text(stale.replace("car2.png</path>", "x.png</path>"))
    report = import_dataset("voc", src, tmp_path / "out")
    assert [r["image"] for r in manifest(tmp_path / "out")] == ["images/JPEGImages/car2.png"]
    assert problems(report, src) == [
        ("Annotations/car2.xml", "warning", "<filename> 'IMG_0001.png' not found; using car2.png, named like the XML"),
    ]


def test_coco(tmp_path):
    src = dataset(tmp_path, "coco", ["images/a.jpg", "images/b.jpg"])
    report = import_dataset("coco", src, tmp_path / "out")

    assert manifest(tmp_path / "out") == [
        row("images/images/a.jpg", [([10, 12, 30, 20], "DL3CAF0001"), ([40, 30, 52.5, 36], None)], "val"),
        row("images/images/b.jpg", [], "val"),
    ]
    assert problems(report, src) == [
        ("annotations/instances_val.json: images[id=3]", "error",
         f"image 'nope.jpg' not found; looked in annotations, annotations/images, images, {src}"),
    ]
    assert skipped(report) == {"box of unknown class 'vehicle'": 1, "annotation whose image is missing": 1}


def test_coco_single_json_file_as_source(tmp_path):
    src = dataset(tmp_path, "coco", ["images/a.jpg", "images/b.jpg"])
    import_dataset("coco", src / "annotations/instances_val.json", tmp_path / "out")
    assert [r["image"] for r in manifest(tmp_path / "out")] == ["images/a.jpg", "images/b.jpg"]


def test_labelstudio(tmp_path):
    src = dataset(tmp_path, "labelstudio", ["images/car1.jpg", "photos/car2.jpg", "car5.jpg"])
    report = import_dataset("labelstudio", src, tmp_path / "out")

    assert manifest(tmp_path / "out") == [
        row("images/car5.jpg", []),  # annotated with no boxes: background
        # 10 %, 25 %, 50 % x 25 % of 64 x 48; a two-line plate typed as two lines, top first.
        row("images/images/car1.jpg", [([6.4, 12, 38.4, 24], "MH12AB1234")]),
        row("images/photos/car2.jpg", [([32, 24, 48, 30], None)]),  # local-files ?d= path
    ]
    assert problems(report, src) == [
        ("export.json: task 4", "error",
         f"image '/data/upload/1/33334444-lost.jpg' not found; looked for 33334444-lost.jpg, lost.jpg in "
         f"images, {src} (add the folder with --images)"),
    ]
    assert skipped(report) == {
        "box of unknown class 'Car'": 1,
        "Label Studio task without a finished annotation": 1,
        "annotation whose image is missing": 1,
    }


def test_labelstudio_images_folder_option(tmp_path):
    src = dataset(tmp_path, "labelstudio", ["images/car1.jpg", "photos/car2.jpg", "car5.jpg"])
    draw_image(tmp_path / "elsewhere/lost.jpg")
    report = import_dataset("labelstudio", src / "export.json", tmp_path / "out", image_dirs=[tmp_path / "elsewhere"])
    assert "images/lost.jpg" in [r["image"] for r in manifest(tmp_path / "out")]
    assert report.errors == []


def labelstudio_task(rect_ids: list[str], text_id: str, from_name: str) -> dict:
    rect = {"type": "rectanglelabels", "original_width": W, "original_height": H,
            "value": {"x": 0, "y": 0, "width": 50, "height": 50, "rectanglelabels": ["plate"]}}
    results = [{**rect, "id": i, "value": {**rect["value"], "x": 50 * n}} for n, i in enumerate(rect_ids)]
    results.append({"id": text_id, "type": "textarea", "from_name": from_name, "value": {"text": ["ka01 ab 1234"]}})
    return {"id": 7, "data": {"image": "x.jpg"}, "annotations": [{"id": 1, "result": results}]}


@pytest.mark.parametrize(
    "rect_ids, text_id, from_name, texts, warned",
    [
        (["a"], "t", "text", ["KA01AB1234"], False),  # one plate: a whole-image text is its text
        (["a", "b"], "b", "anything", [None, "KA01AB1234"], False),  # per-region: same result id
        (["a", "b"], "t", "transcription", [None, None], True),  # two plates, one shared text: ambiguous
        (["a"], "t", "comment", [None], False),  # some other textarea is not plate text
    ],
)
def test_labelstudio_text_pairing(tmp_path, rect_ids, text_id, from_name, texts, warned):
    (tmp_path / "src").mkdir()
    draw_image(tmp_path / "src/x.jpg")
    (tmp_path / "src/export.json").write_text(json.dumps([labelstudio_task(rect_ids, text_id, from_name)]))
    report = import_dataset("labelstudio", tmp_path / "src", tmp_path / "out")
    assert [p["text"] for p in manifest(tmp_path / "out")[0]["plates"]] == texts
    assert bool(report.problems) == warned
    assert all(p.severity == "warning" and "not tied to one of the 2 rectangles" in p.message for p in report.problems)


@pytest.mark.parametrize(
    "box, angle, expected",
    [
        ((10, 10, 20, 10), 0, (10, 10, 30, 20)),
        ((10, 10, 20, 10), 90, (0, 10, 10, 30)),  # turned clockwise about its top-left corner
        ((10, 10, 20, 10), 180, (-10, 0, 10, 10)),
    ],
)
def test_labelstudio_rotated_rectangle_bounds(box, angle, expected):
    assert _rotated_bounds(*box, angle) == pytest.approx(expected)


def review_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "review"
    image = np.zeros((H, W, 3), np.uint8)
    for text in ("mh12 ab-1234", None, ""):
        path = write_review_item(folder, image, (4, 5, 30, 15), "MH12AB1Z34", 0.4, "gate-1", max_items=10, max_mb=5)
        sidecar = path.with_suffix(".json")
        data = json.loads(sidecar.read_text())
        data["text"] = text  # what a person typed
        sidecar.write_text(json.dumps(data))
    return folder


def test_review(tmp_path):
    folder = review_folder(tmp_path)
    report = import_dataset("review", folder, tmp_path / "out")
    rows = manifest(tmp_path / "out")
    assert len(rows) == 1
    assert rows[0]["plates"] == [{"box": [4, 5, 30, 15], "text": "MH12AB1234"}]
    assert (rows[0]["width"], rows[0]["height"], rows[0]["reviewed"], rows[0]["camera_id"]) == (W, H, True, "gate-1")
    assert (tmp_path / "out" / rows[0]["image"]).is_file()
    assert skipped(report) == {"review item not reviewed yet (text is null)": 1,
                               'review item marked unreadable (text is "")': 1}
    assert report.problems == []


def test_review_sidecar_problems_name_the_file(tmp_path):
    folder = review_folder(tmp_path)
    first = sorted(folder.glob("*.json"))[0]
    data = json.loads(first.read_text())
    (folder / "broken.json").write_text(json.dumps({**data, "colour": "red"}))
    (folder / "gone.json").write_text(json.dumps({**data, "image": "gone.jpg"}))
    report = import_dataset("review", folder, tmp_path / "out")
    assert problems(report, folder) == [
        ("broken.json", "error", "unknown key(s) colour; expected only image, width, height, box, text_read, "
                                 "text, confidence, camera_id, created"),
        ("gone.json", "error", f"image 'gone.jpg' named by 'image' not found in {folder}"),
    ]


@pytest.mark.parametrize(
    "path, use_stem, split",
    [
        ("train/Vehicle registration plate/x.jpg", False, "train"),
        ("images/valid/test_1.jpg", False, "val"),  # file names never decide
        ("validation/images/train/x.jpg", False, "train"),  # innermost folder wins
        ("photos/x.jpg", False, None),
        ("annotations/instances_val2017.json", True, "val"),
        ("annotations/instances_default.json", True, None),
    ],
)
def test_split_from_path(path, use_stem, split):
    from pathlib import PurePosixPath

    assert split_from_path(PurePosixPath(path), use_stem=use_stem) == split


def test_existing_manifest_is_not_overwritten_without_flag(tmp_path):
    src = dataset(tmp_path, "coco", ["images/a.jpg", "images/b.jpg"])
    import_dataset("coco", src, tmp_path / "out")
    with pytest.raises(InputError, match="already exists"):
        import_dataset("coco", src, tmp_path / "out")
    import_dataset("coco", src, tmp_path / "out", overwrite=True)  # the flag allows it


def test_output_inside_source_is_refused(tmp_path):
    src = dataset(tmp_path, "coco", ["images/a.jpg"])
    with pytest.raises(InputError, match="must not be inside the source"):
        import_dataset("coco", src, src / "out")


def test_cli_import_prints_summary_and_fails_on_errors(tmp_path, capsys):
    src = dataset(tmp_path, "voc", ["JPEGImages/car1.jpg", "JPEGImages/car2.png", "JPEGImages/car3.jpg",
                                    "JPEGImages/car4.jpg"])
    assert main(["import", "--format", "voc", str(src), "-o", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("voc: 3 images (1 without plates), 2 plates, 2 with text")
    assert "1 x box of unknown class 'car'" in out
    assert "errors (2):" in out and "gone.jpg" in out

    src = dataset(tmp_path, "coco", ["images/a.jpg", "images/b.jpg", "images/nope.jpg"])
    assert main(["import", "--format", "coco", str(src), "-o", str(tmp_path / "out2")]) == 0


def test_cli_missing_source_exits_with_input_error_code(tmp_path, capsys):
    assert main(["import", "--format", "voc", str(tmp_path / "nothing"), "-o", str(tmp_path / "out")]) == 5
    assert "not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- the review folder writer


def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def write(folder: Path, seed: int, max_items: int = 10, max_mb: float = 5.0) -> Path | None:
    return write_review_item(folder, noise(seed), (4, 5, 30, 15), "MH12AB1Z34", 0.41, "gate-1",
                             max_items=max_items, max_mb=max_mb)


def items(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.json"))


def test_review_item_sidecar_format(tmp_path):
    image = write(tmp_path, 0)
    data = json.loads(image.with_suffix(".json").read_text())
    assert data == {"image": image.name, "width": W, "height": H, "box": [4, 5, 30, 15], "text_read": "MH12AB1Z34",
                    "text": None, "confidence": 0.41, "camera_id": "gate-1", "created": data["created"]}
    assert cv2.imread(str(image)).shape == (H, W, 3)
    assert not list(tmp_path.glob(".*.tmp"))


def test_review_folder_keeps_the_newest_items_within_max_items(tmp_path):
    names = [write(tmp_path, seed, max_items=2).stem for seed in range(3)]
    assert items(tmp_path) == sorted(names[1:])
    assert sorted(p.stem for p in tmp_path.glob("*.jpg")) == sorted(names[1:])  # images go with sidecars


def test_review_folder_removes_uncorrected_items_before_corrected_ones(tmp_path):
    first, second = write(tmp_path, 0, max_items=2), write(tmp_path, 1, max_items=2)
    sidecar = first.with_suffix(".json")
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "text": "MH12AB1234"}))
    third = write(tmp_path, 2, max_items=2)
    assert items(tmp_path) == sorted([first.stem, third.stem])
    assert not second.exists()


def test_review_folder_keeps_within_max_mb(tmp_path):
    one = write(tmp_path / "probe", 0)
    item_bytes = one.stat().st_size + one.with_suffix(".json").stat().st_size
    budget_mb = 2.5 * item_bytes / 2**20  # room for two items, not three
    for _ in range(3):
        write(tmp_path / "review", 0, max_mb=budget_mb)
    assert len(items(tmp_path / "review")) == 2
    assert sum(p.stat().st_size for p in (tmp_path / "review").iterdir()) <= budget_mb * 2**20


@pytest.mark.parametrize("max_items, max_mb", [(0, 5.0), (10, 0.0), (10, 0.0001)])  # off, off, item too big
def test_review_item_not_saved(tmp_path, max_items, max_mb):
    assert write(tmp_path / "review", 0, max_items=max_items, max_mb=max_mb) is None
    assert not (tmp_path / "review").exists() or not any((tmp_path / "review").iterdir())
