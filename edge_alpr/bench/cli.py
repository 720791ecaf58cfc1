"""The ``edge-alpr bench`` command itself: its arguments, running the chosen benchmarks, and the
summary table and JSON that gather their reports into one answer."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import get_args

from edge_alpr.bench.common import (
    Memory,
    busy_warning,
    fmt_mb,
    fmt_pct,
    fmt_ratio,
    load_average,
    markdown_table,
    memory_now,
)
from edge_alpr.bench.detector import (
    DetectorReport,
    bench_detector,
    detector_frames,
    format_detector,
)
from edge_alpr.bench.pace import DEVICES, PaceReport, bench_pace, format_pace, generated_scene, with_settings
from edge_alpr.bench.pipeline import (
    GENERATED_SECONDS,
    PipelineReport,
    PipelineRun,
    bench_pipeline,
    format_pipeline,
)
from edge_alpr.bench.reader import (
    ReaderReport,
    bench_reader,
    format_reader,
    reader_crops,
)
from edge_alpr.config import AppConfig, load_config
from edge_alpr.config.pipeline import DETECTOR_MODEL_FILE, READER_MODEL_FILE
from edge_alpr.config.strategy import StrategyMode
from edge_alpr.datasets import DEFAULT_DATASETS

DEMO_VIDEO = Path(__file__).resolve().parents[2] / "demo" / "demo.mp4"


# --- all --------------------------------------------------------------------------------------


def summary_rows(pipeline: PipelineReport | None, detector: DetectorReport | None,
                 reader: ReaderReport | None) -> list[list[str]]:
    """The headline figures of the three benchmarks: [benchmark, figure, value]."""
    rows: list[list[str]] = []
    if pipeline is not None:
        for run in pipeline.runs:
            rows.append(["pipeline", f"frames/s, {run.label} ({run.frames} frames)",
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
                             (f"{fmt_pct(row.score.exact_accuracy)} / {fmt_pct(row.score.char_accuracy)} / "
                              f"{row.timing.mean_ms:.1f} ms")])
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
    pace = commands.add_parser("pace", parents=[common], help="the pipeline at a Raspberry Pi's pace (modelled)")
    pace.add_argument("--device", nargs="+", choices=sorted(DEVICES), default=sorted(DEVICES),
                      help="device profiles to replay at (default: all)")
    pace.add_argument("--video", type=Path, default=DEMO_VIDEO,
                      help="video with its truth JSON next to it (default: the demo)")
    pace.add_argument("--scene", metavar="WxH", help="replay a generated scene of this size instead (synth.scenes)")
    pace.add_argument("--vehicles", type=_positive(int), default=12, help="vehicles in a generated scene (default 12)")
    pace.add_argument("--seed", type=int, default=0, help="seed of a generated scene (default 0)")
    pace.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                      help="override a setting, e.g. reader.retry_unsure=false (repeatable)")
    for sub in (pipeline, every):
        sub.add_argument("--video", type=Path, help="video file to replay (default: a generated 1280x720 25 fps clip)")
        sub.add_argument("--seconds", type=_positive(float), metavar="N",
                         help=f"replay only the first N seconds of video (generated clips: {GENERATED_SECONDS:g} s)")
    pipeline.add_argument("--threads", type=_positive(int), metavar="N",
                          help="detector threads (default: the config's detector.num_threads)")
    pipeline.add_argument("--against-mode", choices=get_args(StrategyMode), metavar="MODE",
                          help="one more run, motion gating on, with this detector.strategy.mode (e.g. whole), "
                          "and the ratio of frames/s")
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


def with_models(cfg: AppConfig, models: Path | None) -> AppConfig:
    """``cfg`` with the detector and reader taken from ``models`` when given."""
    cfg = cfg.model_copy(deep=True)
    if models is not None:
        cfg.detector.model_path = models / DETECTOR_MODEL_FILE
        cfg.reader.model_path = models / READER_MODEL_FILE
    return cfg


@dataclass
class Results:
    pipeline: PipelineReport | None = None
    detector: DetectorReport | None = None
    reader: ReaderReport | None = None
    pace: PaceReport | None = None


def main(argv: list[str] | None = None) -> int:
    memory_at_start = memory_now()  # before any model is loaded
    args = _parser().parse_args(argv)
    logging.getLogger("edge_alpr.pipeline").setLevel(logging.WARNING)  # per-plate lines would drown the figures
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
    if chosen == "pace":
        results.pace = _pace(args, cfg)
        show(format_pace(results.pace))
    if chosen in ("pipeline", "all"):
        threads = args.threads if chosen == "pipeline" else None  # `all` keeps the config's
        results.pipeline = bench_pipeline(cfg, args.video, args.seconds, threads, memory_at_start,
                                          getattr(args, "against_mode", None))
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


def _pace(args: argparse.Namespace, cfg: AppConfig) -> PaceReport:
    import tempfile

    from edge_alpr.synth.scenes import parse_size

    cfg = with_settings(cfg, args.settings)
    devices = [DEVICES[name] for name in args.device]
    # The report names the config file too: a figure measured with config/pi4.yaml is not a default one.
    settings = ((f"config {args.config}",) if args.config else ()) + tuple(args.settings)
    if args.scene is None:
        return bench_pace(cfg, args.video, devices, settings)
    with tempfile.TemporaryDirectory(prefix="edge-alpr-pace-") as tmp:
        video = generated_scene(Path(tmp), parse_size(args.scene), args.vehicles, args.seed)
        return bench_pace(cfg, video, devices, settings)


def results_json(results: Results, warning: str | None) -> dict:
    out: dict = {"warnings": [warning] if warning else []}
    if results.pace is not None:
        out["pace"] = {"video": results.pace.video, "settings": list(results.pace.settings), "runs": [
            {"device": r.label, "processed": r.replay.processed, "dropped": r.replay.dropped,
             "correct": r.correct, "vehicles": len(r.match.vehicles), "latencies_s": list(r.latencies_s),
             "inference_ms": r.inference_ms, "inferences": r.inferences} for r in results.pace.runs]}
    if results.pipeline is not None:
        out["pipeline"] = {**asdict(results.pipeline), "gating_speedup": results.pipeline.gating_speedup,
                           "speedup_against": results.pipeline.speedup_against,
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
