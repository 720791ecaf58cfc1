"""The strategies on frame sequences: generated roadside clips (``synth.scenes``) at 1080p and 4K,
with traffic and with an empty road, each frame through the daemon's own ``Pipeline`` (motion
gate, motion regions, tracker), so ``motion`` and ``auto`` are measured as the daemon runs them.
Part of ``python -m edge_alpr.bench.strategies``.

Every strategy sees the same frames with the default motion gating, as the daemon would; a frame
the gate skips costs nothing and finds nothing. Recall and precision are per frame at IoU 0.5
against the clip's truth; plates narrower than ``detector.min_plate_width_px`` (or lower than
``min_plate_height_px``) are ignored, since the pipeline drops such boxes before the tracker.
The reader is left out (a null reader): these figures are the detector's. Time is the
detector's (all views and the merge) summed over the clip and divided by its frames, skipped
frames included: what a strategy costs on that road.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.bench.strategies import STRATEGIES, Tally
from edge_alpr.config import AppConfig
from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.pipeline import Pipeline
from edge_alpr.tiling import MultiViewDetector, Rect, ViewDetector
from edge_alpr.types import Detections, Frame, PlateRead

FPS = 25.0


@dataclass(frozen=True)
class Clip:
    """One generated clip: its name in the report, size, and traffic (0 vehicles: an empty road)."""

    name: str
    size: tuple[int, int]
    vehicles: int
    seconds: float  # at least this long
    seed: int


#: The strategies compared on clips: the stills' (those a camera can run without a site's roi)
#: plus motion regions, which need frames before them.
VIDEO_STRATEGIES: dict[str, StrategyConfig] = {
    **{name: STRATEGIES[name] for name in ("whole", "tiles640", "two_scale640")},
    "motion": StrategyConfig(mode="motion"),
    "auto": STRATEGIES["auto"],
}

CLIPS = (
    Clip("1920x1080 clip, traffic", (1920, 1080), 8, 0.0, 21),
    Clip("1920x1080 clip, empty road", (1920, 1080), 0, 8.0, 22),
    Clip("3840x2160 clip, traffic", (3840, 2160), 5, 0.0, 23),
    Clip("3840x2160 clip, empty road", (3840, 2160), 0, 4.0, 24),
)


@dataclass
class FrameResult:
    boxes: np.ndarray
    scores: np.ndarray
    ms: float
    runs: int


class _RecordingDetector(MultiViewDetector):
    """The strategy's detector, noting what each detected frame found and cost."""

    def __init__(self, detector: ViewDetector, config: StrategyConfig, min_plate_px: float) -> None:
        super().__init__(detector, config, min_plate_px)
        self.found: dict[int, FrameResult] = {}
        self.frame_index = -1

    def detect(self, image_bgr: np.ndarray, regions: Sequence[Rect] | None = None) -> Detections:
        started = time.perf_counter()
        found = super().detect(image_bgr, regions)
        ms = (time.perf_counter() - started) * 1000.0
        self.found[self.frame_index] = FrameResult(found.boxes, found.scores, ms, len(self.last_timings))
        return found


class _NullReader:
    model_info = {"name": "none"}

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        return PlateRead("", (), 0.0, "unknown", accepted=False)


def make_clip(clip: Clip, out_dir: Path) -> tuple[Path, list[np.ndarray]]:
    """The clip written to ``out_dir`` (frames are decoded as a camera would deliver them, and
    never all held: a 4K clip would not fit in memory), and each frame's plate boxes."""
    from edge_alpr.synth.scenes import make_video

    path = out_dir / f"{clip.size[0]}x{clip.size[1]}-{clip.seed}.mp4"
    truth = make_video(path, seed=clip.seed, n_vehicles=clip.vehicles, size=clip.size, fps=FPS,
                       plates=[] if clip.vehicles == 0 else None, min_seconds=clip.seconds)
    boxes = [np.array([v.boxes[i] for v in truth.vehicles if i in v.boxes], np.float32).reshape(-1, 4)
             for i in range(truth.frames)]
    return path, boxes


def frames_of(path: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield image
    finally:
        capture.release()


def run_clip(detector: ViewDetector, strategy: StrategyConfig, video: Path, cfg: AppConfig) -> dict[int, FrameResult]:
    """Every frame of ``video`` through a new ``Pipeline`` using ``strategy``; what the detector
    found per detected frame (frames missing from the result were skipped by the motion gate)."""
    run_cfg = cfg.model_copy(deep=True)
    run_cfg.detector.strategy = strategy
    pipeline = Pipeline(run_cfg, detector, _NullReader())
    recorder = _RecordingDetector(detector, strategy, run_cfg.detector.min_plate_width_px)
    pipeline.detector = recorder
    for index, image in enumerate(frames_of(video)):
        recorder.frame_index = index
        pipeline.process(Frame(image, index, index / FPS, index / FPS))
    pipeline.flush()
    return recorder.found


def too_small(boxes: np.ndarray, cfg: AppConfig) -> np.ndarray:
    """Plates the pipeline would drop as too small to read: not counted as found or missed."""
    return ((boxes[:, 2] - boxes[:, 0]) < cfg.detector.min_plate_width_px) | (
        (boxes[:, 3] - boxes[:, 1]) < cfg.detector.min_plate_height_px)


def run_clips(detector: ViewDetector, clips: Sequence[Clip], out_dir: Path,
              cfg: AppConfig | None = None) -> dict[str, dict[str, Tally]]:
    """Every strategy of ``VIDEO_STRATEGIES`` on every clip (written to ``out_dir``):
    ``{clip name: {strategy: Tally}}``, one tally entry per frame of the clip."""
    cfg = cfg or AppConfig()
    skipped = FrameResult(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), 0.0, 0)  # by the motion gate
    results: dict[str, dict[str, Tally]] = {}
    for clip in clips:
        video, truth = make_clip(clip, out_dir)
        tallies = results.setdefault(clip.name, {})
        for name, strategy in VIDEO_STRATEGIES.items():
            found = run_clip(detector, strategy, video, cfg)
            tally = tallies.setdefault(name, Tally())
            for index, boxes in enumerate(truth):
                seen = found.get(index, skipped)
                tally.add_frame(clip.size[0], boxes, too_small(boxes, cfg), seen.boxes, seen.scores, seen.ms, seen.runs)
    return results


def auto_against_the_rest(tallies: dict[str, Tally]) -> str:
    """The issue #17 aims on one clip as a line: auto's recall against the tiles', and its
    detector time as a fraction of the tiles' and of the whole frame's."""
    auto, tiles, whole = tallies["auto"], tallies["tiles640"], tallies["whole"]
    parts = []
    if auto.recall() is not None and tiles.recall() is not None:
        parts.append(f"recall {auto.recall():.2f} vs tiles {tiles.recall():.2f} ({auto.recall() - tiles.recall():+.2f})")
    # Absolute figures too: on an empty road every strategy costs next to nothing, and a ratio
    # of two near-zero times says little.
    parts.append(f"detector ms per frame {auto.mean_ms():.1f} (tiles {tiles.mean_ms():.1f}, whole {whole.mean_ms():.1f})")
    for other, label in ((tiles, "tiles'"), (whole, "whole frame's")):
        if other.mean_ms() > 0:
            parts.append(f"{auto.mean_ms() / other.mean_ms():.2f}x the {label}")
    return "auto: " + ", ".join(parts)
