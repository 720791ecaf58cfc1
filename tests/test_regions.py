"""Motion regions: from a changed-pixel mask and track boxes to detector regions, their merging,
and the pipeline looking only where things move (mode motion, and auto on big frames)."""
from __future__ import annotations

import numpy as np
import pytest
from test_tiling import PaintedPlateDetector, painted_frame

from edge_alpr.config import AppConfig
from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.pipeline import Pipeline
from edge_alpr.regions import box_regions, drop_contained, expand_boxes, mask_boxes, merge_boxes, plan_regions
from edge_alpr.service import build_reader
from edge_alpr.tiling import MultiViewDetector
from edge_alpr.types import Frame

FRAME_W, FRAME_H = 1920, 1080


def contains(region, box) -> bool:
    return region[0] <= box[0] and region[1] <= box[1] and region[2] >= box[2] and region[3] >= box[3]


# --------------------------------------------------------------------------- mask -> boxes -> regions


def test_mask_boxes_scale_each_changed_area_to_frame_pixels():
    mask = np.zeros((90, 160), bool)  # a 1920x1080 frame seen 12x smaller
    mask[40:45, 20:30] = True
    mask[10:12, 150:152] = True
    boxes = mask_boxes(mask, FRAME_W, FRAME_H)
    assert len(boxes) == 2
    # Each area (grown by the dilation) is covered, in frame pixels.
    assert any(contains(b, (20 * 12, 40 * 12, 30 * 12, 45 * 12)) and b[2] - b[0] < 200 for b in boxes)
    assert any(contains(b, (150 * 12, 10 * 12, 152 * 12, 12 * 12)) for b in boxes)


def test_an_empty_mask_and_no_tracks_mean_no_region():
    assert plan_regions(np.zeros((90, 160), bool), np.zeros((0, 4)), frame_w=FRAME_W, frame_h=FRAME_H,
                        size=640, overlap=0.25, track_growth=2.0) == []
    assert plan_regions(None, np.zeros((0, 4)), frame_w=FRAME_W, frame_h=FRAME_H,
                        size=640, overlap=0.25, track_growth=2.0) == []


def test_regions_from_a_known_mask_and_known_track_boxes():
    mask = np.zeros((90, 160), bool)
    mask[40:45, 20:30] = True  # a vehicle at frame x 240..360, y 480..540
    track = np.array([[1500, 800, 1560, 820]], np.float32)  # a plate far from it, near the corner
    regions = plan_regions(mask, track, frame_w=FRAME_W, frame_h=FRAME_H, size=640, overlap=0.25, track_growth=2.0)
    assert len(regions) == 2
    for x1, y1, x2, y2 in regions:
        assert (x2 - x1, y2 - y1) == (640, 640)  # native resolution: one detector input's worth
        assert 0 <= x1 and 0 <= y1 and x2 <= FRAME_W and y2 <= FRAME_H  # shifted inside the frame
    grown_track = expand_boxes(track, 2.0)[0]  # 1470..1590 x 790..830
    assert any(contains(r, grown_track) for r in regions)
    assert any(contains(r, (240, 480, 360, 540)) for r in regions)


def test_a_region_stays_inside_the_roi_bounds():
    # A box half above the roi is cut to it, its region shifted inside; one wholly outside gives none.
    regions = box_regions(np.array([[10, 380, 50, 420], [10, 10, 50, 30]]), 640, 0.25, bounds=(0, 400, 1920, 1080))
    assert regions == [(0, 400, 640, 1040)]


def test_a_moving_area_bigger_than_a_region_is_covered_by_regions_of_its_size():
    area = np.array([[100, 200, 1500, 700]], np.float32)
    regions = box_regions(area, 640, 0.25, bounds=(0, 0, FRAME_W, FRAME_H))
    assert len(regions) > 1 and all((r[2] - r[0], r[3] - r[1]) == (640, 640) for r in regions)
    covered = np.zeros((FRAME_H, FRAME_W), bool)
    for x1, y1, x2, y2 in regions:
        covered[y1:y2, x1:x2] = True
    assert covered[200:700, 100:1500].all()


# --------------------------------------------------------------------------- merging


def test_areas_one_region_can_hold_together_are_merged():
    boxes = np.array([[200, 400, 300, 450], [450, 420, 560, 470]], np.float32)  # 360 px apart: fits in 640
    merged = merge_boxes(boxes, 640)
    assert merged.tolist() == [[200, 400, 560, 470]]


def test_overlapping_areas_are_merged_even_when_too_big_for_one_region():
    boxes = np.array([[0, 0, 600, 300], [500, 100, 1200, 400]], np.float32)
    assert merge_boxes(boxes, 640).tolist() == [[0, 0, 1200, 400]]


def test_far_apart_areas_stay_apart():
    boxes = np.array([[0, 0, 100, 50], [1500, 900, 1600, 950]], np.float32)
    assert len(merge_boxes(boxes, 640)) == 2


def test_merging_does_not_depend_on_order():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1800, (8, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(20, 150, (8, 2))], axis=1).astype(np.float32)

    def plan(b):
        return drop_contained(box_regions(merge_boxes(b, 640), 640, 0.25, (0, 0, 1920, 1920)))

    assert plan(boxes) == plan(boxes[::-1].copy())


def test_regions_inside_another_are_dropped():
    assert drop_contained([(0, 0, 640, 640), (100, 100, 500, 500), (0, 0, 640, 640)]) == [(0, 0, 640, 640)]


# --------------------------------------------------------------------------- auto


@pytest.mark.parametrize("size, mode", [
    ((640, 480), "whole"),  # a 32 px plate is 16 input px: the whole frame is enough
    ((800, 600), "whole"),
    ((1280, 720), "motion"),  # 8 input px: too small, so regions (tiles on stills)
    ((1920, 1080), "motion"),
    ((3840, 2160), "motion"),
])
def test_auto_picks_whole_for_small_frames_and_regions_for_big_ones(size, mode):
    detector = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(), min_plate_px=32)
    assert detector.mode(*size) == mode
    assert detector.uses_regions(*size) == (mode == "motion")


def test_auto_follows_min_plate_width():
    detector = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(), min_plate_px=64)
    assert detector.mode(1280, 720) == "whole"  # 64 px plates are 16 input px in a 1280 px frame


def test_auto_on_a_still_big_image_looks_at_the_whole_frame_and_tiles():
    inner = PaintedPlateDetector()
    detector = MultiViewDetector(inner, StrategyConfig(), min_plate_px=32)
    frame = painted_frame(FRAME_W, FRAME_H, [(1500, 900, 1540, 912)])  # a 40 px plate: 7 px if shrunk whole
    found = detector.detect(frame)
    assert len(detector.last_timings) == 9  # the whole frame, then 640 px tiles over 1080p
    assert [v.view.kind for v in detector.last_timings] == ["whole"] + ["tile"] * 8
    assert len(found) == 1 and np.allclose(found.boxes[0], [1500, 900, 1540, 912], atol=2)


# --------------------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def reader():
    return build_reader(AppConfig())


def run_frames(cfg: AppConfig, detector, reader, frames) -> Pipeline:
    pipeline = Pipeline(cfg, detector, reader)
    for index, image in enumerate(frames):
        pipeline.process(Frame(image, index, float(index), float(index)))
    return pipeline


def vehicle_frame(width: int, height: int, x: int, y: int) -> np.ndarray:
    """A bright vehicle front with a 60x15 px plate at (x, y): the motion gate sees the vehicle
    (the pure-red plate alone is close to the background in grey)."""
    frame = painted_frame(width, height, [(x, y, x + 60, y + 15)])
    body = frame[max(0, y - 60) : y + 40, max(0, x - 40) : x + 100]
    body[np.all(body != (0, 0, 255), axis=2)] = 230
    return frame


def moving_plate_frames(width: int, height: int, start_x: int, step: int, count: int, y: int = 700):
    return [vehicle_frame(width, height, start_x + step * i, y) for i in range(count)]


def test_pipeline_in_auto_on_small_frames_runs_the_whole_frame(reader):
    inner = PaintedPlateDetector()
    pipeline = run_frames(AppConfig(), inner, reader, moving_plate_frames(640, 480, 50, 8, 5, y=300))
    assert pipeline.counters.detected == 5
    assert set(inner.seen_shapes) == {(480, 640)}


def test_no_motion_no_detector_run(reader):
    inner = PaintedPlateDetector()
    still = vehicle_frame(FRAME_W, FRAME_H, 900, 700)  # a parked car
    pipeline = run_frames(AppConfig(), inner, reader, [still] * 40)
    # The first frame is all new (tiles over the frame); the parked plate's track then keeps
    # tentative regions only until it is confirmed and found not to move.
    assert pipeline.counters.detected < 10
    assert pipeline.counters.skipped_by_motion >= 30
    runs_before = len(inner.seen_shapes)
    for index in range(40, 60):
        pipeline.process(Frame(still, index, float(index), float(index)))
    assert len(inner.seen_shapes) == runs_before  # a static scene costs nothing


def test_a_plate_moving_across_a_region_edge_keeps_its_track(reader):
    inner = PaintedPlateDetector()
    cfg = AppConfig()
    frames = moving_plate_frames(FRAME_W, FRAME_H, 100, 25, 60)  # 100 -> 1575 px: across several regions
    pipeline = Pipeline(cfg, inner, reader)
    ids, regions_used = set(), []
    for index, image in enumerate(frames):
        pipeline.process(Frame(image, index, float(index), float(index)))
        timings = pipeline.detector.last_timings
        regions_used.append({t.view.rect for t in timings if t.view.kind == "region"})
        ids.update(pipeline.tracker.active_ids())
    assert pipeline.detector.uses_regions(FRAME_W, FRAME_H)
    assert pipeline.counters.detected == len(frames)  # it moves every frame: never skipped
    # Regions follow the plate: the first region is left behind, far from where the plate ends.
    first = next(iter(regions_used[1]))
    assert first[2] < 1575
    assert max(len(r) for r in regions_used[1:]) <= 2  # a region or two, never the 8 tiles
    assert ids == {1}  # one vehicle, one track, from the first region to the last
