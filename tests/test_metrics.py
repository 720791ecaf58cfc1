"""Metrics on hand-made cases whose answers were worked out on paper (see each comment)."""
from __future__ import annotations

import numpy as np
import pytest

from edge_alpr.evaluation.events import match_events
from edge_alpr.evaluation.metrics import (
    DetectionAccumulator,
    PlateTextAccumulator,
    char_accuracy,
    height_bucket,
    iou_matrix,
    latency_summary,
    levenshtein,
    match_boxes,
    small_box_mask,
    wilson_interval,
)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),  # half overlap: 50 shared of 150
        ([0, 0, 10, 10], [0, 0, 5, 5], 25 / 100),  # contained quarter
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching edges share no area
        ([0, 0, 10, 10], [30, 30, 40, 40], 0.0),
        ([0, 0, 0, 10], [0, 0, 10, 10], 0.0),  # degenerate box: 0, not NaN
    ],
)
def test_iou_values(a, b, expected):
    assert iou_matrix([a], [b])[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape_and_empty_inputs():
    a = np.array([[0, 0, 10, 10], [5, 0, 15, 10]])
    b = np.array([[0, 0, 10, 10], [0, 0, 5, 5], [100, 100, 110, 110]])
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    assert m[1, 0] == pytest.approx(1 / 3)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    assert iou_matrix(a, []).shape == (2, 0)


def test_iou_matrix_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \[N, 4\].*\(2, 3\)"):
        iou_matrix(np.zeros((2, 3)), np.zeros((1, 4)))


GT = [[0, 0, 10, 10], [20, 0, 30, 10]]


def test_greedy_match_duplicate_is_false_positive_and_missed_plate_reported():
    preds = [[0, 0, 10, 10], [1, 0, 11, 10]]  # the second is a duplicate on gt 0 (IoU 0.82)
    m = match_boxes(preds, [0.9, 0.8], GT)
    assert m.pairs.tolist() == [[0, 0]]
    assert m.ious.tolist() == pytest.approx([1.0])
    assert m.unmatched_preds.tolist() == [1]
    assert m.unmatched_gts.tolist() == [1]  # gt 1 has no prediction: missed


def test_greedy_match_goes_by_score_not_iou():
    # The worse-placed box scores higher, so it takes the plate; the better one is the duplicate.
    preds = [[0, 0, 10, 10], [1, 0, 11, 10]]
    m = match_boxes(preds, [0.3, 0.9], GT)
    assert m.pairs.tolist() == [[1, 0]]
    assert m.unmatched_preds.tolist() == [0]


def test_match_respects_iou_threshold():
    preds = [[5, 0, 15, 10]]  # IoU 1/3 with gt 0
    assert match_boxes(preds, [0.9], GT, iou_threshold=0.5).pairs.size == 0
    assert match_boxes(preds, [0.9], GT, iou_threshold=0.3).pairs.tolist() == [[0, 0]]


def test_match_prefers_a_counted_gt_over_an_ignored_one():
    gts = [[0, 0, 10, 10], [0, 0, 10, 8]]  # gt 1 is ignored and overlaps the prediction more
    m = match_boxes([[0, 0, 10, 8.5]], [0.9], gts, gt_ignore=[False, True])
    assert m.pairs.tolist() == [[0, 0]]


def test_score_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="pred_scores has 1 values for 2 pred_boxes"):
        match_boxes([[0, 0, 1, 1], [0, 0, 2, 2]], [0.5], GT)


def test_ap_of_a_perfect_detector_is_one():
    acc = DetectionAccumulator()
    acc.add(GT, [0.9, 0.8], GT)
    acc.add([[5, 5, 20, 20]], [0.7], [[5, 5, 20, 20]])
    acc.add(np.zeros((0, 4)), [], np.zeros((0, 4)))  # background image
    assert acc.ap50() == pytest.approx(1.0)
    pr = acc.precision_recall(0.0)
    assert (pr.precision, pr.recall, pr.true_positives, pr.false_positives) == (1.0, 1.0, 3, 0)


def test_ap_of_a_small_pr_case_worked_by_hand():
    # 3 plates; by score: TP (0.9), FP (0.8), TP (0.7); the third plate is never found.
    # precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3. Interpolated precision is 1 up to
    # recall 1/3 and 2/3 up to 2/3, so AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    acc = DetectionAccumulator()
    gts = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]
    acc.add([[0, 0, 10, 10], [60, 0, 70, 10], [20, 0, 30, 10]], [0.9, 0.8, 0.7], gts)
    precision, recall, scores = acc.pr_curve()
    assert precision.tolist() == pytest.approx([1, 1 / 2, 2 / 3])
    assert recall.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3])
    assert scores.tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert acc.ap50() == pytest.approx(5 / 9)


def test_ap_when_a_false_positive_outranks_the_only_plate():
    # FP then TP on one plate: precision 0 then 1/2 at recall 0 then 1 -> AP = 1/2.
    acc = DetectionAccumulator()
    acc.add([[50, 50, 60, 60]], [0.9], [])
    acc.add([[0, 0, 10, 10]], [0.5], [[0, 0, 10, 10]])
    assert acc.ap50() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "threshold, precision, recall, tp, fp",
    [
        (0.0, 2 / 3, 2 / 3, 2, 1),
        (0.75, 1 / 2, 1 / 3, 1, 1),
        (0.85, 1.0, 1 / 3, 1, 0),
        (0.95, 1.0, 0.0, 0, 0),  # nothing kept: no false positives made
    ],
)
def test_precision_recall_at_score_threshold(threshold, precision, recall, tp, fp):
    acc = DetectionAccumulator()
    gts = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]
    acc.add([[0, 0, 10, 10], [60, 0, 70, 10], [20, 0, 30, 10]], [0.9, 0.8, 0.7], gts)
    pr = acc.precision_recall(threshold)
    assert (pr.precision, pr.recall) == pytest.approx((precision, recall))
    assert (pr.true_positives, pr.false_positives, pr.false_negatives) == (tp, fp, 3 - tp)


def test_ignored_plates_are_neither_found_nor_missed():
    gts = np.array([[0, 0, 60, 20], [100, 0, 130, 10], [200, 0, 230, 12]])  # 20, 10 and 12 px high
    ignore = small_box_mask(gts, min_height=16)
    assert ignore.tolist() == [False, True, True]
    preds = [[0, 0, 60, 20], [100, 0, 130, 10], [300, 0, 360, 20]]  # big TP, small hit, FP
    scores = [0.9, 0.8, 0.7]

    with_ignore = DetectionAccumulator()
    with_ignore.add(preds, scores, gts, gt_ignore_mask=ignore)
    pr = with_ignore.precision_recall(0.0)
    # The hit on the 10-px plate is not a TP nor an FP; the missed 12-px plate is not an FN.
    assert (pr.true_positives, pr.false_positives, pr.false_negatives) == (1, 1, 0)
    assert pr.recall == 1.0
    assert with_ignore.num_gt == 1

    plain = DetectionAccumulator()
    plain.add(preds, scores, gts)
    pr = plain.precision_recall(0.0)
    assert (pr.true_positives, pr.false_positives, pr.false_negatives) == (2, 1, 1)


def test_ap50_refuses_another_iou_threshold():
    with pytest.raises(ValueError, match="iou_threshold 0.5"):
        DetectionAccumulator(iou_threshold=0.7).ap50()


@pytest.mark.parametrize(
    "a, b, distance",
    [
        ("kitten", "sitting", 3),
        ("", "ABC", 3),
        ("ABC", "", 3),
        ("MH12AB1234", "MH12AB1234", 0),
        ("AB", "BA", 2),
        ("MH12AB1234", "MH12AB12345", 1),
    ],
)
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance


@pytest.mark.parametrize(
    "pred, truth, expected",
    [
        ("MH12AB1234", "MH12AB1234", 1.0),
        ("MH12AB123", "MH12AB1234", 0.9),  # one deletion over 10 characters
        ("MH12AB12345", "MH12AB1234", 0.9),  # one insertion
        ("MH12A81234", "MH12AB1234", 0.9),  # one substitution (B read as 8)
        ("MH 12-ab 1234", "MH12AB1234", 1.0),  # separators and case do not count
        ("", "MH12AB1234", 0.0),
        ("XXXXXXXXXXXXXXXXXXXXXX", "MH12", 0.0),  # clipped at 0, not negative
        ("", "", 1.0),
    ],
)
def test_char_accuracy(pred, truth, expected):
    assert char_accuracy(pred, truth) == pytest.approx(expected)


def test_two_line_plate_text_is_top_line_then_bottom_line():
    acc = PlateTextAccumulator()
    acc.add("MH12AB1234", "MH12\nAB1234")
    acc.add("AB1234MH12", "MH12\nAB1234")  # lines in the wrong order: not a correct read
    s = acc.summary()
    assert (s.plates, s.exact) == (2, 1)
    assert char_accuracy("MH12AB1234", "MH12\nAB1234") == 1.0


def test_plate_text_accumulator_overall_and_by_bucket():
    acc = PlateTextAccumulator()
    acc.add("MH12AB1234", "MH12AB1234", {"height": "<20", "layout": "one"})
    acc.add(None, "KA01AB1234", {"height": ">40", "layout": "one"})  # plate not read: wrong
    acc.add("DL3CAF001", "DL3CAF0001", {"height": ">40", "layout": "two"})  # one char dropped

    s = acc.summary()
    assert (s.plates, s.read, s.exact) == (3, 2, 1)
    assert s.exact_accuracy == pytest.approx(1 / 3)
    assert s.char_accuracy == pytest.approx((1.0 + 0.9) / 2)  # over the two plates read

    buckets = acc.by_bucket()
    assert set(buckets) == {"height", "layout"}
    big = buckets["height"][">40"]
    assert (big.plates, big.read, big.exact, big.char_accuracy) == (2, 1, 0, pytest.approx(0.9))
    assert buckets["height"]["<20"].exact_accuracy == 1.0
    assert buckets["layout"]["one"].exact_accuracy == pytest.approx(0.5)
    assert buckets["layout"]["two"].char_accuracy == pytest.approx(0.9)


@pytest.mark.parametrize("height, bucket", [(12, "<20"), (19.9, "<20"), (20, "20-40"), (40, "20-40"), (41, ">40")])
def test_height_bucket(height, bucket):
    assert height_bucket(height) == bucket


VEHICLES = [("MH12AB1234", 0, 30), ("KA01CD5678", 50, 80), ("DL3CAF0001", 100, 120)]


def test_event_matching_correct_wrong_missed_duplicate_false():
    events = [
        ("MH12AB1234", 5, 32),  # 0: vehicle A, right text
        ("MH12AB1234", 28, 40),  # 1: a second event for vehicle A: duplicate
        ("KA01CD5679", 55, 82),  # 2: vehicle B, misread
        ("TN09ZZ9999", 200, 210),  # 3: no vehicle around: false event
    ]
    m = match_events(events, VEHICLES, frame_slack=5)
    assert [v.status for v in m.vehicles] == ["correct", "wrong_text", "missed"]
    assert [v.events for v in m.vehicles] == [(0, 1), (2,), ()]
    assert m.duplicate_events == (1,)
    assert m.false_events == (3,)
    assert (m.correct, m.wrong_text, m.missed) == (1, 1, 1)


def test_event_matching_uses_text_before_overlap():
    # Two cars in view together. The misread event comes first and overlaps both equally; it
    # must not take car A, whose own correct event follows.
    vehicles = [("AAA111", 0, 50), ("BBB222", 10, 60)]
    events = [("XXX999", 5, 55), ("AAA111", 20, 30)]
    m = match_events(events, vehicles, frame_slack=5)
    assert [v.status for v in m.vehicles] == ["correct", "wrong_text"]
    assert [v.events for v in m.vehicles] == [(1,), (0,)]
    assert m.duplicate_events == () and m.false_events == ()


def test_event_with_right_text_after_a_misread_decides_the_vehicle():
    m = match_events([("MH12AB1284", 0, 10), ("MH12AB1234", 12, 30)], VEHICLES[:1], frame_slack=0)
    assert m.vehicles[0].status == "correct"
    assert m.vehicles[0].events == (1, 0)  # the deciding event first
    assert m.duplicate_events == (0,)


@pytest.mark.parametrize("slack, status, false_events", [(5, "correct", ()), (2, "missed", (0,))])
def test_event_frame_slack(slack, status, false_events):
    # The event starts 3 frames after the vehicle was last seen.
    m = match_events([("MH12AB1234", 33, 40)], VEHICLES[:1], frame_slack=slack)
    assert m.vehicles[0].status == status
    assert m.false_events == false_events


def test_latency_summary():
    # numpy's linear percentile: p95 sits 0.85 of the way from 30 to 40.
    assert latency_summary([40.0, 10.0, 30.0, 20.0]) == pytest.approx({"mean": 25.0, "p50": 25.0, "p95": 38.5})
    with pytest.raises(ValueError, match="at least one"):
        latency_summary([])


def test_wilson_interval_of_a_small_validation_set() -> None:
    # 25 of 34 (the in_twowheelers end-to-end figure): p = 0.7353, z^2/n = 0.1130;
    # centre (0.7353 + 0.0565) / 1.1130 = 0.7114, half 1.96 * sqrt(0.005725 + 0.000831) / 1.1130 = 0.1426
    lo, hi = wilson_interval(25, 34)
    assert lo == pytest.approx(0.5688, abs=5e-4) and hi == pytest.approx(0.8540, abs=5e-4)
    # all right still leaves room below: 10 of 10 -> lower bound 10 / (10 + 1.96^2) = 0.7225
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=5e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    # the same rate on ten times the plates is a much narrower interval
    narrow = wilson_interval(250, 340)
    assert narrow[1] - narrow[0] < (hi - lo) / 2
    assert wilson_interval(0, 0) == (0.0, 1.0)
