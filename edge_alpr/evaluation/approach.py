"""One vehicle's approach in an evaluation video: how its plate grows, drifts and turns frame by
frame (``ClipPlan``), and where the photo and its plate box land in each frame."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge_alpr.evaluation.photos import PlatePhoto
from edge_alpr.synth.vehicles import Box

# Plate widths in frame pixels for a 1280 px wide frame (scaled with the frame width): where a
# pass starts (far) and ends (close). A plate is never blown up more than _MAX_UPSCALE times
# its size in the photo: beyond that it is a blur no real camera would deliver.
_START_WIDTH_PX = (24.0, 40.0)
_END_WIDTH_PX = (110.0, 170.0)
_MAX_UPSCALE = 2.0
# Keystone strength (change of scale across one plate width) and roll in degrees.
_YAW_START = (0.02, 0.08)
_YAW_END = (0.06, 0.15)
_ROLL_DEG = 3.0
_JPEG_QUALITY = (45, 85)


@dataclass(frozen=True)
class ClipPlan:
    """How one vehicle approaches: plate width and centre in frame pixels at the first and last
    frame, and the keystone/roll of the plate at both ends. In between, the plate width follows
    a constant approach speed and everything else follows the plate width."""

    frames: int
    start_width: float
    end_width: float
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]
    yaw: tuple[float, float]  # keystone: change of scale across one plate width, start and end
    roll_deg: tuple[float, float]
    jpeg_quality: int

    def plate_width(self, i: int) -> float:
        """Constant speed: distance (∝ 1 / width) falls linearly with time."""
        u = i / max(1, self.frames - 1)
        return 1.0 / ((1.0 - u) / self.start_width + u / self.end_width)

    def closeness(self, i: int) -> float:
        """0 at the start of the pass, 1 at its end, in step with the plate's growth."""
        span = self.end_width - self.start_width
        return (self.plate_width(i) - self.start_width) / span if span > 0 else 1.0

    def centre(self, i: int) -> tuple[float, float]:
        c = self.closeness(i)
        (x0, y0), (x1, y1) = self.start_centre, self.end_centre
        return x0 + c * (x1 - x0), y0 + c * (y1 - y0)


def plan_clip(photo: PlatePhoto, size: tuple[int, int], fps: float, clip_seconds: tuple[float, float],
              rng: np.random.Generator) -> ClipPlan:
    width, height = size
    k = width / 1280.0
    plate_w = photo.box[2] - photo.box[0]
    start = float(rng.uniform(*_START_WIDTH_PX)) * k
    end = max(min(float(rng.uniform(*_END_WIDTH_PX)) * k, _MAX_UPSCALE * plate_w), 1.5 * start)
    side = 1.0 if rng.random() < 0.5 else -1.0  # which lane: the plate drifts to that side
    frames = max(2, round(float(rng.uniform(*clip_seconds)) * fps))
    roll = float(rng.uniform(-_ROLL_DEG, _ROLL_DEG))
    return ClipPlan(
        frames=frames,
        start_width=start,
        end_width=end,
        start_centre=(width * (0.5 + side * rng.uniform(0.02, 0.12)), height * rng.uniform(0.38, 0.48)),
        end_centre=(width * (0.5 + side * rng.uniform(0.15, 0.28)), height * rng.uniform(0.62, 0.74)),
        yaw=(side * float(rng.uniform(*_YAW_START)), side * float(rng.uniform(*_YAW_END))),
        roll_deg=(roll, roll + float(rng.uniform(-2.0, 2.0))),
        jpeg_quality=int(rng.integers(*_JPEG_QUALITY)),
    )


def photo_to_frame(photo: PlatePhoto, plan: ClipPlan, i: int) -> np.ndarray:
    """The 3x3 homography from photo pixels to frame pixels in frame ``i`` of the pass: about
    the plate's centre, a keystone (perspective), then scale, roll and the move into place."""
    x1, y1, x2, y2 = photo.box
    pcx, pcy, plate_w = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1
    c = plan.closeness(i)
    yaw = plan.yaw[0] + c * (plan.yaw[1] - plan.yaw[0])
    h, w = photo.image.shape[:2]
    # The keystone divides by 1 + g x; keeping |g x| <= 0.5 over the whole photo keeps every
    # pixel in front of the camera however far the photo reaches beyond its plate.
    reach = max(pcx, w - pcx, 1.0)
    g = float(np.clip(yaw / max(plate_w, 1.0), -0.5 / reach, 0.5 / reach))
    keystone = np.array([[1, 0, 0], [0, 1, 0], [g, 0, 1]], dtype=np.float64)
    scale = plan.plate_width(i) / max(plate_w, 1.0)
    angle = math.radians(plan.roll_deg[0] + c * (plan.roll_deg[1] - plan.roll_deg[0]))
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    similarity = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], dtype=np.float64)
    cx, cy = plan.centre(i)
    return translation(cx, cy) @ similarity @ keystone @ translation(-pcx, -pcy)


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)


def project_box(box: Box, homography: np.ndarray) -> Box:
    """The axis-aligned box around a photo box's four corners after ``homography``."""
    x1, y1, x2, y2 = box
    corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], dtype=np.float64)
    out = cv2.perspectiveTransform(corners, homography)[0]
    return float(out[:, 0].min()), float(out[:, 1].min()), float(out[:, 0].max()), float(out[:, 1].max())


def inside(box: Box, size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= size[0] - 1 and y2 <= size[1] - 1
