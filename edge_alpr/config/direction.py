"""Config of the direction of travel and of the counting line (``direction:`` in the YAML)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge_alpr.config.base import StrictModel

Coordinate = Annotated[float, Field(ge=0, le=100_000)]


class CountingLineConfig(StrictModel):
    """A line across the road. A track whose plate centre crosses it is counted ``in`` when it
    goes from the left of ``start -> end`` to its right (in the picture, y pointing down: for a
    line drawn left to right, moving down the frame), ``out`` the other way. Swap the points to
    swap the names."""

    start: tuple[Coordinate, Coordinate] = Field(
        (0.0, 0.5), description="One end of the line, [x, y], in frame pixels or fractions (see units)."
    )
    end: tuple[Coordinate, Coordinate] = Field(
        (1.0, 0.5), description="The other end, [x, y]. The default line runs across the middle of the frame."
    )
    units: Literal["fraction", "pixels"] = Field(
        "fraction",
        description="'fraction': x and y are shares (0..1) of the frame's width and height, so the line "
        "survives a change of resolution; 'pixels': frame pixels.",
    )

    @model_validator(mode="after")
    def _check_points(self) -> CountingLineConfig:
        if self.start == self.end:
            raise ValueError(f"the counting line's start and end are the same point {list(self.start)}")
        if self.units == "fraction" and max(*self.start, *self.end) > 1.0:
            raise ValueError("with units 'fraction' every coordinate must be between 0 and 1; "
                             "give units: pixels for frame pixels")
        return self

    def in_pixels(self, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """The line's ends in the pixels of a ``width`` x ``height`` frame."""
        if self.units == "pixels":
            return self.start, self.end
        return (self.start[0] * width, self.start[1] * height), (self.end[0] * width, self.end[1] * height)


class DirectionConfig(StrictModel):
    min_size_change: float = Field(
        0.15, gt=0.0, le=5.0,
        description="A plate whose box grows by at least this share over its track is 'approaching', one "
        "that shrinks as much 'receding'. Lower names a direction for more tracks, including slow or "
        "sideways ones where detector jitter may decide it; higher leaves more tracks without one.",
    )
    approach_motion: Literal["down", "up", "none"] = Field(
        "down",
        description="Where in the picture an approaching plate moves, for tracks whose size hardly changes: "
        "'down' for a camera above the road facing oncoming traffic, 'up' for one facing away, 'none' "
        "to decide by size alone.",
    )
    min_motion: float = Field(
        0.1, gt=0.0, le=1.0,
        description="The share of the frame's height a plate must move (approach_motion) to count as "
        "approaching or receding when its size does not tell.",
    )
    counting_line: CountingLineConfig | None = Field(
        None,
        description="A line across the road: tracks crossing it are counted 'in' or 'out' (events carry "
        "line_crossing, the status counts them). None: no line, no in/out.",
    )
