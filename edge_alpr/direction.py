"""Direction of travel of a track, and its crossings of a counting line.

A plate that grows over its track is coming towards the camera, one that shrinks is going
away; when the size hardly changes (a camera looking across the road, a slow queue) the
plate's vertical motion decides, if the config says which way approaching plates move.
Sizes are medians over the first and the last few boxes, so one jittery detector box
cannot flip the answer. A counting line counts the track ``in`` or ``out`` when the plate's
centre crosses it; a track that crosses back and forth counts by its net crossing.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge_alpr.config.direction import CountingLineConfig, DirectionConfig

Direction = Literal["approaching", "receding"]
Crossing = Literal["in", "out"]

# Boxes at each end of a track whose median size and position are compared.
_END_BOXES = 3


@dataclass(frozen=True)
class CountingLine:
    """A line segment in frame pixels."""

    start: tuple[float, float]
    end: tuple[float, float]

    @classmethod
    def from_config(cls, config: CountingLineConfig, width: int, height: int) -> CountingLine:
        start, end = config.in_pixels(width, height)
        return cls(start, end)

    def side(self, point: np.ndarray) -> float:
        """> 0 right of start -> end (as seen in the picture, y down), < 0 left, 0 on the line."""
        (sx, sy), (ex, ey) = self.start, self.end
        return float((ex - sx) * (point[1] - sy) - (ey - sy) * (point[0] - sx))

    def crossing(self, before: np.ndarray, after: np.ndarray) -> int:
        """+1 when the step ``before -> after`` crosses the segment to its right (``in``), -1 to its
        left (``out``), 0 when it does not cross it. A point on the line has not crossed yet."""
        side_before, side_after = self.side(before), self.side(after)
        if side_before == 0 or side_after == 0 or (side_before > 0) == (side_after > 0):
            return 0
        # Where along the line the step meets it: it must be between the two ends.
        start, end = np.asarray(self.start), np.asarray(self.end)
        step = after - before
        line = end - start
        denominator = line[0] * step[1] - line[1] * step[0]
        along = ((before[0] - start[0]) * step[1] - (before[1] - start[1]) * step[0]) / denominator
        if not 0.0 <= along <= 1.0:
            return 0
        return 1 if side_after > 0 else -1


def centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])


@dataclass
class TrackPath:
    """What a track's boxes say about its direction: the first and the latest few boxes, and
    its net crossings of the counting line (+1 per ``in``, -1 per ``out``)."""

    first: list[np.ndarray] = field(default_factory=list)
    last: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=_END_BOXES))
    crossings: int = 0

    def add(self, box: np.ndarray, line: CountingLine | None) -> None:
        box = np.asarray(box, dtype=np.float64)
        if line is not None and self.last:
            self.crossings += line.crossing(centre(self.last[-1]), centre(box))
        if len(self.first) < _END_BOXES:
            self.first.append(box)
        self.last.append(box)

    def direction(self, config: DirectionConfig, frame_height: int) -> Direction | None:
        """``approaching`` / ``receding`` by the change of size, else of height in the frame;
        None when neither changed enough (or the track has one box)."""
        if len(self.first) < 2:
            return None
        first, last = np.array(self.first), np.array(self.last)
        growth = _median_size(last) / max(_median_size(first), 1e-6)
        if growth >= 1.0 + config.min_size_change:
            return "approaching"
        if growth <= 1.0 / (1.0 + config.min_size_change):
            return "receding"
        if config.approach_motion == "none":
            return None
        moved_down = (np.median(last[:, 1] + last[:, 3]) - np.median(first[:, 1] + first[:, 3])) / 2.0
        if abs(moved_down) < config.min_motion * frame_height:
            return None
        towards = moved_down > 0 if config.approach_motion == "down" else moved_down < 0
        return "approaching" if towards else "receding"

    def crossing(self) -> Crossing | None:
        if self.crossings > 0:
            return "in"
        if self.crossings < 0:
            return "out"
        return None


def _median_size(boxes: np.ndarray) -> float:
    """Median of sqrt(width x height): the plate's linear size, which grows as 1 / distance."""
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    return float(np.median(np.sqrt(areas)))
