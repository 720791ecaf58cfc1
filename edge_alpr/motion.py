"""The pipeline's motion gate: whether a frame (or the part of it inside the configured region)
changed since the detector last looked, so a quiet road costs no detector runs."""
from __future__ import annotations

import cv2
import numpy as np

# Motion is measured on a copy this wide: enough to see a car, cheap on a Pi.
_MOTION_WIDTH = 160


class MotionGate:
    """Tells whether a frame differs from the last frame the detector looked at."""

    def __init__(self, threshold: float, pixel_delta: int) -> None:
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self._reference: np.ndarray | None = None

    def has_motion(self, image: np.ndarray) -> bool:
        return self.is_motion(self.changed_mask(image))

    def changed_mask(self, image: np.ndarray) -> np.ndarray:
        """Bool mask, at most _MOTION_WIDTH wide, of the pixels that changed since the reference;
        all True before there is one (the first frame is all new)."""
        small = self._small_grey(image)
        if self._reference is None or self._reference.shape != small.shape:
            return np.ones(small.shape, bool)
        return cv2.absdiff(small, self._reference) > self.pixel_delta

    def is_motion(self, mask: np.ndarray) -> bool:
        """Enough of the mask changed to count as motion (not sensor noise or a flicker)."""
        return float(mask.mean()) >= self.threshold

    def remember(self, image: np.ndarray) -> None:
        """Make ``image`` the reference: call it for every frame the detector ran on."""
        self._reference = self._small_grey(image)

    @staticmethod
    def _small_grey(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, _MOTION_WIDTH / max(w, 1))
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        # A light blur keeps sensor noise and compression blocks from counting as motion.
        return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)


class RegionOfInterest:
    """The bounding box of the configured polygon: the part of the frame the motion gate watches.
    (The detector strategy crops to it and drops plates centred outside the polygon.)"""

    def __init__(self, polygon: list[tuple[float, float]] | None) -> None:
        self.polygon = None if polygon is None else np.asarray(polygon, dtype=np.float32)

    def bounds(self, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of the part of the frame to look at (the whole frame without a polygon)."""
        h, w = frame_shape[:2]
        if self.polygon is None:
            return 0, 0, w, h
        x0, y0 = np.floor(self.polygon.min(axis=0)).astype(int)
        x1, y1 = np.ceil(self.polygon.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, w, h)
