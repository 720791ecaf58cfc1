"""Which detector strategy to use for which frame size: whole frame, roi crop, tiles, two scales.

    python -m edge_alpr.bench.strategies [--model models/plate_detector_int8.tflite] [--datasets ../shared/datasets] [--threads 2]

Runs every strategy on the same frames in one go:

* the detector's validation photos (the fixed split of ``training/detector_data.is_val``) at
  their own size, grouped by long side (<= 640, <= 1280, larger);
* large frames, 1920x1080 and 1150x1750 portrait, made from them: a validation photo scaled so
  its widest plate is 1-6 % of the frame width (``--plate-width``), pasted so that plate lies in
  a fixed road region (the frame's roi), over a blurred, enlarged copy of another validation
  photo whose plates were painted out first. Plates centred outside the roi count for nothing;
* generated roadside clips (``strategies_video``), 1080p and 4K, with traffic and with an empty
  road, every frame through the daemon's pipeline (motion gate, motion regions, tracker), so
  ``motion`` and ``auto`` run as in the daemon; for each clip a line sets auto against the
  tiles (recall, detector time) and the whole frame (detector time).

For each frame size and strategy it prints the ms per frame, the detector runs per frame, the
mean IoU of the plates found (how tight the boxes are), and recall/precision at IoU 0.5 by
plate width relative to the frame width (<3 %, 3-6 %, >6 %) and by layout (box w/h < 2.2 is a
two-line plate); then the default it recommends for each frame size and why. Timings are of
this machine; pass ``--device-slowdown`` (target ms / ms here for one detector run, e.g. from
``edge-alpr bench`` on the Pi) to judge real time on the target.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_alpr.bench.strategy_frames import LAYOUTS, PLATE_WIDTH_RANGE, BenchFrame, large_frames, photo_frames, validation_photos
from edge_alpr.config.strategy import StrategyConfig
from edge_alpr.errors import EdgeAlprError
from edge_alpr.evaluation.metrics import latency_summary, match_boxes
from edge_alpr.tiling import MultiViewDetector, ViewDetector
from edge_alpr.training.detector_data import DETECTOR_SETS

REPO_ROOT = Path(__file__).resolve().parents[2]

IOU_THRESHOLD = 0.5
TWO_LINE_ASPECT = 2.2  # box w/h below this is a two-line (square-ish) plate
SIZE_BUCKETS = ("<3%", "3-6%", ">6%")
LAYOUT_BUCKETS = ("one", "two")
RECALL_TIE = 0.01  # strategies this close in recall are equally good: the cheaper one wins

#: The strategies compared, by name. Those needing a roi run only on frames that have one.
STRATEGIES: dict[str, StrategyConfig] = {
    "whole": StrategyConfig(mode="whole"),
    "tiles640": StrategyConfig(mode="tiles", tile_size=640, tile_overlap=0.25),
    "two_scale640": StrategyConfig(mode="two_scale", far="tiles", tile_size=640, tile_overlap=0.25, merge="wbf"),
    "two_scale640_nms": StrategyConfig(mode="two_scale", far="tiles", tile_size=640, tile_overlap=0.25, merge="nms"),
    "two_scale960": StrategyConfig(mode="two_scale", far="tiles", tile_size=960, tile_overlap=0.25, merge="wbf"),
    # The default, as on a still image: whole on small frames, else whole + tiles for the plates
    # the whole frame is too coarse for (detector.min_plate_width_px at its default, 32).
    "auto": StrategyConfig(mode="auto"),
}
#: Strategies that need a site's roi; ``roi`` is filled in per frame.
ROI_STRATEGIES: dict[str, StrategyConfig] = {
    "roi": StrategyConfig(mode="roi", roi=[(0, 0), (1, 1)]),
    "two_scale_roi": StrategyConfig(mode="two_scale", far="roi", roi=[(0, 0), (1, 1)]),
    "two_scale640_in_roi": StrategyConfig(mode="two_scale", far="tiles", tile_size=640, roi=[(0, 0), (1, 1)]),
}
#: Defaults must work without a site's roi, so only these are candidates.
DEFAULT_CANDIDATES = tuple(STRATEGIES)


# --------------------------------------------------------------------------- scoring


def plate_buckets(box: np.ndarray, frame_width: int) -> tuple[str, str]:
    """(width bucket, layout bucket) of a plate box."""
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    relative = w / frame_width
    size = "<3%" if relative < 0.03 else ("3-6%" if relative <= 0.06 else ">6%")
    return size, ("two" if w / max(h, 1e-6) < TWO_LINE_ASPECT else "one")


@dataclass
class Tally:
    """One strategy's results on one frame size."""

    ms: list[float] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    tp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    ious: list[float] = field(default_factory=list)  # of every hit: how tight the boxes are

    def add(self, frame: BenchFrame, boxes: np.ndarray, scores: np.ndarray, ms: float, runs: int) -> None:
        self.add_frame(frame.image.shape[1], frame.boxes, frame.ignore, boxes, scores, ms, runs)

    def add_frame(self, width: int, truth: np.ndarray, ignore: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                  ms: float, runs: int) -> None:
        """One frame of ``width`` px: its ``truth`` boxes (``ignore``: count for nothing) and what
        the strategy found there in ``ms`` with ``runs`` detector runs."""
        self.ms.append(ms)
        self.runs.append(runs)
        match = match_boxes(boxes, scores, truth, IOU_THRESHOLD, ignore)
        for (_, g), iou in zip(match.pairs, match.ious):
            if not ignore[g]:
                self.ious.append(float(iou))
                for bucket in ("all", *plate_buckets(truth[g], width)):
                    self.tp[bucket] += 1
        for g in match.unmatched_gts:
            if not ignore[g]:
                for bucket in ("all", *plate_buckets(truth[g], width)):
                    self.fn[bucket] += 1
        for p in match.unmatched_preds:
            for bucket in ("all", *plate_buckets(boxes[p], width)):
                self.fp[bucket] += 1

    def recall(self, bucket: str = "all") -> float | None:
        found, total = self.tp[bucket], self.tp[bucket] + self.fn[bucket]
        return found / total if total else None

    def precision(self, bucket: str = "all") -> float | None:
        made = self.tp[bucket] + self.fp[bucket]
        return self.tp[bucket] / made if made else None

    def mean_ms(self) -> float:
        return latency_summary(self.ms)["mean"]


def run_strategies(detector: ViewDetector, frames: Iterator[BenchFrame]) -> dict[str, dict[str, Tally]]:
    """Every applicable strategy on every frame: ``{group: {strategy: Tally}}``."""
    results: dict[str, dict[str, Tally]] = {}
    plain = {name: MultiViewDetector(detector, cfg) for name, cfg in STRATEGIES.items()}
    for frame in frames:
        runners = dict(plain)
        if frame.roi is not None:
            runners.update({name: MultiViewDetector(detector, cfg.model_copy(update={"roi": frame.roi}))
                            for name, cfg in ROI_STRATEGIES.items()})
        tallies = results.setdefault(frame.group, {})
        for name, runner in runners.items():
            started = time.perf_counter()
            found = runner.detect(frame.image)
            ms = (time.perf_counter() - started) * 1000.0
            tallies.setdefault(name, Tally()).add(frame, found.boxes, found.scores, ms, len(runner.last_timings))
    return results


# --------------------------------------------------------------------------- report


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def print_group(group: str, tallies: dict[str, Tally]) -> None:
    any_tally = next(iter(tallies.values()))
    plates = {b: any_tally.tp[b] + any_tally.fn[b] for b in ("all", *SIZE_BUCKETS, *LAYOUT_BUCKETS)}
    print(f"\n== {group}: {len(any_tally.ms)} frames, {plates['all']} plates "
          f"({', '.join(f'{b} {plates[b]}' for b in (*SIZE_BUCKETS, *LAYOUT_BUCKETS))})")
    buckets = ("all", *SIZE_BUCKETS, *LAYOUT_BUCKETS)
    header = " ".join(f"{'R/P ' + b:>11}" for b in buckets)
    print(f"{'strategy':<20} {'runs':>4} {'ms mean':>8} {'ms p95':>7} {'IoU':>5} {header}")
    for name, tally in tallies.items():
        lat = latency_summary(tally.ms)
        cells = " ".join(f"{_fmt(tally.recall(b))}/{_fmt(tally.precision(b))}" for b in buckets)
        iou = _fmt(float(np.mean(tally.ious)) if tally.ious else None)
        print(f"{name:<20} {np.mean(tally.runs):4.1f} {lat['mean']:8.1f} {lat['p95']:7.1f} {iou} {cells}")


def choose_default(
    tallies: dict[str, Tally], budget_ms: float, slowdown: float, min_precision: float
) -> tuple[str, str]:
    """(strategy, reason): the roi-free strategy with the best recall among those whose precision
    is at least ``min_precision``, the one with the fewest detector runs when within
    ``RECALL_TIE``; the reason says whether it keeps up at the target detection rate.

    Recall first because a missed plate is a lost event, while a false box mostly costs a reader
    run: the tracker's min_hits drops one-frame boxes and the reader's grammar rejects non-plates.
    """
    candidates = {n: t for n, t in tallies.items() if n in DEFAULT_CANDIDATES}
    precise = {n: t for n, t in candidates.items() if (t.precision() or 0.0) >= min_precision} or candidates
    best_recall = max(t.recall() or 0.0 for t in precise.values())
    order = list(DEFAULT_CANDIDATES)
    name = min((n for n, t in precise.items() if (t.recall() or 0.0) >= best_recall - RECALL_TIE),
               key=lambda n: (np.mean(precise[n].runs), order.index(n)))
    chosen, whole = candidates[name], candidates["whole"]
    target_ms = chosen.mean_ms() * slowdown
    reason = (f"recall {_fmt(chosen.recall()).strip()} (whole {_fmt(whole.recall()).strip()}), "
              f"<3% {_fmt(chosen.recall('<3%')).strip()} (whole {_fmt(whole.recall('<3%')).strip()}), "
              f"precision {_fmt(chosen.precision()).strip()} (whole {_fmt(whole.precision()).strip()}); "
              f"{np.mean(chosen.runs):.1f} detector runs, {target_ms:.0f} ms per detected frame on the target")
    if target_ms <= budget_ms:
        return name, reason + f", within the {budget_ms:.0f} ms budget on every frame"
    every_n = math.ceil(target_ms / budget_ms)
    reason += (f": real time only if motion gating and detect_every_n_frames leave at most "
               f"{budget_ms / target_ms:.0%} of frames to the detector (e.g. detect_every_n_frames >= {every_n})")
    affordable = [n for n, t in precise.items() if t.mean_ms() * slowdown <= budget_ms]
    if affordable:
        fallback = max(affordable, key=lambda n: precise[n].recall() or 0.0)
        reason += f"; within budget on every frame: {fallback} (recall {_fmt(precise[fallback].recall()).strip()})"
    return name, reason


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "plate_detector_int8.tflite")
    parser.add_argument("--datasets", type=Path, default=REPO_ROOT.parent / "shared" / "datasets")
    parser.add_argument("--threads", type=int, default=2, help="detector CPU threads")
    parser.add_argument("--synthetic", type=int, default=100, help="large frames per layout (default 100)")
    parser.add_argument("--plate-width", type=float, nargs=2, default=PLATE_WIDTH_RANGE, metavar=("MIN", "MAX"),
                        help="range of the pasted plate's width in the large frames, as fractions of the frame "
                        "width (default 0.01 0.06: far plates; up to 0.15 adds near ones)")
    parser.add_argument("--limit", type=int, default=None, help="use at most this many validation photos (quick runs)")
    parser.add_argument("--detect-fps", type=float, default=5.0,
                        help="detected frames per second the target must sustain (default 5: a plate crossing "
                        "the view in a second is still detected ~5 times)")
    parser.add_argument("--device-slowdown", type=float, default=1.0,
                        help="target device ms / this machine's ms for one detector run "
                        "(default 1: judge on this machine)")
    parser.add_argument("--min-precision", type=float, default=0.5,
                        help="a default must keep at least this precision (default 0.5: at most one false box "
                        "per plate found; the tracker and the reader's grammar filter most of them)")
    parser.add_argument("--clips", choices=("all", "1080p", "none"), default="all",
                        help="generated clips run through the daemon's pipeline (motion regions): all (1080p and "
                        "4K, traffic and an empty road; ~15 min here), 1080p only, or none")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run_video(detector: ViewDetector, which: str) -> dict[str, dict[str, Tally]]:
    """The generated clips ``which`` asks for, through the daemon's pipeline per strategy."""
    from edge_alpr.bench.strategies_video import CLIPS, run_clips

    clips = [c for c in CLIPS if which == "all" or (which == "1080p" and c.size[1] == 1080)]
    if not clips:
        return {}
    with tempfile.TemporaryDirectory(prefix="edge-alpr-strategies-") as tmp:
        return run_clips(detector, clips, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from edge_alpr.bench.strategies_video import auto_against_the_rest
    from edge_alpr.detector import PlateDetector

    has_photos = any((args.datasets / name / "manifest.jsonl").is_file() for name in DETECTOR_SETS)
    if not has_photos:
        print(f"no detector datasets under {args.datasets} (expected {', '.join(DETECTOR_SETS)}): clips only")
    try:
        detector = PlateDetector(args.model, num_threads=args.threads)
        load = os.getloadavg()[0]
        print(f"model {args.model} ({detector.model_info['version']}, input {detector.input_size} px), "
              f"{args.threads} threads, load average {load:.1f} on {os.cpu_count()} CPUs"
              + (" (busy machine: timings are inflated)" if load > 0.5 * (os.cpu_count() or 1) else ""))
        photos = validation_photos(args.datasets)[: args.limit] if has_photos else []
        large = (large_frames(photos, layout, args.synthetic, args.seed, tuple(args.plate_width))
                 for layout in (LAYOUTS if photos else ()))
        results = run_strategies(detector, itertools.chain(photo_frames(photos), *large))
        clip_results = run_video(detector, args.clips)
    except EdgeAlprError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    if not results and not clip_results:
        print("nothing to run: no validation photos and --clips none")
        return 0
    for group, tallies in results.items():
        print_group(group, tallies)
    for group, tallies in clip_results.items():
        print_group(group, tallies)
        print(f"  {auto_against_the_rest(tallies)}")
    budget_ms = 1000.0 / args.detect_fps
    if results:
        print(f"\nRecommended default per frame size (budget {budget_ms:.0f} ms per detected frame at "
              f"{args.detect_fps:g} detections/s, target = this machine x {args.device_slowdown:g}):")
    for group, tallies in results.items():
        name, reason = choose_default(tallies, budget_ms, args.device_slowdown, args.min_precision)
        print(f"  {group}: {name} - {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
