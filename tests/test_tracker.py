"""The tracker: stable ids for moving plates, no ids for flicker, tracks that end on time."""
from __future__ import annotations

import numpy as np
import pytest

from edge_alpr.tracker import Tracker, greedy_match, iou_matrix
from edge_alpr.types import Detections


def dets(*boxes: tuple[float, float, float, float], scores: list[float] | None = None) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores or [0.9] * len(boxes), np.float32))


def plate_at(x: float, y: float, w: float = 60, h: float = 20) -> tuple[float, float, float, float]:
    return (x, y, x + w, y + h)


def ids_by_x(result: Detections) -> list[int]:
    """Track ids ordered by the boxes' x, so assertions do not depend on detection order."""
    return [int(i) for i in result.track_ids[np.argsort(result.boxes[:, 0])]]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),
    ],
)
def test_iou_matrix(a, b, expected) -> None:
    assert iou_matrix(np.array([a], np.float32), np.array([b], np.float32))[0, 0] == pytest.approx(expected)


def test_greedy_match_takes_best_pairs_first() -> None:
    iou = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert sorted(greedy_match(iou, 0.3)) == [(0, 0)]  # row 1's only good column is taken
    assert sorted(greedy_match(np.array([[0.9, 0.8], [0.85, 0.4]]), 0.3)) == [(0, 0), (1, 1)]


def test_moving_plate_keeps_one_id_and_is_hidden_until_min_hits() -> None:
    tracker = Tracker(iou_threshold=0.3, max_age_frames=5, min_hits=3)
    seen = []
    for frame in range(20):
        result = tracker.update(dets(plate_at(100 + 12 * frame, 200 + 4 * frame)), frame)
        seen.append(result.track_ids.tolist())
    assert seen[:2] == [[], []]  # tentative: not yet reported
    assert all(ids == [1] for ids in seen[2:])
    assert tracker.active_ids() == [1]


def test_fast_approaching_plate_keeps_its_id_by_velocity_prediction() -> None:
    # 40 px/frame on a 60 px box: consecutive boxes overlap by IoU 0.2 only, under the
    # threshold; the constant-velocity prediction must bridge the gap.
    tracker = Tracker(iou_threshold=0.3, max_age_frames=5, min_hits=2)
    ids = set()
    tracker.update(dets(plate_at(0, 100)), 0)
    tracker.update(dets(plate_at(25, 100)), 1)  # a slower start gives the first velocity
    for frame in range(2, 15):
        result = tracker.update(dets(plate_at(25 + 40 * (frame - 1), 100)), frame)
        ids.update(result.track_ids.tolist())
    assert ids == {1}


def test_two_crossing_plates_keep_their_ids() -> None:
    tracker = Tracker(iou_threshold=0.3, max_age_frames=5, min_hits=2)
    history = []
    for frame in range(30):
        left_to_right = plate_at(10 * frame, 300)
        right_to_left = plate_at(290 - 10 * frame, 310)
        result = tracker.update(dets(left_to_right, right_to_left), frame)
        by_id = {int(i): float(box[0]) for i, box in zip(result.track_ids, result.boxes)}
        history.append(by_id)
    # Before the crossing (frame 5) and after it (frame 25) each id belongs to the same plate.
    before, after = history[5], history[25]
    moving_right = [i for i, x in before.items() if x == 50]
    assert len(moving_right) == 1 and after[moving_right[0]] == 250
    assert set(before) == set(after) == {1, 2}


def test_track_ends_after_max_age_unseen_frames() -> None:
    tracker = Tracker(max_age_frames=4, min_hits=2)
    for frame in range(3):
        tracker.update(dets(plate_at(100, 100)), frame)
    assert tracker.active_ids() == [1]
    for frame in range(3, 6):  # unseen for 1..3 frames: still alive
        tracker.update(Detections.empty(), frame)
        assert tracker.pop_finished() == []
    tracker.update(Detections.empty(), 6)  # unseen for 4 frames
    assert tracker.pop_finished() == [1]
    assert tracker.active_ids() == []
    assert tracker.pop_finished() == []  # reported once


def test_skipped_frames_age_tracks_and_keep_the_id_when_the_plate_returns() -> None:
    tracker = Tracker(max_age_frames=6, min_hits=2)
    for frame in range(3):
        tracker.update(dets(plate_at(100 + 5 * frame, 100)), frame)
    for frame in range(3, 7):  # the detector skipped these frames
        assert len(tracker.update(None, frame)) == 0
    result = tracker.update(dets(plate_at(100 + 5 * 7, 100)), 7)
    assert result.track_ids.tolist() == [1]
    for frame in range(8, 14):
        tracker.update(None, frame)
    assert tracker.pop_finished() == [1]  # skipped frames count towards max_age


def test_one_frame_false_positive_never_gets_an_id() -> None:
    tracker = Tracker(max_age_frames=5, min_hits=2)
    results = [tracker.update(dets(plate_at(500, 50)) if frame == 3 else Detections.empty(), frame) for frame in range(10)]
    assert all(len(r) == 0 for r in results)
    assert tracker.active_ids() == [] and tracker.finish_all() == []


def test_tentative_track_survives_skipped_frames_but_not_a_missed_detection() -> None:
    tracker = Tracker(max_age_frames=5, min_hits=2)
    tracker.update(dets(plate_at(0, 0)), 0)
    tracker.update(None, 1)  # not looked: the tentative track waits
    assert tracker.update(dets(plate_at(2, 0)), 2).track_ids.tolist() == [1]
    tracker.update(dets(plate_at(300, 0)), 3)  # a new tentative track at x=300 (id 1 unseen once)
    tracker.update(Detections.empty(), 4)  # looked and missed: the tentative one is dropped
    result = tracker.update(dets(plate_at(300, 0)), 5)
    assert result.track_ids.tolist() == []  # it starts over instead of being confirmed


def test_low_score_detection_continues_a_track_but_never_starts_one() -> None:
    tracker = Tracker(max_age_frames=5, min_hits=2, high_score_threshold=0.5)
    for frame in range(3):
        tracker.update(dets(plate_at(100, 100)), frame)
    blurred = tracker.update(dets(plate_at(104, 100), scores=[0.2]), 3)
    assert blurred.track_ids.tolist() == [1]
    for frame in range(4, 8):
        assert len(tracker.update(dets(plate_at(600, 300), scores=[0.2]), frame)) == 0
    assert tracker.active_ids() == [1]


def test_finish_all_ends_open_tracks_in_id_order() -> None:
    tracker = Tracker(max_age_frames=5, min_hits=1)
    result = tracker.update(dets(plate_at(0, 0), plate_at(200, 0)), 0)
    assert ids_by_x(result) == [1, 2]
    assert sorted(tracker.finish_all()) == [1, 2]
    assert tracker.active_ids() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"iou_threshold": 1.2}, "iou_threshold"),
        ({"max_age_frames": 0}, "max_age_frames"),
        ({"min_hits": 0}, "min_hits"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Tracker(**kwargs)


def test_frame_index_must_increase() -> None:
    tracker = Tracker()
    tracker.update(None, 5)
    with pytest.raises(ValueError, match="must increase"):
        tracker.update(None, 5)
