"""The detector's training augmentation: boxes follow the photo through scale, shift and turn."""
from __future__ import annotations

import numpy as np
import pytest

from edge_alpr.training.detector_data import PAD_VALUE, random_affine


def _plate_photo() -> tuple[np.ndarray, np.ndarray]:
    """A grey photo with one white plate-shaped rectangle, and its box."""
    image = np.full((240, 320, 3), 60, np.uint8)
    image[150:180, 100:200] = 255
    return image, np.array([[100.0, 150.0, 200.0, 180.0]], np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_a_turned_plate_stays_inside_its_box_and_fills_it(seed):
    image, boxes = _plate_photo()
    out, moved = random_affine(image, boxes, 320, np.random.default_rng(seed), (0.8, 1.2), max_rotation_deg=15.0)
    ys, xs = np.nonzero(out[..., 0] > 200)
    x1, y1, x2, y2 = moved[0]
    # Every plate pixel lies in the box (1 px for interpolation), and the box is no bigger than the
    # plate's own extent (its turned corners touch the box's sides).
    assert xs.min() >= x1 - 1.5 and xs.max() <= x2 + 1.5 and ys.min() >= y1 - 1.5 and ys.max() <= y2 + 1.5
    assert xs.min() <= x1 + 2.5 and xs.max() >= x2 - 3.5 and ys.min() <= y1 + 2.5 and ys.max() >= y2 - 3.5


def test_a_turn_grows_the_box_of_a_wide_plate():
    image, boxes = _plate_photo()
    turns = [random_affine(image, boxes, 320, np.random.default_rng(s), (1.0, 1.0), max_rotation_deg=20.0)[1][0]
             for s in range(10)]
    level = random_affine(image, boxes, 320, np.random.default_rng(0), (1.0, 1.0))[1][0]
    heights = [b[3] - b[1] for b in turns]
    assert max(heights) > 1.5 * (level[3] - level[1])  # a 100x30 plate turned ~10-20 deg is much taller


def test_without_a_turn_the_box_is_scaled_and_shifted_only():
    image, boxes = _plate_photo()
    out, moved = random_affine(image, boxes, 320, np.random.default_rng(3), (0.5, 0.5))
    x1, y1, x2, y2 = moved[0]
    assert x2 - x1 == pytest.approx(50.0) and y2 - y1 == pytest.approx(15.0)
    assert (out[..., 0] == PAD_VALUE).any()  # half-size photo: the rest is padding
