"""The strategies bench on clips: every frame scored, the motion gate's skipped frames free, and
the line that sets auto against the tiles and the whole frame. Real model, real video files."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.bench.strategies import Tally
from edge_alpr.bench.strategies_video import VIDEO_STRATEGIES, Clip, auto_against_the_rest, run_clips
from edge_alpr.detector import PlateDetector

MODEL = Path(__file__).resolve().parents[1] / "models" / "plate_detector_int8.tflite"


@pytest.fixture(scope="module")
def detector() -> PlateDetector:
    return PlateDetector(MODEL, num_threads=2)


def _tally(recall_hits: int, misses: int, ms: float) -> Tally:
    tally = Tally()
    truth = np.array([[100, 100, 200, 130]], np.float32)
    ignore = np.zeros(1, bool)
    for i in range(recall_hits + misses):
        boxes = truth if i < recall_hits else np.zeros((0, 4), np.float32)
        tally.add_frame(1920, truth, ignore, boxes, np.ones(len(boxes), np.float32), ms, 1)
    return tally


def test_auto_line_gives_recall_against_tiles_and_time_ratios():
    tallies = {"whole": _tally(2, 8, 20.0), "tiles640": _tally(9, 1, 200.0), "auto": _tally(8, 2, 60.0)}
    line = auto_against_the_rest(tallies)
    assert "recall 0.80 vs tiles 0.90 (-0.10)" in line
    assert "detector ms per frame 60.0 (tiles 200.0, whole 20.0)" in line
    assert "0.30x the tiles'" in line and "3.00x the whole frame's" in line


def test_clips_are_scored_frame_by_frame_and_motion_regions_cost_less_than_tiles(detector, tmp_path):
    traffic = Clip("traffic", (1280, 720), 1, 0.0, 5)
    empty = Clip("empty", (1280, 720), 0, 2.0, 6)
    results = run_clips(detector, [traffic, empty], tmp_path)
    frames = int(cv2.VideoCapture(str(tmp_path / "1280x720-5.mp4")).get(cv2.CAP_PROP_FRAME_COUNT))
    assert set(results) == {"traffic", "empty"}
    for name in VIDEO_STRATEGIES:
        assert len(results["traffic"][name].ms) == frames  # every frame, skipped or not
    on_road = results["traffic"]
    assert on_road["tiles640"].recall() > 0.5
    # Motion regions look only where the vehicle moves: fewer detector runs than six tiles a frame.
    assert sum(on_road["motion"].runs) < sum(on_road["tiles640"].runs)
    assert sum(on_road["auto"].runs) < sum(on_road["tiles640"].runs)
    # An empty road: no plate, and after the first frame (looked at everywhere: a plate may
    # already stand there) auto runs the detector no more often than the whole frame does.
    quiet = results["empty"]
    assert quiet["whole"].recall() is None
    assert sum(quiet["auto"].runs[1:]) <= sum(quiet["whole"].runs[1:])
    assert quiet["auto"].fp["all"] == 0
