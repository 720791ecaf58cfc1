"""Furniture of older, painted two-line plates (motorcycles, autos, trucks), seen on the real
crops of in_twowheelers and in_odisha_traffic: a painted line between the two lines of
characters, in the ink colour or red, and the dark moulded holder a motorcycle plate sits in,
with the tail lamp above it.

    draw_divider(canvas, text_mask, colour) -> bool
    add_holder(canvas, rng) -> np.ndarray
    wear(canvas, rng) -> None
"""
from __future__ import annotations

import cv2
import numpy as np

RED_PAINT = np.array([40, 40, 185], np.float32)  # BGR: the red of painted borders and lines


def _ink_bands(text_mask: np.ndarray) -> list[tuple[int, int]]:
    rows = text_mask.max(axis=1) > 0.05
    edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.astype(np.int8), [0]))))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def draw_divider(canvas: np.ndarray, text_mask: np.ndarray, colour: np.ndarray) -> bool:
    """A horizontal painted line in the gap between the two ink bands of ``text_mask``, across
    the characters' width; False (nothing drawn) when there are not two bands or no gap."""
    bands = _ink_bands(text_mask)
    if len(bands) != 2:
        return False
    gap_top, gap_bottom = bands[0][1] + 1, bands[1][0] - 1
    if gap_bottom - gap_top < 2:
        return False
    columns = np.flatnonzero(text_mask.max(axis=0) > 0.05)
    y = (gap_top + gap_bottom) // 2
    thickness = max(1, min((gap_bottom - gap_top) // 3, canvas.shape[0] // 40 + 1))
    mask = np.zeros(text_mask.shape, np.float32)
    cv2.line(mask, (int(columns[0]), y), (int(columns[-1]), y), 1.0, thickness)
    canvas *= 1.0 - mask[..., None]
    canvas += mask[..., None] * colour
    return True


def add_holder(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The plate inside a motorcycle's dark moulded holder: a surround of dark plastic on every
    side, deeper above, where a red tail-lamp lens sits over the plate."""
    height, width = canvas.shape[:2]
    side = max(3, int(width * rng.uniform(0.05, 0.1)))
    top = int(height * rng.uniform(0.3, 0.45))
    bottom = max(3, int(height * rng.uniform(0.06, 0.15)))
    plastic = np.float32(rng.uniform(18, 50))
    held = np.empty((height + top + bottom, width + 2 * side, 3), np.float32)
    held[:] = plastic
    # Moulded plastic is lit from above: a soft vertical gradient and a little grain.
    held += np.linspace(12, -8, held.shape[0], dtype=np.float32)[:, None, None]
    held += rng.normal(0, 2.0, held.shape[:2] + (1,)).astype(np.float32)
    lamp_w, lamp_h = int(width * rng.uniform(0.3, 0.6)), max(2, int(top * rng.uniform(0.4, 0.6)))
    x0 = side + (width - lamp_w) // 2 + int(rng.integers(-width // 10, width // 10 + 1))
    y0 = (top - lamp_h) // 2
    lens = np.array([30, 30, rng.uniform(150, 220)], np.float32)
    held[y0 : y0 + lamp_h, max(0, x0) : x0 + lamp_w] = lens
    held[top : top + height, side : side + width] = canvas
    return held


def wear(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Old sheeting, in place: faded and dirty patches, a film of grime darker at the bottom
    (road spray) and scuffs across the plate, characters included."""
    height, width = canvas.shape[:2]
    # Patches from a coarse random grid, smoothly enlarged: as blotchy as a wide blur, far cheaper.
    grid = rng.standard_normal((int(rng.integers(3, 7)), int(rng.integers(5, 11)))).astype(np.float32)
    blotches = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    # Light enough that a plate keeps its colour class: grime greys a black plate, never whitens it.
    grime = np.linspace(0.0, rng.uniform(0.05, 0.2), height, dtype=np.float32)[:, None]
    dirt = np.float32(rng.uniform(60, 110))  # road dust, the same brown-grey on any plate colour
    amount = np.clip(grime + blotches * rng.uniform(0.03, 0.08), 0.0, 0.3)[..., None]
    canvas *= 1.0 - amount
    canvas += amount * dirt
    scuffs = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(0, 6))):
        x0, y0 = int(rng.integers(width)), int(rng.integers(height))
        length, angle = rng.uniform(0.1, 0.5) * width, rng.normal(0, 0.4)
        x1, y1 = int(x0 + length * np.cos(angle)), int(y0 + length * np.sin(angle))
        cv2.line(scuffs, (x0, y0), (x1, y1), float(rng.uniform(0.2, 0.5)), 1)
    canvas += scuffs[..., None] * (np.float32(rng.uniform(150, 230)) - canvas)
