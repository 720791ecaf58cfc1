"""``auto`` on big still images: the whole frame and tiles, tile boxes trusted only where the
whole frame is blind (``drop_big_tile_boxes``), and when ``auto`` chooses that."""
from __future__ import annotations

import numpy as np
import pytest
from test_tiling import PLATE_BGR, PaintedPlateDetector, iou, painted_frame

from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.tiling import MultiViewDetector, ViewBoxes, drop_big_tile_boxes, merge_views, sharpen_coarse_boxes
from edge_alpr.types import Detections

TEXTURE_BGR = (255, 0, 0)  # pure blue: a texture that looks like a plate to a tile only


class TextureFiringDetector(PaintedPlateDetector):
    """Finds the red plates, and in views no bigger than ``tile_px`` (tiles, not the shrunk whole
    frame) also the blue rectangles, as the real detector fires on signboards and grilles in tiles."""

    def __init__(self, tile_px: int = 640, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tile_px = tile_px

    def detect(self, image_bgr: np.ndarray) -> Detections:
        plates = super().detect(image_bgr)
        if max(image_bgr.shape[:2]) > self.tile_px:
            return plates
        blue = np.all(image_bgr == TEXTURE_BGR, axis=2)
        swapped = image_bgr.copy()
        swapped[blue] = PLATE_BGR
        swapped[np.all(image_bgr == PLATE_BGR, axis=2)] = 90
        textures = super().detect(swapped)
        self.seen_shapes.pop()
        return Detections(np.concatenate([plates.boxes, textures.boxes]), np.concatenate([plates.scores, textures.scores]))


def view_boxes(rows: list[tuple[tuple[float, float, float, float], float, int, bool]], sides: list[float]) -> ViewBoxes:
    """Rows of (box, score, view index, cut on the right)."""
    return ViewBoxes(
        boxes=np.array([r[0] for r in rows], np.float32),
        scores=np.array([r[1] for r in rows], np.float32),
        view=np.array([r[2] for r in rows]),
        cut=np.array([[False, False, r[3], False] for r in rows]),
        view_side=np.array([sides[r[2]] for r in rows], np.float64),
    )


# --------------------------------------------------------------------------- the rule on known boxes

BIG = (400.0, 400.0, 700.0, 480.0)  # 300 px wide: 75 input px in a 1280 px whole view of 320
SMALL = (900.0, 900.0, 940.0, 910.0)  # 40 px: 10 input px there, under the 12 px default (auto_min_model_px)
TEXTURE = (100.0, 100.0, 200.0, 140.0)  # 100 px: 25 input px, which the whole view would see


def test_the_whole_view_speaks_for_big_plates_and_the_tiles_for_small_ones():
    found = view_boxes([
        (BIG, 0.9, 0, False),  # the whole view's box of the big plate
        ((404, 402, 704, 482), 0.95, 1, False),  # a tile's sharper-scored box of it
        (TEXTURE, 0.7, 1, False),  # a tile fires on a texture the whole view ignored
        (SMALL, 0.6, 3, False),  # a far plate only a tile can see
        ((900, 900, 920, 910), 0.8, 2, True),  # a fragment of it, cut by another tile's right edge
    ], [1280, 640, 640, 640])
    kept = drop_big_tile_boxes(found, 0, 1280, 320, min_seen_px=12)
    assert kept.boxes.tolist() == [list(BIG), list(SMALL), [900, 900, 920, 910]]
    merged = merge_views(kept, "wbf", iou=0.45, containment=0.7)
    assert len(merged) == 2
    # The whole view's box as it is: fusing the tile's in would move it.
    assert merged.boxes[0] == pytest.approx(BIG) and merged.scores[0] == pytest.approx(0.9)
    # The fragment loses to the tile that saw the far plate whole.
    assert merged.boxes[1] == pytest.approx(SMALL)


@pytest.mark.parametrize("min_seen_px, texture_kept", [(12, False), (26, True)])
def test_the_width_in_the_whole_view_decides(min_seen_px, texture_kept):
    found = view_boxes([(BIG, 0.9, 0, False), (TEXTURE, 0.7, 1, False)], [1280, 640])
    kept = drop_big_tile_boxes(found, 0, 1280, 320, min_seen_px=min_seen_px)
    assert (len(kept.boxes) == 2) == texture_kept


def test_a_big_plate_the_whole_view_missed_is_not_taken_from_a_tile():
    found = view_boxes([(BIG, 0.9, 1, False), (SMALL, 0.5, 0, False)], [1280, 640])
    kept = drop_big_tile_boxes(found, 0, 1280, 320, min_seen_px=12)
    assert kept.boxes.tolist() == [list(SMALL)]


def test_a_small_plate_the_whole_view_found_takes_the_place_a_tile_saw_it_at():
    # 80 px wide in a 1280 px whole view: 20 input px, under 2 x 12; the shrunk frame's box is off.
    coarse_box, tile_box = (600.0, 300.0, 684.0, 330.0), (604.0, 304.0, 680.0, 326.0)
    found = view_boxes([(coarse_box, 0.6, 0, False), (tile_box, 0.9, 1, False), ((604, 304, 640, 326), 0.95, 2, True),
                        (BIG, 0.9, 0, False), ((420, 400, 560, 480), 0.95, 1, False)], [1280, 640, 640])
    kept = drop_big_tile_boxes(found, 0, 1280, 320, min_seen_px=12)
    sharp = sharpen_coarse_boxes(kept, found, 0, 1280, 320, min_seen_px=12)
    assert sharp.boxes[0].tolist() == list(tile_box)  # the uncut tile box, not the cut one
    assert sharp.scores[0] == pytest.approx(0.6)  # the whole view found it: its score stands
    whole = sharp.boxes[sharp.view == 0].tolist()
    assert whole == [list(tile_box), list(BIG)]  # big plates keep the whole view's box (the tile saw a part)
    assert len(sharp.boxes) == len(kept.boxes)


# --------------------------------------------------------------------------- when auto does this


def test_auto_on_a_big_still_runs_the_whole_frame_then_tiles_and_keeps_what_each_sees_best():
    big = (700, 500, 1000, 560)  # across the tile border at x 640..1280's left edge: cut in a tile
    far = (1500, 900, 1540, 912)  # 40 px: 7 input px if shrunk whole
    texture = (200, 200, 400, 260)  # 200 px: 33 input px, which the whole view would see
    frame = painted_frame(1920, 1080, [big, far])
    frame[texture[1]:texture[3], texture[0]:texture[2]] = TEXTURE_BGR
    fake = TextureFiringDetector(min_model_px=12)
    detector = MultiViewDetector(fake, StrategyConfig(), min_plate_px=32)
    found = detector.detect(frame)
    assert detector.still_auto(1920, 1080)
    kinds = [t.view.kind for t in detector.last_timings]
    assert kinds == ["whole"] + ["tile"] * 8
    assert len(found) == 2
    assert max(iou(big, b) for b in found.boxes) > 0.85  # the whole view's box, in 6 px model pixels
    assert max(iou(far, b) for b in found.boxes) > 0.8
    # Tiles alone report the texture: the rule above is what removes it.
    tiles = MultiViewDetector(TextureFiringDetector(min_model_px=12), StrategyConfig(mode="tiles"))
    assert max(iou(texture, b) for b in tiles.detect(frame).boxes) > 0.9


@pytest.mark.parametrize("size, still_auto, runs", [((640, 480), False, 1), ((1280, 1280), True, 10),
                                                     ((1920, 1080), True, 9)])
def test_auto_adds_tiles_only_to_frames_too_big_for_the_whole_view(size, still_auto, runs):
    detector = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(), min_plate_px=32)
    assert detector.still_auto(*size) == still_auto
    assert len(detector.views(*size)) == runs


def test_explicit_modes_and_the_daemons_regions_are_unchanged():
    frame = painted_frame(1920, 1080, [(1500, 900, 1540, 912)])
    for mode, runs in [("tiles", 8), ("motion", 8), ("two_scale", 9)]:
        detector = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(mode=mode), min_plate_px=32)
        assert not detector.still_auto(1920, 1080)
        detector.detect(frame)
        assert len(detector.last_timings) == runs
    auto = MultiViewDetector(PaintedPlateDetector(), StrategyConfig(), min_plate_px=32)
    auto.detect(frame, regions=[(1200, 600, 1840, 1080)])  # the daemon's motion regions replace the views
    assert [t.view.kind for t in auto.last_timings] == ["region"]
