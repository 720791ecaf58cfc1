"""``edge-alpr bench pipeline``: a video through the daemon's own ``Pipeline``, with motion gating
on and then off, so what gating gains is measured rather than estimated; with ``--against-mode``
a third run, gating on, with another ``detector.strategy.mode`` (e.g. ``whole``, the default
before ``auto``), for the ratio of the two in the same process. The generated roadside
clip it replays by default lives here too; the detector benchmark falls back on its frames."""
from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from edge_alpr.bench.common import (
    WARMUP_RUNS,
    Memory,
    Timing,
    fmt_mb,
    fmt_ms,
    fmt_pct,
    fmt_ratio,
    log,
    markdown_table,
    memory_now,
    ratio,
    reset_peak_memory,
)
from edge_alpr.config import AppConfig
from edge_alpr.errors import EdgeAlprError, InputError
from edge_alpr.pipeline import Detector, Pipeline, Reader
from edge_alpr.service import build_detector, build_reader
from edge_alpr.sources import VideoFileSource
from edge_alpr.stage_stats import LatencyWindow

#: The generated clip: the size and rate of a typical roadside camera.
GENERATED_SIZE = (1280, 720)
GENERATED_FPS = 25.0
GENERATED_SECONDS = 20.0
SECONDS_PER_VEHICLE = 2.5  # synth.scenes' default pass length


class StageTimes(LatencyWindow):
    """Every stage duration of one run. It stands in for the pipeline's ``LatencyWindow``, which
    keeps only the last few hundred frames: a benchmark wants them all."""

    def __init__(self) -> None:
        super().__init__(size=None)

    def timings(self) -> dict[str, Timing]:
        return {stage: t for stage, values in self.samples_s().items() if (t := Timing.of([v * 1000 for v in values]))}


#: Stages in the order of a frame's path, as ``Pipeline`` names them ("total" is process()).
STAGE_ORDER = ("decode", "motion", "detect", "track", "read", "vote", "total")
_STAGE_TITLES = {"decode": "decode (video file)", "motion": "motion gate", "detect": "detect", "track": "track",
                 "read": "read (per crop)", "vote": "vote (per track)", "total": "pipeline per frame"}


@dataclass(frozen=True)
class PipelineRun:
    motion_gating: bool
    frames: int
    wall_s: float  # decoding included
    video_fps: float
    detector_runs: int
    skipped_by_motion: int
    reads: int
    tracks: int  # confirmed tracks that ended: reported, suppressed as duplicates, or without a plate
    events: int
    stages: dict[str, Timing]
    rss_start_mb: float | None
    rss_end_mb: float | None
    peak_mb: float | None
    peak_is_per_run: bool  # False when the kernel would not reset the peak: it is the process's
    mode: str = ""  # detector.strategy.mode of the run

    @property
    def label(self) -> str:
        return f"{self.mode + ', ' if self.mode else ''}motion gating {'on' if self.motion_gating else 'off'}"

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        return self.fps / self.video_fps

    @property
    def skipped_share(self) -> float:
        return self.skipped_by_motion / self.frames if self.frames else 0.0

    @property
    def reads_per_track(self) -> float | None:
        return self.reads / self.tracks if self.tracks else None


@dataclass(frozen=True)
class PipelineReport:
    video: str
    generated: bool
    size: tuple[int, int]
    video_fps: float
    detector_model: str
    reader_model: str
    detector_threads: int
    reader_threads: int
    rss_before_models_mb: float | None
    rss_after_models_mb: float | None
    runs: tuple[PipelineRun, ...]  # gating on, then off

    @property
    def gating_speedup(self) -> float | None:
        on = next((r for r in self.runs if r.motion_gating), None)
        off = next((r for r in self.runs if not r.motion_gating), None)
        return ratio(on.fps, off.fps) if on and off else None

    @property
    def speedup_against(self) -> tuple[str, float | None] | None:
        """(other mode, frames/s of the configured mode over the other's), both with gating on."""
        first = self.runs[0] if self.runs else None
        other = next((r for r in self.runs[1:] if r.mode != first.mode), None) if first else None
        return (other.mode, ratio(first.fps, other.fps)) if other else None


def generate_clip(out_dir: Path, seconds: float) -> Path:
    """A generated 1280x720 25 fps roadside clip of about ``seconds``, in ``out_dir``."""
    try:
        from edge_alpr.synth.scenes import make_video
    except ModuleNotFoundError as error:
        raise EdgeAlprError(f"generating a test clip needs the Python package '{error.name}' (pip install "
                            "'edge-alpr[test]'); or pass a video with --video") from None
    path = out_dir / "bench.mp4"
    vehicles = max(1, math.ceil(seconds / SECONDS_PER_VEHICLE))
    log.info("generating a %gx%g %g fps clip with %d vehicles", *GENERATED_SIZE, GENERATED_FPS, vehicles)
    make_video(path, seed=0, n_vehicles=vehicles, size=GENERATED_SIZE, fps=GENERATED_FPS,
               seconds_per_vehicle=SECONDS_PER_VEHICLE)
    return path


def video_properties(path: Path) -> tuple[tuple[int, int], float]:
    """(width, height) and frames per second of a video file."""
    source = VideoFileSource(path)
    try:
        frame = source.read()
        if frame is None:
            raise InputError(f"{path}: the video has no decodable frame")
        h, w = frame.image.shape[:2]
        return (w, h), source.fps
    finally:
        source.close()


def replay(video: Path, seconds: float | None, cfg: AppConfig, detector: Detector, reader: Reader) -> PipelineRun:
    """Every frame of the first ``seconds`` of ``video`` (all when None) through a new
    ``Pipeline`` as fast as possible; the open tracks are flushed at the end."""
    source = VideoFileSource(video)
    pipeline = Pipeline(cfg, detector, reader)
    stages = StageTimes()
    pipeline.latency = stages  # every sample, not a window
    max_frames = None if seconds is None else max(1, round(seconds * source.fps))
    per_run_peak = reset_peak_memory()
    start_memory = memory_now()
    events = 0
    started = time.perf_counter()
    try:
        while max_frames is None or pipeline.counters.frames < max_frames:
            decode_started = time.perf_counter()
            frame = source.read()
            if frame is None:
                break
            stages.add("decode", time.perf_counter() - decode_started)
            events += len(pipeline.process(frame))
        events += len(pipeline.flush())
    finally:
        source.close()
    wall = time.perf_counter() - started
    end_memory = memory_now()
    c = pipeline.counters
    return PipelineRun(
        motion_gating=cfg.detector.motion_gating, frames=c.frames, wall_s=wall, video_fps=source.fps,
        detector_runs=c.detected, skipped_by_motion=c.skipped_by_motion, reads=c.reads,
        tracks=c.events + c.duplicates_suppressed + c.tracks_without_plate, events=events,
        stages=stages.timings(),
        rss_start_mb=start_memory.rss_mb if start_memory else None,
        rss_end_mb=end_memory.rss_mb if end_memory else None,
        peak_mb=end_memory.peak_mb if end_memory else None, peak_is_per_run=per_run_peak,
    )


def _model_name(info: dict, path: Path | None) -> str:
    name = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    return f"{name} ({path.name})" if path is not None else name


def bench_pipeline(cfg: AppConfig, video: Path | None, seconds: float | None, threads: int | None,
                   memory_at_start: Memory | None, against_mode: str | None = None) -> PipelineReport:
    if threads is not None:
        cfg.detector.num_threads = threads
    detector, reader = build_detector(cfg), build_reader(cfg)  # a missing model stops us before the clip is made
    after_models = memory_now()
    with tempfile.TemporaryDirectory(prefix="edge-alpr-bench-") as tmp:
        generated = video is None
        if video is None:
            seconds = GENERATED_SECONDS if seconds is None else seconds
            video = generate_clip(Path(tmp), seconds)
        size, fps = video_properties(video)
        _warm_up(video, detector, reader)
        runs = []
        plans = [(cfg.detector.strategy.mode, True), (cfg.detector.strategy.mode, False)]
        if against_mode is not None and against_mode != cfg.detector.strategy.mode:
            plans.append((against_mode, True))
        for mode, gating in plans:
            run_cfg = cfg.model_copy(deep=True)
            run_cfg.detector.motion_gating = gating
            run_cfg.detector.strategy.mode = mode
            log.info("replaying %s, mode %s, motion gating %s", video, mode, "on" if gating else "off")
            runs.append(replace(replay(video, seconds, run_cfg, detector, reader), mode=mode))
    reader_path = cfg.reader.resolved_model_path() if cfg.reader.backend == "edge" else None
    return PipelineReport(
        video="generated" if generated else str(video), generated=generated, size=size, video_fps=fps,
        detector_model=_model_name(detector.model_info, cfg.detector.resolved_model_path()),
        reader_model=_model_name(reader.model_info, reader_path),
        detector_threads=cfg.detector.num_threads, reader_threads=cfg.reader.num_threads,
        rss_before_models_mb=memory_at_start.rss_mb if memory_at_start else None,
        rss_after_models_mb=after_models.rss_mb if after_models else None,
        runs=tuple(runs),
    )


def _warm_up(video: Path, detector: Detector, reader: Reader) -> None:
    """Run both models on the first frame, untimed, so neither run pays for the first inference."""
    source = VideoFileSource(video)
    try:
        frame = source.read()
    finally:
        source.close()
    if frame is None:
        return
    for _ in range(WARMUP_RUNS):
        detector.detect(frame.image)
        reader.read(frame.image[: frame.image.shape[0] // 8, : frame.image.shape[1] // 4])  # any crop will do


def format_pipeline(report: PipelineReport) -> str:
    runs = report.runs
    w, h = report.size
    source = "generated roadside clip" if report.generated else report.video
    lines = [
        "## Pipeline: every frame of a video through the daemon's Pipeline, as fast as possible",
        f"video: {source}, {w}x{h} at {report.video_fps:g} fps; no sinks (events kept in memory)",
        (f"detector: {report.detector_model}, {report.detector_threads} thread(s); "
         f"reader: {report.reader_model}, {report.reader_threads} thread(s)"),
        "",
    ]
    headers = ["figure", *(r.label for r in runs)]
    rows = [
        ["frames processed", *(str(r.frames) for r in runs)],
        ["wall time (decoding included)", *(f"{r.wall_s:.1f} s" for r in runs)],
        ["frames/s", *(f"{r.fps:.1f}" for r in runs)],
        [f"real-time factor (frames/s / {report.video_fps:g} fps)", *(fmt_ratio(r.realtime_factor) for r in runs)],
        ["frames skipped by motion gate",
         *(f"{fmt_pct(r.skipped_share)} ({r.skipped_by_motion}/{r.frames})" for r in runs)],
        ["detector runs", *(str(r.detector_runs) for r in runs)],
    ]
    for stage in STAGE_ORDER:
        if any(stage in r.stages for r in runs):
            rows.append([f"{_STAGE_TITLES[stage]}, ms p50 / p95", *(fmt_ms(r.stages.get(stage)) for r in runs)])
    rows += [
        ["reads per confirmed track", *(_reads_per_track(r) for r in runs)],
        ["plate events", *(str(r.events) for r in runs)],
        ["RSS at start / end of run", *(f"{fmt_mb(r.rss_start_mb)} / {fmt_mb(r.rss_end_mb)}" for r in runs)],
        ["peak RSS (VmHWM)", *(fmt_mb(r.peak_mb) + ("" if r.peak_is_per_run else " (process)") for r in runs)],
    ]
    lines.append(markdown_table(headers, rows))
    lines += [
        "",
        (f"RSS before loading the models: {fmt_mb(report.rss_before_models_mb)}; after: "
         f"{fmt_mb(report.rss_after_models_mb)}"),
        (f"gain of motion gating: {fmt_ratio(report.gating_speedup)} frames/s "
         f"(same {runs[0].frames if runs else 0} frames, same process)"),
    ]
    against = report.speedup_against
    if against is not None:
        lines.append(f"frames/s of mode {runs[0].mode} against mode {against[0]} (gating on both): "
                     f"{fmt_ratio(against[1])}")
    return "\n".join(lines)


def _reads_per_track(run: PipelineRun) -> str:
    per_track = run.reads_per_track
    if per_track is None:
        return f"- ({run.reads} reads, no tracks)"
    return f"{per_track:.1f} ({run.reads} reads / {run.tracks} tracks)"
