"""Training code on tiny data: a training step, the TF rebuild, int8 export and loading the result
back through the daemon's runtime. Needs the ``train`` extra (torch, tensorflow)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from edge_alpr.training.yolo import YoloLoss, YoloV4Tiny, kmeans_anchors  # noqa: E402

SIZE = 64


def _two_images():
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, (2, SIZE, SIZE, 3), dtype=np.uint8)
    boxes = [np.array([[10, 30, 40, 42]], np.float32), np.array([[20, 8, 56, 22]], np.float32)]
    for img, b in zip(images, boxes):
        x1, y1, x2, y2 = b[0].astype(int)
        img[y1:y2, x1:x2] = 240  # a bright plate-like rectangle
        img[y1 + 3 : y2 - 3, x1 + 3 : x2 - 3 : 4] = 20  # dark "characters"
    return images, boxes


def _batch(images, boxes):
    from edge_alpr.training.detector import collate

    return collate(list(zip(images, boxes)))


def test_training_steps_reduce_the_loss_on_two_images():
    torch.manual_seed(0)
    images, boxes = _two_images()
    anchors = kmeans_anchors(np.concatenate([b[:, 2:] - b[:, :2] for b in boxes] * 3) + np.arange(6)[:, None], n=6)
    model = YoloV4Tiny(width=0.25)
    loss_fn = YoloLoss(anchors)
    x, targets = _batch(images, boxes)
    assert targets.shape == (2, 5)
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    first = None
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(25):
        loss, parts = loss_fn(model(x), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss)
    assert np.isfinite(float(loss)) and parts["box"] > 0
    assert float(loss) < 0.9 * first
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_kmeans_anchors_are_sorted_and_fit_the_boxes():
    rng = np.random.default_rng(1)
    small = rng.normal([12, 5], 1, (200, 2))
    large = rng.normal([90, 35], 3, (200, 2))
    anchors = kmeans_anchors(np.concatenate([small, large]), n=2)
    np.testing.assert_allclose(anchors[0], [12, 5], atol=1.5)
    np.testing.assert_allclose(anchors[1], [90, 35], atol=4)


def _card(anchors):
    return {
        "name": "plate_detector", "version": "test", "input_size": SIZE,
        "heads": [{"stride": 16, "anchors": anchors[:3].tolist()}, {"stride": 32, "anchors": anchors[3:].tolist()}],
        "score_threshold": 0.0, "nms_iou_threshold": 0.45,
    }


def test_detector_export_loads_back_and_matches_pytorch(tmp_path):
    from edge_alpr.detector import PlateDetector
    from edge_alpr.training.export import export_detector

    torch.manual_seed(0)
    model = YoloV4Tiny(width=0.25).eval()
    images, _ = _two_images()
    calib = lambda: (images[i : i + 1].astype(np.float32)[..., ::-1] / 255.0 for i in range(2))  # noqa: E731
    paths = export_detector(model, SIZE, tmp_path, calib)
    anchors = np.array([[8, 4], [12, 6], [16, 8], [24, 10], [32, 14], [48, 20]], np.float32)
    for kind in ("int8", "float16"):
        (tmp_path / "plate_detector.json").write_text(json.dumps(_card(anchors)))
        det = PlateDetector(paths[kind], num_threads=1)
        out = det.model.run((images[:1, :, :, ::-1] / 255.0).astype(np.float32))
        # Score tensors agree with PyTorch's sigmoid within quantization error.
        with torch.no_grad():
            ref = model(torch.from_numpy(images[:1, :, :, ::-1] / 255.0).float().permute(0, 3, 1, 2))
        ref_scores16 = ref[0][..., 4].sigmoid().numpy().transpose(0, 2, 3, 1)
        score16 = next(v for v in out.values() if v.shape == ref_scores16.shape)
        tol = 0.05 if kind == "int8" else 0.01
        assert np.abs(score16 - ref_scores16).max() < tol
        dets = det.detect(images[0])
        assert len(dets) > 0 and (dets.boxes[:, 2] <= SIZE).all()


@pytest.mark.parametrize("width", ["training", 96])
def test_reader_export_reads_through_the_runtime(tmp_path, width):
    """The reader takes its input width from the model file: a reader trained at another width
    than today's (an older one, a site's own) loads and reads too."""
    from edge_alpr.ocr import EdgePlateReader
    from edge_alpr.training.export import READER_OUTPUT, export_reader
    from edge_alpr.training.reader_model import INPUT_H, INPUT_W, PlateRecognizer

    width = INPUT_W if width == "training" else width
    torch.manual_seed(0)
    model = PlateRecognizer().eval()
    rng = np.random.default_rng(0)
    calib = lambda: (rng.random((1, INPUT_H, width, 1), dtype=np.float32) for _ in range(4))  # noqa: E731
    paths = export_reader(model, (INPUT_H, width), tmp_path, calib)
    (tmp_path / "plate_reader.json").write_text(json.dumps({"name": "plate_reader", "version": "test",
                                                           "output": READER_OUTPUT}))
    reader = EdgePlateReader(paths["int8"], num_threads=1, grammar="any", min_confidence=0.5)
    crop = rng.integers(0, 255, (40, 180, 3), dtype=np.uint8)
    probs = reader.probabilities(crop)
    assert reader.wide.input_width == width and probs.shape == (width // 2, 37)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=0.05)
    read = reader.read(crop)
    assert len(read.char_confidences) == len(read.text)
    assert 0.0 <= read.confidence <= 1.0


def _tiny_reader_datasets(root):
    """A datasets folder with only in_plates: rendered crops standing in for real ones, one in
    eight a two-line plate."""
    import cv2

    from edge_alpr.synth.render import render_plate
    from edge_alpr.synth.texts import random_plate_text

    rng = np.random.default_rng(0)
    (root / "in_plates" / "crops").mkdir(parents=True)
    rows = []
    for i in range(16):
        layout = "two" if i % 8 == 0 else "one"
        plate = render_plate(random_plate_text(rng), rng, layout=layout)
        name = f"crops/t{i:02d}.png"
        cv2.imwrite(str(root / "in_plates" / name), plate.image)
        rows.append({"crop": name, "text": plate.text, "status": "ok", "layout": layout,
                     "split": "val" if i % 4 == 0 else "train"})
    (root / "in_plates" / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_reader_training_command_writes_a_card_a_fine_tune_keeps_its_base_and_recalibrate_and_re_export_remeasure(tmp_path):
    from edge_alpr.ocr import EdgePlateReader
    from edge_alpr.synth import fonts
    from edge_alpr.training import reader as train_reader

    datasets = _tiny_reader_datasets(tmp_path / "datasets")
    models = tmp_path / "models"
    args = ["--datasets", str(datasets), "--batch", "4", "--synthetic", "8", "--threads", "1", "--bf16", "off",
              "--models-dir", str(models)]

    assert train_reader.main(args + ["--steps", "3", "--eval-every", "3", "--run-dir", str(tmp_path / "run")]) == 0
    card = json.loads((models / "plate_reader.json").read_text())
    assert card["training"]["real_crops"]["val"] == 4
    assert card["training"]["real_train_sources"] == {"in_plates": card["training"]["real_crops"]["train"]}
    assert card["calibration"]["data_version"] == card["training"]["data_version"]
    assert card["metrics"]["int8"]["n"] == card["metrics"]["int8_without_second_looks"]["n"] == 4
    assert [h["step"] for h in card["training"]["history"]] == [3]
    EdgePlateReader(models / "plate_reader_int8.tflite").read(np.full((30, 120, 3), 200, np.uint8))

    assert card["training"]["typefaces"] == "standard"
    assert card["training"]["rendered_typefaces"] == fonts.face_count("standard")

    assert card["training"]["shape_jitter"] == 0.0 and card["training"]["foreign_plates"] == "none"
    assert train_reader.main(args + ["--fine-tune", "--steps", "2", "--typefaces", "more", "--shape-jitter", "0.5",
                                     "--run-dir", str(tmp_path / "ft")]) == 0
    tuned = json.loads((models / "plate_reader.json").read_text())
    assert tuned["training"]["fine_tuned"] and tuned["training"]["base"]["steps"] == 3
    assert tuned["training"]["typefaces"] == "more"
    assert tuned["training"]["rendered_typefaces"] == fonts.face_count("more")
    assert tuned["training"]["shape_jitter"] == 0.5
    assert "base" not in tuned["training"]["base"] and "history" not in tuned["training"]["base"]

    # The squarish crops' recognizer: that reader fine-tuned under its own name, and calibrated and
    # measured on the squarish crops alone (the two two-line validation plates), since the daemon
    # shows it nothing else; the main reader's files are left alone.
    main_files = {p.name: p.read_bytes() for p in models.iterdir()}
    assert train_reader.main(args + ["--name", "plate_reader_square", "--fine-tune", "--init",
                                     str(models / "plate_reader_fp16.pt"), "--steps", "2",
                                     "--run-dir", str(tmp_path / "square")]) == 0
    square = json.loads((models / "plate_reader_square.json").read_text())
    assert square["name"] == "plate_reader_square" and square["training"]["fine_tuned"]
    assert square["training"]["base"]["command"] == tuned["training"]["command"]  # the card beside --init
    assert square["files"] == {"int8": "plate_reader_square_int8.tflite", "float16": "plate_reader_square_float16.tflite",
                               "float_weights": "plate_reader_square_fp16.pt"}
    assert all((models / name).is_file() for name in square["files"].values())
    assert square["calibration"]["crops"].startswith("squarish") and square["metrics"]["int8"]["n"] == 2
    assert {p.name: p.read_bytes() for p in models.iterdir() if p.name in main_files} == main_files

    tuned["metrics"] = {}
    (models / "plate_reader.json").write_text(json.dumps(tuned))
    assert train_reader.main(args + ["--recalibrate"]) == 0
    again = json.loads((models / "plate_reader.json").read_text())
    assert again["metrics"]["int8"]["n"] == 4 and again["training"] == tuned["training"]

    # A re-export starts from the float weights and keeps the training record and the input size
    # the weights were trained at; an old card (softmax output) becomes a log-softmax one.
    from edge_alpr.training import common
    from edge_alpr.training.reader_model import INPUT_H, PlateRecognizer

    older = PlateRecognizer()
    common.load_fp16_weights(older, models / "plate_reader_fp16.pt")
    common.save_fp16_weights(older, models / "plate_reader_fp16.pt", {"input": [INPUT_H, 96]})  # as if trained at 96
    again["output"], again["metrics"] = "softmax", {}
    (models / "plate_reader.json").write_text(json.dumps(again))
    (models / "plate_reader_int8.tflite").unlink()
    assert train_reader.main(args + ["--re-export"]) == 0
    exported = json.loads((models / "plate_reader.json").read_text())
    assert exported["output"] == "log_softmax" and exported["training"] == tuned["training"]
    assert exported["metrics"]["int8"]["n"] == 4
    reader = EdgePlateReader(models / "plate_reader_int8.tflite")
    assert reader.wide.input_width == 96
    np.testing.assert_allclose(reader.probabilities(np.full((30, 120, 3), 200, np.uint8)).sum(1), 1.0, atol=0.05)


def test_reader_finish_early_exports_the_last_checkpoint_with_the_step_it_reached(tmp_path):
    import torch

    from edge_alpr.training import reader as train_reader

    datasets = _tiny_reader_datasets(tmp_path / "datasets")
    models, run = tmp_path / "models", tmp_path / "run"
    args = ["--datasets", str(datasets), "--batch", "4", "--synthetic", "8", "--threads", "1", "--bf16", "off",
            "--models-dir", str(models), "--run-dir", str(run)]
    assert train_reader.main(args + ["--steps", "2", "--eval-every", "2"]) == 0
    # As if that run had been planned for 6 steps and stopped after 2.
    state = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    state["args"]["steps"] = 6
    torch.save(state, run / "last.ckpt")
    (models / "plate_reader.json").unlink()

    assert train_reader.main(args + ["--finish-early"]) == 0
    card = json.loads((models / "plate_reader.json").read_text())
    assert card["training"]["steps"] == 2 and "step 2 of 6" in card["training"]["note"]
    assert card["training"]["command"].endswith("--steps 2 --eval-every 2")
    assert card["metrics"]["int8"]["n"] == 4


def test_detector_fine_tune_names_missing_start_weights_before_loading_photos(tmp_path, capsys):
    from edge_alpr.training.detector import base_version, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--fine-tune", "--models-dir", str(tmp_path)])
    assert str(tmp_path / "plate_detector_fp16.pt") in capsys.readouterr().err

    weights = tmp_path / "base" / "plate_detector_fp16.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"")
    (weights.parent / "plate_detector.json").write_text(json.dumps({"version": "2026.01.02"}))
    args = parse_args(["--fine-tune", "--init", str(weights), "--models-dir", str(tmp_path / "out")])
    assert args.init == weights and base_version(args.init) == "2026.01.02"
    # without --fine-tune no start weights are needed
    assert parse_args(["--models-dir", str(tmp_path / "out")]).init is None
