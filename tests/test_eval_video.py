"""``edge-alpr eval-video``: the daemon's Pipeline on a generated video, with fake models that
find plates by colour and read them by hue, scored against the video's truth."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.config import AppConfig
from edge_alpr.evaluation import video as video_eval
from edge_alpr.evaluation.video import FrameClock, SingleFrameScorer, evaluate_video
from edge_alpr.evaluation.videogen import PlatePhoto, make_real_video
from edge_alpr.pipeline import iso_utc
from edge_alpr.synth.scenes import VehicleTruth, VideoTruth
from edge_alpr.types import Detections, PlateRead

# Each vehicle's plate has its own colour; the fake reader reads the colour as the plate text.
PLATES = {"orange": ((0, 160, 255), "KA01AB1234"), "green": ((40, 200, 40), "MH12DE5678"),
          "blue": ((230, 90, 20), "TN09BC4321")}
HUES = {"orange": 18, "green": 60, "blue": 108}  # OpenCV hue (0-180) of those colours


def _photo(colour: str) -> PlatePhoto:
    bgr, text = PLATES[colour]
    rng = np.random.default_rng(len(colour))
    # A dark car on a light road: enough contrast for the daemon's motion gate to see it move.
    image = np.full((160, 240, 3), 180, np.uint8)
    image[60:140, 40:200] = 30 + rng.integers(0, 20, (80, 160, 1), dtype=np.uint8)
    image[100:120, 80:160] = bgr
    return PlatePhoto(image, (80.0, 100.0, 160.0, 120.0), text, "one")


def _saturated(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    return hsv, (hsv[..., 1] > 110) & (hsv[..., 2] > 80)


class ColourDetector:
    """Boxes around saturated blobs: the plates, since everything else in the video is grey."""

    model_info = {"name": "colour-detector", "version": "test"}

    def __init__(self, blind_to: str | None = None) -> None:
        self.blind_hue = HUES.get(blind_to) if blind_to else None

    def detect(self, image_bgr: np.ndarray) -> Detections:
        hsv, mask = _saturated(image_bgr)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        boxes = []
        for x, y, w, h, area in stats[1:count]:
            if area < 6:
                continue
            hue = float(np.median(hsv[y:y + h, x:x + w, 0][mask[y:y + h, x:x + w]]))
            if self.blind_hue is not None and abs(hue - self.blind_hue) < 15:
                continue
            boxes.append((x, y, x + w, y + h))
        if not boxes:
            return Detections.empty()
        return Detections(np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32))


class HueReader:
    """Reads the plate whose colour the crop shows; ``misread`` gives one colour a wrong text."""

    model_info = {"name": "hue-reader", "version": "test"}

    def __init__(self, misread: dict[str, str] | None = None) -> None:
        self.texts = {colour: text for colour, (_, text) in PLATES.items()}
        self.texts.update(misread or {})

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        hsv, mask = _saturated(crop_bgr)
        if not mask.any():
            return PlateRead("", (), 0.0, "unknown", accepted=False)
        hue = float(np.median(hsv[..., 0][mask]))
        colour = min(HUES, key=lambda c: abs(HUES[c] - hue))
        text = self.texts[colour]
        return PlateRead(text, tuple(0.95 for _ in text), 0.95, "standard")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, VideoTruth]:
    path = tmp_path_factory.mktemp("evalvideo") / "clip.mp4"
    truth = make_real_video([_photo(c) for c in PLATES], path, seed=3, size=(640, 360), fps=15.0,
                            clip_seconds=(1.5, 2.0), gap_seconds=(0.5, 0.8))
    truth.save(path.with_suffix(".json"))
    return path, truth


def _status(report) -> dict[str, str]:
    return {v.plate: v.status for v in report.match.vehicles}


def test_perfect_models_read_every_vehicle(clip):
    path, truth = clip
    report = evaluate_video(path, truth, AppConfig(), ColourDetector(), HueReader())
    assert _status(report) == {text: "correct" for _, text in PLATES.values()}
    assert report.per_vehicle_accuracy == 1.0
    assert report.match.false_events == () and report.match.duplicate_events == ()
    assert report.frames == truth.frames
    single = report.single_frame
    assert 0.0 < single.single_frame_accuracy <= 1.0 and single.frames == sum(len(v.boxes) for v in truth.vehicles)
    assert report.temporal_gain == pytest.approx(1.0 - single.single_frame_accuracy)


def test_misread_plate_is_wrong_text_on_both_sides(clip):
    path, truth = clip
    report = evaluate_video(path, truth, AppConfig(), ColourDetector(), HueReader({"green": "MH12DE5679"}))
    assert _status(report)["MH12DE5678"] == "wrong_text"
    assert report.per_vehicle_accuracy == pytest.approx(2 / 3)
    # Every frame of the misread vehicle is wrong, so a single frame scores at most 2 of 3.
    assert report.single_frame.middle_frame_accuracy <= 2 / 3
    assert report.single_frame.single_frame_accuracy <= 2 / 3


def test_undetected_plate_is_missed(clip):
    path, truth = clip
    report = evaluate_video(path, truth, AppConfig(), ColourDetector(blind_to="blue"), HueReader())
    assert _status(report) == {"KA01AB1234": "correct", "MH12DE5678": "correct", "TN09BC4321": "missed"}
    assert report.match.missed == 1


def test_outcomes_are_counted_per_plate_layout(clip):
    path, truth = clip
    # The same video, its blue plate taken as a two-line one (say a scooter's), which the detector misses.
    two_line = replace(truth, vehicles=tuple(replace(v, layout="two") if v.plate == "TN09BC4321" else v
                                             for v in truth.vehicles))
    report = evaluate_video(path, two_line, AppConfig(), ColourDetector(blind_to="blue"), HueReader(),
                            single_frame=False)
    assert report.by_layout() == {"one": {"vehicles": 2, "correct": 2, "wrong_text": 0, "missed": 0},
                                  "two": {"vehicles": 1, "correct": 0, "wrong_text": 0, "missed": 1}}
    assert {v["plate"]: v["layout"] for v in report.to_json()["per_vehicle"]}["TN09BC4321"] == "two"
    text = video_eval.format_report(report, "header")
    line = next(line for line in text.splitlines() if line.strip().startswith("two-line plates"))
    # one vehicle, none right: Wilson's 95 % interval is 0 to 2 * 1.92 / (1 + 3.84) = 79 %
    assert line.split()[2:] == ["0", "0.0%", "of", "1", "vehicles", "(0", "wrong", "text,", "1", "missed;",
                                "95", "%", "interval", "0-79%)"]


def test_single_frame_comparison_can_be_skipped(clip):
    path, truth = clip
    report = evaluate_video(path, truth, AppConfig(), ColourDetector(), HueReader(), single_frame=False)
    assert report.single_frame is None and report.temporal_gain is None
    assert report.to_json()["single_frame"] is None


def _truth(*vehicles: tuple[str, list[int]]) -> VideoTruth:
    return VideoTruth("v.mp4", 25.0, (100, 100), 50, tuple(
        VehicleTruth(plate, "one", "car", frames[0], frames[-1], {f: (10.0, 10.0, 40.0, 20.0) for f in frames})
        for plate, frames in vehicles))


@pytest.mark.parametrize(
    "reads, pooled, per_vehicle, middle",
    [
        # vehicle 0 has frames 1-4, vehicle 1 frames 10-11; reads: (vehicle, frame, text).
        ({(0, 1): "A", (0, 2): "A", (0, 3): "A", (0, 4): "A", (1, 10): "B", (1, 11): "B"}, 1.0, 1.0, 1.0),
        ({(0, 1): None, (0, 2): "A", (0, 3): "A", (0, 4): "X", (1, 10): "B", (1, 11): None}, 0.5, (0.5 + 0.5) / 2, 0.5),
        ({(0, 1): "A", (0, 2): "A", (0, 3): "X", (0, 4): "X", (1, 10): None, (1, 11): None}, 2 / 6, (0.5 + 0) / 2, 0.0),
    ],
)
def test_single_frame_scorer(reads, pooled, per_vehicle, middle):
    scorer = SingleFrameScorer(_truth(("A", [1, 2, 3, 4]), ("B", [10, 11])))
    for (vehicle, frame), text in reads.items():
        scorer.record(vehicle, frame, text)
    figures = scorer.figures()
    assert figures.frames == 6
    assert figures.frame_accuracy == pytest.approx(pooled)
    assert figures.single_frame_accuracy == pytest.approx(per_vehicle)
    assert figures.middle_frame_accuracy == pytest.approx(middle)


def test_single_frame_scorer_tells_the_detectors_misses_from_the_readers():
    scorer = SingleFrameScorer(_truth(("A", [1, 2, 3, 4])))
    scorer.record(0, 1, None, boxed=False)  # not found
    scorer.record(0, 2, None, boxed=True)  # found, nothing read
    scorer.record(0, 3, "X")  # found, misread
    scorer.record(0, 4, "A")
    figures = scorer.figures()
    assert figures.frame_accuracy == pytest.approx(1 / 4)
    assert figures.boxed_fraction == pytest.approx(3 / 4)
    assert figures.read_when_boxed == pytest.approx(1 / 3)


def test_single_frame_scorer_lists_the_plates_of_a_frame():
    scorer = SingleFrameScorer(_truth(("A", [1, 2]), ("B", [2, 3])))
    vehicles, boxes = scorer.wanted(2)
    assert vehicles == [0, 1] and boxes.shape == (2, 4)
    assert scorer.wanted(7)[0] == []


@pytest.mark.parametrize("fps, frame", [(25.0, 0), (25.0, 1), (25.0, 1234), (30.0, 77), (12.5, 3)])
def test_frame_clock_inverts_event_times(fps, frame):
    clock = FrameClock(1_790_000_000.123, fps)
    assert clock.frame_of_iso(iso_utc(1_790_000_000.123 + frame / fps)) == frame


def test_main_prints_json(clip, capsys, monkeypatch):
    path, _ = clip
    monkeypatch.setattr(video_eval, "build_detector", lambda cfg, score_floor=None: ColourDetector())
    monkeypatch.setattr(video_eval, "build_reader", lambda cfg: HueReader())
    assert video_eval.main(["--video", str(path), "--json", "--no-single-frame"]) == 0  # truth found beside it
    out = json.loads(capsys.readouterr().out)
    assert (out["vehicles"], out["correct"], out["false_events"], out["duplicate_events"]) == (3, 3, 0, 0)
    assert [v["status"] for v in out["per_vehicle"]] == ["correct"] * 3
    assert out["models"]["detector"]["name"] == "colour-detector"
    assert out["latency_ms_per_frame"]["mean"] >= 0


def test_main_rejects_the_truth_of_another_video(clip, tmp_path, capsys, monkeypatch):
    path, truth = clip
    other = VideoTruth(truth.video, truth.fps, (1280, 720), truth.frames, truth.vehicles)
    other.save(tmp_path / "other.json")
    monkeypatch.setattr(video_eval, "build_detector", lambda cfg, score_floor=None: ColourDetector())
    monkeypatch.setattr(video_eval, "build_reader", lambda cfg: HueReader())
    assert video_eval.main(["--video", str(path), "--truth", str(tmp_path / "other.json")]) == 5
    assert "1280x720" in capsys.readouterr().err


def test_main_names_a_missing_truth_file(tmp_path, capsys):
    assert video_eval.main(["--video", str(tmp_path / "v.mp4")]) == 5
    assert "v.json" in capsys.readouterr().err
