"""The generated videos' camera, a pinhole looking level down the road from the roadside, and
the empty road it sees."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# --- the camera and the road ------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking level down the road: a point X metres to the side and Z ahead,
    Y above the ground, appears at x = cx + k X, y = horizon + k (height - Y), with k = f / Z
    the scale in pixels per metre at that distance."""

    width: int
    height: int
    horizon: float
    camera_height: float = 1.35  # metres; puts a close car's plate near the bottom of the frame
    k_start: float = 0.0  # px/m where a pass starts (a car's 0.5 m plate is ~60 px wide there)
    k_side: float = 0.0  # px/m from where a vehicle veers out of view past the camera
    k_end: float = 0.0  # px/m where the vehicle has left the frame

    @classmethod
    def for_size(cls, width: int, height: int) -> Camera:
        s = width / 1280.0
        return cls(width, height, horizon=height * 0.36, k_start=120.0 * s, k_side=450.0 * s, k_end=900.0 * s)

    def point(self, k: float, x_m: float, lateral_m: float, y_m: float) -> tuple[float, float]:
        return self.width / 2 + k * (lateral_m + x_m), self.horizon + k * (self.camera_height - y_m)


def road_background(cam: Camera, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The empty scene (BGR uint8) and the haze colour of the horizon."""
    w, h, hy = cam.width, cam.height, int(cam.horizon)
    mood = rng.choice(["sunny", "overcast", "dusk"], p=[0.55, 0.3, 0.15])
    sky_top, sky_low = {
        "sunny": ((215, 160, 95), (235, 215, 195)),
        "overcast": ((190, 185, 180), (215, 212, 210)),
        "dusk": ((140, 95, 80), (120, 170, 230)),
    }[str(mood)]
    img = np.zeros((h, w, 3), np.float32)
    t = np.linspace(0, 1, hy)[:, None, None]
    img[:hy] = np.float32(sky_top) * (1 - t) + np.float32(sky_low) * t
    haze = np.float32(sky_low)

    # Roadside: dusty ground, with a band of trees and buildings on the horizon.
    ground = np.float32([70, 110, 125]) + rng.normal(0, 8, 3).astype(np.float32)
    img[hy:] = ground
    for _ in range(int(rng.integers(6, 14))):
        x0 = int(rng.uniform(-0.1, 1.0) * w)
        bw, bh = int(rng.uniform(0.04, 0.15) * w), int(rng.uniform(0.03, 0.12) * h)
        if rng.random() < 0.5:  # a building
            colour = np.float32(rng.uniform(110, 200, 3))
            cv2.rectangle(img, (x0, hy - bh), (x0 + bw, hy + 2), colour.tolist(), -1)
        else:  # a tree
            colour = np.float32([40, 90, 50]) + rng.normal(0, 10, 3).astype(np.float32)
            cv2.ellipse(img, (x0, hy - bh // 2), (bw // 2, bh), 0, 0, 360, colour.tolist(), -1)

    # The road: edges at +-2.6 m converge on the vanishing point.
    far, near = cam.k_start * 0.05, cam.k_end * 2
    def quad(x_left: float, x_right: float, k_far: float, k_near: float) -> np.ndarray:
        corners = [(k_far, x_left), (k_far, x_right), (k_near, x_right), (k_near, x_left)]
        return np.int32([cam.point(k, x, 0, 0) for k, x in corners])
    cv2.fillConvexPoly(img, quad(-4.2, 4.2, far, near), (150, 155, 160))  # footpaths
    asphalt = float(rng.uniform(70, 105))
    cv2.fillConvexPoly(img, quad(-2.6, 2.6, far, near), (asphalt, asphalt + 2, asphalt + 4))
    texture = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 1.2)
    road = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(road, quad(-2.6, 2.6, far, near), 1.0)
    img += (texture * road)[..., None]
    for side in (-1, 1):  # tyre tracks: darker bands in each lane
        for offset in (-0.6, 0.6):
            cv2.fillConvexPoly(img, quad(side * 1.1 + offset - 0.15, side * 1.1 + offset + 0.15, far, near), (asphalt - 6,) * 3)
    line = (225, 230, 230)
    for x in (-2.45, 2.45):  # solid edge lines
        cv2.fillConvexPoly(img, quad(x - 0.06, x + 0.06, far, near), line, lineType=cv2.LINE_AA)
    focal = cam.k_start * 25.0  # px: a pass starts 25 m away
    z = focal / near
    while z < focal / far:  # dashed centre line: 3 m dashes, 6 m gaps
        cv2.fillConvexPoly(img, quad(-0.06, 0.06, focal / (z + 3.0), focal / z), line, lineType=cv2.LINE_AA)
        z += 9.0
    # Distance haze: the far road fades into the sky colour.
    rows = np.arange(h, dtype=np.float32)[:, None, None]
    fade = np.clip(1.0 - (rows - hy) / (0.25 * h), 0.0, 1.0) * (rows >= hy) * 0.55
    img = img * (1 - fade) + haze * fade
    if mood == "dusk":
        img *= 0.7
    return np.clip(img, 0, 255).astype(np.uint8), haze
