"""Plain data that flows between the pipeline stages.

Frame -> Detections -> (tracked) Detections -> PlateRead -> PlateEvent.
Every stage takes and returns these; none reaches into another stage's internals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

PlateFormat = Literal["standard", "old", "bh", "unknown"]

#: Characters a plate reader may emit, in the order of the recognizer's classes 1..36
#: (class 0 is the CTC blank).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Frame:
    """One camera frame. ``image`` is BGR uint8 (H, W, 3), as OpenCV delivers it."""

    image: np.ndarray
    index: int  # frame number since the source was opened
    timestamp: float  # time.monotonic() when captured
    wall_time: float  # time.time() when captured, for event timestamps


@dataclass(frozen=True)
class Detections:
    """N plate boxes in frame pixels, supervision-style: parallel arrays, boolean-mask filtering.

    ``boxes`` is float32 (N, 4) as x1, y1, x2, y2; ``scores`` float32 (N,);
    ``track_ids`` int64 (N,), -1 until the tracker assigns one.
    """

    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        ids = (
            np.full(len(boxes), -1, dtype=np.int64)
            if self.track_ids is None
            else np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
        )
        if not (len(boxes) == len(scores) == len(ids)):
            raise ValueError(
                f"Detections arrays differ in length: boxes {len(boxes)}, scores {len(scores)}, track_ids {len(ids)}"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "track_ids", ids)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> Detections:
        """Index with a boolean mask, an index array or a slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(self.boxes[index], self.scores[index], self.track_ids[index])

    @property
    def widths(self) -> np.ndarray:
        return self.boxes[:, 2] - self.boxes[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.boxes[:, 3] - self.boxes[:, 1]


@dataclass(frozen=True)
class PlateRead:
    """The reader's answer for one plate crop."""

    text: str  # normalised A-Z0-9, "" when nothing was read
    char_confidences: tuple[float, ...]  # one per character of ``text``
    confidence: float  # calibrated probability that ``text`` is exactly right
    plate_format: PlateFormat
    accepted: bool = True  # False when under the configured confidence threshold

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "char_confidences": [round(float(c), 4) for c in self.char_confidences],
            "plate_format": self.plate_format,
            "accepted": self.accepted,
        }


@dataclass(frozen=True)
class TrackRead:
    """A plate read taken from one frame of a track, as the voting stage sees it."""

    read: PlateRead
    frame_index: int
    wall_time: float
    box: tuple[float, float, float, float]
    detector_confidence: float


@dataclass(frozen=True)
class Candidate:
    plate: str
    confidence: float


@dataclass(frozen=True)
class WatchlistMatch:
    """An event's plate found on a watchlist (``edge_alpr.watchlist``)."""

    list_name: str
    kind: Literal["alert", "allow"]
    plate: str  # the listed plate, which may differ from the read by a confusion or two
    label: str  # the list's label for the plate, "" when none
    distance: float  # the fuzzy distance between the read and the listed plate, 0 when equal

    def to_json(self) -> dict:
        return {"list": self.list_name, "kind": self.kind, "plate": self.plate, "label": self.label,
                "distance": round(float(self.distance), 2)}

    @classmethod
    def from_json(cls, data: dict) -> WatchlistMatch:
        return cls(data["list"], data["kind"], data["plate"], data.get("label", ""), float(data["distance"]))


@dataclass(frozen=True)
class PlateEvent:
    """One confident plate per vehicle pass: what the sinks publish and log."""

    event_id: str
    camera_id: str
    plate: str
    plate_format: PlateFormat
    confidence: float
    reads: int  # how many frames voted for the winning plate
    first_seen: str  # ISO 8601 UTC
    last_seen: str  # ISO 8601 UTC
    box: tuple[float, float, float, float]  # of the best read, frame pixels
    candidates: tuple[Candidate, ...] = ()
    track_id: int = -1
    plate_crop: str | None = None  # path of the saved JPEG crop, when crops are enabled
    vehicle_crop: str | None = None
    watchlist: tuple[WatchlistMatch, ...] = ()  # the lists the plate is on, closest first
    # Voted over the track's crops (edge_alpr.colour); None when no crop could be measured.
    plate_colour: str | None = None  # white, yellow, green, black, red, blue
    text_colour: str | None = None  # black, white, yellow
    vehicle_category: str | None = None  # private, commercial, electric_private, ... (colour.vehicle_category)
    # From the track's boxes (edge_alpr.direction); None when they do not tell.
    direction: str | None = None  # approaching, receding
    line_crossing: str | None = None  # in, out: the counting line crossed, when one is configured

    def to_json(self) -> dict:
        return {
            "event_id": self.event_id,
            "camera_id": self.camera_id,
            "plate": self.plate,
            "plate_format": self.plate_format,
            "confidence": round(float(self.confidence), 4),
            "reads": self.reads,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "box": [round(float(v), 1) for v in self.box],
            "candidates": [
                {"plate": c.plate, "confidence": round(float(c.confidence), 4)} for c in self.candidates
            ],
            "track_id": self.track_id,
            "plate_crop": self.plate_crop,
            "vehicle_crop": self.vehicle_crop,
            "watchlist": [m.to_json() for m in self.watchlist],
            "plate_colour": self.plate_colour,
            "text_colour": self.text_colour,
            "vehicle_category": self.vehicle_category,
            "direction": self.direction,
            "line_crossing": self.line_crossing,
        }

    @classmethod
    def from_json(cls, data: dict) -> PlateEvent:
        return cls(
            event_id=data["event_id"],
            camera_id=data["camera_id"],
            plate=data["plate"],
            plate_format=data["plate_format"],
            confidence=float(data["confidence"]),
            reads=int(data["reads"]),
            first_seen=data["first_seen"],
            last_seen=data["last_seen"],
            box=tuple(float(v) for v in data["box"]),  # type: ignore[arg-type]
            candidates=tuple(Candidate(c["plate"], float(c["confidence"])) for c in data.get("candidates", [])),
            track_id=int(data.get("track_id", -1)),
            plate_crop=data.get("plate_crop"),
            vehicle_crop=data.get("vehicle_crop"),
            watchlist=tuple(WatchlistMatch.from_json(m) for m in data.get("watchlist", [])),
            # Events spooled by an older version have none of these.
            plate_colour=data.get("plate_colour"),
            text_colour=data.get("text_colour"),
            vehicle_category=data.get("vehicle_category"),
            direction=data.get("direction"),
            line_crossing=data.get("line_crossing"),
        )
