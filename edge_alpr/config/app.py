"""The top-level config model, ``AppConfig``: the camera's id, one section per stage, the review
folder, and the checks that span sections. Defaults are chosen so that an empty YAML file is a
valid config for a Raspberry Pi with a USB camera."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from edge_alpr.config.base import StrictModel
from edge_alpr.config.direction import DirectionConfig
from edge_alpr.config.outputs import OutputsConfig, state_dir
from edge_alpr.config.pipeline import DetectorConfig, ReaderConfig
from edge_alpr.config.source import SourceConfig
from edge_alpr.config.tracking import TrackerConfig, VotingConfig
from edge_alpr.config.watchlists import GateConfig, WatchlistsConfig, check_gate

_CAMERA_ID = re.compile(r"^[a-zA-Z0-9_-]+$")


class ReviewConfig(StrictModel):
    """Keep the crops of unsure reads for a person to correct: the field-to-training loop
    (``edge-alpr data import --format review DIR`` turns the corrected folder into a manifest)."""

    enabled: bool = Field(False, description="Save crops of tracks that ended without a confident plate or "
                          "with a plate under below_confidence. Costs disk writes on a busy road.")
    directory: str = Field(default_factory=lambda: str(state_dir() / "review"),
                           description="Folder of JPEG + JSON sidecar pairs; the person reviewing fills in each "
                           "sidecar's 'text'. Unset: review/ in $STATE_DIRECTORY (one per instance), else "
                           "/var/lib/edge-alpr/review.")
    below_confidence: float = Field(0.8, ge=0.0, le=1.0, description="Reported plates under this confidence "
                                    "are kept too. Higher keeps more (and more correct) reads to review.")
    max_items: int = Field(2000, ge=1, le=1_000_000, description="Oldest items are removed beyond this count.")
    max_mb: float = Field(500.0, gt=0, le=1_000_000, description="Oldest items are removed beyond this size.")


class AppConfig(StrictModel):
    camera_id: str = Field(
        "cam1",
        max_length=64,
        description="Names this camera in events, MQTT topics and file names (letters, digits, _ and -).",
    )
    source: SourceConfig = Field(default_factory=SourceConfig, description="Where frames come from.")
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="Plate detection.")
    reader: ReaderConfig = Field(default_factory=ReaderConfig, description="Plate reading (OCR).")
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig, validate_default=True, description="Plate tracking across frames."
    )
    voting: VotingConfig = Field(default_factory=VotingConfig, description="One plate per vehicle pass.")
    outputs: OutputsConfig = Field(
        default_factory=OutputsConfig, description="MQTT, the plate log, crops and the MQTT spool."
    )
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="Unsure reads kept for review.")
    direction: DirectionConfig = Field(
        default_factory=DirectionConfig, description="Direction of travel and the counting line (in / out)."
    )
    watchlists: WatchlistsConfig = Field(
        default_factory=WatchlistsConfig, description="Named plate lists (hotlists, allow lists) matched against every event."
    )
    gate: GateConfig = Field(
        default_factory=GateConfig, validate_default=True, description="A gate or barrier opened for allow-listed plates."
    )
    status_interval_s: float = Field(
        30.0, ge=1.0, le=3600.0,
        description="How often the status (fps, latencies, temperature) is published. Lower gives fresher "
        "dashboards at the cost of MQTT traffic.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log verbosity. DEBUG logs every track and read (noisy on a busy road)."
    )

    @field_validator("camera_id")
    @classmethod
    def _check_camera_id(cls, camera_id: str) -> str:
        if not _CAMERA_ID.match(camera_id):
            raise ValueError("use only letters, digits, '_' and '-': it becomes part of MQTT topics and file names")
        return camera_id

    @field_validator("gate")
    @classmethod
    def _check_gate(cls, gate: GateConfig, info: ValidationInfo) -> GateConfig:
        outputs = info.data.get("outputs")
        return check_gate(gate, info.data.get("watchlists"), None if outputs is None else outputs.mqtt.enabled)

    @field_validator("tracker")
    @classmethod
    def _check_tracker_outlives_detector_gap(cls, tracker: TrackerConfig, info: ValidationInfo) -> TrackerConfig:
        detector = info.data.get("detector")
        if detector is not None and tracker.max_age_frames <= detector.detect_every_n_frames:
            raise ValueError(
                f"max_age_frames ({tracker.max_age_frames}) must exceed detector.detect_every_n_frames "
                f"({detector.detect_every_n_frames}), or every track would end between two detected frames"
            )
        return tracker
