"""``edge-alpr bench detector``: the int8 and float16 detectors timed on the same frames,
interleaved, so the speed-up that justifies shipping int8 holds even on a busy machine."""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.bench.common import (
    Contender,
    Timing,
    fmt_ratio,
    log,
    markdown_table,
    ratio,
    run_interleaved,
    spread,
)
from edge_alpr.bench.pipeline import (
    GENERATED_FPS,
    GENERATED_SIZE,
    SECONDS_PER_VEHICLE,
    generate_clip,
)
from edge_alpr.config.pipeline import DETECTOR_MODEL_FILE
from edge_alpr.errors import ModelError
from edge_alpr.sources import VideoFileSource

DETECTOR_FLOAT_FILE = "plate_detector_float16.tflite"


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
    from edge_alpr.training.detector_data import (  # no torch needed
        DETECTOR_SETS,
        detector_rows,
        is_val,
        reader_val_texts,
    )

    held_out = reader_val_texts(datasets_dir)
    paths = []
    for name in DETECTOR_SETS:
        manifest = datasets_dir / name / "manifest.jsonl"
        if manifest.is_file():
            paths += [row.image for row in detector_rows(datasets_dir, name) if is_val(row, name, held_out)]
    return paths


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
