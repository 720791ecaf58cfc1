"""The vehicles of the generated videos: front views drawn from polygons in metres, shaded and
motion-blurred, each carrying its rendered plate; and the boxes of vehicle and plate in a frame."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge_alpr.synth import render
from edge_alpr.synth.road import Camera

VehicleKind = Literal["car", "auto", "truck", "motorcycle"]
Box = tuple[float, float, float, float]


# Each part: (colour role, polygon in metres: x right of the vehicle's centre, y above ground).
_Part = tuple[str, list[tuple[float, float]]]


def _box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


_SHAPES: dict[str, list[_Part]] = {
    "car": [
        ("tyre", _box(-0.8, 0.0, -0.55, 0.35)), ("tyre", _box(0.55, 0.0, 0.8, 0.35)),
        ("body", [(-0.85, 0.2), (0.85, 0.2), (0.87, 0.75), (0.75, 0.85), (-0.75, 0.85), (-0.87, 0.75)]),
        ("body_dark", _box(-0.85, 0.2, 0.85, 0.32)),
        ("body", [(-0.68, 0.85), (0.68, 0.85), (0.55, 1.38), (-0.55, 1.38)]),
        ("glass", [(-0.62, 0.88), (0.62, 0.88), (0.5, 1.3), (-0.5, 1.3)]),
        ("grille", _box(-0.4, 0.52, 0.4, 0.66)),
        ("lamp", [(-0.8, 0.62), (-0.5, 0.64), (-0.5, 0.74), (-0.78, 0.74)]),
        ("lamp", [(0.8, 0.62), (0.5, 0.64), (0.5, 0.74), (0.78, 0.74)]),
    ],
    "auto": [
        ("tyre", _box(-0.62, 0.0, -0.45, 0.3)), ("tyre", _box(0.45, 0.0, 0.62, 0.3)), ("tyre", _box(-0.07, 0.0, 0.07, 0.32)),
        ("body", [(-0.3, 0.25), (0.3, 0.25), (0.35, 0.95), (-0.35, 0.95)]),
        ("body", [(-0.65, 0.9), (0.65, 0.9), (0.62, 1.05), (-0.62, 1.05)]),
        ("glass", [(-0.55, 1.05), (0.55, 1.05), (0.5, 1.45), (-0.5, 1.45)]),
        ("canopy", [(-0.68, 1.45), (0.68, 1.45), (0.62, 1.75), (-0.62, 1.75)]),
        ("lamp", _box(-0.1, 0.82, 0.1, 0.92)),
    ],
    "truck": [
        ("tyre", _box(-1.15, 0.0, -0.8, 0.5)), ("tyre", _box(0.8, 0.0, 1.15, 0.5)),
        ("body", _box(-1.2, 0.4, 1.2, 1.7)),
        ("bumper", _box(-1.22, 0.35, 1.22, 0.6)),
        ("grille", _box(-0.6, 0.75, 0.6, 1.4)),
        ("body", [(-1.2, 1.7), (1.2, 1.7), (1.15, 2.85), (-1.15, 2.85)]),
        ("glass", [(-1.05, 1.8), (1.05, 1.8), (1.0, 2.6), (-1.0, 2.6)]),
        ("lamp", _box(-1.1, 0.75, -0.75, 0.95)), ("lamp", _box(0.75, 0.75, 1.1, 0.95)),
    ],
    "motorcycle": [
        ("tyre", _box(-0.07, 0.0, 0.07, 0.6)),
        ("body", [(-0.12, 0.45), (0.12, 0.45), (0.16, 0.95), (-0.16, 0.95)]),  # fork and fairing
        ("rider", [(-0.3, 0.8), (0.3, 0.8), (0.25, 1.45), (-0.25, 1.45)]),  # torso
        ("rider_dark", _box(-0.38, 0.95, 0.38, 1.02)),  # handlebar
        ("helmet", [(-0.13, 1.45), (0.13, 1.45), (0.14, 1.62), (0.08, 1.72), (-0.08, 1.72), (-0.14, 1.62)]),
        ("lamp", _box(-0.08, 0.98, 0.08, 1.1)),
    ],
}
_HALF_WIDTH = {kind: max(abs(x) for _, poly in parts for x, _ in poly) for kind, parts in _SHAPES.items()}
_TOP = {kind: max(y for _, poly in parts for _, y in poly) for kind, parts in _SHAPES.items()}
#: Plate: (layout, width in metres, height of its centre above the ground in metres).
PLATES: dict[str, tuple[Literal["one", "two"], float, float]] = {
    "car": ("one", 0.5, 0.42),
    "auto": ("two", 0.26, 0.55),
    "truck": ("two", 0.34, 0.48),
    "motorcycle": ("two", 0.2, 0.72),
}
_BODY_COLOURS = {
    "car": [(235, 235, 235), (190, 190, 195), (40, 40, 45), (40, 40, 170), (150, 90, 30), (120, 120, 125), (30, 90, 160)],
    "auto": [(40, 170, 150), (20, 180, 220), (40, 40, 40)],  # green-yellow CNG, yellow, black
    "truck": [(20, 120, 220), (160, 80, 30), (40, 40, 180), (60, 150, 60)],
    "motorcycle": [(30, 30, 30), (40, 40, 170), (150, 80, 30), (200, 200, 200)],
}


@dataclass(frozen=True)
class Vehicle:
    kind: VehicleKind
    plate: render.RenderedPlate
    plate_image: np.ndarray  # degraded once: dirt, fading, tint
    lateral_m: float
    start: int  # first frame of the pass
    length: int  # frames from appearing to having left the frame
    colours: dict[str, tuple[float, float, float]]

    def lateral(self, k: float, cam: Camera) -> float:
        """Metres to the side of the camera axis. Close to the camera a vehicle sweeps out of
        view to its side, as it would past a camera at the roadside."""
        past = max(0.0, (k - cam.k_side) / cam.k_side)
        return self.lateral_m * (1.0 + 1.5 * past * past)

    def scale(self, frame: int, cam: Camera) -> float | None:
        """Pixels per metre at ``frame``: distance falls linearly in time (constant speed)."""
        t = (frame - self.start) / max(1, self.length - 1)
        if not 0.0 <= t <= 1.0:
            return None
        z = (1.0 - t) / cam.k_start + t / cam.k_end
        return 1.0 / z


def vehicle_colours(kind: str, rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    body = np.float32(_BODY_COLOURS[kind][int(rng.integers(len(_BODY_COLOURS[kind])))]) + rng.normal(0, 8, 3).astype(np.float32)
    body = np.clip(body, 0, 255)
    return {
        "body": tuple(body.tolist()),
        "body_dark": tuple((body * 0.6).tolist()),
        "bumper": tuple((body * 0.75).tolist()),
        "glass": tuple((np.float32([70, 60, 50]) + rng.normal(0, 10, 3)).tolist()),
        "grille": (35.0, 35.0, 38.0),
        "lamp": (230.0, 240.0, 245.0),
        "tyre": (25.0, 25.0, 25.0),
        "canopy": (30.0, 30.0, 30.0),
        "rider": tuple(np.clip(np.float32(rng.uniform(30, 200, 3)), 0, 255).tolist()),
        "rider_dark": (30.0, 30.0, 30.0),
        "helmet": tuple(np.clip(np.float32(rng.uniform(20, 230, 3)), 0, 255).tolist()),
    }


def vehicle_box(v: Vehicle, k: float, cam: Camera) -> tuple[int, int, int, int]:
    lateral = v.lateral(k, cam)
    x1, y1 = cam.point(k, -_HALF_WIDTH[v.kind], lateral, _TOP[v.kind])
    x2, y2 = cam.point(k, _HALF_WIDTH[v.kind], lateral, 0.0)
    return int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2))


def plate_box(v: Vehicle, k: float, cam: Camera) -> Box:
    _, width_m, centre_m = PLATES[v.kind]
    ph, pw = v.plate_image.shape[:2]
    height_m = width_m * ph / pw
    lateral = v.lateral(k, cam)
    x1, y1 = cam.point(k, -width_m / 2, lateral, centre_m + height_m / 2)
    x2, y2 = cam.point(k, width_m / 2, lateral, centre_m - height_m / 2)
    return x1, y1, x2, y2


def draw_vehicle(frame: np.ndarray, v: Vehicle, k: float, cam: Camera, fade: float) -> None:
    """Shadow, body parts with simple shading, the plate; then motion blur over the vehicle."""
    x1, y1, x2, y2 = vehicle_box(v, k, cam)
    h, w = frame.shape[:2]
    pad = 4
    rx1, ry1, rx2, ry2 = max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad)
    if rx2 <= rx1 or ry2 <= ry1:
        return
    roi = frame[ry1:ry2, rx1:rx2]
    layer = roi.astype(np.float32)
    original = layer.copy()
    offset = np.float32([rx1, ry1])
    lateral = v.lateral(k, cam)

    def poly(points_m: Sequence[tuple[float, float]]) -> np.ndarray:
        pts = np.float32([cam.point(k, x, lateral, y) for x, y in points_m]) - offset
        return np.round(pts * 4).astype(np.int32)  # 2 fractional bits: smooth edges when small

    shadow = np.zeros(layer.shape[:2], np.float32)
    cx, gy = cam.point(k, 0, lateral, 0)
    axes = (max(1, int(k * _HALF_WIDTH[v.kind] * 1.1)), max(1, int(k * 0.12)))
    cv2.ellipse(shadow, (int(cx - rx1), int(gy - ry1)), axes, 0, 0, 360, 1.0, -1)
    layer *= 1.0 - 0.5 * shadow[..., None]
    for role, points in _SHAPES[v.kind]:
        cv2.fillPoly(layer, [poly(points)], v.colours[role], lineType=cv2.LINE_AA, shift=2)
    # Light from above: the top of the vehicle brighter, the bottom darker.
    rows = np.linspace(1.12, 0.85, layer.shape[0], dtype=np.float32)[:, None, None]
    body = np.abs(layer - original).sum(axis=2, keepdims=True) > 0
    layer = np.where(body, layer * rows, layer)
    _paste_plate(layer, v, k, cam, offset)
    # The plate moves down the frame by dk * (camera height - plate height) px per frame, and
    # dk = k^2 d(1/k) grows fast as the vehicle nears; the shutter is open ~1/4 of a frame.
    dk = k * k * (1.0 / cam.k_start - 1.0 / cam.k_end) / max(1, v.length - 1)
    length = int(np.clip(0.25 * dk * (cam.camera_height - 0.4), 1, 7)) | 1
    if length > 1:
        kernel = np.zeros((length, 1), np.float32)
        kernel[:, 0] = 1.0 / length
        layer = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    if fade < 1.0:
        layer = original * (1 - fade) + layer * fade
    roi[:] = np.clip(layer, 0, 255).astype(np.uint8)


def _paste_plate(layer: np.ndarray, v: Vehicle, k: float, cam: Camera, offset: np.ndarray) -> None:
    """Warp the plate onto its place, with a slight keystone for vehicles off the camera axis."""
    x1, y1, x2, y2 = plate_box(v, k, cam)
    # A plate to the side of the axis is seen a little obliquely: its far edge looks shorter.
    squeeze = float(np.clip(v.lateral_m * 0.02, -0.04, 0.04)) * (y2 - y1)
    left, right = max(0.0, squeeze), max(0.0, -squeeze)
    quad = np.float32([[x1, y1 + left], [x2, y1 + right], [x2, y2 - right], [x1, y2 - left]]) - offset
    plate = v.plate_image
    target_w = x2 - x1
    if target_w < plate.shape[1] / 2:  # pre-shrink: a single bilinear warp would alias
        factor = target_w * 1.5 / plate.shape[1]
        small = (max(2, int(plate.shape[1] * factor)), max(2, int(plate.shape[0] * factor)))
        plate = cv2.resize(plate, small, interpolation=cv2.INTER_AREA)
    ph, pw = plate.shape[:2]
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), quad)
    size = (layer.shape[1], layer.shape[0])
    warped = cv2.warpPerspective(plate.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, size, flags=cv2.INTER_LINEAR)[..., None]
    layer *= 1.0 - alpha
    layer += warped * alpha
