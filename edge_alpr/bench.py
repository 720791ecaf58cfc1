"""``edge-alpr bench``: speed and memory figures of this machine, for the daemon and its models.

    edge-alpr bench pipeline [--video PATH] [--seconds N] [--threads N]
    edge-alpr bench detector [--images N] [--threads N [N ...]]
    edge-alpr bench reader   [--threads N] [--limit N]
    edge-alpr bench all      [--video PATH] [--seconds N] [--images N] [--limit N]
    common options:          [--config FILE] [--models DIR] [--datasets DIR] [--json]

* ``pipeline`` replays a video (default: a generated 1280x720, 25 fps roadside clip) through
  the daemon's own ``Pipeline`` as fast as it can, once with motion gating on and once with
  it off, so the gain of gating is a ratio measured in one run. The stage latencies
  are the ones the pipeline measures itself; only decoding is timed here. Events are
  collected in memory (no sinks).
* ``detector`` times ``PlateDetector.detect`` (letterbox, inference, decoding, NMS) of the
  int8 and float16 models on the same frames, interleaved so that a background job slows
  both alike: the detector's validation photos from the shared datasets, else frames of a
  generated video.
* ``reader`` reads the same crops (the real Indian validation crops of ``in_plates``, else
  rendered plates) with the project's int8 and float16 recognizers, PP-OCRv4 (rapidocr) and
  Tesseract 5, and gives exact and character accuracy, split by one/two-line layout, and
  milliseconds per crop.
* ``all`` runs the three and ends with one markdown summary table.

Every figure says what was measured and over how many samples. Timings depend on what else
the machine does: a warning is printed when the 1-minute load average is above 1.5.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Generic, Literal, Sequence, TypeVar

import cv2
import numpy as np

from edge_alpr.config import AppConfig, load_config
from edge_alpr.config.pipeline import DETECTOR_MODEL_FILE, READER_MODEL_FILE
from edge_alpr.errors import EdgeAlprError, InputError, ModelError
from edge_alpr.evaluation.metrics import PlateTextAccumulator, TextSummary, latency_summary
from edge_alpr.service import Detector, Pipeline, Reader, build_detector, build_reader
from edge_alpr.sources import VideoFileSource
from edge_alpr.types import ALPHABET

log = logging.getLogger(__name__)

DETECTOR_FLOAT_FILE = "plate_detector_float16.tflite"
READER_FLOAT_FILE = "plate_reader_float16.tflite"
DEFAULT_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

#: Above this 1-minute load average the figures are slowed by other work.
BUSY_LOAD = 1.5
#: Untimed runs of every contender before measuring: the first inferences allocate buffers
#: and pack weights, and would otherwise inflate the first samples.
WARMUP_RUNS = 2
#: The generated clip: the size and rate of a typical roadside camera.
GENERATED_SIZE = (1280, 720)
GENERATED_FPS = 25.0
GENERATED_SECONDS = 20.0
SECONDS_PER_VEHICLE = 2.5  # synth.scenes' default pass length
#: Rendered plates stand in for real crops when the datasets are absent.
RENDERED_CROPS = 200

# Crops are scaled so their characters are about this tall before Tesseract reads them: the
# same size for every crop whatever its own resolution, and comfortably large for Tesseract.
TESSERACT_TEXT_HEIGHT_PX = 50
# Character height as a share of a tight plate crop: Indian plates carry 65 mm characters on a
# 500x120 mm one-line plate, and two lines of them on a 340x200 mm two-line plate.
_TEXT_SHARE = {"one": 0.55, "two": 0.33}
_TESSERACT_TIMEOUT_S = 30.0

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

Layout = Literal["one", "two"]
X = TypeVar("X")
R = TypeVar("R")


# --- the machine ------------------------------------------------------------------------------


def busy_warning(load_1min: float | None) -> str | None:
    """The warning to print when other work is likely to slow the measurements."""
    if load_1min is None or load_1min <= BUSY_LOAD:
        return None
    return (f"warning: the machine is busy (1-minute load average {load_1min:.2f} > {BUSY_LOAD}); "
            "figures will be pessimistic")


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # not available on this platform
        return None


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # resident now (VmRSS)
    peak_mb: float  # highest resident since the process started or the peak was reset (VmHWM)


def parse_proc_status(text: str) -> Memory | None:
    """VmRSS and VmHWM from the text of ``/proc/<pid>/status``; None when either is missing."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            number, _, unit = rest.strip().partition(" ")
            if unit.strip() == "kB" and number.isdigit():
                values[key] = int(number) / 1024.0
    if len(values) != 2:
        return None
    return Memory(values["VmRSS"], values["VmHWM"])


def memory_now(path: Path = _PROC_STATUS) -> Memory | None:
    """This process's memory, or None where there is no ``/proc`` (not Linux)."""
    try:
        return parse_proc_status(path.read_text())
    except OSError:
        return None


def reset_peak_memory(path: Path = _CLEAR_REFS) -> bool:
    """Start a new VmHWM peak (Linux 4.0+: writing 5 to clear_refs); False where not allowed."""
    try:
        path.write_text("5")
        return True
    except OSError:
        return False


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Milliseconds over ``samples`` measurements."""

    samples: int
    mean_ms: float
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, ms: Sequence[float]) -> "Timing | None":
        if not ms:
            return None
        summary = latency_summary(ms)
        return cls(len(ms), summary["mean"], summary["p50"], summary["p95"])


@dataclass(frozen=True)
class Contender(Generic[X, R]):
    """One thing to time: ``run`` on each input that ``applies`` to it."""

    name: str
    run: Callable[[X], R]
    applies: Callable[[X], bool] = lambda _: True


@dataclass(frozen=True)
class Outcome(Generic[R]):
    index: int  # of the input
    result: R
    ms: float


def run_interleaved(inputs: Sequence[X], contenders: Sequence[Contender[X, R]],
                    warmup: int = WARMUP_RUNS) -> list[list[Outcome[R]]]:
    """Every contender on every input, input by input, the contender that goes first rotating.

    Running them side by side, rather than one after the other, means a background job or a
    CPU clock change slows all of them alike, so their ratio holds even on a busy machine.
    Returns one list of outcomes per contender, in input order.
    """
    for contender in contenders:
        for x in [x for x in inputs if contender.applies(x)][:warmup]:
            contender.run(x)
    outcomes: list[list[Outcome[R]]] = [[] for _ in contenders]
    for index, x in enumerate(inputs):
        for turn in range(len(contenders)):
            k = (index + turn) % len(contenders)
            if not contenders[k].applies(x):
                continue
            started = time.perf_counter()
            result = contenders[k].run(x)
            outcomes[k].append(Outcome(index, result, (time.perf_counter() - started) * 1000))
    return outcomes


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --- text output ------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A pipe table with padded columns: aligned on a terminal, and valid markdown."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def fmt_ms(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    return f"{timing.p50_ms:.1f} / {timing.p95_ms:.1f} (n={timing.samples})"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


# --- pipeline ---------------------------------------------------------------------------------


class StageTimes:
    """Every stage duration of one run. It stands in for the pipeline's ``LatencyWindow``
    (same ``add``), which keeps only the last few hundred frames: a benchmark wants them all."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage].append(seconds)

    def timings(self) -> dict[str, Timing]:
        return {stage: t for stage, values in self.seconds.items() if (t := Timing.of([v * 1000 for v in values]))}


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
    pipeline.latency = stages  # type: ignore[assignment]  # every sample, not a window
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


def with_models(cfg: AppConfig, models: Path | None) -> AppConfig:
    """``cfg`` with the detector and reader taken from ``models`` when given."""
    cfg = cfg.model_copy(deep=True)
    if models is not None:
        cfg.detector.model_path = models / DETECTOR_MODEL_FILE
        cfg.reader.model_path = models / READER_MODEL_FILE
    return cfg


def bench_pipeline(cfg: AppConfig, video: Path | None, seconds: float | None, threads: int | None,
                   memory_at_start: Memory | None) -> PipelineReport:
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
        for gating in (True, False):
            run_cfg = cfg.model_copy(deep=True)
            run_cfg.detector.motion_gating = gating
            log.info("replaying %s with motion gating %s", video, "on" if gating else "off")
            runs.append(replay(video, seconds, run_cfg, detector, reader))
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
        f"detector: {report.detector_model}, {report.detector_threads} thread(s); "
        f"reader: {report.reader_model}, {report.reader_threads} thread(s)",
        "",
    ]
    headers = ["figure", *(f"motion gating {'on' if r.motion_gating else 'off'}" for r in runs)]
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
        f"RSS before loading the models: {fmt_mb(report.rss_before_models_mb)}; after: "
        f"{fmt_mb(report.rss_after_models_mb)}",
        f"gain of motion gating: {fmt_ratio(report.gating_speedup)} frames/s "
        f"(same {runs[0].frames if runs else 0} frames, same process)",
    ]
    return "\n".join(lines)


def _reads_per_track(run: PipelineRun) -> str:
    per_track = run.reads_per_track
    if per_track is None:
        return f"- ({run.reads} reads, no tracks)"
    return f"{per_track:.1f} ({run.reads} reads / {run.tracks} tracks)"


# --- detector ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorTiming:
    precision: str  # "int8" | "float16"
    threads: int
    timing: Timing
    boxes_per_frame: float  # a check that both models see alike (an untrained model sees nothing)


@dataclass(frozen=True)
class DetectorReport:
    model_dir: str
    frames: int
    frames_source: str
    rows: tuple[DetectorTiming, ...]
    missing: tuple[str, ...]  # models that were not there

    def speedup(self, threads: int) -> float | None:
        """float16 mean / int8 mean at ``threads``: how many times faster int8 is."""
        by_precision = {r.precision: r.timing.mean_ms for r in self.rows if r.threads == threads}
        return ratio(by_precision.get("float16"), by_precision.get("int8"))


def detector_validation_photos(datasets_dir: Path) -> list[Path]:
    """The photos the detector was validated on (never trained on), in a fixed order."""
    from edge_alpr.datasets.manifest import load_manifest
    from edge_alpr.training.detector_data import DETECTOR_SETS, is_val, reader_val_texts  # no torch needed

    held_out = reader_val_texts(datasets_dir)
    paths = []
    for name in DETECTOR_SETS:
        manifest = datasets_dir / name / "manifest.jsonl"
        if manifest.is_file():
            paths += [row.image for row in load_manifest(manifest) if is_val(row, name, held_out)]
    return paths


def spread(items: Sequence[X], n: int) -> list[X]:
    """``n`` items taken evenly across ``items`` (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def detector_frames(datasets_dir: Path, n: int) -> tuple[list[np.ndarray], str]:
    """``n`` frames to time the detector on, and what they are."""
    photos = spread(detector_validation_photos(datasets_dir), n)
    images = [image for path in photos if (image := cv2.imread(str(path), cv2.IMREAD_COLOR)) is not None]
    if images:
        return images, f"{len(images)} detector-validation photos from {datasets_dir}"
    with tempfile.TemporaryDirectory(prefix="edge-alpr-bench-") as tmp:
        video = generate_clip(Path(tmp), max(SECONDS_PER_VEHICLE, n / GENERATED_FPS))
        frames = _video_frames(video)
    images = spread(frames, n)
    w, h = GENERATED_SIZE
    return images, f"{len(images)} frames of a generated {w}x{h} clip (no datasets at {datasets_dir})"


def _video_frames(video: Path) -> list[np.ndarray]:
    source = VideoFileSource(video)
    frames = []
    try:
        while (frame := source.read()) is not None:
            frames.append(frame.image)
    finally:
        source.close()
    return frames


def bench_detector(model_dir: Path, images: list[np.ndarray], frames_source: str,
                   threads: Sequence[int]) -> DetectorReport:
    from edge_alpr.detector import PlateDetector

    files = {"int8": model_dir / DETECTOR_MODEL_FILE, "float16": model_dir / DETECTOR_FLOAT_FILE}
    missing = tuple(str(path) for path in files.values() if not path.is_file())
    if len(missing) == len(files):
        raise ModelError(f"no detector model in {model_dir} (expected {DETECTOR_MODEL_FILE} and {DETECTOR_FLOAT_FILE})")
    variants = [(precision, n) for n in threads for precision, path in files.items() if path.is_file()]
    contenders = [
        Contender(f"{precision}/{n}", PlateDetector(files[precision], num_threads=n).detect)
        for precision, n in variants
    ]
    log.info("timing %d detector variants on %s", len(contenders), frames_source)
    outcomes = run_interleaved(images, contenders)
    rows = tuple(
        DetectorTiming(precision, n, Timing.of([o.ms for o in runs]), float(np.mean([len(o.result) for o in runs])))
        for (precision, n), runs in zip(variants, outcomes)
    )
    return DetectorReport(str(model_dir), len(images), frames_source, rows, missing)


def format_detector(report: DetectorReport) -> str:
    lines = [
        "## Detector: PlateDetector.detect (letterbox, inference, decoding, NMS), int8 vs float16",
        f"models: {report.model_dir}; frames: {report.frames_source}; models interleaved frame by frame",
        "",
    ]
    rows = [[r.precision, str(r.threads), str(r.timing.samples), f"{r.timing.mean_ms:.1f}", f"{r.timing.p50_ms:.1f}",
             f"{r.timing.p95_ms:.1f}", f"{r.boxes_per_frame:.2f}"] for r in report.rows]
    lines.append(markdown_table(["model", "threads", "frames", "mean ms", "p50 ms", "p95 ms", "boxes/frame"], rows))
    lines.append("")
    for n in sorted({r.threads for r in report.rows}):
        lines.append(f"int8 speed-up over float16, {n} thread(s): {fmt_ratio(report.speedup(n))} "
                     f"(ratio of mean ms over {report.frames} frames)")
    lines += [f"not found: {path}" for path in report.missing]
    return "\n".join(lines)


# --- reader -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CropSample:
    image: np.ndarray  # BGR
    text: str  # the truth, normalised
    layout: Layout


def validation_crops(labels: Path) -> list[CropSample]:
    """The reader's validation crops: ``split`` val, ``status`` ok (every character certain)."""
    from edge_alpr.datasets.manifest import normalise_plate_text
    from edge_alpr.evaluation.stills import load_labels

    samples = []
    for label in load_labels(labels):
        if label.split != "val" or label.status != "ok" or not label.text:
            continue
        image = cv2.imread(str(label.crop), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{label.crop}: missing or not a readable image (listed in {labels})")
        samples.append(CropSample(image, normalise_plate_text(label.text), label.layout))
    return samples


def rendered_crops(n: int, seed: int = 0) -> list[CropSample]:
    """Rendered Indian plates with roadside-camera degradations, for when no real crops exist."""
    try:
        from edge_alpr.synth.render import degrade, render_plate
    except ModuleNotFoundError as error:
        raise EdgeAlprError(f"rendering plates needs the Python package '{error.name}' (pip install "
                            "'edge-alpr[test]'), and no real crops were found") from None
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        plate = render_plate(None, rng)
        samples.append(CropSample(degrade(plate.image, rng), plate.text, plate.layout))
    return samples


def reader_crops(datasets_dir: Path, limit: int | None) -> tuple[list[CropSample], str]:
    labels = datasets_dir / "in_plates" / "labels.jsonl"
    if labels.is_file():
        samples, source = validation_crops(labels), f"real Indian validation crops ({labels}, split val, status ok)"
    else:
        samples = rendered_crops(RENDERED_CROPS)
        source = f"RENDERED plates (synth.render), not real photos: {labels} was not found"
    samples = spread(samples, limit) if limit is not None else samples
    if not samples:
        raise InputError(f"no crops to read from {labels}")
    return samples, f"{len(samples)} {source}"


def tesseract_input(crop: np.ndarray, layout: Layout) -> np.ndarray:
    """The crop in grey, scaled so its characters are about 50 px tall."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = TESSERACT_TEXT_HEIGHT_PX / (_TEXT_SHARE[layout] * grey.shape[0])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)


def clean_ocr_text(raw: str) -> str:
    """What a plate reader may emit: upper case 0-9A-Z only (spaces, line breaks, punctuation dropped)."""
    return "".join(ch for ch in raw.upper() if ch in ALPHABET)


def tesseract_read(crop: np.ndarray, layout: Layout, psm: int, binary: str) -> str:
    """Tesseract 5's reading of one crop, as a fresh ``tesseract`` process (the image on stdin)."""
    ok, png = cv2.imencode(".png", tesseract_input(crop, layout))
    if not ok:
        raise InputError("could not encode a crop as PNG for tesseract")
    command = [binary, "stdin", "stdout", "--psm", str(psm), "-c", f"tessedit_char_whitelist={ALPHABET}"]
    try:
        done = subprocess.run(command, input=png.tobytes(), capture_output=True, timeout=_TESSERACT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EdgeAlprError(f"tesseract took more than {_TESSERACT_TIMEOUT_S:g} s on one crop") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise EdgeAlprError(f"tesseract failed (exit {done.returncode}): {message[0]}")
    return clean_ocr_text(done.stdout.decode(errors="replace"))


@dataclass(frozen=True)
class ReaderRow:
    name: str
    note: str = ""
    score: TextSummary | None = None
    by_layout: dict[str, TextSummary] = field(default_factory=dict)
    timing: Timing | None = None
    unavailable: str | None = None  # why this reader was not run


def score_reads(samples: Sequence[CropSample],
                outcomes: Sequence[Outcome[str]]) -> tuple[TextSummary, dict[str, TextSummary]]:
    """Exact and character accuracy of the reads, overall and by layout. An empty read counts as wrong."""
    accumulator = PlateTextAccumulator()
    for outcome in outcomes:
        sample = samples[outcome.index]
        accumulator.add(outcome.result, sample.text, {"layout": sample.layout})
    return accumulator.summary(), accumulator.by_bucket().get("layout", {})


def reader_row(contender: Contender[CropSample, str], samples: Sequence[CropSample],
               outcomes: Sequence[Outcome[str]], note: str) -> ReaderRow:
    score, by_layout = score_reads(samples, outcomes)
    return ReaderRow(contender.name, note, score, by_layout, Timing.of([o.ms for o in outcomes]))


@dataclass(frozen=True)
class ReaderReport:
    model_dir: str
    crops: int
    crops_source: str
    threads: int
    rows: tuple[ReaderRow, ...]
    baseline: str  # the row the speed ratios refer to

    def slowdown(self, row: ReaderRow) -> float | None:
        """Mean ms per crop of ``row`` over the baseline's: how many times slower it is."""
        base = next((r for r in self.rows if r.name == self.baseline and r.timing), None)
        if base is None or row.timing is None or base.timing is None:
            return None
        return ratio(row.timing.mean_ms, base.timing.mean_ms)


EDGE_INT8 = "edge int8 (project)"
EDGE_FLOAT = "edge float16 (project)"
PPOCR = "PP-OCRv4 (rapidocr)"
PPOCR_PADDED = "PP-OCRv4 (rapidocr, 48x320 padded)"


def reader_contenders(model_dir: Path, threads: int, min_confidence: float,
                      has_two_line: bool) -> tuple[list[tuple[Contender[CropSample, str], str]], list[ReaderRow]]:
    """The readers that can run here, each with a note, and a row for each that cannot."""
    from edge_alpr.ocr import EdgePlateReader, RapidOcrReader

    runnable: list[tuple[Contender[CropSample, str], str]] = []
    unavailable: list[ReaderRow] = []
    for name, file in ((EDGE_INT8, READER_MODEL_FILE), (EDGE_FLOAT, READER_FLOAT_FILE)):
        path = model_dir / file
        if not path.is_file():
            unavailable.append(ReaderRow(name, unavailable=f"model not found: {path}"))
            continue
        reader = EdgePlateReader(path, num_threads=threads, grammar="indian", min_confidence=min_confidence)
        runnable.append((Contender(name, _text_of(reader)), "grammar-constrained CTC decoding"))
    if not all(importlib.util.find_spec(name) for name in ("rapidocr_onnxruntime", "onnxruntime")):
        unavailable.append(ReaderRow(PPOCR, unavailable="not installed (pip install 'edge-alpr[rapidocr]')"))
    else:
        try:
            ppocr = RapidOcrReader(num_threads=threads, grammar="indian", min_confidence=min_confidence)
            runnable.append((Contender(PPOCR, _text_of(ppocr)),
                             "onnxruntime; same grammar-constrained decoding; input as wide as the crop's aspect"))
            padded = RapidOcrReader(num_threads=threads, grammar="indian", min_confidence=min_confidence, padded=True)
            runnable.append((Contender(PPOCR_PADDED, _text_of(padded)),
                             "the input rapidocr's own pipeline builds: 48 px high, zero-padded to 320 px wide"))
        except ModelError as error:
            unavailable.append(ReaderRow(PPOCR, unavailable=str(error)))
    binary = shutil.which("tesseract")
    if binary is None:
        unavailable.append(ReaderRow("Tesseract 5", unavailable="not installed (no tesseract on PATH)"))
        return runnable, unavailable
    runnable.append((Contender("Tesseract 5 --psm 7", _tesseract(binary, 7)),
                     "CLI, one process per crop: the time includes process start; no grammar"))
    if has_two_line:
        runnable.append((Contender("Tesseract 5 --psm 6", _tesseract(binary, 6), lambda s: s.layout == "two"),
                         "two-line crops only (psm 6: a block of lines); CLI, process start included"))
    return runnable, unavailable


def _text_of(reader: Reader) -> Callable[[CropSample], str]:
    return lambda sample: reader.read(sample.image).text


def _tesseract(binary: str, psm: int) -> Callable[[CropSample], str]:
    return lambda sample: tesseract_read(sample.image, sample.layout, psm, binary)


def bench_reader(model_dir: Path, samples: list[CropSample], crops_source: str, threads: int,
                 min_confidence: float) -> ReaderReport:
    has_two_line = any(s.layout == "two" for s in samples)
    runnable, unavailable = reader_contenders(model_dir, threads, min_confidence, has_two_line)
    contenders = [contender for contender, _ in runnable]
    log.info("reading %d crops with %s", len(samples), ", ".join(c.name for c in contenders))
    outcomes = run_interleaved(samples, contenders)
    rows = [reader_row(contender, samples, runs, note) for (contender, note), runs in zip(runnable, outcomes)]
    return ReaderReport(str(model_dir), len(samples), crops_source, threads, tuple(rows + unavailable), EDGE_INT8)


def format_reader(report: ReaderReport) -> str:
    lines = [
        "## Reader: the same crops through each reader",
        f"models: {report.model_dir}; crops: {report.crops_source}",
        f"{report.threads} thread(s) for each reader that takes threads; readers interleaved crop by crop",
        "",
    ]
    headers = ["reader", "crops", "exact", "char acc", "one-line exact", "two-line exact", "ms/crop mean",
               "p50 / p95", "time / int8"]
    rows, notes = [], []
    for row in report.rows:
        if row.unavailable is not None:
            rows.append([row.name, row.unavailable, *["-"] * (len(headers) - 2)])
            continue
        assert row.score is not None and row.timing is not None
        rows.append([
            row.name, str(row.score.plates), fmt_pct(row.score.exact_accuracy), fmt_pct(row.score.char_accuracy),
            _layout_cell(row, "one"), _layout_cell(row, "two"), f"{row.timing.mean_ms:.1f}",
            f"{row.timing.p50_ms:.1f} / {row.timing.p95_ms:.1f}", fmt_ratio(report.slowdown(row)),
        ])
        if row.note:
            notes.append(f"{row.name}: {row.note}")
    lines.append(markdown_table(headers, rows))
    lines += ["", *notes, "exact: the whole plate right; char acc: 1 - edit distance / plate length; "
              "an empty read counts as wrong",
              f"time / int8: mean ms per crop over that of {report.baseline} (above 1: slower)"]
    return "\n".join(lines)


def _layout_cell(row: ReaderRow, layout: str) -> str:
    summary = row.by_layout.get(layout)
    return "-" if summary is None else f"{fmt_pct(summary.exact_accuracy)} (n={summary.plates})"


# --- all --------------------------------------------------------------------------------------


def summary_rows(pipeline: PipelineReport | None, detector: DetectorReport | None,
                 reader: ReaderReport | None) -> list[list[str]]:
    """The headline figures of the three benchmarks: [benchmark, figure, value]."""
    rows: list[list[str]] = []
    if pipeline is not None:
        for run in pipeline.runs:
            gating = "on" if run.motion_gating else "off"
            rows.append(["pipeline", f"frames/s, motion gating {gating} ({run.frames} frames)",
                         f"{run.fps:.1f} ({fmt_ratio(run.realtime_factor)} real time)"])
        rows.append(["pipeline", "gain of motion gating (frames/s on / off)", fmt_ratio(pipeline.gating_speedup)])
        peak = max((r.peak_mb for r in pipeline.runs if r.peak_mb is not None), default=None)
        rows.append(["pipeline", "peak RSS", fmt_mb(peak)])
    if detector is not None:
        for row in detector.rows:
            rows.append(["detector", f"{row.precision}, {row.threads} thread(s), mean ms (n={row.timing.samples})",
                         f"{row.timing.mean_ms:.1f}"])
        for n in sorted({r.threads for r in detector.rows}):
            rows.append(["detector", f"int8 speed-up over float16, {n} thread(s)", fmt_ratio(detector.speedup(n))])
    if reader is not None:
        for row in reader.rows:
            if row.unavailable is not None:
                rows.append(["reader", row.name, row.unavailable])
            elif row.score is not None and row.timing is not None:
                rows.append(["reader", f"{row.name}: exact / char acc / mean ms (n={row.score.plates})",
                             f"{fmt_pct(row.score.exact_accuracy)} / {fmt_pct(row.score.char_accuracy)} / "
                             f"{row.timing.mean_ms:.1f} ms"])
    return rows


# --- command line -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML config (model paths, thresholds, pipeline settings)")
    common.add_argument("--models", type=Path, metavar="DIR",
                        help="folder with plate_detector_{int8,float16}.tflite, plate_reader_{int8,float16}.tflite "
                        "and their .json cards (default: the configured models' folder)")
    common.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, metavar="DIR",
                        help=f"the shared datasets folder (default {DEFAULT_DATASETS})")
    common.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    parser = argparse.ArgumentParser(prog="edge-alpr bench", description="Speed and memory figures of this machine.")
    commands = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    pipeline = commands.add_parser("pipeline", parents=[common], help="replay a video through the daemon's pipeline")
    detector = commands.add_parser("detector", parents=[common], help="int8 vs float16 detector latency")
    reader = commands.add_parser("reader", parents=[common], help="the project's reader vs PP-OCRv4 and Tesseract")
    every = commands.add_parser("all", parents=[common], help="all three, then one summary table")
    for sub in (pipeline, every):
        sub.add_argument("--video", type=Path, help="video file to replay (default: a generated 1280x720 25 fps clip)")
        sub.add_argument("--seconds", type=_positive(float), metavar="N",
                         help=f"replay only the first N seconds of video (generated clips: {GENERATED_SECONDS:g} s)")
    pipeline.add_argument("--threads", type=_positive(int), metavar="N",
                          help="detector threads (default: the config's detector.num_threads)")
    for sub in (detector, every):
        sub.add_argument("--images", type=_positive(int), default=100, metavar="N", help="frames to time (default 100)")
    detector.add_argument("--threads", type=_positive(int), nargs="+", default=[1, 2], metavar="N",
                          help="thread counts to time (default: 1 2)")
    reader.add_argument("--threads", type=_positive(int), default=1, metavar="N", help="reader threads (default 1)")
    for sub in (reader, every):
        sub.add_argument("--limit", type=_positive(int), metavar="N", help="read only N crops, taken evenly from all")
    return parser


def _positive(kind: type) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


@dataclass
class Results:
    pipeline: PipelineReport | None = None
    detector: DetectorReport | None = None
    reader: ReaderReport | None = None


def main(argv: list[str] | None = None) -> int:
    memory_at_start = memory_now()  # before any model is loaded
    args = _parser().parse_args(argv)
    logging.getLogger("edge_alpr.service").setLevel(logging.WARNING)  # per-plate lines would drown the figures
    warning = busy_warning(load_average())
    if warning:
        print(warning, file=sys.stderr if args.json else sys.stdout, flush=True)
    cfg = load_config(args.config)
    results = run_benchmarks(args, with_models(cfg, args.models), memory_at_start)
    if args.json:
        print(json.dumps(results_json(results, warning), ensure_ascii=False))
    elif args.benchmark == "all":
        print("## Summary\n\n" + markdown_table(["benchmark", "figure", "value"],
                                                summary_rows(results.pipeline, results.detector, results.reader)))
    return 0


def run_benchmarks(args: argparse.Namespace, cfg: AppConfig, memory_at_start: Memory | None) -> Results:
    """Run the chosen benchmarks, printing each one's tables as it finishes (unless --json)."""
    results = Results()
    chosen = args.benchmark
    show = (lambda text: None) if args.json else (lambda text: print(text + "\n", flush=True))
    if chosen in ("pipeline", "all"):
        threads = args.threads if chosen == "pipeline" else None  # `all` keeps the config's
        results.pipeline = bench_pipeline(cfg, args.video, args.seconds, threads, memory_at_start)
        show(format_pipeline(results.pipeline))
    if chosen in ("detector", "all"):
        images, source = detector_frames(args.datasets, args.images)
        threads = args.threads if chosen == "detector" else [1, 2]
        results.detector = bench_detector(cfg.detector.resolved_model_path().parent, images, source, threads)
        show(format_detector(results.detector))
    if chosen in ("reader", "all"):
        samples, source = reader_crops(args.datasets, args.limit)
        threads = args.threads if chosen == "reader" else 1
        results.reader = bench_reader(cfg.reader.resolved_model_path().parent, samples, source, threads,
                                      cfg.reader.min_confidence)
        show(format_reader(results.reader))
    return results


def results_json(results: Results, warning: str | None) -> dict:
    out: dict = {"warnings": [warning] if warning else []}
    if results.pipeline is not None:
        out["pipeline"] = {**asdict(results.pipeline), "gating_speedup": results.pipeline.gating_speedup,
                           "runs": [_run_json(r) for r in results.pipeline.runs]}
    if results.detector is not None:
        threads = sorted({r.threads for r in results.detector.rows})
        out["detector"] = {**asdict(results.detector),
                           "int8_speedup": {str(n): results.detector.speedup(n) for n in threads}}
    if results.reader is not None:
        out["reader"] = {**asdict(results.reader),
                         "time_vs_baseline": {r.name: results.reader.slowdown(r) for r in results.reader.rows}}
    return out


def _run_json(run: PipelineRun) -> dict:
    return {**asdict(run), "fps": run.fps, "realtime_factor": run.realtime_factor,
            "skipped_share": run.skipped_share, "reads_per_track": run.reads_per_track}
