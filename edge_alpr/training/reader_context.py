"""Rendered plates in real surroundings, cut as loosely as a detector's box.

The real crops of two-wheelers and autos (in_twowheelers, in_odisha_traffic) are loose: the
plate fills about half the box, with the holder, tail lamp, mudguard or bumper around it. Tight
rendered plates alone never teach the reader to ignore that. So a rendered plate is pasted over
a real plate in a real training photo (same layout shape: square plates over square ones) and cut
out with a random loose margin, the plate's surroundings included.

    ContextBank.from_rows(training_rows(datasets_dir), n, seed)   (never a validation photo)
    bank.place(plate_bgr, rng) -> loose crop (BGR)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: Plates narrower than this (width / height) count as square (two-line) plates.
SQUARE_ASPECT = 2.4
_PLATE_W = 140  # a region is stored with its plate this wide


@dataclass
class Region:
    image: np.ndarray  # BGR, the plate's surroundings
    box: np.ndarray  # (4,) the real plate's box in the region, x1 y1 x2 y2


class ContextBank:
    def __init__(self, regions: list[Region]):
        self.square = [r for r in regions if _aspect(r.box) < SQUARE_ASPECT]
        self.long = [r for r in regions if _aspect(r.box) >= SQUARE_ASPECT]

    def __len__(self) -> int:
        return len(self.square) + len(self.long)

    @classmethod
    def from_rows(cls, rows, n: int, seed: int = 0) -> ContextBank:
        """Up to ``n`` regions around the plates of ``rows`` (manifest rows), in a fixed random order."""
        rng = np.random.default_rng(seed)
        candidates = [(row, p.box) for row in rows for p in row.plates]
        regions: list[Region] = []
        for k in rng.permutation(len(candidates)):
            if len(regions) >= n:
                break
            row, box = candidates[int(k)]
            image = cv2.imread(str(row.image))
            if image is not None and (region := _region(image, np.asarray(box, np.float32))) is not None:
                regions.append(region)
        log.info("context bank: %d regions (%d square plates)", len(regions),
                 sum(_aspect(r.box) < SQUARE_ASPECT for r in regions))
        return cls(regions)

    def place(self, plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``plate`` over a real plate of the same shape, cut out with a loose margin."""
        square = plate.shape[1] / plate.shape[0] < SQUARE_ASPECT
        pool = (self.square if square else self.long) or self.square or self.long
        region = pool[int(rng.integers(len(pool)))]
        image = region.image.copy()
        x1, y1, x2, y2 = region.box
        # A little larger than the real plate, so none of its characters shows around ours.
        grow = rng.uniform(0.04, 0.1)
        w, h = (x2 - x1) * (1 + grow), (y2 - y1) * (1 + grow)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        dst = np.float32([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]])
        # Corners move outwards only: a corner pulled in would let the real plate's characters show.
        outwards = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]])
        dst += outwards * np.abs(rng.normal(0, 0.02, (4, 2))).astype(np.float32) * [w, h]
        ph, pw = plate.shape[:2]
        src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
        m = cv2.getPerspectiveTransform(src, dst)
        size = (image.shape[1], image.shape[0])
        warped = cv2.warpPerspective(plate, m, size, flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, size)
        mask = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] / 255.0
        image = (image * (1 - mask) + warped * mask).astype(np.uint8)
        # The loose box: as real boxes of these sets are, up to ~40 % wider and ~70 % taller.
        bx = dst[:, 0].min(), dst[:, 0].max()
        by = dst[:, 1].min(), dst[:, 1].max()
        mx = rng.uniform(0.0, 0.2, 2) * (bx[1] - bx[0])
        my = rng.uniform(0.0, 0.35, 2) * (by[1] - by[0])
        xa, xb = int(max(0, bx[0] - mx[0])), int(min(size[0], bx[1] + mx[1]))
        ya, yb = int(max(0, by[0] - my[0])), int(min(size[1], by[1] + my[1]))
        return image[ya:yb, xa:xb] if xb - xa > 4 and yb - ya > 4 else plate


#: The sets whose photos lend their surroundings: cars (openlpr, OLX) and two-wheelers, autos
#: and trucks, in their training splits.
CONTEXT_SETS = ("openlpr", "in_olx_scenes", "in_twowheelers", "in_odisha_traffic")


def training_rows(datasets_dir: Path) -> list:
    """The training photos of ``CONTEXT_SETS``: the split detector and reader training both hold out."""
    from edge_alpr.training.detector_data import detector_rows, is_val, reader_val_texts

    held = reader_val_texts(datasets_dir)
    return [row for name in CONTEXT_SETS if (datasets_dir / name / "manifest.jsonl").is_file()
            for row in detector_rows(datasets_dir, name) if row.plates and not is_val(row, name, held)]


def _aspect(box) -> float:
    return float((box[2] - box[0]) / max(1e-6, box[3] - box[1]))


def _region(image: np.ndarray, box: np.ndarray) -> Region | None:
    """The surroundings of ``box``, scaled so its plate is ``_PLATE_W`` wide: enough room on every
    side for the loosest box ``place`` cuts."""
    w, h = box[2] - box[0], box[3] - box[1]
    if w < 16 or h < 8:
        return None
    xa, ya = int(max(0, box[0] - 0.5 * w)), int(max(0, box[1] - 0.8 * h))
    xb, yb = int(min(image.shape[1], box[2] + 0.5 * w)), int(min(image.shape[0], box[3] + 0.8 * h))
    scale = _PLATE_W / w
    region = cv2.resize(image[ya:yb, xa:xb], None, fx=scale, fy=scale,
                        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return Region(region, (box - [xa, ya, xa, ya]) * scale)
