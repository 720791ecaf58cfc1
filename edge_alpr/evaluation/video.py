"""``edge-alpr eval-video``: the daemon's own pipeline on a video with a truth file.

    edge-alpr eval-video --video FILE.mp4 [--truth FILE.json] [--config FILE]
                         [--detector PATH] [--reader PATH | --reader-backend rapidocr]
                         [--grammar any] [--json] [--no-single-frame]

The video is read by the daemon's file source (every frame, in order, no loop) and each frame
goes through ``pipeline.Pipeline`` exactly as ``edge-alpr run`` would send it: motion gate,
detector, tracker, reading scheduler, voting, duplicate filter. No sink is built; the events
the pipeline emits are collected in memory and matched to the truth's vehicles
(``events.match_events``): each vehicle is read correctly, read wrongly or missed; events
matching no vehicle are false, second events for a vehicle duplicates.

For comparison the same detector and reader also read every frame on its own, through the
views a still image gets (``pipeline.with_strategy``: on big frames ``auto`` adds tiles, as
``edge-alpr detect`` does; the daemon's motion regions need the frames before): each truth
plate's frame is scored right only if a detection overlaps the plate (IoU >= 0.5) and its read
is exactly the plate. ``single_frame_accuracy`` is the mean over vehicles of the share of their
frames read right, i.e. the expected accuracy of reading one random frame per vehicle, and
``temporal_gain = per_vehicle_accuracy - single_frame_accuracy`` is what tracking and voting
add. A plate that was not detected counts as wrong on both sides.

The truth file is ``edge_alpr.synth.scenes.VideoTruth`` JSON, as written by
``python -m edge_alpr.synth.scenes`` and ``python -m edge_alpr.evaluation.videogen``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import get_args

import numpy as np

from edge_alpr.cli import run_subcommand
from edge_alpr.config import AppConfig
from edge_alpr.datasets.manifest import normalise_plate_text
from edge_alpr.errors import InputError
from edge_alpr.evaluation.events import EventMatch, VehicleStatus, match_events
from edge_alpr.evaluation.metrics import interval_text, latency_summary, match_boxes
from edge_alpr.evaluation.models import add_model_arguments, config_from_args, model_name
from edge_alpr.ocr import crop_plate
from edge_alpr.pipeline import Detector, EmittedEvent, Pipeline, Reader, with_strategy
from edge_alpr.service import build_detector, build_reader
from edge_alpr.sources import VideoFileSource
from edge_alpr.synth.scenes import VideoTruth

#: A detection must overlap the truth plate this much to count as finding it.
IOU_THRESHOLD = 0.5
#: An event is published a little after its plate was last seen; this many frames of slack.
EVENT_FRAME_SLACK = 5
#: The margin the daemon cuts around a box before reading it (``crop_plate``'s default).
CROP_MARGIN = 0.1


# --- single-frame reading -------------------------------------------------------------------


@dataclass(frozen=True)
class SingleFrameFigures:
    frames: int  # (vehicle, frame) pairs scored: every frame where a truth plate is fully visible
    frame_accuracy: float  # right reads over all those frames, pooled
    single_frame_accuracy: float  # mean over vehicles of their share of right frames
    middle_frame_accuracy: float  # share of vehicles whose middle truth frame was read right
    boxed_fraction: float = 0.0  # frames, pooled, where the detector boxed the plate (IoU_THRESHOLD)
    read_when_boxed: float = 0.0  # right reads over the frames where the plate was boxed


class SingleFrameScorer:
    """Tallies per-frame reads of each truth vehicle."""

    def __init__(self, truth: VideoTruth) -> None:
        self.truth = truth
        self._by_frame: dict[int, list[int]] = {}
        for v, vehicle in enumerate(truth.vehicles):
            for frame in vehicle.boxes:
                self._by_frame.setdefault(frame, []).append(v)
        self._right: list[dict[int, bool]] = [{} for _ in truth.vehicles]
        self._boxed: list[dict[int, bool]] = [{} for _ in truth.vehicles]

    def wanted(self, frame: int) -> tuple[list[int], np.ndarray]:
        """The vehicles with a truth box in ``frame`` and those boxes ([N, 4])."""
        vehicles = self._by_frame.get(frame, [])
        boxes = np.array([self.truth.vehicles[v].boxes[frame] for v in vehicles], dtype=np.float64).reshape(-1, 4)
        return vehicles, boxes

    def record(self, vehicle: int, frame: int, text: str | None, boxed: bool | None = None) -> None:
        """``text`` is what was read in ``frame`` for the vehicle's plate; None when not found.
        ``boxed`` says whether the detector found the plate (default: whether there is a text),
        so that a miss can be told apart as the detector's or the reader's."""
        truth = normalise_plate_text(self.truth.vehicles[vehicle].plate)
        self._right[vehicle][frame] = text is not None and normalise_plate_text(text) == truth
        self._boxed[vehicle][frame] = text is not None if boxed is None else boxed

    def figures(self) -> SingleFrameFigures:
        scored = [r for r in self._right if r]  # a vehicle never visible in full has no frames
        pooled = [ok for r in scored for ok in r.values()]
        boxed = [self._boxed[v][f] for v, r in enumerate(self._right) for f in r]
        right_when_boxed = [ok for v, r in enumerate(self._right) for f, ok in r.items() if self._boxed[v][f]]
        middles = []
        for r in scored:
            frames = sorted(r)
            middles.append(r[frames[len(frames) // 2]])
        return SingleFrameFigures(
            frames=len(pooled),
            frame_accuracy=float(np.mean(pooled)) if pooled else 0.0,
            # Averaged over all truth vehicles, so a vehicle without scored frames counts as 0.
            single_frame_accuracy=sum(float(np.mean(list(r.values()))) for r in scored) / max(1, len(self._right)),
            middle_frame_accuracy=sum(middles) / max(1, len(self._right)),
            boxed_fraction=float(np.mean(boxed)) if boxed else 0.0,
            read_when_boxed=float(np.mean(right_when_boxed)) if right_when_boxed else 0.0,
        )


def read_single_frame(image: np.ndarray, frame: int, detector: Detector, reader: Reader,
                      scorer: SingleFrameScorer) -> None:
    """Detect and read ``frame`` on its own and score every truth plate visible in it."""
    vehicles, truth_boxes = scorer.wanted(frame)
    if not vehicles:
        return
    found = detector.detect(image)
    match = match_boxes(found.boxes, found.scores, truth_boxes, IOU_THRESHOLD)
    texts: dict[int, str | None] = {g: None for g in range(len(vehicles))}
    for p, g in match.pairs:
        try:
            texts[int(g)] = reader.read(crop_plate(image, found.boxes[p], CROP_MARGIN)).text
        except ValueError:  # a degenerate box: nothing to read
            pass
    boxed = {int(g) for _, g in match.pairs}
    for g, vehicle in enumerate(vehicles):
        scorer.record(vehicle, frame, texts[g], boxed=g in boxed)


# --- the pipeline's events ------------------------------------------------------------------


class FrameClock:
    """Turns the file source's frame times back into frame numbers: a file's ``wall_time`` is
    its opening time plus the frame's position in the video, and events carry those times."""

    def __init__(self, first_wall_time: float, fps: float) -> None:
        self.first = first_wall_time
        self.fps = fps

    def frame(self, wall_time: float) -> int:
        return int(round((wall_time - self.first) * self.fps))

    def frame_of_iso(self, text: str) -> int:
        return self.frame(datetime.fromisoformat(text).timestamp())


@dataclass(frozen=True)
class ObservedEvent:
    plate: str
    confidence: float
    reads: int
    first_frame: int
    last_frame: int


@dataclass(frozen=True)
class VideoReport:
    video: str
    frames: int  # frames the source delivered
    truth_frames: int
    frames_detected: int  # frames the detector ran on (the rest skipped by motion or schedule)
    match: EventMatch
    events: tuple[ObservedEvent, ...]
    single_frame: SingleFrameFigures | None
    latency_ms: dict[str, float]  # per frame through Pipeline.process: mean, p50, p95
    layouts: tuple[str, ...]  # each truth vehicle's plate layout, in the order of match.vehicles

    @property
    def vehicles(self) -> int:
        return len(self.match.vehicles)

    @property
    def per_vehicle_accuracy(self) -> float:
        return self.match.correct / self.vehicles if self.vehicles else 0.0

    @property
    def temporal_gain(self) -> float | None:
        if self.single_frame is None:
            return None
        return self.per_vehicle_accuracy - self.single_frame.single_frame_accuracy

    def by_layout(self) -> dict[str, dict[str, int]]:
        """Per plate layout (one / two-line): vehicles and how many were correct, wrong or missed.
        Two-line plates (two-wheelers, autos, trucks) are read quite differently, so a video's one
        figure can hide a layout the daemon fails on."""
        out: dict[str, dict[str, int]] = {}
        for layout, vehicle in zip(self.layouts, self.match.vehicles):
            counts = out.setdefault(layout, {"vehicles": 0, **dict.fromkeys(get_args(VehicleStatus), 0)})
            counts["vehicles"] += 1
            counts[vehicle.status] += 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict:
        return {
            "video": self.video,
            "frames": self.frames,
            "truth_frames": self.truth_frames,
            "frames_detected": self.frames_detected,
            "vehicles": self.vehicles,
            "correct": self.match.correct,
            "wrong_text": self.match.wrong_text,
            "missed": self.match.missed,
            "false_events": len(self.match.false_events),
            "duplicate_events": len(self.match.duplicate_events),
            "per_vehicle_accuracy": self.per_vehicle_accuracy,
            "by_layout": self.by_layout(),
            "single_frame": None if self.single_frame is None else asdict(self.single_frame),
            "temporal_gain": self.temporal_gain,
            "latency_ms_per_frame": self.latency_ms,
            "per_vehicle": [
                {"plate": v.plate, "layout": layout, "first_frame": v.first_frame, "last_frame": v.last_frame, "status": v.status,
                 "events": [self.events[e].plate for e in v.events]}
                for layout, v in zip(self.layouts, self.match.vehicles)
            ],
            "events": [asdict(e) for e in self.events],
        }


def evaluate_video(video: Path, truth: VideoTruth, cfg: AppConfig, detector: Detector, reader: Reader, *,
                   single_frame: bool = True) -> VideoReport:
    """Run ``pipeline.Pipeline`` over every frame of ``video`` and score its events against ``truth``."""
    source = VideoFileSource(video, loop=False)
    pipeline = Pipeline(cfg, detector, reader)
    scorer = SingleFrameScorer(truth) if single_frame else None
    still_detector = with_strategy(detector, cfg)
    emitted: list[EmittedEvent] = []
    times: list[float] = []
    clock: FrameClock | None = None
    try:
        while (frame := source.read()) is not None:
            if clock is None:
                _check_size(frame.image, truth, video)
                clock = FrameClock(frame.wall_time, source.fps)
            started = time.perf_counter()
            emitted += pipeline.process(frame)
            times.append((time.perf_counter() - started) * 1000)
            if scorer is not None:
                read_single_frame(frame.image, clock.frame(frame.wall_time), still_detector, reader, scorer)
        emitted += pipeline.flush()  # the end of the file ends the open tracks, as the daemon does
    finally:
        source.close()
    if clock is None:
        raise InputError(f"{video}: no frame could be read")
    events = tuple(
        ObservedEvent(e.event.plate, float(e.event.confidence), e.event.reads,
                      clock.frame_of_iso(e.event.first_seen), clock.frame_of_iso(e.event.last_seen))
        for e in emitted
    )
    match = match_events([(e.plate, e.first_frame, e.last_frame) for e in events],
                         [(v.plate, v.first_frame, v.last_frame) for v in truth.vehicles], EVENT_FRAME_SLACK)
    return VideoReport(video.name, len(times), truth.frames, pipeline.counters.detected, match, events,
                       scorer.figures() if scorer is not None else None, latency_summary(times),
                       tuple(v.layout for v in truth.vehicles))


def _check_size(image: np.ndarray, truth: VideoTruth, video: Path) -> None:
    height, width = image.shape[:2]
    if (width, height) != truth.size:
        raise InputError(f"{video}: frames are {width}x{height} but the truth file says "
                         f"{truth.size[0]}x{truth.size[1]}: is it the truth of another video?")


def load_truth(path: Path) -> VideoTruth:
    if not path.is_file():
        raise InputError(f"{path}: truth file not found (write it with python -m edge_alpr.evaluation.videogen "
                         "or python -m edge_alpr.synth.scenes)")
    try:
        return VideoTruth.load(path)
    except ValueError as exc:
        raise InputError(str(exc)) from None


# --- output ---------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def format_report(report: VideoReport, header: str) -> str:
    m = report.match
    lines = [header, "",
             "the daemon's events, per vehicle",
             f"  {'correct':<30}{m.correct:>5}  {_pct(report.per_vehicle_accuracy)}  "
             f"(95 % interval {interval_text(m.correct, report.vehicles)})",
             f"  {'wrong text':<30}{m.wrong_text:>5}",
             f"  {'missed':<30}{m.missed:>5}",
             f"  {'false events':<30}{len(m.false_events):>5}",
             f"  {'duplicate events':<30}{len(m.duplicate_events):>5}"]
    for layout, c in report.by_layout().items():
        lines.append(f"  {layout + '-line plates':<30}{c['correct']:>5}  {_pct(c['correct'] / c['vehicles'])} of "
                     f"{c['vehicles']} vehicles ({c['wrong_text']} wrong text, {c['missed']} missed; "
                     f"95 % interval {interval_text(c['correct'], c['vehicles'])})")
    s = report.single_frame
    if s is not None:
        lines += ["", "single-frame reading (same models, no tracking or voting)",
                  f"  {'random frame per vehicle':<30}{_pct(s.single_frame_accuracy):>12}",
                  f"  {'middle frame per vehicle':<30}{_pct(s.middle_frame_accuracy):>12}",
                  f"  {'all frames pooled':<30}{_pct(s.frame_accuracy):>12}  ({s.frames} plate frames)",
                  f"  {'  plate boxed':<30}{_pct(s.boxed_fraction):>12}  (IoU >= {IOU_THRESHOLD})",
                  f"  {'  read right where boxed':<30}{_pct(s.read_when_boxed):>12}",
                  f"temporal gain: {100 * (report.temporal_gain or 0.0):+.1f} points"]
    lat = report.latency_ms
    lines += ["", f"latency per frame: mean {lat['mean']:.1f} ms, p95 {lat['p95']:.1f} ms "
              f"(detector ran on {report.frames_detected} of {report.frames} frames)", "",
              f"{'plate':<14}{'frames':<12}{'status':<12}events"]
    for v in m.vehicles:
        events = ", ".join(f"{report.events[e].plate} ({report.events[e].confidence:.2f}, {report.events[e].reads} reads)"
                           for e in v.events) or "-"
        lines.append(f"{v.plate:<14}{f'{v.first_frame}-{v.last_frame}':<12}{v.status:<12}{events}")
    for e in m.false_events:
        ev = report.events[e]
        lines.append(f"{'(none)':<14}{f'{ev.first_frame}-{ev.last_frame}':<12}{'false':<12}{ev.plate} ({ev.confidence:.2f})")
    if report.frames != report.truth_frames:
        lines += ["", f"warning: the video gave {report.frames} frames, the truth file expects {report.truth_frames}"]
    return "\n".join(lines)


# --- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-alpr eval-video",
        description="Run the daemon's pipeline on a video and score its plate events against a truth file, "
        "next to what reading single frames would have scored.")
    parser.add_argument("--video", required=True, type=Path, metavar="FILE", help="the video to run")
    parser.add_argument("--truth", type=Path, metavar="FILE",
                        help="its truth JSON (default: the video's name with .json)")
    add_model_arguments(parser)  # the config's source is ignored: the video is the source
    parser.add_argument("--no-single-frame", action="store_true",
                        help="skip the single-frame comparison (halves the run time)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_subcommand(_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    truth = load_truth(args.truth or args.video.with_suffix(".json"))
    cfg = config_from_args(args)
    # Vehicle crops are only kept for the crop sink, which is not used here.
    cfg.outputs.crops.enabled = False
    detector, reader = build_detector(cfg), build_reader(cfg)
    report = evaluate_video(args.video, truth, cfg, detector, reader, single_frame=not args.no_single_frame)
    if args.json:
        out = report.to_json()
        out.update(grammar=cfg.reader.grammar, models={"detector": dict(detector.model_info),
                                                       "reader": dict(reader.model_info)})
        print(json.dumps(out, indent=1))
    else:
        header = (f"edge-alpr eval-video: {args.video}, {report.frames} frames, {report.vehicles} vehicles\n"
                  f"detector {model_name(detector.model_info)}, reader {model_name(reader.model_info)}, "
                  f"grammar {cfg.reader.grammar}")
        print(format_report(report, header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
