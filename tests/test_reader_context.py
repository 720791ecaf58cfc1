"""Rendered plates in real surroundings (training.reader_context): the real plate underneath
never shows, the crop is loose around the pasted plate, and square plates go over square ones."""
from __future__ import annotations

import numpy as np

from edge_alpr.training.reader_context import ContextBank, Region

MAGENTA = (255, 0, 255)


def _region(box_w: int, box_h: int) -> Region:
    """A grey 'vehicle' with a magenta 'real plate' in the middle."""
    image = np.full((box_h * 3, box_w * 2, 3), 90, np.uint8)
    x1, y1 = box_w // 2, box_h
    image[y1 : y1 + box_h, x1 : x1 + box_w] = MAGENTA
    return Region(image, np.array([x1, y1, x1 + box_w, y1 + box_h], np.float32))


def _magenta(image: np.ndarray) -> int:
    return int(np.sum((image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] > 200)))


def test_pasted_plate_hides_the_real_one_and_the_crop_is_loose():
    bank = ContextBank([_region(140, 30)])
    plate = np.full((100, 470, 3), 240, np.uint8)  # a white one-line plate
    rng = np.random.default_rng(0)
    for _ in range(30):
        crop = bank.place(plate, rng)
        assert _magenta(crop) == 0
        # Surroundings (the grey vehicle) show around the plate in some crops, never more than the plate.
        grey = np.mean(np.all(np.abs(crop.astype(int) - 90) < 5, axis=-1))
        assert grey < 0.6


def test_square_plates_go_over_square_plates():
    long_region, square_region = _region(140, 30), _region(140, 90)
    bank = ContextBank([long_region, square_region])
    two_line = np.full((180, 300, 3), 240, np.uint8)
    rng = np.random.default_rng(1)
    for _ in range(10):
        crop = bank.place(two_line, rng)
        h, w = crop.shape[:2]
        assert w / h < 2.4, (w, h)  # cut around the square box, not the long one
