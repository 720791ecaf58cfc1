"""Which detector boxes read as plates (``still_reads.plate_like``), which low-scored boxes a sure
read confirms, and ``edge-alpr detect`` hiding the ones that are no plate: the rules on reads,
then the shipped models on a generated street picture with a rendered plate, a signboard and a
dotted panel the detector fires on."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr import cli
from edge_alpr.still_reads import CONFIRM_MIN_CONFIDENCE, PLATE_LIKE_MIN_CONFIDENCE, confirms, plate_like, read_boxes
from edge_alpr.types import Detections, PlateRead

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
needs_models = pytest.mark.skipif(
    not (MODELS / "plate_detector_int8.tflite").is_file() or not (MODELS / "plate_reader_int8.tflite").is_file(),
    reason="the shipped models are not in models/",
)


def _read(text: str, confidence: float, plate_format: str = "standard") -> PlateRead:
    return PlateRead(text, tuple(confidence for _ in text), confidence, plate_format, accepted=confidence >= 0.5)


@pytest.mark.parametrize(
    "read, grammar, expected",
    [
        (_read("KA01AB1234", 0.95), "indian", True),
        # Read a little unsurely: still a plate, shown though the daemon would not vote with it.
        (_read("KA01AB1234", 0.3), "indian", True),
        (_read("KA01AB1234", PLATE_LIKE_MIN_CONFIDENCE), "indian", True),
        # Garbage forced into the grammar: the reader gives it no chance.
        (_read("TN98", PLATE_LIKE_MIN_CONFIDENCE / 2), "indian", False),
        (_read("JH09BBB0988", 0.0), "indian", False),
        (_read("", 0.0, "unknown"), "any", False),
        # Clear lettering that is no Indian plate (a signboard): kept only where any text is a plate.
        (_read("H0TEL24X7", 0.95, "unknown"), "indian", False),
        (_read("H0TEL24X7", 0.95, "unknown"), "any", True),
        (_read("7ABC123", 0.9, "unknown"), "any", True),
    ],
)
def test_plate_like(read, grammar, expected) -> None:
    assert plate_like(read, grammar) is expected


@pytest.mark.parametrize(
    "read, grammar, expected",
    [
        (_read("KA01AB1234", 0.95), "indian", True),
        (_read("KA01AB1234", CONFIRM_MIN_CONFIDENCE), "indian", True),
        # Accepted by the reader, but not sure enough to overrule the detector.
        (_read("KA01AB1234", 0.6), "indian", False),
        (_read("H0TEL24X7", 0.95, "unknown"), "indian", False),
        (_read("7ABC123", 0.95, "unknown"), "any", True),
        (_read("", 0.0, "unknown"), "any", False),
    ],
)
def test_confirms(read, grammar, expected) -> None:
    assert confirms(read, grammar) is expected


class _ReaderByWidth:
    """Reads a crop by its width: each test box has its own."""

    def __init__(self, reads: dict[int, PlateRead]) -> None:
        self.reads, self.widths = reads, []

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        self.widths.append(crop_bgr.shape[1])
        return self.reads[crop_bgr.shape[1]]


def test_read_boxes_keeps_the_threshold_s_boxes_and_the_confirmed_ones_only() -> None:
    image = np.zeros((100, 300, 3), np.uint8)
    # Box widths 20, 30, 40, 50 give crops 24, 36, 48, 60 px wide (10 % margin each side).
    boxes = [(10, 10, 30, 20), (50, 10, 80, 20), (100, 10, 140, 20), (150, 10, 200, 20), (400, 10, 450, 20)]
    found = Detections(np.array(boxes, np.float32), np.array([0.9, 0.2, 0.2, 0.05, 0.2], np.float32))
    garbage, sure, unsure = _read("", 0.0, "unknown"), _read("KA01AB1234", 0.95), _read("MH12DE5678", 0.6)
    reader = _ReaderByWidth({24: garbage, 36: sure, 48: unsure, 60: sure})
    reads = read_boxes(image, found, reader, threshold=0.3, confirm_floor=0.1)
    # The detector's own box shows whatever it reads; under the threshold only a sure read shows;
    # under the floor nothing is read; the box off the image is skipped.
    assert reads == {0: garbage, 1: sure}
    assert sorted(reader.widths) == [24, 36, 48]
    assert read_boxes(image, found, _ReaderByWidth({24: garbage}), threshold=0.3, confirm_floor=None) == {0: garbage}


def street_picture() -> np.ndarray:
    """A grey wall with a rendered plate (KA01AB1234, 200 px wide), a white signboard lettered
    HOTEL 24X7 and a white panel of black dots; the shipped detector boxes all three."""
    from edge_alpr.synth.render import render_plate

    rng = np.random.default_rng(0)
    image = np.full((480, 640, 3), (90, 95, 100), np.uint8) + rng.integers(0, 20, (480, 640, 3), dtype=np.uint8)
    plate = render_plate("KA01AB1234", np.random.default_rng(1), layout="one").image
    plate = cv2.resize(plate, (200, round(200 * plate.shape[0] / plate.shape[1])))
    image[330 : 330 + plate.shape[0], 380:580] = plate
    cv2.rectangle(image, (40, 60), (360, 130), (255, 255, 255), -1)
    cv2.rectangle(image, (40, 60), (360, 130), (0, 0, 0), 3)
    cv2.putText(image, "HOTEL 24X7", (55, 115), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 4)
    cv2.rectangle(image, (60, 300), (300, 350), (255, 255, 255), -1)
    for x in range(70, 290, 20):
        cv2.circle(image, (x, 325), 7, (0, 0, 0), -1)
    return image


@pytest.fixture
def street(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(MODELS))
    path = tmp_path / "street.png"
    cv2.imwrite(str(path), street_picture())
    return path


def _detect(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(["detect", *argv])
    return code, capsys.readouterr().out


@needs_models
def test_detect_keeps_the_plate_and_hides_the_sign_and_the_panel(capsys, street) -> None:
    code, out = _detect(capsys, "--json", str(street))
    assert code == 0
    result = json.loads(out)
    assert [p["text"] for p in result["plates"]] == ["KA01AB1234"]
    assert result["plates"][0]["plate_like"] is True
    assert result["dropped_boxes"] == 2

    code, out = _detect(capsys, str(street))
    assert code == 0 and "KA01AB1234" in out
    assert out.rstrip().endswith("(2 boxes not plate-like hidden; --all shows them)")


@needs_models
def test_detect_all_shows_the_hidden_boxes_marked(capsys, street) -> None:
    code, out = _detect(capsys, "--json", "--all", str(street))
    assert code == 0
    result = json.loads(out)
    assert result["dropped_boxes"] == 0
    marks = sorted((p["plate_like"], p["text"] or "") for p in result["plates"])
    assert len(marks) == 3 and marks[-1] == (True, "KA01AB1234")
    assert [like for like, _ in marks[:2]] == [False, False]
    code, out = _detect(capsys, "--all", str(street))
    assert out.count("not plate-like") == 2 and "hidden" not in out


@needs_models
def test_with_any_grammar_the_clear_signboard_counts_as_a_plate(capsys, street, tmp_path) -> None:
    config = tmp_path / "any.yaml"
    config.write_text("reader: {grammar: any}\n")
    code, out = _detect(capsys, "--json", "--config", str(config), str(street))
    result = json.loads(out)
    texts = sorted(p["text"] for p in result["plates"])
    assert code == 0 and len(texts) == 2 and "KA01AB1234" in texts and result["dropped_boxes"] == 1
