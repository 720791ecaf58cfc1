"""The per-track reading policy: how promising a plate crop is to read, and the best K reads a
track keeps for its vote (with the crops an event may save)."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_alpr.direction import TrackPath
from edge_alpr.types import TrackRead

# Aspect ratios (width / height) of Indian plates seen head-on: 500x120 mm single-line and
# 340x200 mm two-line. A box far from both is seen at an angle or cut off.
_PLATE_ASPECTS = (500 / 120, 340 / 200)
# Vehicle crops are kept at most this wide (they are only for people to look at).
_VEHICLE_CROP_MAX_WIDTH = 640


def crop_quality(crop: np.ndarray, box: np.ndarray) -> float:
    """How promising a crop is to read: plate area x sharpness x frontalness.

    Sharpness is the variance of the Laplacian (blur flattens it); frontalness compares the
    box's aspect with a head-on plate's (an angled plate looks narrower).
    """
    width, height = float(box[2] - box[0]), float(box[3] - box[1])
    if width <= 0 or height <= 0 or crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    aspect = width / height
    frontalness = max(min(aspect / a, a / aspect) for a in _PLATE_ASPECTS)
    return width * height * sharpness * frontalness


def vehicle_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The region around a plate where the vehicle is: a plate width to each side and 1.5
    above, for people checking an event. Downscaled to at most 640 px wide."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    pw = x2 - x1
    xa, xb = max(0, int(x1 - pw)), min(w, int(x2 + pw))
    ya, yb = max(0, int(y1 - 1.5 * pw)), min(h, int(y2 + 0.5 * (y2 - y1)))
    crop = image[ya:yb, xa:xb]
    if crop.shape[1] > _VEHICLE_CROP_MAX_WIDTH:
        scale = _VEHICLE_CROP_MAX_WIDTH / crop.shape[1]
        crop = cv2.resize(crop, (_VEHICLE_CROP_MAX_WIDTH, max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return crop.copy()  # never keep a view that pins the whole frame in memory


@dataclass
class KeptRead:
    quality: float
    read: TrackRead
    plate_crop: np.ndarray
    vehicle_crop: np.ndarray | None


@dataclass
class TrackState:
    """What the pipeline remembers of one confirmed track: times and its best-K reads."""

    track_id: int
    first_seen: float  # wall time
    last_seen: float
    last_read_frame: int | None = None
    kept: list[KeptRead] = field(default_factory=list)
    emitted: bool = False  # an early event was already sent for this track
    path: TrackPath = field(default_factory=TrackPath)  # its boxes' size and motion, line crossings

    def wants_read(self, quality: float, frame_index: int, max_reads: int, min_gap: int) -> bool:
        """Read now if the track is short of reads or this crop beats its worst kept one."""
        if self.emitted:
            return False
        if self.last_read_frame is not None and frame_index - self.last_read_frame <= min_gap:
            return False
        return len(self.kept) < max_reads or quality > min(k.quality for k in self.kept)

    def keep(self, read: KeptRead, max_reads: int) -> None:
        self.kept.append(read)
        self.last_read_frame = read.read.frame_index
        if len(self.kept) > max_reads:
            self.kept.remove(min(self.kept, key=lambda k: k.quality))

    def reads(self) -> list[TrackRead]:
        return [k.read for k in self.kept]
