"""``edge-alpr eval`` plumbing with fake models: what is counted as found, read, right or wrong."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.datasets.manifest import PlateBox
from edge_alpr.evaluation import plots, stills
from edge_alpr.evaluation.buckets import plate_layout, width_bucket
from edge_alpr.evaluation.scoring import StillsEvaluator
from edge_alpr.types import Detections, PlateRead

BACKGROUND = 200


class QueueDetector:
    """Returns prepared detections, one per call, in the order the images are evaluated."""

    model_info = {"name": "fake-detector", "version": "test"}

    def __init__(self, outputs: list[list[tuple[tuple[float, float, float, float], float]]]) -> None:
        self.outputs = list(outputs)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        boxes = self.outputs.pop(0)
        if not boxes:
            return Detections.empty()
        return Detections(np.array([b for b, _ in boxes], np.float32), np.array([s for _, s in boxes], np.float32))


class ShadeReader:
    """Reads the text painted in a plate's grey shade (the centre pixel of the crop)."""

    model_info = {"name": "fake-reader", "version": "test"}

    def __init__(self, texts_by_shade: dict[int, str], confidence_by_shade: dict[int, float] | None = None) -> None:
        self.texts = texts_by_shade
        self.confidences = confidence_by_shade or {}

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        h, w = crop_bgr.shape[:2]
        shade = int(crop_bgr[h // 2, w // 2, 0])
        text, confidence = self.texts.get(shade, ""), self.confidences.get(shade, 0.9)
        return PlateRead(text, tuple(confidence for _ in text), confidence, "standard", accepted=bool(text))


# Two images. Each plate is painted in its own shade so the fake reader knows which it sees.
#   P1: 80x14 px, one line, under 16 px high.  P2: 34x20 px, layout "two" in the manifest.
#   P3: 40x23 px, no layout key: its aspect (1.74) says two-line.
P1 = PlateBox((20, 20, 100, 34), "KA01AB1234")
P2 = PlateBox((120, 50, 154, 70), "MH12DE5678", "two")
P3 = PlateBox((40, 30, 80, 53), "TN09BC4321")
SHADES = {P1: 10, P2: 40, P3: 70}
IMAGES = [(P1, P2), (P3,)]
HIGH, LOW = 0.9, 0.1


def _image(plates) -> np.ndarray:
    image = np.full((100, 200, 3), BACKGROUND, np.uint8)
    for plate in plates:
        x1, y1, x2, y2 = (int(v) for v in plate.box)
        image[y1:y2, x1:x2] = SHADES[plate]
    return image


def _truth_reader(**wrong: str) -> ShadeReader:
    texts = {SHADES[p]: p.text for p in (P1, P2, P3)}
    for name, text in wrong.items():
        texts[SHADES[{"P1": P1, "P2": P2, "P3": P3}[name]]] = text
    return ShadeReader(texts)


def _evaluate(detections, reader, threshold=0.5, errors=None):
    evaluator = StillsEvaluator(QueueDetector(detections), reader, score_threshold=threshold, errors=errors)
    for i, plates in enumerate(IMAGES):
        evaluator.add(_image(plates), plates, f"image{i}.jpg")
    return evaluator.report()


PERFECT = [[(P1.box, HIGH), (P2.box, HIGH)], [(P3.box, HIGH)]]


@pytest.mark.parametrize(
    "case, detections, wrong, ap50, precision, recall, exact, read",
    [
        ("perfect", PERFECT, {}, 1.0, 1.0, 1.0, 1.0, 3),
        ("P3 missed", [[(P1.box, HIGH), (P2.box, HIGH)], []], {}, 2 / 3, 1.0, 2 / 3, 2 / 3, 2),
        # Found below the operating threshold: on the PR curve, but never read.
        ("P3 under threshold", [[(P1.box, HIGH), (P2.box, HIGH)], [(P3.box, LOW)]], {}, 1.0, 1.0, 2 / 3, 2 / 3, 2),
        ("P2 misread", PERFECT, {"P2": "MH12DE5679"}, 1.0, 1.0, 1.0, 2 / 3, 3),
        # A false box scored above every true one: precision 3/4 from the top, AP 0.75.
        ("false box first", [[(P1.box, 0.8), (P2.box, 0.8), ((150, 5, 190, 15), 0.95)], [(P3.box, 0.8)]], {},
         0.75, 0.75, 1.0, 1.0, 3),
    ],
)
def test_detection_and_text_figures(case, detections, wrong, ap50, precision, recall, exact, read):
    report = _evaluate(detections, _truth_reader(**wrong))
    det = report.detection["all"]
    assert det.ap50 == pytest.approx(ap50)
    assert det.precision == pytest.approx(precision)
    assert det.recall == pytest.approx(recall)
    assert report.text.plates == 3
    assert report.text.read == read
    assert report.text.exact_accuracy == pytest.approx(exact)


def test_misread_lowers_char_accuracy_by_its_edit_distance():
    report = _evaluate(PERFECT, _truth_reader(P2="MH12DE5679"))
    assert report.text.char_accuracy == pytest.approx((1 + 0.9 + 1) / 3)


def test_small_plates_are_ignored_in_the_min_height_figures():
    # P1 (14 px high) missed: it costs recall over all plates, not over plates >= 16 px.
    report = _evaluate([[(P2.box, HIGH)], [(P3.box, HIGH)]], _truth_reader())
    assert report.detection["all"].recall == pytest.approx(2 / 3)
    assert report.detection["min_height_16"].recall == pytest.approx(1.0)
    assert report.detection["min_height_16"].plates == 2


def test_plate_like_figures_leave_out_boxes_read_as_nothing():
    # The false box on the background reads as "": a false positive over all boxes, gone after
    # the plate-like filter; the true ones stay.
    false_box = ((150, 5, 190, 15), 0.95)
    report = _evaluate([[(P1.box, 0.8), (P2.box, 0.8), false_box], [(P3.box, 0.8)]], _truth_reader())
    assert report.detection["all"].false_positives == 1
    like = report.detection["plate_like"]
    assert (like.true_positives, like.false_positives, like.false_negatives) == (3, 0, 0)


def test_plate_like_figures_count_a_true_plate_read_as_nothing_as_missed():
    report = _evaluate(PERFECT, _truth_reader(P3=""))
    assert report.detection["all"].recall == pytest.approx(1.0)
    assert report.detection["plate_like"].recall == pytest.approx(2 / 3)


@pytest.mark.parametrize("p3_reads", ["", "TN09BC4321"])
def test_plate_like_readable_figures_ignore_plates_labelled_without_text(p3_reads):
    # P3 labelled unreadable (no text): whatever its box reads, it is neither found nor missed
    # nor a false box in the readable line; the plain plate-like line counts it.
    unreadable = replace(P3, text=None)
    evaluator = StillsEvaluator(QueueDetector(PERFECT), _truth_reader(P3=p3_reads), score_threshold=0.5)
    for i, (drawn, plates) in enumerate(zip(IMAGES, [(P1, P2), (unreadable,)])):
        evaluator.add(_image(drawn), plates, f"image{i}.jpg")
    report = evaluator.report()
    readable = report.detection["plate_like_readable"]
    assert (readable.true_positives, readable.false_positives, readable.false_negatives) == (2, 0, 0)
    like = report.detection["plate_like"]
    assert like.recall == pytest.approx(1.0 if p3_reads else 2 / 3)


@pytest.mark.parametrize("confirm_floor, found", [(None, {"MH12DE5678"}), (0.1, {"KA01AB1234", "MH12DE5678"}),
                                                  (0.25, {"MH12DE5678"})])
def test_a_box_under_the_threshold_is_a_plate_when_a_sure_read_confirms_it(confirm_floor, found):
    # P1 and P3 score 0.2, under the 0.5 threshold. P1 reads surely: a plate from a floor of 0.1,
    # not from 0.25 (above its score). P3 reads right but unsurely: never a plate, never false.
    reader = ShadeReader({SHADES[p]: p.text for p in (P1, P2, P3)}, {SHADES[P3]: 0.5})
    evaluator = StillsEvaluator(QueueDetector([[(P1.box, 0.2), (P2.box, HIGH)], [(P3.box, 0.2)]]), reader,
                                score_threshold=0.5, confirm_floor=confirm_floor)
    for i, plates in enumerate(IMAGES):
        evaluator.add(_image(plates), plates, f"image{i}.jpg")
    report = evaluator.report()
    like = report.detection["plate_like"]
    assert (like.true_positives, like.false_positives) == (len(found), 0)
    assert report.text.exact_accuracy == pytest.approx(len(found) / 3)
    # The detector's own figures stay at its threshold: a read does not change what it found.
    assert report.detection["all"].true_positives == 1


def test_buckets_split_by_height_layout_and_width():
    report = _evaluate([[(P2.box, HIGH)], [(P3.box, HIGH)]], _truth_reader())  # P1 missed
    by = report.text_by
    assert list(by) == ["height", "layout", "width"]
    assert by["height"]["<20"].plates == 1 and by["height"]["<20"].exact_accuracy == 0.0
    assert by["height"]["20-40"].plates == 2 and by["height"]["20-40"].exact_accuracy == 1.0
    assert by["layout"]["one"].plates == 1 and by["layout"]["two"].plates == 2
    assert by["width"][">6%"].plates == 3


def test_accepted_reads_count_only_trusted_reads():
    reader = _truth_reader(P3="")  # an empty read is not accepted
    report = _evaluate(PERFECT, reader)
    assert report.accepted.reads == 2 and report.accepted.correct == 2


def test_latency_has_every_stage():
    report = _evaluate(PERFECT, _truth_reader())
    assert set(report.latency_ms) == {"detect", "read", "total"}
    for stage in report.latency_ms.values():
        assert 0 <= stage["mean"] and stage["p50"] <= stage["p95"]


@pytest.mark.parametrize(
    "box, layout, expected",
    [
        ((0, 0, 100, 24), None, "one"),  # Indian one-line, 500x120 mm
        ((0, 0, 68, 40), None, "two"),  # Indian two-line, 340x200 mm
        ((0, 0, 43, 20), None, "two"),  # just under the 2.2 aspect
        ((0, 0, 45, 20), None, "one"),
        ((0, 0, 100, 24), "two", "two"),  # the manifest's word wins over the aspect
        ((0, 0, 68, 40), "one", "one"),
    ],
)
def test_plate_layout(box, layout, expected):
    assert plate_layout(PlateBox(box, "X", layout)) == expected


@pytest.mark.parametrize("plate_width, image_width, expected",
                         [(30, 1280, "<3%"), (38.4, 1280, "3-6%"), (76.8, 1280, "3-6%"), (80, 1280, ">6%"), (10, 0, "<3%")])
def test_width_bucket(plate_width, image_width, expected):
    assert width_bucket(plate_width, image_width) == expected


# --- the command line --------------------------------------------------------------------------


def _write_dataset(root: Path, rows: list[tuple[tuple[PlateBox, ...], str | None]]) -> Path:
    (root / "images").mkdir(parents=True)
    with (root / "manifest.jsonl").open("w") as fh:
        for i, (plates, split) in enumerate(rows):
            cv2.imwrite(str(root / "images" / f"{i}.png"), _image(plates))
            row = {"image": f"images/{i}.png", "width": 200, "height": 100, "plates": [p.to_json() for p in plates]}
            if split:
                row["split"] = split
            fh.write(json.dumps(row) + "\n")
    return root / "manifest.jsonl"


@pytest.fixture
def fake_models(monkeypatch):
    """Make ``main`` use fakes: the detector finds P2 and P3 but misses P1; P3 is misread."""

    def install(detections):
        monkeypatch.setattr(stills, "build_detector", lambda cfg: (QueueDetector(detections), 0.5))
        monkeypatch.setattr(stills, "build_reader", lambda cfg: _truth_reader(P3="TN09BC4327"))

    return install


def test_main_json_and_errors_folder(tmp_path, capsys, fake_models):
    manifest = _write_dataset(tmp_path / "set", [((P1, P2), None), ((P3,), None)])
    fake_models([[(P2.box, HIGH)], [(P3.box, HIGH)]])
    errors = tmp_path / "errors"
    assert stills.main(["--manifest", str(manifest), "--json", "--errors", str(errors)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "stills" and out["images"] == 2
    assert out["text"]["exact_accuracy"] == pytest.approx(1 / 3)
    assert out["detection"]["all"]["recall"] == pytest.approx(2 / 3)
    assert out["models"]["detector"]["name"] == "fake-detector"
    # each plate's outcome, for eval-compare: the missed one read as nothing
    assert [(p["source"].rsplit("/", 1)[-1], p["truth"], p["read"]) for p in out["plates"]] == [
        ("0.png", "KA01AB1234", None), ("0.png", P2.text, P2.text), ("1.png", "TN09BC4321", "TN09BC4327")]
    assert out["plates"][0]["box"] == list(P1.box)
    assert sorted(p.name for p in errors.glob("*.jpg")) == ["00000_KA01AB1234_MISSED.jpg", "00001_TN09BC4321_TN09BC4327.jpg"]
    index = json.loads((errors / "index.json").read_text())
    assert [(e["kind"], e["truth"], e["prediction"]) for e in index] == [
        ("missed", "KA01AB1234", None), ("wrong", "TN09BC4321", "TN09BC4327")]
    # The missed plate's crop is cut where the plate really is: its own shade in the middle.
    crop = cv2.imread(str(errors / "00000_KA01AB1234_MISSED.jpg"))
    assert abs(int(crop[crop.shape[0] // 2, crop.shape[1] // 2, 0]) - SHADES[P1]) < 8


def test_main_table_names_the_figures(tmp_path, capsys, fake_models):
    manifest = _write_dataset(tmp_path / "set", [((P1, P2), None), ((P3,), None)])
    fake_models(PERFECT)
    assert stills.main(["--manifest", str(manifest)]) == 0
    table = capsys.readouterr().out
    for words in ("AP50", "plates >= 16 px high", "height <20", "layout two", "width >6%", "detect", "read"):
        assert words in table


@pytest.mark.parametrize("args, images", [(["--split", "val"], 1), (["--limit", "2"], 2), ([], 3),
                                          (["--holdout", "detector-val"], 1)])
def test_row_selection(tmp_path, capsys, fake_models, args, images):
    # Under a datasets-like folder, so --holdout finds the dataset name; rows with a split key
    # are the detector's validation rows exactly when split == "val".
    manifest = _write_dataset(tmp_path / "datasets" / "openalpr_us",
                              [((P3,), "train"), ((P3,), "val"), ((P3,), "train")])
    fake_models([[(P3.box, HIGH)]] * 3)
    assert stills.main(["--manifest", str(manifest), "--json", *args]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == images


def test_missing_image_is_an_input_error(tmp_path, capsys, fake_models):
    manifest = _write_dataset(tmp_path / "set", [((P3,), None)])
    (manifest.parent / "images" / "0.png").unlink()
    fake_models(PERFECT)
    assert stills.main(["--manifest", str(manifest)]) == 5
    assert "0.png" in capsys.readouterr().err


def test_reader_only_scores_ok_crops(tmp_path, capsys, monkeypatch):
    (tmp_path / "crops").mkdir()
    rows = [("a.png", P1, "ok", "one", "val"), ("b.png", P2, "partial", "one", "val"),
            ("c.png", P3, "ok", "two", "val"), ("d.png", P2, "ok", "one", "train")]
    with (tmp_path / "labels.jsonl").open("w") as fh:
        for name, plate, status, layout, split in rows:
            cv2.imwrite(str(tmp_path / "crops" / name), np.full((30, 90, 3), SHADES[plate], np.uint8))
            fh.write(json.dumps({"crop": f"crops/{name}", "text": plate.text, "status": status, "layout": layout,
                                 "split": split}) + "\n")
    monkeypatch.setattr(stills, "build_reader", lambda cfg: _truth_reader(P3="TN09BC4327"))
    errors = tmp_path / "errors"
    assert stills.main(["--reader-only", "--manifest", str(tmp_path / "labels.jsonl"), "--split", "val", "--json",
                        "--errors", str(errors)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "reader-only" and out["crops"] == 2  # the partial and the train crop are left out
    assert out["text"]["exact_accuracy"] == pytest.approx(0.5)
    assert out["text_by"]["layout"]["two"]["exact_accuracy"] == 0.0
    assert out["text_by"]["layout"]["one"]["exact_accuracy"] == 1.0
    assert [(p["truth"], p["read"], p["layout"]) for p in out["plates"]] == [
        (P1.text, P1.text, "one"), ("TN09BC4321", "TN09BC4327", "two")]
    assert [p.name for p in errors.glob("*.jpg")] == ["00000_TN09BC4321_TN09BC4327.jpg"]


def test_plots_are_skipped_without_matplotlib(tmp_path, capsys, fake_models, monkeypatch):
    manifest = _write_dataset(tmp_path / "set", [((P1, P2), None), ((P3,), None)])
    fake_models(PERFECT)
    monkeypatch.setattr(plots, "pyplot", lambda: None)
    assert stills.main(["--manifest", str(manifest), "--plots", str(tmp_path / "plots")]) == 0
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "plots").exists()


def test_plots_are_written(tmp_path, fake_models):
    pytest.importorskip("matplotlib")
    manifest = _write_dataset(tmp_path / "set", [((P1, P2), None), ((P3,), None)])
    fake_models(PERFECT)
    assert stills.main(["--manifest", str(manifest), "--plots", str(tmp_path / "plots")]) == 0
    for name in ("pr_curve.png", "accuracy_by_height.png", "accuracy_by_layout.png", "accuracy_by_width.png"):
        assert cv2.imread(str(tmp_path / "plots" / name)) is not None, name


def test_kept_labels_give_a_set_without_texts_its_texts_colours_and_split(tmp_path, capsys, fake_models, monkeypatch):
    from edge_alpr.datasets import kept

    manifest = _write_dataset(tmp_path / "datasets" / "boxes_only", [((P1, P2), None), ((P3,), None)])
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for row in rows:  # a set with boxes only, as in_twowheelers is
        for plate in row["plates"]:
            plate["text"] = None
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = tmp_path / "labels"
    labels.mkdir()
    rows = [{"image": "images/0.png", "box": list(P1.box), "text": P1.text, "status": "partial", "split": "train"},
            {"image": "images/0.png", "box": list(P2.box), "text": P2.text, "background": "white", "split": "train"},
            {"image": "images/1.png", "box": list(P3.box), "text": P3.text, "background": "yellow", "layout": "two",
             "split": "val"}]
    (labels / "boxes_only.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(kept, "LABELS_DIR", labels)
    fake_models([[(P2.box, HIGH)], [(P3.box, HIGH)]])

    assert stills.main(["--manifest", str(manifest), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"]["plates"] == 2  # the partial plate is no ground truth
    assert set(out["text_by"]["background"]) == {"white", "yellow"}

    assert stills.main(["--manifest", str(manifest), "--json", "--split", "val"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 1 and out["text"]["plates"] == 1
    assert out["text"]["exact_accuracy"] == 0.0  # P3 is misread by the fake reader


def _loose_box_report(detected_box):
    # A person boxed the plate with its holder: the label box is 4x the plate's area.
    loose = PlateBox((20, 10, 180, 90), "KA01AB1234")
    image = np.full((100, 200, 3), BACKGROUND, np.uint8)
    image[35:65, 60:140] = 10
    evaluator = StillsEvaluator(QueueDetector([[(detected_box, HIGH)]]), ShadeReader({10: loose.text}),
                                score_threshold=0.5)
    evaluator.add(image, [loose], "loose.jpg")
    return evaluator.report()


def test_a_right_read_inside_a_loose_label_box_counts_as_right():
    report = _loose_box_report((60, 35, 140, 65))  # IoU 0.19 with the label box
    assert report.detection["all"].recall == 0.0  # detection figures keep IoU 0.5
    assert report.text.read == 1
    assert report.text.exact_accuracy == 1.0


def test_a_speck_inside_a_loose_label_box_is_not_its_plate():
    report = _loose_box_report((95, 45, 105, 55))  # 100 px² inside a 12,800 px² box
    assert report.text.read == 0
    assert report.text.exact_accuracy == 0.0


def _outlined_report(detections):
    # The label box holds the plate with its holder; the plate's checked outline is the painted part.
    plate = PlateBox((20, 10, 180, 90), "KA01AB1234", plate_box=(60, 35, 140, 65))
    image = np.full((100, 200, 3), BACKGROUND, np.uint8)
    image[35:65, 60:140] = 10
    evaluator = StillsEvaluator(QueueDetector([detections]), ShadeReader({10: plate.text}), score_threshold=0.5)
    evaluator.add(image, [plate], "outlined.jpg")
    return evaluator.report()


def test_detection_is_scored_on_the_plates_outline_where_the_label_has_one():
    snug = _outlined_report([((60, 35, 140, 65), HIGH)])
    assert snug.detection["all"].recall == 1.0 and snug.detection["all"].precision == 1.0
    like_the_label = _outlined_report([((20, 10, 180, 90), HIGH)])  # IoU 0.19 with the outline
    assert like_the_label.detection["all"].recall == 0.0 and like_the_label.detection["all"].false_positives == 1


def test_a_read_box_beside_the_outline_still_reads_its_plate_and_an_unread_box_blocks_nothing():
    # Shifted left off the outline (IoU 0.42 with it) but well inside the label box: found and read.
    report = _outlined_report([((20, 35, 110, 65), HIGH)])
    assert report.detection["all"].recall == 0.0
    assert report.text.read == 1 and report.text.exact == 1
    # A box under the operating threshold on the outline is never read, so the read box still counts.
    report = _outlined_report([((60, 35, 140, 65), LOW), ((55, 30, 135, 70), HIGH)])
    assert report.text.read == 1 and report.text.exact == 1
