"""Detector post-processing: decoding of known output tensors, NMS and the letterbox round trip."""
import numpy as np
import pytest

from edge_alpr.detector import box_iou, decode_head, fuse_clusters, letterbox, nms


def test_decode_head_places_a_known_box():
    # One anchor of 40x20 px at stride 16 on a 4x4 grid; the cell (row 2, col 1) predicts a box
    # centred in that cell (sigmoid 0.75 -> offset 2*0.75-0.5 = 1.0 cell) at exactly the anchor
    # size (sigmoid 0.5 -> (2*0.5)^2 = 1).
    boxes = np.zeros((4, 4, 4), np.float32)
    scores = np.zeros((4, 4, 1), np.float32)
    boxes[2, 1] = [0.75, 0.25, 0.5, 0.5]
    scores[2, 1] = 0.9
    anchors = np.array([[40.0, 20.0]], np.float32)
    out, sc = decode_head(boxes, scores, anchors, stride=16, score_threshold=0.5)
    cx = (0.75 * 2 - 0.5 + 1) * 16  # 32
    cy = (0.25 * 2 - 0.5 + 2) * 16  # 32
    np.testing.assert_allclose(out, [[cx - 20, cy - 10, cx + 20, cy + 10]], atol=1e-4)
    np.testing.assert_allclose(sc, [0.9])


def test_decode_head_uses_the_anchor_of_each_channel_group_and_threshold():
    boxes = np.full((2, 2, 8), 0.5, np.float32)
    scores = np.zeros((2, 2, 2), np.float32)
    scores[0, 0, 1] = 0.8  # second anchor only
    scores[1, 1, 0] = 0.1  # under the threshold
    anchors = np.array([[10.0, 5.0], [60.0, 30.0]], np.float32)
    out, sc = decode_head(boxes, scores, anchors, stride=32, score_threshold=0.3)
    assert out.shape == (1, 4)
    w, h = out[0, 2] - out[0, 0], out[0, 3] - out[0, 1]
    assert (w, h) == pytest.approx((60.0, 30.0))


def test_nms_keeps_the_best_of_overlapping_boxes_and_distinct_ones():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.5]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6], np.float32)
    keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [1, 2]


def test_nms_iou_threshold_is_respected():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU = 1/3
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.3).tolist() == [0]


def test_fused_box_is_the_score_weighted_mean_of_its_cluster_only():
    boxes = np.array([[0, 0, 100, 30], [4, 0, 104, 30], [50, 0, 150, 30], [300, 0, 400, 30]], np.float32)
    scores = np.array([0.9, 0.6, 0.8, 0.7], np.float32)
    keep = nms(boxes, scores, 0.45)
    fused = fuse_clusters(boxes, scores, keep)
    # Box 1 overlaps box 0 (IoU 0.92) and joins its mean; box 2 (IoU 0.33) and box 3 do not.
    assert keep.tolist() == [0, 2, 3]
    np.testing.assert_allclose(fused[0], [0.6 * 4 / 1.5, 0, 100 + 0.6 * 4 / 1.5, 30], atol=1e-4)
    np.testing.assert_allclose(fused[1:], boxes[[2, 3]])
    assert fuse_clusters(boxes, scores, keep[:0]).shape == (0, 4)


def test_fused_box_moves_smoothly_when_near_tied_scores_swap():
    # Two cells predict one plate 8 px apart with scores one int8 step (1/256) apart: a rounding
    # difference between CPUs swaps them. NMS jumps the whole 8 px; the fused box moves by a
    # fraction of a pixel.
    boxes = np.array([[100, 50, 300, 100], [108, 54, 308, 104]], np.float32)
    step = 1 / 256
    before = np.array([0.90, 0.90 - step], np.float32)
    after = np.array([0.90 - step, 0.90], np.float32)
    plain = [boxes[nms(boxes, s, 0.45)][0] for s in (before, after)]
    fused = [fuse_clusters(boxes, s, nms(boxes, s, 0.45))[0] for s in (before, after)]
    assert np.abs(plain[0] - plain[1]).max() == pytest.approx(8.0)
    assert np.abs(fused[0] - fused[1]).max() < 0.1


def test_box_iou_values():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 1 / 3, 0.0], atol=1e-6)


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (1750, 1150), (100, 100), (37, 301)])
def test_letterbox_round_trip(shape):
    h, w = shape
    image = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    out, lb = letterbox(image, 320)
    assert out.shape == (320, 320, 3)
    boxes = np.array([[0, 0, w, h], [w * 0.25, h * 0.5, w * 0.5, h * 0.75]], np.float32)
    back = lb.to_image(lb.to_input(boxes))
    np.testing.assert_allclose(back, boxes, atol=1e-3)
    # The whole image maps inside the square input and touches two of its sides.
    full = lb.to_input(boxes[:1])[0]
    assert full.min() >= -0.5 and full.max() <= 320.5
    assert np.isclose(full[2] - full[0], 320, atol=1) or np.isclose(full[3] - full[1], 320, atol=1)
