"""Tiling and multi-view detection: tile geometry, ROI crops, merging plates across views."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_alpr.bench.strategies import Tally, choose_default, plate_buckets
from edge_alpr.bench.strategy_frames import BenchFrame, Photo, paste_vehicle
from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.errors import ConfigError
from edge_alpr.tiling import (
    MultiViewDetector,
    ViewBoxes,
    cut_sides,
    merge_views,
    plan_views,
    polygon_mask,
    roi_bounds,
    tile_grid,
)
from edge_alpr.types import Detections

PLATE_BGR = (0, 0, 255)  # pure red: nothing else in a test frame has this colour


class PaintedPlateDetector:
    """A stand-in for ``PlateDetector`` that finds the pure-red rectangles painted into a test frame,
    seeing what the real one would: only the part of a plate inside the image it is given, through a
    square ``input_size`` letterbox, so boxes snap to whole model pixels and plates narrower than
    ``min_model_px`` model pixels are missed. A box touching the image edge scores ``edge_score``."""

    def __init__(
        self, input_size: int = 320, min_model_px: float = 0.0, score: float = 0.8, edge_score: float | None = None
    ):
        self.input_size = input_size
        self.min_model_px = min_model_px
        self.score = score
        self.edge_score = score if edge_score is None else edge_score
        self.seen_shapes: list[tuple[int, int]] = []

    def detect(self, image_bgr: np.ndarray) -> Detections:
        h, w = image_bgr.shape[:2]
        self.seen_shapes.append((h, w))
        mask = np.all(image_bgr == PLATE_BGR, axis=2).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        scale = self.input_size / max(h, w)
        boxes, scores = [], []
        for x, y, bw, bh, _ in stats[1:count]:
            if bw * scale < self.min_model_px:
                continue
            corners = np.array([x, y, x + bw, y + bh]) * scale
            box = np.concatenate([np.floor(corners[:2]), np.ceil(corners[2:])]) / scale
            box = np.minimum(box, [w, h, w, h])
            boxes.append(box)
            touches_edge = x == 0 or y == 0 or x + bw == w or y + bh == h
            scores.append(self.edge_score if touches_edge else self.score)
        return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32))


def painted_frame(width: int, height: int, plates: list[tuple[int, int, int, int]]) -> np.ndarray:
    frame = np.full((height, width, 3), 90, np.uint8)
    for x1, y1, x2, y2 in plates:
        frame[y1:y2, x1:x2] = PLATE_BGR
    return frame


def iou(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))


# --------------------------------------------------------------------------- tile geometry

GRIDS = [
    # frame_w, frame_h, tile_size, overlap
    (1920, 1080, 640, 0.25),
    (1150, 1750, 640, 0.2),
    (1280, 640, 640, 0.25),
    (1281, 641, 640, 0.0),
    (1000, 700, 300, 0.5),
    (640, 480, 640, 0.25),  # frame no bigger than a tile
    (300, 200, 640, 0.3),  # frame smaller than a tile
    (4000, 90, 500, 0.1),  # a strip
]


@pytest.mark.parametrize("frame_w, frame_h, tile, overlap", GRIDS)
def test_tiles_cover_every_pixel_inside_the_frame(frame_w, frame_h, tile, overlap):
    tiles = tile_grid(frame_w, frame_h, tile, overlap)
    covered = np.zeros((frame_h, frame_w), np.int32)
    for x1, y1, x2, y2 in tiles:
        assert 0 <= x1 < x2 <= frame_w and 0 <= y1 < y2 <= frame_h
        assert (x2 - x1, y2 - y1) == (min(tile, frame_w), min(tile, frame_h))
        covered[y1:y2, x1:x2] += 1
    assert covered.min() >= 1
    assert len(set(tiles)) == len(tiles)


@pytest.mark.parametrize("frame_w, frame_h, tile, overlap", GRIDS)
def test_neighbouring_tiles_share_at_least_the_requested_overlap(frame_w, frame_h, tile, overlap):
    tiles = tile_grid(frame_w, frame_h, tile, overlap)
    wanted = int(overlap * tile)
    for axis, length in ((0, frame_w), (1, frame_h)):
        starts = sorted({t[axis] for t in tiles})
        ends = sorted({t[axis + 2] for t in tiles})
        assert starts[0] == 0 and ends[-1] == length  # snapped to both borders
        for end_before, start_after in zip(ends, starts[1:]):
            assert end_before - start_after >= wanted


def test_tile_grid_of_1080p_with_640_tiles():
    tiles = tile_grid(1920, 1080, 640, 0.25)
    assert sorted({t[0] for t in tiles}) == [0, 427, 853, 1280]
    assert sorted({t[1] for t in tiles}) == [0, 440]
    assert len(tiles) == 8


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 100, 64, 0.2), "frame size"),
        ((100, 100, 0, 0.2), "tile_size"),
        ((100, 100, 64, 1.0), "overlap"),
        ((100, 100, 64, -0.1), "overlap"),
    ],
)
def test_tile_grid_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        tile_grid(*args)


def test_tile_views_are_in_frame_pixels_of_the_roi_bounding_box():
    config = StrategyConfig(mode="tiles", roi=[(500, 300), (1700, 300), (1700, 1000), (500, 1000)], tile_size=640)
    views = plan_views(config, 1920, 1080)
    xs = [v.rect[0] for v in views] + [v.rect[2] for v in views]
    ys = [v.rect[1] for v in views] + [v.rect[3] for v in views]
    assert (min(xs), min(ys), max(xs), max(ys)) == (500, 300, 1700, 1000)
    assert all(v.kind == "tile" for v in views)


# --------------------------------------------------------------------------- roi geometry


@pytest.mark.parametrize(
    "polygon, frame, expected",
    [
        ([(10.2, 20.7), (30.5, 20.7), (20.0, 40.1)], None, (10, 20, 31, 41)),
        ([(-50, -10), (300, 50), (100, 500)], (200, 300), (0, 0, 200, 300)),
        ([(100, 100), (150, 100), (150, 150)], (640, 480), (100, 100, 150, 150)),
    ],
)
def test_roi_bounds_is_the_grown_bounding_box_clipped_to_the_frame(polygon, frame, expected):
    assert roi_bounds(polygon, *(frame or (None, None))) == expected


def test_roi_outside_the_frame_is_a_config_error_naming_the_frame_size():
    with pytest.raises(ConfigError, match="outside the 640x480 frame"):
        roi_bounds([(700, 10), (900, 10), (900, 100)], 640, 480)


def test_polygon_mask_is_true_inside_the_triangle_only():
    mask = polygon_mask([(0, 0), (99, 0), (0, 99)], 100, 100)
    assert mask[10, 10] and not mask[90, 90]
    assert mask.sum() == pytest.approx(100 * 100 / 2, rel=0.05)


@pytest.mark.parametrize(
    "box, view, expected",
    [
        # frame 1000x800; a view with internal edges on every side
        ((100, 200, 180, 220), (100, 100, 500, 400), [True, False, False, False]),
        ((420, 380, 500, 400), (100, 100, 500, 400), [False, False, True, True]),
        ((200, 200, 280, 220), (100, 100, 500, 400), [False, False, False, False]),
        # the frame border cuts nothing
        ((0, 0, 60, 20), (0, 0, 500, 400), [False, False, False, False]),
        ((940, 380, 1000, 400), (500, 0, 1000, 400), [False, False, False, True]),
    ],
)
def test_cut_sides_marks_only_view_edges_inside_the_frame(box, view, expected):
    cut = cut_sides(np.array([box], np.float32), view, 1000, 800, margin=0.01)
    assert cut[0].tolist() == expected


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"roi": [(10, 10)]}, "at least 3 [x, y] points or a rectangle of 2 corners, got 1"),
        ({"roi": []}, "got 0 point"),
        ({"roi": [(0, 0), (10, 10), (20, 20)]}, "no area"),
        ({"roi": [(5, 5), (5, 50)]}, "must differ in both x and y"),
        ({"roi": [(-1, 0), (10, 0), (10, 10)]}, "greater than or equal to 0"),
        ({"mode": "roi"}, "mode 'roi' needs a roi"),
        ({"mode": "two_scale", "far": "roi"}, "far 'roi' needs a roi"),
        ({"tile_overlap": 0.6}, "less than or equal to 0.5"),
        ({"tile_size": 32}, "greater than or equal to 64"),
        ({"mode": "everything"}, "'auto', 'whole', 'roi', 'tiles', 'two_scale' or 'motion'"),
        ({"tile_sise": 640}, "Extra inputs are not permitted"),
    ],
)
def test_strategy_config_rejects_bad_values_with_a_clear_message(fields, message):
    with pytest.raises(ValidationError) as error:
        StrategyConfig(**fields)
    assert message in str(error.value)


def test_two_corner_roi_becomes_a_rectangle():
    config = StrategyConfig(mode="roi", roi=[(300, 400), (100, 200)])
    assert config.roi == [(100, 200), (300, 200), (300, 400), (100, 400)]


def test_every_strategy_field_says_what_changing_it_costs():
    for name, field in StrategyConfig.model_fields.items():
        assert field.description and len(field.description) > 60, name


# --------------------------------------------------------------------------- merging across tiles

# A 1120 px square frame in 640 px tiles with 160 px overlap: tiles start at 0 and 480 on both axes.
@pytest.mark.parametrize("merge", ["nms", "wbf"])
@pytest.mark.parametrize(
    "plate",
    [
        (560, 300, 700, 330),  # narrower than the overlap: whole in the right tiles, cut in the left
        (420, 300, 600, 340),  # whole in the left tiles, cut in the right
        (400, 300, 760, 360),  # wider than the overlap: cut in every tile, never whole
        (400, 460, 760, 500),  # across the corner of four tiles: a fragment in each
    ],
)
def test_plate_cut_by_a_tile_border_comes_out_as_one_box(plate, merge):
    frame = painted_frame(1120, 1120, [plate])
    config = StrategyConfig(mode="tiles", tile_size=640, tile_overlap=0.25, merge=merge)
    # Fragments score higher than whole boxes here, so score alone would pick a fragment.
    detector = MultiViewDetector(PaintedPlateDetector(edge_score=0.95), config)
    found = detector.detect(frame)
    assert len(detector.last_timings) == 4
    assert len(found) == 1
    assert found.boxes[0] == pytest.approx(np.array(plate, np.float32), abs=2.5)


def test_a_fragment_next_to_another_plate_is_not_merged_into_it():
    # The left tile sees only a fragment of the first plate, right beside the second plate.
    plates = [(600, 300, 660, 330), (665, 300, 720, 330)]
    frame = painted_frame(1120, 640, plates)
    config = StrategyConfig(mode="tiles", tile_size=640, tile_overlap=0.25)
    detector = MultiViewDetector(PaintedPlateDetector(edge_score=0.95), config)
    found = detector.detect(frame)
    assert len(found) == 2
    for plate in plates:
        assert max(iou(plate, box) for box in found.boxes) > 0.9


@pytest.mark.parametrize("merge", ["nms", "wbf"])
def test_boxes_of_one_plate_from_two_views_merge_even_below_the_iou_threshold(merge):
    # A coarse whole-view box around a sharp tile box: IoU 0.36, but the tile box lies inside it.
    found = ViewBoxes(
        boxes=np.array([[100, 100, 200, 150], [120, 110, 180, 140]], np.float32),
        scores=np.array([0.6, 0.9], np.float32),
        view=np.array([0, 1]),
        cut=np.zeros((2, 4), bool),
        view_side=np.array([1000.0, 1000.0]),
    )
    merged = merge_views(found, merge, iou=0.45, containment=0.7)
    assert len(merged) == 1
    assert merged.scores[0] == pytest.approx(0.9)


def test_a_fragment_joins_its_plate_through_any_box_of_the_group():
    # The best box (a coarse whole view) does not reach the fragment; the tile box of the
    # same plate contains it.
    found = ViewBoxes(
        boxes=np.array([[100, 100, 180, 140], [110, 104, 210, 144], [185, 104, 210, 144]], np.float32),
        scores=np.array([0.9, 0.8, 0.5], np.float32),
        view=np.array([0, 1, 2]),
        cut=np.array([[False] * 4, [False] * 4, [True, False, False, False]]),
        view_side=np.array([1920.0, 640.0, 640.0]),
    )
    merged = merge_views(found, "nms", iou=0.45, containment=0.7)
    assert len(merged) == 1
    assert merged.boxes[0] == pytest.approx([100, 100, 180, 140])


@pytest.mark.parametrize(
    "second, merged",
    [
        ((120, 110, 180, 140), True),  # nested: the plate's text inside the plate's box
        ((150, 100, 250, 150), False),  # IoU 0.33, neither inside the other: two plates
        ((140, 100, 240, 150), False),  # side by side, 60 % of each inside the other
    ],
)
def test_boxes_from_the_same_view_merge_only_when_nested(second, merged):
    found = ViewBoxes(
        boxes=np.array([[100, 100, 200, 150], second], np.float32),
        scores=np.array([0.9, 0.6], np.float32),
        view=np.array([0, 0]),
        cut=np.zeros((2, 4), bool),
        view_side=np.array([1000.0, 1000.0]),
    )
    result = merge_views(found, "wbf", iou=0.45, containment=0.7)
    assert len(result) == (1 if merged else 2)
    assert result.boxes[0] == pytest.approx([100, 100, 200, 150])


def test_wbf_averages_whole_boxes_by_score():
    found = ViewBoxes(
        boxes=np.array([[100, 100, 200, 150], [110, 100, 210, 150]], np.float32),
        scores=np.array([0.75, 0.25], np.float32),
        view=np.array([0, 1]),
        cut=np.zeros((2, 4), bool),
        view_side=np.array([1000.0, 1000.0]),
    )
    merged = merge_views(found, "wbf", iou=0.45, containment=0.7)
    assert merged.boxes[0] == pytest.approx([102.5, 100, 202.5, 150])
    assert merge_views(found, "nms", iou=0.45, containment=0.7).boxes[0] == pytest.approx([100, 100, 200, 150])


def test_wbf_trusts_a_box_from_a_finer_view_more():
    # Equal scores; the second box comes from a view with 3x finer pixels (a 640 px tile of a
    # 1920 px frame), so it weighs 3x as much.
    found = ViewBoxes(
        boxes=np.array([[100, 100, 200, 150], [120, 100, 220, 150]], np.float32),
        scores=np.array([0.5, 0.5], np.float32),
        view=np.array([0, 1]),
        cut=np.zeros((2, 4), bool),
        view_side=np.array([1920.0, 640.0]),
    )
    assert merge_views(found, "wbf", iou=0.45, containment=0.7).boxes[0] == pytest.approx([115, 100, 215, 150])


# --------------------------------------------------------------------------- roi


def test_roi_mode_runs_the_detector_on_the_roi_box_and_maps_plates_back():
    roi = [(400, 200), (1400, 200), (1400, 800), (400, 800)]
    plate = (900, 500, 980, 520)
    fake = PaintedPlateDetector()
    detector = MultiViewDetector(fake, StrategyConfig(mode="roi", roi=roi))
    found = detector.detect(painted_frame(1920, 1080, [plate]))
    assert fake.seen_shapes == [(600, 1000)]
    assert len(found) == 1
    assert found.boxes[0] == pytest.approx(np.array(plate, np.float32), abs=3.5)


def test_plates_centred_outside_the_roi_polygon_are_dropped():
    # A triangle: its bounding box holds both plates, but only the first is centred inside it.
    triangle = [(0, 0), (1000, 0), (0, 1000)]
    inside, outside = (100, 100, 180, 120), (700, 700, 780, 720)
    detector = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(mode="roi", roi=triangle))
    found = detector.detect(painted_frame(1200, 1100, [inside, outside]))
    assert len(found) == 1
    assert iou(found.boxes[0], inside) > 0.9


# --------------------------------------------------------------------------- two scales


@pytest.mark.parametrize("merge", ["nms", "wbf"])
@pytest.mark.parametrize("far", ["tiles", "roi"])
def test_two_scale_reports_a_plate_seen_in_the_whole_view_and_a_tile_once(merge, far):
    near = (900, 700, 1200, 780)  # big enough for the whole view
    road = [(0, 400), (1920, 400), (1920, 1080), (0, 1080)]
    config = StrategyConfig(mode="two_scale", far=far, merge=merge, roi=road)
    detector = MultiViewDetector(PaintedPlateDetector(min_model_px=12), config)
    found = detector.detect(painted_frame(1920, 1080, [near]))
    assert len(found) == 1
    assert iou(found.boxes[0], near) > 0.9
    assert detector.last_timings[0].view.kind == "whole" and detector.last_timings[0].boxes == 1
    assert sum(t.boxes for t in detector.last_timings[1:]) >= 1  # the far view saw it too


@pytest.mark.parametrize(
    "mode, finds_far_plate",
    [("whole", False), ("tiles", True), ("two_scale", True)],
)
def test_only_views_at_higher_resolution_find_a_plate_too_small_for_the_whole_frame(mode, finds_far_plate):
    far = (300, 500, 350, 512)  # 50 px wide: 8 model px when 1920 px become 320
    near = (1000, 800, 1300, 870)
    detector = MultiViewDetector(PaintedPlateDetector(min_model_px=12), StrategyConfig(mode=mode, tile_size=640))
    found = detector.detect(painted_frame(1920, 1080, [far, near]))
    assert len(found) == 1 + finds_far_plate
    assert max(iou(near, b) for b in found.boxes) > 0.9
    assert any(iou(far, b) > 0.5 for b in found.boxes) == finds_far_plate


def test_two_scale_on_a_frame_no_bigger_than_a_tile_runs_the_detector_once():
    fake = PaintedPlateDetector()
    detector = MultiViewDetector(fake, StrategyConfig(mode="two_scale", tile_size=640))
    detector.detect(painted_frame(640, 480, [(100, 100, 200, 130)]))
    assert fake.seen_shapes == [(480, 640)]


# --------------------------------------------------------------------------- the strategy bench's bookkeeping


@pytest.mark.parametrize(
    "box, frame_width, expected",
    [
        ((0, 0, 50, 10), 1920, ("<3%", "one")),  # 2.6 % wide, 5:1
        ((0, 0, 100, 20), 1920, ("3-6%", "one")),  # 5.2 %
        ((0, 0, 130, 70), 1920, (">6%", "two")),  # 6.8 %, 1.9:1
        ((0, 0, 60, 30), 1000, ("3-6%", "two")),  # exactly 2:1 is below 2.2
        ((0, 0, 66, 30), 1000, (">6%", "one")),  # exactly 2.2:1 counts as one line
    ],
)
def test_bench_buckets_plates_by_relative_width_and_aspect(box, frame_width, expected):
    assert plate_buckets(np.array(box, np.float32), frame_width) == expected


def test_bench_tally_splits_hits_misses_and_false_boxes_by_bucket():
    frame = BenchFrame(
        group="test",
        image=np.zeros((1000, 1000, 3), np.uint8),
        boxes=np.array([[100, 100, 120, 110], [500, 500, 600, 530], [800, 800, 840, 820]], np.float32),
        ignore=np.array([False, False, True]),
        roi=None,
    )
    predictions = np.array([[500, 500, 600, 530], [200, 200, 300, 250], [800, 800, 840, 820]], np.float32)
    tally = Tally()
    tally.add(frame, predictions, np.array([0.9, 0.8, 0.7], np.float32), ms=12.0, runs=3)
    assert (tally.tp["all"], tally.fn["all"], tally.fp["all"]) == (1, 1, 1)  # the ignored plate counts nowhere
    assert tally.recall("<3%") == 0.0 and tally.recall(">6%") == 1.0
    assert tally.precision(">6%") == 0.5  # the false 10 %-wide box is in the >6 % bucket
    assert tally.recall("3-6%") is None  # no plate of that width


def test_bench_paste_maps_the_plate_box_into_the_frame(tmp_path):
    photo_image = painted_frame(400, 300, [(150, 200, 250, 230)])
    cv2.imwrite(str(tmp_path / "car.png"), photo_image)
    photo = Photo(tmp_path / "car.png", np.array([[150, 200, 250, 230]], np.float32))
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    boxes = paste_vehicle(frame, photo, (300, 400, 1600, 1000), np.random.default_rng(3))
    ys, xs = np.nonzero(np.all(frame == PLATE_BGR, axis=2))
    painted = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert boxes[0] == pytest.approx(painted, abs=1.5)
    assert 0.01 * 1920 - 1 <= painted[2] - painted[0] <= 0.06 * 1920 + 1
    assert 300 <= painted[0] and painted[2] <= 1600 and 400 <= painted[1] and painted[3] <= 1000


def tally(found: int, missed: int, false: int, runs: int, ms: float) -> Tally:
    t = Tally(ms=[ms], runs=[runs])
    t.tp["all"], t.fn["all"], t.fp["all"] = found, missed, false
    return t


@pytest.mark.parametrize(
    "tallies, slowdown, expected, says",
    [
        # Best recall wins while precise enough.
        ({"whole": tally(40, 60, 10, 1, 8), "tiles640": tally(90, 10, 20, 8, 44)}, 1, "tiles640", "within the 200 ms"),
        # Too imprecise: the false boxes would swamp the reader.
        ({"whole": tally(40, 60, 10, 1, 8), "tiles640": tally(90, 10, 200, 8, 44)}, 1, "whole", "within the 200 ms"),
        # Recall within a point: the one with fewer detector runs.
        ({"whole": tally(98, 2, 10, 1, 8), "two_scale640": tally(99, 1, 10, 9, 50)}, 1, "whole", "within"),
        # Over budget on the target: say how many frames may be detected.
        ({"whole": tally(40, 60, 10, 1, 8), "tiles640": tally(90, 10, 20, 8, 44)}, 8, "tiles640", "at most 57%"),
    ],
)
def test_bench_recommends_the_best_recall_that_stays_precise(tallies, slowdown, expected, says):
    name, reason = choose_default(tallies, budget_ms=200.0, slowdown=slowdown, min_precision=0.5)
    assert name == expected
    assert says in reason
