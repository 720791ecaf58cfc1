"""The plate reader: crop geometry, preprocessing, backends, and the shipped model reading
rendered Indian plates it has never seen (fresh seeds)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest

from edge_alpr.errors import ModelError
from edge_alpr.ocr import INPUT_H, INPUT_W, crop_plate, make_reader, preprocess
from edge_alpr.plates import parse
from edge_alpr.types import PlateFormat

REPO = Path(__file__).resolve().parents[1]
READER = REPO / "models" / "plate_reader_int8.tflite"
SQUARE = REPO / "models" / "plate_reader_square_int8.tflite"
needs_reader = pytest.mark.skipif(not READER.is_file(), reason="models/plate_reader_int8.tflite is not shipped yet")


def test_crop_plate_adds_the_margin_and_stays_in_the_image():
    image = np.zeros((100, 200, 3), np.uint8)
    crop = crop_plate(image, (50, 40, 150, 60), margin=0.1)
    assert crop.shape[:2] == (24, 120)  # 20 px + 2x2, 100 px + 2x10
    edge = crop_plate(image, (0, 0, 30, 10), margin=0.5)
    assert edge.shape[:2] == (15, 45)  # clipped at the top-left corner
    with pytest.raises(ValueError, match="outside"):
        crop_plate(image, (300, 300, 400, 320))


@pytest.mark.parametrize("shape", [(20, 90, 3), (200, 280, 3), (64, 128, 3), (30, 300)])
def test_preprocess_gives_the_model_input(shape):
    rng = np.random.default_rng(0)
    crop = rng.integers(60, 120, shape, dtype=np.uint8)
    out = preprocess(crop)
    assert out.shape == (INPUT_H, INPUT_W, 1) and out.dtype == np.uint8
    # contrast is stretched per crop: a dim crop comes out using the whole range
    assert out.min() <= 10 and out.max() >= 245


def test_percentiles_match_numpy():
    from edge_alpr.ocr import _percentiles

    rng = np.random.default_rng(4)
    for image in (rng.integers(0, 256, (64, 128), dtype=np.uint8), rng.integers(90, 110, (7, 5), dtype=np.uint8),
                  np.full((3, 3), 77, np.uint8)):
        np.testing.assert_allclose(_percentiles(image, (2.0, 50.0, 98.0)), np.percentile(image, (2, 50, 98)))


def test_preprocess_stretches_exactly_as_the_reader_was_trained():
    """The lookup table must give the very pixels of the float formula the models were trained on."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        grey = cv2.GaussianBlur(rng.integers(0, 256, (INPUT_H, INPUT_W), dtype=np.uint8), (0, 0), 2.0)
        grey = (grey.astype(np.float32) * rng.uniform(0.2, 1.0) + rng.uniform(0, 100)).clip(0, 255).astype(np.uint8)
        lo, hi = np.percentile(grey, (2, 98))
        expected = ((grey.astype(np.float32) - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)
        np.testing.assert_array_equal(preprocess(grey)[..., 0], expected)


def test_preprocess_rejects_an_empty_crop():
    with pytest.raises(ValueError, match="empty"):
        preprocess(np.zeros((0, 10, 3), np.uint8))


def test_unknown_backend_and_missing_model_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="unknown reader backend 'paddle'"):
        make_reader("paddle")
    with pytest.raises(ModelError, match="not found"):
        make_reader("edge", tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\xff\xd8\xff\xe0 a jpeg, not a model")
    with pytest.raises(ModelError, match="not a TFLite model"):
        make_reader("edge", junk)


def _rendered(seed: int, n: int, layout: str | None = None):
    from edge_alpr.synth.degrade import degrade
    from edge_alpr.synth.render import render_plate

    rng = np.random.default_rng(seed)
    for _ in range(n):
        plate = render_plate(None, rng, layout=layout)
        yield plate.text, degrade(plate.image, rng, strength=0.3)


@needs_reader
@pytest.mark.parametrize(("layout", "at_least"), [("one", 16), ("two", 16), ("stacked", 12)])
def test_shipped_reader_reads_rendered_plates(layout, at_least):
    """Seeds the training never used; mild camera effects. One- and two-line in one pass;
    stacked plates (a two-line block beside a tall number) with a second, rearranged look,
    which a wrong but sure whole reading can still pre-empt."""
    reader = make_reader("edge", READER, grammar="indian", min_confidence=0.5)
    results = [(text, reader.read(image)) for text, image in _rendered(90_000 + len(layout), 20, layout)]
    right = [r for text, r in results if r.text == text]
    assert len(right) >= at_least, [(t, r.text) for t, r in results if r.text != t]
    for _, r in results:
        assert len(r.char_confidences) == len(r.text)
        assert 0.0 <= r.confidence <= 1.0
        assert r.plate_format in get_args(PlateFormat)
    # calibrated confidence: right reads are on the whole more confident than wrong ones
    assert np.mean([r.confidence for r in right]) > 0.5


@needs_reader
def test_squarish_images_go_to_the_square_model_and_wide_ones_to_the_main_model():
    """Each image the reader reads, the crop or a view of it, goes to the model for its shape and
    is judged by that model's calibration. The float16 file stands in for a second model here:
    its probabilities differ from the int8 model's in the last digits, enough to tell them apart."""
    from edge_alpr.ocr import EdgePlateReader, is_squarish, split_two_lines

    other = READER.with_name("plate_reader_float16.tflite")
    both = EdgePlateReader(READER, square_model_path=other)
    main, square = EdgePlateReader(READER), EdgePlateReader(other)
    square.wide.calibration.a += 1.0  # a calibration of its own, to see which one judges a reading
    both.square.calibration.a += 1.0
    (_, wide), = _rendered(90_030, 1, "one")
    (_, two_line), = _rendered(90_031, 1, "two")
    side_by_side = split_two_lines(two_line)
    assert not is_squarish(wide) and is_squarish(two_line) and not is_squarish(side_by_side)
    assert not np.array_equal(main.probabilities(two_line), square.probabilities(two_line))
    for image, model in ((wide, main), (side_by_side, main), (two_line, square)):
        np.testing.assert_array_equal(both.probabilities(image), model.probabilities(image))
        assert both.decode(image) == model.decode(image)
    assert both.model_info["square_version"] == square.model_info["version"]


@needs_reader
def test_shipped_int8_reader_keeps_the_small_probabilities_the_float_reader_sees():
    """The grammar search and the calibration weigh runner-up characters of ~1e-4..1e-2; an int8
    softmax would round all of them to 0, an int8 log-softmax keeps them within its ~6 % steps
    (and a few steps of model rounding)."""
    int8 = make_reader("edge", READER)
    float16 = make_reader("edge", READER.with_name("plate_reader_float16.tflite"))
    small, ratios = 0, []
    for _, image in _rendered(90_100, 6):
        p8, p16 = int8.probabilities(image), float16.probabilities(image)
        np.testing.assert_allclose(p8.sum(1), 1.0, atol=0.05)  # rounding; the decoder renormalises
        mask = (p16 > 1e-4) & (p16 < 1e-2)
        small += int(mask.sum())
        ratios.extend(np.abs(np.log(p8[mask] / p16[mask])))
    assert small >= 20  # enough small probabilities to judge
    assert np.median(ratios) < np.log(2.0)
    assert np.mean(np.array(ratios) < np.log(10.0)) > 0.9


@needs_reader
def test_a_model_that_is_not_a_reader_is_a_clear_error(tmp_path):
    model = tmp_path / "plate_reader_int8.tflite"
    model.write_bytes((REPO / "models" / "plate_detector_int8.tflite").read_bytes())
    (tmp_path / "plate_reader.json").write_text(json.dumps({"name": "plate_reader", "output": "log_softmax"}))
    with pytest.raises(ModelError, match=r"plate_reader_int8\.tflite: input shape .*expected \(1, 64, W, 1\)"):
        make_reader("edge", model)


@needs_reader
def test_reader_card_with_an_unknown_output_kind_is_a_clear_error(tmp_path):
    model = tmp_path / "plate_reader_int8.tflite"
    model.write_bytes(READER.read_bytes())
    (tmp_path / "plate_reader.json").write_text(json.dumps({"name": "plate_reader", "output": "logits"}))
    with pytest.raises(ModelError, match=r"plate_reader\.json: 'output' must be 'softmax' or 'log_softmax', got 'logits'"):
        make_reader("edge", model)


@needs_reader
def test_squarish_crop_is_read_side_by_side_only_when_the_first_reading_is_unsure():
    from edge_alpr.ocr import CONFIDENT_FIRST_READ, TWO_LINE_MAX_ASPECT, EdgePlateReader

    reader = EdgePlateReader(READER, grammar="indian", min_confidence=0.5)
    calls = []
    probabilities = reader.probabilities
    reader.probabilities = lambda image: calls.append(image.shape) or probabilities(image)

    def squarish(image):  # a loose box around a one-line plate: road above and below it
        h, w = image.shape[:2]
        pad = int(w / 3.0 - h) // 2 + 1
        return cv2.copyMakeBorder(image, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(90, 90, 90))

    sure = 0
    for _, image in _rendered(90_010, 10, "one"):
        image = squarish(image)
        assert image.shape[1] < TWO_LINE_MAX_ASPECT * image.shape[0]
        calls.clear()
        read = reader.read(image)
        if read.plate_format != "unknown" and read.confidence >= CONFIDENT_FIRST_READ:
            sure += 1
            assert len(calls) == 1  # no second reading
    assert sure >= 5
    right = 0
    for text, image in _rendered(90_020, 10, "two"):
        calls.clear()
        read = reader.read(image)
        right += read.text == text
        if len(calls) == 1:  # taken as sure when read whole: then it must be right
            assert read.text == text, (text, read.text, read.confidence)
    assert right >= 8


@needs_reader
def test_an_unsure_crop_is_read_again_tighter_and_looser_and_the_surest_reading_kept(monkeypatch):
    from edge_alpr import ocr
    from edge_alpr.ocr import RETRY_VIEWS, EdgePlateReader, retry_views

    monkeypatch.setattr(ocr, "STACKED_MIN_ASPECT", float("inf"))  # counts the tighter and looser looks only
    reader = EdgePlateReader(READER, min_confidence=0.5, retry_unsure=True, level_min_angle=float("inf"))
    once = EdgePlateReader(READER, min_confidence=0.5, retry_unsure=False)
    shapes = []
    probabilities = reader.probabilities
    reader.probabilities = lambda image: shapes.append(image.shape[:2]) or probabilities(image)

    noise = np.random.default_rng(3).integers(0, 255, (40, 160, 3), dtype=np.uint8)
    read = reader.read(noise)
    assert len(shapes) == 1 + len(RETRY_VIEWS)
    assert shapes[1][0] < 40 < shapes[2][0] and shapes[1][1] < 160 < shapes[2][1]  # tighter, then looser
    readings = [once.read(view) for view in [noise, *retry_views(noise)]]
    surest = max(readings, key=lambda r: (r.plate_format != "unknown", r.confidence))
    assert (read.text, read.confidence) == (surest.text, pytest.approx(surest.confidence))

    retried = 0
    for _, image in _rendered(90_030, 10, "one"):
        shapes.clear()
        first = once.read(image)
        reader.read(image)
        sure = first.plate_format != "unknown" and first.confidence >= 0.9
        assert len(shapes) == (1 if sure else 1 + len(RETRY_VIEWS))
        retried += not sure
    assert retried < 5  # clear rendered plates are mostly read once

    # With grammar "any" every reading fits: a confident one is taken without a second look,
    # whatever its format (a foreign plate is "unknown" to the Indian grammar).
    anything = EdgePlateReader(READER, grammar="any", min_confidence=0.5, retry_unsure=True)
    looks = []
    probabilities_any = anything.probabilities
    anything.probabilities = lambda image: looks.append(1) or probabilities_any(image)
    once_any = EdgePlateReader(READER, grammar="any", min_confidence=0.5, retry_unsure=False)
    taken_at_once = 0
    for _, image in _rendered(90_040, 5, "one"):
        looks.clear()
        first = once_any.read(image)
        anything.read(image)
        assert len(looks) == (1 if first.confidence >= 0.9 else 1 + len(RETRY_VIEWS))
        taken_at_once += first.confidence >= 0.9
    assert taken_at_once >= 3


@needs_reader
def test_unreadable_crop_is_flagged_not_accepted():
    reader = make_reader("edge", READER, min_confidence=0.5)
    noise = np.random.default_rng(1).integers(0, 255, (40, 160, 3), dtype=np.uint8)
    read = reader.read(noise)
    assert not read.accepted and read.confidence < 0.5


@needs_reader
def test_read_command_prints_one_json_line_per_crop(tmp_path):
    paths = []
    for text, image in _rendered(123, 3, "one"):
        path = tmp_path / f"{text}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    out = subprocess.run([sys.executable, "-m", "edge_alpr", "read", "--json", *map(str, paths)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [Path(line["image"]).name for line in lines] == [p.name for p in paths]
    for line in lines:
        assert {"image", "text", "confidence", "char_confidences", "plate_format"} <= line.keys()
    assert sum(line["text"] == Path(line["image"]).stem for line in lines) >= 2


def test_rapidocr_backend_decodes_with_the_same_grammar():
    pytest.importorskip("rapidocr_onnxruntime")
    pytest.importorskip("onnxruntime")
    reader = make_reader("rapidocr", grammar="indian")
    reads = [(text, reader.read(image)) for text, image in _rendered(5, 6, "one")]
    assert all(len(r.char_confidences) == len(r.text) for _, r in reads)
    assert sum(r.text == text for text, r in reads) >= 3, [(t, r.text) for t, r in reads]


def test_rapidocr_padded_input_is_rapidocrs_own_width():
    pytest.importorskip("rapidocr_onnxruntime")
    pytest.importorskip("onnxruntime")
    from edge_alpr.ocr import RapidOcrReader

    _, image = next(_rendered(1, 7, "one"))
    narrow, padded = RapidOcrReader(padded=False), RapidOcrReader()  # padded, as rapidocr does, by default
    # PP-OCR's sequence is the input width / 8: 320 px padded gives 40 steps, the fitted width fewer.
    assert padded.probabilities(image).shape[0] == RapidOcrReader.PADDED_WIDTH // 8
    assert narrow.probabilities(image).shape[0] < RapidOcrReader.PADDED_WIDTH // 8


def test_split_two_lines_cuts_in_the_gap_between_the_lines():
    from edge_alpr.ocr import split_two_lines

    image = np.full((120, 200, 3), 255, np.uint8)
    cv2.putText(image, "KA01", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 4)  # rows ~15-45
    cv2.putText(image, "AB1234", (10, 105), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 4)  # rows ~78-105
    out = split_two_lines(image)
    cut = out.shape[0]
    assert 46 <= cut <= 77  # between the lines: no character is cut in two
    assert out.shape[1] == 2 * image.shape[1]
    np.testing.assert_array_equal(out[:, :200], image[:cut])


def test_stacked_as_line_puts_the_block_lines_before_the_number():
    from edge_alpr.ocr import stacked_as_line

    image = np.full((100, 400, 3), 255, np.uint8)
    cv2.putText(image, "MH02", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 3)  # rows ~17-40
    cv2.putText(image, "EZ", (30, 88), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 3)  # rows ~65-88
    cv2.putText(image, "2599", (170, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (0, 0, 0), 8)  # columns ~170-380
    out = stacked_as_line(image)
    assert out.shape[0] == image.shape[0]
    ink = (out[..., 0] < 128).mean(axis=0) > 0
    runs = np.flatnonzero(np.diff(np.concatenate(([0], ink.astype(int), [0]))))
    starts, ends = runs[::2], runs[1::2]
    # Three groups of characters left to right, the number last and unchanged.
    big_gaps = np.flatnonzero(starts[1:] - ends[:-1] > 15)
    assert len(big_gaps) == 2, list(zip(starts, ends))
    number_at = starts[big_gaps[-1] + 1]
    np.testing.assert_array_equal(out[:, number_at:], image[:, image.shape[1] - (out.shape[1] - number_at):])


@needs_reader
def test_a_sure_reading_is_never_rearranged_and_a_stacked_plate_is():
    from edge_alpr.ocr import EdgePlateReader

    reader = EdgePlateReader(READER, grammar="indian", min_confidence=0.5, retry_unsure=False)
    calls = []
    probabilities = reader.probabilities
    reader.probabilities = lambda image: calls.append(image.shape) or probabilities(image)
    for _, image in _rendered(90_030, 10, "one"):
        calls.clear()
        read = reader.read(image)
        if read.confidence >= 0.9:
            assert len(calls) == 1
    right = 0
    for text, image in _rendered(90_040, 10, "stacked"):
        calls.clear()
        read = reader.read(image)
        right += read.text == text
        # Only a sure whole reading, or one with a series (which a stacked plate read whole loses),
        # skips the stacked look.
        if len(calls) == 1:
            parts = parse(read.text)
            assert read.confidence >= 0.9 or (parts is not None and bool(parts.groups[2])), read
    assert right >= 7


def _platt(features: np.ndarray, cal) -> np.ndarray:
    return 1 / (1 + np.exp(-(features @ [cal.a, cal.c] + cal.b)))


def test_calibration_fit_recovers_a_known_confidence_curve():
    from edge_alpr.ocr import Calibration

    rng = np.random.default_rng(0)
    seq = rng.uniform(-6, 0, 4000)
    features = np.column_stack([seq, 0.9 * seq + rng.normal(0, 0.3, seq.size)])
    truth = 1 / (1 + np.exp(-(2.0 * seq + 3.0)))
    right = rng.random(seq.size) < truth

    cal = Calibration.fit(features, right)

    assert np.abs(_platt(features, cal) - truth).mean() < 0.03


#: (log sequence probability, log weakest character) of the 17 wrong reads of a real int8 model
#: on its calibration crops, rounded.
_WRONG_READS = [(-0.5, -0.29), (-6.44, -4.85), (0.0, 0.0), (-0.61, -0.53), (-3.95, -2.11), (-5.62, -4.45),
                (-1.02, -0.23), (-0.09, -0.07), (-0.09, -0.05), (-0.18, -0.07), (-0.14, -0.11), (-0.1, -0.05),
                (-2.69, -0.51), (-0.2, -0.08), (-2.8, -0.85), (-5.77, -4.16), (-1.7, -1.21)]


def test_calibration_fit_converges_when_right_reads_crowd_at_certainty():
    """Right reads at log-probability ~0, wrong ones spread below: plain Newton steps ran off to
    weights in the tens of thousands on these and called every read wrong."""
    from edge_alpr.ocr import Calibration

    rng = np.random.default_rng(0)
    seq = np.r_[-np.abs(rng.normal(0, 0.03, 126)), rng.uniform(-3.8, -0.3, 12)]
    features = np.r_[np.column_stack([seq, seq * rng.uniform(0.6, 1.0, seq.size)]), _WRONG_READS]
    labels = np.r_[np.ones(seq.size), np.zeros(len(_WRONG_READS))]

    cal = Calibration.fit(features, labels)

    p = _platt(features, cal)
    assert np.isfinite([cal.a, cal.b, cal.c]).all() and abs(cal.a) + abs(cal.c) < 100
    assert p.mean() == pytest.approx(labels.mean(), abs=0.02)  # a converged logistic fit matches the base rate
    assert p[labels == 1].mean() > p[labels == 0].mean()


def test_plate_windows_are_centred_and_skip_windows_too_small_to_read():
    from edge_alpr.ocr_views import plate_windows

    crop = np.zeros((100, 200, 3), np.uint8)
    crop[50, 100] = 255  # the centre pixel lies in every centred window
    views = plate_windows(crop, windows=((0.5, 0.5), (0.9, 0.3)))
    assert [v.shape[:2] for v in views] == [(50, 100), (30, 180)]
    assert all(v.max() == 255 for v in views)
    assert plate_windows(np.zeros((12, 24, 3), np.uint8), windows=((0.5, 0.5),)) == []


def _loose(image, rng, share_w=0.6, share_h=0.5):
    """A plate in a loose box, as two-wheelers' boxes are: mottled dark surroundings."""
    h, w = image.shape[:2]
    H, W = int(h / share_h), int(w / share_w)
    surroundings = rng.integers(20, 90, (H // 8 + 1, W // 8 + 1, 3)).astype(np.uint8)
    out = cv2.resize(surroundings, (W, H), interpolation=cv2.INTER_CUBIC)
    y, x = (H - h) // 2, (W - w) // 2
    out[y : y + h, x : x + w] = image
    return out


@needs_reader
def test_a_two_line_plate_in_a_loose_box_is_found_by_the_windows_inside_it(monkeypatch):
    from edge_alpr import ocr

    reader = ocr.EdgePlateReader(READER, min_confidence=0.5)
    rng = np.random.default_rng(91_000)
    plates = [(text, _loose(image, rng)) for text, image in _rendered(91_000, 20, "two")]
    with_windows = sum(reader.read(image).text == text for text, image in plates)
    monkeypatch.setattr(ocr, "plate_windows", lambda crop: [])
    without = sum(reader.read(image).text == text for text, image in plates)
    # Read whole, the plate's lines are split in the wrong place and stretched with the
    # surroundings; a window round the plate reads it.
    assert with_windows >= 16 and with_windows >= without + 6, (with_windows, without)


TWO_LINE_STYLES = {
    "hsrp": {"hsrp": True}, "printed": {"hsrp": False, "lettering": "printed"},
    "painted": {"hsrp": False, "lettering": "painted"}, "stencil": {"hsrp": False, "lettering": "stencil"},
    "red line": {"hsrp": False, "divider": "red"}, "ink line": {"hsrp": False, "divider": "ink"},
    "holder": {"hsrp": False, "holder": True, "frame": False}, "worn": {"hsrp": False, "worn": True},
    "dashes": {"hsrp": False, "separator": "-"}, "dots": {"hsrp": False, "separator": "."},
}


@needs_reader
def test_shipped_reader_reads_two_line_plates_of_every_style():
    """Each of the renderer's two-line styles, with mild camera effects, on seeds the training
    never drew, read as the daemon reads them (squarish crops to the square model): every style
    mostly right, and nearly all plates right together."""
    from dataclasses import replace

    from edge_alpr.synth.degrade import degrade
    from edge_alpr.synth.render import random_style, render_plate

    reader = make_reader("edge", READER, min_confidence=0.5, square_model_path=SQUARE)
    right = {}
    for name, fields in TWO_LINE_STYLES.items():
        rng = np.random.default_rng(92_000)
        right[name] = 0
        for _ in range(8):
            style = replace(random_style(rng), **fields)
            plate = render_plate(None, rng, layout="two", style=style)
            right[name] += reader.read(degrade(plate.image, rng, strength=0.3)).text == plate.text
    assert min(right.values()) >= 4, right
    assert sum(right.values()) >= 0.85 * 8 * len(TWO_LINE_STYLES), right


@needs_reader
def test_tight_box_fitting_finds_the_plate_inside_a_loose_box():
    from edge_alpr.datasets.tight_boxes import fit

    reader = make_reader("edge", READER, min_confidence=0.5)
    rng = np.random.default_rng(93_000)
    found = 0
    for text, image in _rendered(93_000, 6, "two"):
        crop = _loose(image, rng)
        h, w = image.shape[:2]
        y, x = (crop.shape[0] - h) // 2, (crop.shape[1] - w) // 2
        result = fit(reader, crop, text)
        other = text[:-1] + str((int(text[-1]) + 5) % 10) if text[-1].isdigit() else text[:-1] + "Q"
        assert fit(reader, crop, other) is None  # only a window that reads the label's own text counts
        if result is None:
            continue
        (x1, y1, x2, y2), confidence = result
        inter = max(0, min(x2, x + w) - max(x1, x)) * max(0, min(y2, y + h) - max(y1, y))
        union = (x2 - x1) * (y2 - y1) + w * h - inter
        found += inter / union >= 0.5
    assert found >= 4


@pytest.mark.parametrize("layout", ["one", "two"])
def test_tilt_angle_finds_how_far_a_plate_is_turned_and_level_undoes_it(layout):
    from edge_alpr.ocr_views import LEVEL_MAX_ANGLE, LEVEL_MIN_ANGLE, level, tilt_angle
    from edge_alpr.training.reader_data import tilt  # as a detector boxes a tilted plate

    misses = 0
    for (_, plate), angle in zip(_rendered(93_000 + len(layout), 6, layout), (-22, -14, -8, 8, 14, 22)):
        tilted = tilt(plate, angle)
        found = tilt_angle(tilted)
        assert abs(found) <= LEVEL_MAX_ANGLE
        # Turning back by -angle levels it. Always to within the tilt the reader reads as it is (it
        # never turns a crop by less); a borderless painted plate whose letters do not share a
        # baseline may be found a few degrees off, so one of the six may miss the 2 degrees.
        assert abs(found + angle) < LEVEL_MIN_ANGLE, (angle, found)
        if abs(found + angle) > 2:
            misses += 1
            continue
        levelled = level(tilted, found)
        h, w = plate.shape[:2]
        # cut to the plate with the crop margin round it, not to the tilted box
        assert abs(levelled.shape[0] - 1.15 * h) <= 0.12 * h and abs(levelled.shape[1] - 1.05 * w) <= 0.06 * w
        y, x = (levelled.shape[0] - h) // 2, (levelled.shape[1] - w) // 2
        middle = levelled[y : y + h, x : x + w][h // 5 : -h // 5, w // 10 : -w // 10].astype(np.float32)
        expected = plate[h // 5 : -h // 5, w // 10 : -w // 10].astype(np.float32)
        assert np.corrcoef(middle.ravel(), expected.ravel())[0, 1] > 0.8  # the plate, upright
    assert misses <= 1
    upright = next(_rendered(93_010, 1, layout))[1]
    assert abs(tilt_angle(upright)) <= 2


@needs_reader
def test_an_unsure_tilted_plate_is_read_again_level():
    """Plates hanging 15-25 degrees, as riders' do. The wide model learnt plates within a few
    degrees of level, so alone it needs the level look; the square model learnt tilted plates
    too (``--tilt-fraction``) and reads them as they are."""
    from edge_alpr.ocr import EdgePlateReader
    from edge_alpr.training.reader_data import tilt

    rng = np.random.default_rng(94_000)
    plates = [(text, tilt(image, float(rng.choice([-1, 1]) * rng.uniform(15, 25))))
              for text, image in _rendered(94_000, 30, "one")]
    wide = EdgePlateReader(READER, min_confidence=0.5)
    never_level = EdgePlateReader(READER, min_confidence=0.5, level_min_angle=float("inf"))
    both = EdgePlateReader(READER, min_confidence=0.5, square_model_path=SQUARE)
    levelled = sum(wide.read(image).text == text for text, image in plates)
    as_they_are = sum(never_level.read(image).text == text for text, image in plates)
    assert levelled >= 25 and levelled >= as_they_are + 6, (levelled, as_they_are)
    assert sum(both.read(image).text == text for text, image in plates) >= 25
