"""Config models of what turns detections into one plate per vehicle: the tracker (ids across
frames) and the vote over a track's reads."""
from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from edge_alpr.config.base import StrictModel


class TrackerConfig(StrictModel):
    iou_threshold: float = Field(
        0.3, gt=0.0, lt=1.0,
        description="Minimum overlap of a predicted track box and a detection to match them. Lower keeps "
        "ids on fast or jerky plates; higher avoids swapping ids between close plates.",
    )
    high_score_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="ByteTrack's split: detections at or above this score are matched first and may start "
        "tracks; lower-scoring ones only extend existing tracks (keeps ids through blur and occlusion).",
    )
    max_age_frames: int = Field(
        15, ge=1, le=1000,
        description="A track ends after this many frames without a matching detection (skipped frames "
        "count). Higher bridges longer occlusions, but a vehicle's event is published later.",
    )
    min_hits: int = Field(
        3, ge=1, le=100,
        description="Detections a track needs before it counts (gets an id and is read). Higher suppresses "
        "flickering false boxes but ignores plates seen only briefly.",
    )


class VotingConfig(StrictModel):
    min_reads: int = Field(
        2, ge=1, le=50,
        description="Accepted reads a track needs before a plate is reported. Higher gives fewer wrong "
        "plates but misses vehicles seen in few frames.",
    )
    sure_read_confidence: float | None = Field(
        0.9, ge=0.0, le=1.0,
        description="A track with fewer than min_reads agreeing reads still reports its plate when one read is "
        "at least this sure and the plate fits the grammar: an approaching plate is often sharp in only its last, "
        "closest frames. Lower reports more briefly seen vehicles and more wrong plates; null always needs "
        "min_reads reads.",
    )
    min_confidence: float = Field(
        0.6, ge=0.0, le=1.0,
        description="Minimum voted confidence of the winning plate. Higher gives fewer wrong plates, more "
        "vehicles unreported.",
    )
    max_candidates: int = Field(
        3, ge=1, le=20,
        description="How many alternative plates (with their confidences) an event lists.",
    )
    dedup_window_s: float = Field(
        60.0, ge=0.0, le=86400.0,
        description="The same plate on the same camera within this many seconds is reported once (a "
        "parked or queued vehicle). Higher suppresses more repeats; too high hides a genuine return.",
    )
    early_emit: bool = Field(
        False,
        description="Report a plate while its track is still open, once early_emit_reads reads agree, "
        "instead of when the vehicle leaves. Lower latency; the vote uses fewer reads.",
    )
    early_emit_reads: int = Field(
        4, ge=1, le=50, validate_default=True,
        description="Reads a track needs before an early emit is tried (early_emit only).",
    )

    @field_validator("early_emit_reads")
    @classmethod
    def _check_early_emit_reads(cls, reads: int, info: ValidationInfo) -> int:
        min_reads = info.data.get("min_reads")
        if info.data.get("early_emit") and min_reads is not None and reads < min_reads:
            raise ValueError(
                f"must be at least voting.min_reads ({min_reads}) when early_emit is on: "
                "an early vote with fewer reads than the final one could never pass"
            )
        return reads
