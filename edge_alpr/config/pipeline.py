"""Config models of the stages that run a model, the detector and the reader, and where their
model files are found when the config names none.

Every tuning number of the daemon lives in the config models with its bounds and a description
that says what raising or lowering it costs (the other stages: source.py, tracking.py, app.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge_alpr.config.base import StrictModel
from edge_alpr.config.strategy import StrategyConfig, polygon_area

DETECTOR_MODEL_FILE = "plate_detector_int8.tflite"
READER_MODEL_FILE = "plate_reader_int8.tflite"
SQUARE_READER_MODEL_FILE = "plate_reader_square_int8.tflite"

_SYSTEM_MODEL_DIRS = (Path("/opt/edge-alpr/models"), Path("/usr/share/edge-alpr/models"))


def default_model_dir() -> Path:
    """Where the models live when the config names none.

    ``$EDGE_ALPR_MODELS`` wins (the systemd unit sets it); then the repository's ``models/``
    next to the package (a source checkout); then the install locations.
    """
    env = os.environ.get("EDGE_ALPR_MODELS")
    if env:
        return Path(env)
    repo_models = Path(__file__).resolve().parents[2] / "models"
    for candidate in (repo_models, *_SYSTEM_MODEL_DIRS):
        if candidate.is_dir():
            return candidate
    return _SYSTEM_MODEL_DIRS[-1]


#: A polygon vertex in frame pixels; the bound gives errors the path ``detector.roi[2][0]``.
Pixel = Annotated[float, Field(ge=0, le=100_000)]
Point = tuple[Pixel, Pixel]


def _usable_polygon(roi: object) -> bool:
    """True for a roi that passes ``DetectorConfig._check_roi``; only such a roi is handed on to the
    strategy, so a bad one is reported once, under detector.roi."""
    try:
        points = [(float(x), float(y)) for x, y in roi]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return False
    return len(points) >= 3 and min(min(p) for p in points) >= 0 and polygon_area(points) >= 1.0


def resolve_model_path(configured: Path | None, default_file: str) -> Path:
    """The model file a config names. A bare file name is one of the models installed with the
    daemon, so one config works on every unit whatever its model directory."""
    if configured is None:
        return default_model_dir() / default_file
    if len(configured.parts) == 1:
        return default_model_dir() / configured
    return configured


class DetectorConfig(StrictModel):
    model_path: Path | None = Field(
        None,
        description=f"The detector's .tflite file; None uses {DETECTOR_MODEL_FILE} in the default model "
        "directory ($EDGE_ALPR_MODELS, the repository's models/, /opt/edge-alpr/models). A bare file name "
        "(no folder) names a file in that directory, e.g. plate_detector_256_int8.tflite, the 256-px input "
        "for a Raspberry Pi 4.",
    )
    num_threads: int = Field(
        2, ge=1, le=8,
        description="CPU threads for the detector. More is faster up to the core count, but leaves "
        "less CPU for the reader and the capture thread (a Pi 4/5 has 4 cores).",
    )
    score_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Minimum detector score of a plate box; None uses the model card's value. Lower finds "
        "more distant/blurred plates but lets in more false boxes (which the tracker's min_hits filters).",
    )
    confirm_floor: float | None = Field(
        0.1, ge=0.0, le=1.0,
        description="Still photos only (edge-alpr detect, eval): a box scoring from this up to score_threshold "
        "is read too, and shown when its read is a sure plate (calibrated confidence 0.8 or more, a plate "
        "the grammar accepts). Finds plates the detector is unsure of (small, dim, in odd holders) at "
        "the cost of reading those boxes. None shows only boxes at or above score_threshold. The daemon "
        "does not use it: a vehicle's other frames give the detector more chances.",
    )
    iou_threshold: float | None = Field(
        None, gt=0.0, le=1.0,
        description="Non-maximum-suppression IoU; None uses the model card's value. Lower merges more "
        "overlapping boxes (risking two close plates becoming one); higher keeps duplicates.",
    )
    min_plate_width_px: int = Field(
        32, ge=1, le=2000,
        description="Boxes narrower than this are ignored: too few pixels to read. Lower tries to read "
        "far plates (more wrong reads, more reader time); higher reads only close plates.",
    )
    min_plate_height_px: int = Field(
        10, ge=1, le=2000,
        description="Boxes shorter than this are ignored, for the same reason as min_plate_width_px.",
    )
    roi: list[Point] | None = Field(
        None,
        description="Region of interest: a polygon [[x, y], ...] in frame pixels (at least 3 points). "
        "Only plates whose centre lies inside are kept, and the detector sees only the polygon's "
        "bounding box, which saves time. None uses the whole frame.",
    )
    detect_every_n_frames: int = Field(
        1, ge=1, le=30,
        description="Run the detector on every n-th frame only; the tracker coasts in between. Higher "
        "saves CPU, but a fast plate gets fewer reads and may cross the frame unseen.",
    )
    motion_gating: bool = Field(
        True,
        description="Skip detection on frames with no motion since the last detected frame (a cheap "
        "downscaled difference). Saves most of the CPU on a quiet road; a plate that stops moving "
        "is no longer re-detected, so its track ends and is reported.",
    )
    motion_threshold: float = Field(
        0.002, gt=0.0, le=1.0,
        description="Fraction of the (downscaled, ROI-cropped) frame's pixels that must change to count "
        "as motion. Lower reacts to smaller/farther vehicles but also to noise, rain and shadows.",
    )
    motion_pixel_delta: int = Field(
        25, ge=1, le=255,
        description="Grey-level change (0-255) for a pixel to count as changed. Lower catches low-contrast "
        "motion at night; higher ignores sensor noise and flicker.",
    )

    strategy: StrategyConfig = Field(
        default_factory=StrategyConfig,
        description="How the detector looks at the frame (or at the roi's bounding box): whole, tiles or "
        "two_scale, for plates that are small in big frames. See config/strategy.py.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_region_for_every_mode(cls, data: object) -> object:
        """detector.roi is the only region: it goes into the strategy, and a frame with a roi is
        seen through it (mode 'roi') unless tiles or two scales are asked for."""
        if not isinstance(data, dict):
            return data
        strategy = data.get("strategy") or {}
        if not isinstance(strategy, dict):  # already built (assignment, copies) or not a mapping
            return data
        strategy = dict(strategy)
        if strategy.get("roi") is not None:
            raise ValueError("give the region as detector.roi (it applies to every strategy mode), not detector.strategy.roi")
        if _usable_polygon(data.get("roi")):
            strategy["roi"] = [(round(float(x)), round(float(y))) for x, y in data["roi"]]
            strategy.setdefault("mode", "roi")
        return {**data, "strategy": strategy}

    @field_validator("roi")
    @classmethod
    def _check_roi(cls, roi: list[Point] | None) -> list[Point] | None:
        if roi is None:
            return None
        if len(roi) < 3:
            raise ValueError(f"a polygon needs at least 3 [x, y] points, got {len(roi)}")
        if polygon_area(roi) < 1.0:
            raise ValueError("the polygon has no area (are its points all on one line?)")
        return roi

    def resolved_model_path(self) -> Path:
        return resolve_model_path(self.model_path, DETECTOR_MODEL_FILE)


class ReaderConfig(StrictModel):
    backend: Literal["edge", "rapidocr"] = Field(
        "edge",
        description="'edge': the project's own int8 CTC reader (fast on a Pi). 'rapidocr': PP-OCRv4 via "
        "the 'rapidocr' extra; slower, useful as a comparison.",
    )
    model_path: Path | None = Field(
        None,
        description=f"The reader's .tflite file; None uses {READER_MODEL_FILE} in the default model directory; "
        "a bare file name (no folder) names a file in that directory.",
    )
    num_threads: int = Field(
        1, ge=1, le=8,
        description="CPU threads for the reader. Crops are small, so more than 1-2 rarely helps.",
    )
    grammar: Literal["indian", "any"] = Field(
        "indian",
        description="'indian' constrains decoding to Indian plate formats (standard and BH series), "
        "which fixes most O/0 and I/1 confusions; 'any' accepts any A-Z0-9 string.",
    )
    min_confidence: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Reads below this calibrated confidence are marked not accepted and do not vote. "
        "Higher gives fewer wrong plates but more vehicles with no plate reported.",
    )
    retry_unsure: bool = Field(
        True,
        description="Read a crop again a little tighter and a little looser when the first reading is unsure "
        "(under 0.9 or outside the grammar) and keep the surest: a few points more plates right on small, "
        "loosely boxed plates, for about one more reader run per unsure crop.",
    )
    max_reads_per_track: int = Field(
        5, ge=1, le=50,
        description="Reads kept per track for the vote (K). A crop is read while the track has fewer than K "
        "reads, or when it is better (bigger x sharper x more head-on) than the worst kept read, which it "
        "replaces; only the K crops are kept in memory. More makes the vote more reliable; each read costs "
        "a reader run.",
    )
    min_frames_between_reads: int = Field(
        2, ge=0, le=100,
        description="Frames to wait between two reads of the same track. Spreads reads over the pass so "
        "they are less correlated (a blurred moment is not read K times); 0 reads every better crop.",
    )

    square_model: bool = Field(
        True,
        description="Read squarish crops (narrower than 3.4:1: the two-line plates of two-wheelers, autos and trucks, "
        "and loose boxes round small plates) with a second recognizer trained to read a two-line plate whole, top "
        "line then bottom line. Same cost per read; false reads every crop with model_path.",
    )
    square_model_path: Path | None = Field(
        None,
        description=f"That recognizer's .tflite file; None uses {SQUARE_READER_MODEL_FILE} in the default model "
        "directory when it is there (a model directory without one reads every crop with model_path); a bare file "
        "name names a file in that directory.",
    )

    def resolved_model_path(self) -> Path:
        return resolve_model_path(self.model_path, READER_MODEL_FILE)

    def resolved_square_model_path(self) -> Path | None:
        """The squarish crops' recognizer, or None where every crop goes to ``model_path``."""
        if self.backend != "edge" or not self.square_model:
            return None
        path = resolve_model_path(self.square_model_path, SQUARE_READER_MODEL_FILE)
        if self.square_model_path is None and not path.is_file():
            return None
        return path
