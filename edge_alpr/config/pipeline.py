"""Config models of the pipeline stages: source, detector, reader, tracker, voting, and the
top-level ``AppConfig`` that holds them.

Every tuning number of the daemon lives here with its bounds and a description that says
what raising or lowering it costs. Defaults are chosen so that an empty YAML file is a
valid config for a Raspberry Pi with a USB camera.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge_alpr.config.base import StrictModel
from edge_alpr.config.direction import DirectionConfig
from edge_alpr.config.outputs import OutputsConfig, state_dir
from edge_alpr.config.strategy import StrategyConfig, polygon_area
from edge_alpr.config.watchlists import GateConfig, WatchlistsConfig, check_gate

DETECTOR_MODEL_FILE = "plate_detector_int8.tflite"
READER_MODEL_FILE = "plate_reader_int8.tflite"

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


SourceKind = Literal["file", "v4l2", "rtsp", "picamera2"]
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


class SourceConfig(StrictModel):
    kind: SourceKind = Field(
        "v4l2",
        description="Where frames come from: a video 'file', a USB/V4L2 camera ('v4l2'), an "
        "RTSP/HTTP stream ('rtsp') or the Raspberry Pi camera ('picamera2', needs the 'pi' extra).",
    )
    uri: str = Field(
        "",
        validate_default=True,
        description="file: path of the video; v4l2: device index ('0') or path ('/dev/video0'); "
        "rtsp: the stream URL (rtsp://, rtsps://, http://, https://); picamera2: camera index. "
        "Empty means camera 0 for v4l2 and picamera2.",
    )
    loop: bool = Field(
        False,
        validate_default=True,
        description="file only: start again at the end instead of stopping. Handy for soak tests; "
        "a looping file never ends, so the daemon never exits on its own.",
    )
    realtime: bool = Field(
        False,
        validate_default=True,
        description="file only: deliver frames at the video's own frame rate, as a camera would, instead of "
        "as fast as the pipeline goes. For soak and fleet tests, where many daemons share a machine and "
        "event times should follow the clock; the pipeline still sees every frame (none are dropped).",
    )
    width: int | None = Field(
        None, ge=16, le=7680,
        description="Requested capture width in pixels (cameras only; None keeps the camera's). "
        "Wider frames make small plates readable from further away but cost detector time and memory.",
    )
    height: int | None = Field(
        None, ge=16, le=4320,
        description="Requested capture height in pixels (cameras only; None keeps the camera's).",
    )
    fps: float | None = Field(
        None, gt=0, le=240,
        description="Requested capture frame rate (cameras only). More frames give each passing plate "
        "more chances to be read; frames the pipeline cannot keep up with are dropped (live sources).",
    )
    reopen_backoff_initial_s: float = Field(
        1.0, gt=0, le=60,
        description="First wait before reopening a camera/stream that stopped delivering frames. "
        "Shorter recovers faster from a blip; the wait doubles on each failed attempt.",
    )
    reopen_backoff_max_s: float = Field(
        30.0, gt=0, le=3600, validate_default=True,
        description="Longest wait between reopen attempts. Lower notices a camera coming back sooner "
        "at the cost of more reconnect attempts (and log lines stay at one per outage either way).",
    )
    stall_timeout_s: float = Field(
        10.0, ge=1.0, le=300.0,
        description="A live source that delivers no frame for this long while still connected (a stream "
        "whose camera stopped sending) is closed and reopened with backoff; for streams it is also the "
        "longest wait for each read (and for opening, at least 10 s). Lower notices a stalled camera sooner; keep it above a few "
        "frame intervals of the camera, or a slow camera is reconnected needlessly.",
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp",
        description="rtsp only: how RTP packets travel. 'tcp' interleaves them in the RTSP connection: no "
        "packet loss, passes NAT and firewalls (OpenCV's default). 'udp' uses separate UDP ports: a little "
        "lower latency, but lost packets show as damaged frames and firewalls must let the ports through.",
    )

    @field_validator("uri")
    @classmethod
    def _check_uri_matches_kind(cls, uri: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        uri = uri.strip()
        if not uri and kind in ("v4l2", "picamera2"):
            return "0"
        if kind == "file" and not uri:
            raise ValueError("a file source needs the path of a video file")
        if kind == "v4l2" and not (uri.isdigit() or uri.startswith("/dev/")):
            raise ValueError("a v4l2 source needs a device index like '0' or a path like '/dev/video0'")
        if kind == "rtsp" and not uri.lower().startswith(_STREAM_SCHEMES):
            raise ValueError(f"an rtsp source needs a URL starting with one of {', '.join(_STREAM_SCHEMES)}")
        if kind == "picamera2" and uri and not uri.isdigit():
            raise ValueError("a picamera2 source takes a camera index like '0'")
        return uri

    @field_validator("loop", "realtime")
    @classmethod
    def _check_file_only_options(cls, value: bool, info: ValidationInfo) -> bool:
        kind = info.data.get("kind")
        if value and kind != "file":
            verb = "loop" if info.field_name == "loop" else "be played in real time"
            raise ValueError(f"only a 'file' source can {verb}, this one is {kind!r}")
        return value

    @field_validator("reopen_backoff_max_s")
    @classmethod
    def _check_backoff_order(cls, max_s: float, info: ValidationInfo) -> float:
        initial = info.data.get("reopen_backoff_initial_s")
        if initial is not None and initial > max_s:
            raise ValueError(f"must be at least reopen_backoff_initial_s ({initial})")
        return max_s


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


class DetectorConfig(StrictModel):
    model_path: Path | None = Field(
        None,
        description=f"The detector's .tflite file; None uses {DETECTOR_MODEL_FILE} in the default model "
        "directory ($EDGE_ALPR_MODELS, the repository's models/, /opt/edge-alpr/models).",
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
        return self.model_path if self.model_path is not None else default_model_dir() / DETECTOR_MODEL_FILE


class ReaderConfig(StrictModel):
    backend: Literal["edge", "rapidocr"] = Field(
        "edge",
        description="'edge': the project's own int8 CTC reader (fast on a Pi). 'rapidocr': PP-OCRv4 via "
        "the 'rapidocr' extra; slower, useful as a comparison.",
    )
    model_path: Path | None = Field(
        None,
        description=f"The reader's .tflite file; None uses {READER_MODEL_FILE} in the default model directory.",
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

    def resolved_model_path(self) -> Path:
        return self.model_path if self.model_path is not None else default_model_dir() / READER_MODEL_FILE


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
