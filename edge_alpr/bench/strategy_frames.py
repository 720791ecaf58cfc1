"""The frames ``bench.strategies`` runs every detector strategy on: the detector's validation
photos at their own size, and large frames made from them (a validation photo scaled so its widest
plate is a small share of the frame width, pasted into a road region over a blurred copy of another
validation photo whose plates were painted out first)."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.errors import EdgeAlprError
from edge_alpr.tiling import centres_inside
from edge_alpr.training.detector_data import DETECTOR_SETS, detector_rows, is_val, reader_val_texts

PLATE_WIDTH_RANGE = (0.01, 0.06)  # default widest-plate width in the large frames, of the frame width
MAX_UPSCALE = 2.5  # a photo enlarged more than this is too blurred to stand for a real camera
MIN_VISIBLE = 0.6  # a plate less visible than this after pasting is ignored, not counted


@dataclass(frozen=True)
class Photo:
    path: Path
    boxes: np.ndarray  # (N, 4) plate boxes in the photo's pixels

    def load(self) -> np.ndarray:
        image = cv2.imread(str(self.path))
        if image is None:
            raise EdgeAlprError(f"{self.path}: unreadable image")
        return image


@dataclass(frozen=True)
class Layout:
    """A large frame size and the road region its plates are placed in (fractions of the frame)."""

    name: str
    width: int
    height: int
    road: tuple[float, float, float, float]

    def roi(self) -> list[tuple[int, int]]:
        x1, y1, x2, y2 = (round(f * s) for f, s in zip(self.road, (self.width, self.height) * 2))
        return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


LAYOUTS = (
    Layout("1920x1080 synthetic", 1920, 1080, (0.15, 0.35, 0.85, 0.97)),
    Layout("1150x1750 portrait synthetic", 1150, 1750, (0.05, 0.4, 0.95, 0.95)),
)


@dataclass(frozen=True)
class BenchFrame:
    group: str
    image: np.ndarray
    boxes: np.ndarray  # (N, 4) ground truth in frame pixels
    ignore: np.ndarray  # (N,) plates that count for nothing (cut off, outside the roi)
    roi: list[tuple[int, int]] | None


def validation_photos(datasets_dir: Path) -> list[Photo]:
    """The detector's validation photos, the same split training holds out."""
    held_out = reader_val_texts(datasets_dir)
    photos = []
    for name in DETECTOR_SETS:
        manifest = datasets_dir / name / "manifest.jsonl"
        if not manifest.is_file():
            continue
        for row in detector_rows(datasets_dir, name):
            if is_val(row, name, held_out):
                boxes = np.array([p.outline for p in row.plates], np.float32).reshape(-1, 4)
                photos.append(Photo(row.image, boxes))
    return photos


def photo_group(width: int, height: int) -> str:
    long_side = max(width, height)
    if long_side <= 640:
        return "photos, long side <= 640 px"
    return "photos, long side 641-1280 px" if long_side <= 1280 else "photos, long side > 1280 px"


def photo_frames(photos: list[Photo]) -> Iterator[BenchFrame]:
    for photo in photos:
        image = photo.load()
        group = photo_group(image.shape[1], image.shape[0])
        yield BenchFrame(group, image, photo.boxes, np.zeros(len(photo.boxes), bool), None)


def blurred_background(photo: Photo, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """The photo with its plates painted out, enlarged to cover the frame and blurred, so it looks
    like an out-of-focus scene and holds no plate the truth does not list."""
    image = photo.load()
    plates = np.zeros(image.shape[:2], np.uint8)
    for x1, y1, x2, y2 in photo.boxes.astype(int):
        plates[max(0, y1) : y2 + 1, max(0, x1) : x2 + 1] = 255
    # Inpainting leaves no flat plate-shaped patch for the detector to fire on.
    image = cv2.inpaint(image, cv2.dilate(plates, np.ones((5, 5), np.uint8)), 5, cv2.INPAINT_TELEA)
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (math.ceil(image.shape[1] * scale), math.ceil(image.shape[0] * scale))
    big = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    x0 = int(rng.integers(0, big.shape[1] - width + 1))
    y0 = int(rng.integers(0, big.shape[0] - height + 1))
    return cv2.GaussianBlur(big[y0 : y0 + height, x0 : x0 + width], (0, 0), sigmaX=width / 200)


def paste_vehicle(frame: np.ndarray, vehicle: Photo, road: tuple[int, int, int, int], rng: np.random.Generator,
                  plate_width: tuple[float, float] = PLATE_WIDTH_RANGE) -> np.ndarray:
    """Paste the photo scaled so its widest plate is ``plate_width`` (a range, fractions of the
    frame width) wide, with that plate inside ``road``; returns the photo's plate boxes in frame
    pixels (before clipping)."""
    height, width = frame.shape[:2]
    image = vehicle.load()
    widths = vehicle.boxes[:, 2] - vehicle.boxes[:, 0]
    anchor = vehicle.boxes[int(np.argmax(widths))]
    scale = min(rng.uniform(*plate_width) * width / max(float(widths.max()), 1.0), MAX_UPSCALE)
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    plate = anchor * scale
    rx1, ry1, rx2, ry2 = road
    ox = round(rng.uniform(rx1 - plate[0], max(rx1 - plate[0], rx2 - plate[2])))
    oy = round(rng.uniform(ry1 - plate[1], max(ry1 - plate[1], ry2 - plate[3])))
    # The part of the scaled photo that lands inside the frame.
    fx1, fy1 = max(0, ox), max(0, oy)
    fx2, fy2 = min(width, ox + small.shape[1]), min(height, oy + small.shape[0])
    if fx2 > fx1 and fy2 > fy1:
        frame[fy1:fy2, fx1:fx2] = small[fy1 - oy : fy2 - oy, fx1 - ox : fx2 - ox]
    return vehicle.boxes * scale + np.array([ox, oy, ox, oy], np.float32)


def large_frames(photos: list[Photo], layout: Layout, count: int, seed: int,
                 plate_width: tuple[float, float] = PLATE_WIDTH_RANGE) -> Iterator[BenchFrame]:
    vehicles = [p for p in photos if len(p.boxes)]
    if not vehicles or len(photos) < 2:
        return
    roi = layout.roi()
    road = (roi[0][0], roi[0][1], roi[2][0], roi[2][1])
    order = np.random.default_rng(seed).permutation(len(vehicles))
    for i in range(count):
        rng = np.random.default_rng([seed, layout.width, layout.height, i])
        vehicle = vehicles[int(order[i % len(order)])]
        pick = int(rng.integers(len(photos)))
        if photos[pick].path == vehicle.path:
            pick = (pick + 1) % len(photos)
        background = photos[pick]
        frame = blurred_background(background, layout.width, layout.height, rng)
        boxes = paste_vehicle(frame, vehicle, road, rng, plate_width)
        clipped = boxes.copy()
        clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, layout.width)
        clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, layout.height)
        area = lambda b: np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)  # noqa: E731
        visible = area(clipped) >= MIN_VISIBLE * np.maximum(area(boxes), 1e-6)
        keep = area(clipped) > 0
        clipped = clipped[keep]
        ignore = ~visible[keep] | ~centres_inside(clipped, roi)
        yield BenchFrame(layout.name, frame, clipped, ignore, roi)
