"""Generated roadside videos with known plates, for demos, evaluation and tracker tests.

A static camera at the roadside looks down a two-lane road; vehicles (cars, auto-rickshaws,
trucks, motorcycles, drawn as front views) approach one after another, sometimes two at
once in different lanes, each carrying a rendered Indian plate. Between passes the road is
empty, so motion gating has frames to skip. The truth (plate text and its box in every
frame where it is fully visible) is written next to the video as JSON.

    python -m edge_alpr.synth.scenes OUT.mp4 [--seed N] [--vehicles N] [--size WxH] [--fps N]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge_alpr.synth import render
from edge_alpr.synth.degrade import degrade

VehicleKind = Literal["car", "auto", "truck", "motorcycle"]
Box = tuple[float, float, float, float]


# --- truth ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleTruth:
    """One vehicle's pass: its plate and the plate's box in every frame it is fully visible."""

    plate: str
    layout: Literal["one", "two"]
    kind: VehicleKind
    first_frame: int
    last_frame: int
    boxes: dict[int, Box] = field(default_factory=dict)  # frame index -> x1, y1, x2, y2

    def to_json(self) -> dict:
        return {
            "plate": self.plate,
            "layout": self.layout,
            "kind": self.kind,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "boxes": {str(f): [round(v, 1) for v in box] for f, box in sorted(self.boxes.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> VehicleTruth:
        return cls(
            plate=data["plate"],
            layout=data["layout"],
            kind=data.get("kind", "car"),
            first_frame=int(data["first_frame"]),
            last_frame=int(data["last_frame"]),
            boxes={int(f): tuple(float(v) for v in box) for f, box in data["boxes"].items()},  # type: ignore[misc]
        )


@dataclass(frozen=True)
class VideoTruth:
    """What a generated video shows: ``{"video", "fps", "size": [w, h], "frames", "vehicles": [...]}``."""

    video: str  # file name of the video, next to the JSON
    fps: float
    size: tuple[int, int]  # width, height
    frames: int
    vehicles: tuple[VehicleTruth, ...]

    def to_json(self) -> dict:
        return {
            "video": self.video,
            "fps": self.fps,
            "size": list(self.size),
            "frames": self.frames,
            "vehicles": [v.to_json() for v in self.vehicles],
        }

    @classmethod
    def from_json(cls, data: dict) -> VideoTruth:
        return cls(
            video=data["video"],
            fps=float(data["fps"]),
            size=(int(data["size"][0]), int(data["size"][1])),
            frames=int(data["frames"]),
            vehicles=tuple(VehicleTruth.from_json(v) for v in data["vehicles"]),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> VideoTruth:
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}: not a video truth file ({exc})") from exc


# --- the camera and the road ------------------------------------------------------------------


@dataclass(frozen=True)
class _Camera:
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
    def for_size(cls, width: int, height: int) -> _Camera:
        s = width / 1280.0
        return cls(width, height, horizon=height * 0.36, k_start=120.0 * s, k_side=450.0 * s, k_end=900.0 * s)

    def point(self, k: float, x_m: float, lateral_m: float, y_m: float) -> tuple[float, float]:
        return self.width / 2 + k * (lateral_m + x_m), self.horizon + k * (self.camera_height - y_m)


def _road_background(cam: _Camera, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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


# --- vehicles -------------------------------------------------------------------------------

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
_PLATES: dict[str, tuple[Literal["one", "two"], float, float]] = {
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
class _Vehicle:
    kind: VehicleKind
    plate: render.RenderedPlate
    plate_image: np.ndarray  # degraded once: dirt, fading, tint
    lateral_m: float
    start: int  # first frame of the pass
    length: int  # frames from appearing to having left the frame
    colours: dict[str, tuple[float, float, float]]

    def lateral(self, k: float, cam: _Camera) -> float:
        """Metres to the side of the camera axis. Close to the camera a vehicle sweeps out of
        view to its side, as it would past a camera at the roadside."""
        past = max(0.0, (k - cam.k_side) / cam.k_side)
        return self.lateral_m * (1.0 + 1.5 * past * past)

    def scale(self, frame: int, cam: _Camera) -> float | None:
        """Pixels per metre at ``frame``: distance falls linearly in time (constant speed)."""
        t = (frame - self.start) / max(1, self.length - 1)
        if not 0.0 <= t <= 1.0:
            return None
        z = (1.0 - t) / cam.k_start + t / cam.k_end
        return 1.0 / z


def _colours(kind: str, rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
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


def _vehicle_box(v: _Vehicle, k: float, cam: _Camera) -> tuple[int, int, int, int]:
    lateral = v.lateral(k, cam)
    x1, y1 = cam.point(k, -_HALF_WIDTH[v.kind], lateral, _TOP[v.kind])
    x2, y2 = cam.point(k, _HALF_WIDTH[v.kind], lateral, 0.0)
    return int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2))


def _plate_box(v: _Vehicle, k: float, cam: _Camera) -> Box:
    _, width_m, centre_m = _PLATES[v.kind]
    ph, pw = v.plate_image.shape[:2]
    height_m = width_m * ph / pw
    lateral = v.lateral(k, cam)
    x1, y1 = cam.point(k, -width_m / 2, lateral, centre_m + height_m / 2)
    x2, y2 = cam.point(k, width_m / 2, lateral, centre_m - height_m / 2)
    return x1, y1, x2, y2


def _draw_vehicle(frame: np.ndarray, v: _Vehicle, k: float, cam: _Camera, fade: float) -> None:
    """Shadow, body parts with simple shading, the plate; then motion blur over the vehicle."""
    x1, y1, x2, y2 = _vehicle_box(v, k, cam)
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


def _paste_plate(layer: np.ndarray, v: _Vehicle, k: float, cam: _Camera, offset: np.ndarray) -> None:
    """Warp the plate onto its place, with a slight keystone for vehicles off the camera axis."""
    x1, y1, x2, y2 = _plate_box(v, k, cam)
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


# --- the video ------------------------------------------------------------------------------


def _schedule(n: int, fps: float, seconds_per_vehicle: float, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """(start frame, length, lane) per vehicle: one after another with empty road between,
    and now and then two at once in different lanes."""
    out: list[tuple[int, int, int]] = []
    t = int(0.6 * fps)  # empty road at the start
    previous_lane = -1
    previous_start, previous_end = 0, 0
    for i in range(n):
        length = max(8, int(seconds_per_vehicle * fps * rng.uniform(0.85, 1.15)))
        together = i > 0 and rng.random() < 0.25
        if together:
            start = previous_start + int(rng.uniform(0.25, 0.6) * length)
            lane = 1 - previous_lane
        else:
            start = max(t, previous_end + int(rng.uniform(0.4, 1.2) * fps))
            lane = int(rng.integers(2))
        out.append((start, length, lane))
        previous_lane, previous_start = lane, start
        previous_end = max(previous_end, start + length)
        t = previous_end
    return out


def _kind(rng: np.random.Generator) -> VehicleKind:
    return str(rng.choice(["car", "motorcycle", "auto", "truck"], p=[0.55, 0.2, 0.15, 0.1]))  # type: ignore[return-value]


def _make_vehicles(
    texts: Sequence[str | None], fps: float, seconds_per_vehicle: float, rng: np.random.Generator,
    kinds: Sequence[VehicleKind] | None = None,
) -> list[_Vehicle]:
    vehicles = []
    for i, (text, (start, length, lane)) in enumerate(zip(texts, _schedule(len(texts), fps, seconds_per_vehicle, rng))):
        kind = _kind(rng)  # drawn even when fixed, so a seed gives the same scene otherwise
        if kinds:
            kind = kinds[i % len(kinds)]
        layout = _PLATES[kind][0]
        plate = render.render_plate(text, rng, layout=layout)
        image = degrade(plate.image, rng, strength=0.35, warp=False)
        # Lane centres are 1.3 m each side of the centre line; drivers keep a little inside them.
        lateral = (-1.0 if lane == 0 else 1.0) + float(rng.uniform(-0.15, 0.15))
        vehicles.append(_Vehicle(kind, plate, image, lateral, start, length, _colours(kind, rng)))
    return vehicles


def make_video(
    path: str | Path,
    *,
    seed: int = 0,
    n_vehicles: int = 6,
    size: tuple[int, int] = (1280, 720),
    fps: float = 25.0,
    seconds_per_vehicle: float = 2.5,
    plates: list[str] | None = None,
    kinds: Sequence[VehicleKind] | None = None,
    min_seconds: float = 0.0,
) -> VideoTruth:
    """Write an MP4 (OpenCV, 'mp4v') of vehicles passing the camera and return its truth.

    The video lasts at least ``min_seconds``; with ``plates=[]`` and ``min_seconds`` it is an
    empty road (camera noise and exposure drift only), the scene where motion gating should
    leave the detector idle.

    ``plates`` fixes the plate texts (one vehicle each, overriding ``n_vehicles``);
    otherwise random valid plates are drawn. ``kinds`` fixes the vehicles, cycled (cars carry
    one-line plates, the others two-line); otherwise they come in rough road frequencies. The
    same seed gives the same video. The truth is not written; call ``.save()`` (the CLI writes
    it next to the video).
    """
    unknown = sorted(set(kinds or ()) - set(_PLATES))
    if unknown:
        raise ValueError(f"make_video: unknown vehicle kinds {unknown}, expected some of {sorted(_PLATES)}")
    width, height = size
    if width < 160 or height < 90:
        raise ValueError(f"make_video: size must be at least 160x90, got {width}x{height}")
    if fps <= 0 or seconds_per_vehicle <= 0:
        raise ValueError(f"make_video: fps and seconds_per_vehicle must be positive, got {fps} and {seconds_per_vehicle}")
    texts: list[str | None] = list(plates) if plates is not None else [None] * n_vehicles
    if not texts and min_seconds <= 0:
        raise ValueError("make_video: needs at least one vehicle, or min_seconds for an empty road")
    rng = np.random.default_rng(seed)
    cam = _Camera.for_size(width, height)
    background, _ = _road_background(cam, rng)
    vehicles = _make_vehicles(texts, fps, seconds_per_vehicle, rng, kinds)
    n_frames = max([v.start + v.length for v in vehicles] + [0]) + int(0.6 * fps)
    n_frames = max(n_frames, round(min_seconds * fps))
    boxes: list[dict[int, Box]] = [{} for _ in vehicles]
    # Camera noise: a few pre-drawn patterns, cycled, cost nothing per frame.
    noise = [rng.normal(0, 2.5, (height, width, 3)).astype(np.int16) for _ in range(3)]
    drift = rng.uniform(0, 2 * np.pi)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write an mp4v video here")
    try:
        for index in range(n_frames):
            gain = 1.0 + 0.04 * np.sin(drift + index / fps * 0.5)  # clouds, auto-exposure hunting
            frame = cv2.convertScaleAbs(background, alpha=gain)
            active = [(v.scale(index, cam), i, v) for i, v in enumerate(vehicles)]
            drawn: list[tuple[int, int, int, int]] = []
            for k, i, v in sorted((a for a in active if a[0] is not None), key=lambda a: a[0]):  # far first
                fade = min(1.0, (index - v.start + 1) / 4.0)  # emerging from the haze
                _draw_vehicle(frame, v, k, cam, fade)
                drawn.append(_vehicle_box(v, k, cam))
                box = _plate_box(v, k, cam)
                if _fully_inside(box, width, height):
                    boxes[i][index] = box
            _drop_occluded(boxes, vehicles, active, cam, index)
            frame = np.clip(frame.astype(np.int16) + noise[index % 3], 0, 255).astype(np.uint8)
            writer.write(frame)
    finally:
        writer.release()
    check_video(path, n_frames, size)
    truths = tuple(
        VehicleTruth(v.plate.text, v.plate.layout, v.kind, min(b), max(b), b)
        for v, b in zip(vehicles, boxes)
        if b
    )
    return VideoTruth(path.name, float(fps), (width, height), n_frames, truths)


def _fully_inside(box: Box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= width - 1 and y2 <= height - 1


def _drop_occluded(boxes: list[dict[int, Box]], vehicles: list[_Vehicle], active: list, cam: _Camera, index: int) -> None:
    """A plate hidden behind a nearer vehicle is not in the truth for that frame."""
    for k, i, _ in active:
        if k is None or index not in boxes[i]:
            continue
        x1, y1, x2, y2 = boxes[i][index]
        for k_other, j, other in active:
            if k_other is None or j == i or k_other <= k:
                continue
            ox1, oy1, ox2, oy2 = _vehicle_box(other, k_other, cam)
            if x1 < ox2 and ox1 < x2 and y1 < oy2 and oy1 < y2:
                del boxes[i][index]
                break


def check_video(path: Path, n_frames: int, size: tuple[int, int]) -> None:
    """Reopen the written video: a truth file is worthless if the file has other frames or size."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise OSError(f"{path}: the written video does not reopen with OpenCV")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        got = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()
    if count != n_frames or got != tuple(size):
        raise OSError(
            f"{path}: wrote {n_frames} frames of {size[0]}x{size[1]} but it reopens as {count} frames of {got[0]}x{got[1]}"
        )


# --- command line ---------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """argparse type for WxH sizes such as 1280x720."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_alpr.synth.scenes", description="Write a generated roadside video and its truth JSON."
    )
    parser.add_argument("out", type=Path, help="the MP4 to write; the truth goes next to it as .json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vehicles", type=int, default=6, help="number of vehicles (default 6)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH (default 1280x720)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seconds-per-vehicle", type=float, default=2.5, help="how long a pass takes (default 2.5)")
    parser.add_argument("--plates", nargs="+", help="plate texts to use, one vehicle each (overrides --vehicles)")
    args = parser.parse_args(argv)
    try:
        truth = make_video(
            args.out, seed=args.seed, n_vehicles=args.vehicles, size=args.size, fps=args.fps,
            seconds_per_vehicle=args.seconds_per_vehicle, plates=args.plates,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    truth_path = args.out.with_suffix(".json")
    truth.save(truth_path)
    plates_seen = " ".join(v.plate for v in truth.vehicles)
    print(f"wrote {args.out} ({truth.frames} frames, {len(truth.vehicles)} vehicles: {plates_seen}) and {truth_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
