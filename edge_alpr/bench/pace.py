"""``edge-alpr bench pace``: the daemon's pipeline at a Raspberry Pi's pace, on this machine.

A live camera does not wait: while the Pi is busy with one frame the camera moves on, and the
daemon's ``LiveSource`` hands over only the newest frame when the loop comes back. This replays
a video that way on a simulated clock:

* camera frame ``i`` exists from ``i / fps`` seconds on;
* each time the loop is free it takes the newest frame that exists (or waits for the next one);
  the frames in between are dropped, as on a Pi that cannot keep up;
* processing a frame costs what the pipeline really spent on this machine, except that every
  TFLite inference (detector views, reader looks and second looks) is charged at the device's
  modelled time instead of this machine's: ``MACs per inference / (GMAC/s per core x threads)``.

The clock is simulated, not slept, so the figures do not depend on how busy this machine is,
and a long video replays as fast as the pipeline runs here. The per-core GMAC/s of each device
come from published YOLOv4-tiny frame rates on a Pi 4 and a Pi 5 (see ``DEVICES`` and
docs/figures.md); the MACs of our models come from their graphs (``bench.macs``). They are
estimates until measured on a Pi.

The same video also runs unpaced (every frame, as ``eval-video`` does) for the reference.
Reported: frames processed and dropped, per-vehicle plates right (against the video's truth
JSON) and the time from a vehicle's last frame in view to its event.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_alpr.config import AppConfig
from edge_alpr.errors import InputError
from edge_alpr.evaluation.events import EventMatch, match_events
from edge_alpr.pipeline import EmittedEvent, Pipeline
from edge_alpr.service import build_detector, build_reader
from edge_alpr.sources import VideoFileSource
from edge_alpr.types import Frame

if TYPE_CHECKING:  # the truth and scene modules need the test extra's Pillow; a Pi install has none
    from edge_alpr.synth.scenes import VideoTruth

#: YOLOv4-tiny at 416x416 with 80 classes: 3.45 G MACs (darknet's "6.9 BFLOPs"; our own
#: detector's graph scaled to that input and head gives the same).
_YOLOV4_TINY_416_MACS = 3.45e9


@dataclass(frozen=True)
class Device:
    name: str
    title: str
    cores: int
    gmacs_per_core: float  # sustained convolution throughput of one core, G MAC/s
    source: str


def _per_core(fps: float, measured_ghz: float, stock_ghz: float, cores: int = 4) -> float:
    """G MAC/s of one core at the stock clock, from a YOLOv4-tiny 416 frame rate on all cores
    at an overclock (convolution throughput scales with the clock)."""
    return _YOLOV4_TINY_416_MACS * fps / cores / 1e9 * stock_ghz / measured_ghz


DEVICES = {
    "pi4": Device("pi4", "Raspberry Pi 4 (4x Cortex-A72, 1.8 GHz)", 4, _per_core(3.4, 1.95, 1.8),
                  "Q-engineering, YoloV4-tiny 416 with ncnn on 4 cores: RPi 4 at 1950 MHz 3.4 FPS"),
    "pi5": Device("pi5", "Raspberry Pi 5 (4x Cortex-A76, 2.4 GHz)", 4, _per_core(17.5, 2.9, 2.4),
                  "Q-engineering, YoloV4-tiny 416 with ncnn on 4 cores: RPi 5 at 2900 MHz 17.5 FPS"),
}


def inference_seconds(macs: int, device: Device, threads: int) -> float:
    """Modelled time of one inference: convolutions split evenly over ``threads`` cores."""
    return macs / (device.gmacs_per_core * 1e9 * max(1, min(threads, device.cores)))


# --- charging the models ----------------------------------------------------------------------


@dataclass
class Charges:
    """Model time of the frame being processed: what this machine spent, and what the device would."""

    real_s: float = 0.0
    device_s: float = 0.0
    inferences: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.real_s = self.device_s = 0.0


class PacedModel:
    """Stands in for a ``runtime.TFLiteModel``: runs it, and charges each run at the device's time."""

    def __init__(self, model, name: str, seconds: float, charges: Charges) -> None:
        self._model = model
        self.name = name
        self.seconds = seconds
        self.charges = charges

    def __getattr__(self, attribute: str):  # input, outputs, backend, path: the real model's
        return getattr(self._model, attribute)

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        out = self._model.run(x)
        self.charges.real_s += time.perf_counter() - started
        self.charges.device_s += self.seconds
        self.charges.inferences[self.name] = self.charges.inferences.get(self.name, 0) + 1
        return out


# --- the simulated camera ---------------------------------------------------------------------


@dataclass(frozen=True)
class TimedEvent:
    event: EmittedEvent
    at_s: float  # camera seconds since the first frame, when the pipeline emitted it


@dataclass(frozen=True)
class Replay:
    frames_in_video: int
    processed: int
    dropped: int
    busy_s: float  # simulated time spent processing
    events: tuple[TimedEvent, ...]


def live_replay(frames: Iterator[np.ndarray], fps: float, process: Callable[[Frame], list],
                flush: Callable[[], list], charges: Charges | None,
                clock: Callable[[], float] = time.perf_counter) -> Replay:
    """Frames as a live camera delivers them to a loop that takes ``process``'s time per frame.

    ``charges`` None: every frame is processed (the unpaced reference); otherwise a frame costs
    its real time minus the real model time plus the device's model time.
    """
    now = 0.0
    index = -1  # the last frame taken from the iterator
    processed = dropped = 0
    busy = 0.0
    events: list[TimedEvent] = []
    image = None
    while True:
        newest = max(index + 1, math.floor(now * fps + 1e-9)) if charges is not None else index + 1
        while index < newest:  # decode up to the newest frame; the ones before it are dropped
            image = next(frames, None)
            if image is None:
                break
            index += 1
            if index < newest:
                dropped += 1
        if image is None or index < newest:
            break
        now = max(now, index / fps)
        frame = Frame(image=image, index=index, timestamp=now, wall_time=index / fps)
        if charges is not None:
            charges.reset()
        started = clock()
        emitted = process(frame)
        spent = clock() - started
        cost = spent if charges is None else max(0.0, spent - charges.real_s) + charges.device_s
        busy += cost
        now += cost
        processed += 1
        events += [TimedEvent(e, now) for e in emitted]
        image = None
    events += [TimedEvent(e, now) for e in flush()]
    return Replay(index + 1, processed, dropped, busy, tuple(events))


def video_frames(path: Path) -> tuple[Iterator[np.ndarray], float]:
    source = VideoFileSource(path, loop=False)

    def frames() -> Iterator[np.ndarray]:
        try:
            while (frame := source.read()) is not None:
                yield frame.image
        finally:
            source.close()

    return frames(), source.fps


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaceRun:
    label: str
    replay: Replay
    match: EventMatch
    latencies_s: tuple[float, ...]  # per vehicle read right: its event time - its last frame's time
    inference_ms: dict[str, float]  # modelled, per inference
    inferences: dict[str, int]

    @property
    def correct(self) -> int:
        return self.match.correct

    @property
    def accuracy(self) -> float:
        return self.match.correct / len(self.match.vehicles) if self.match.vehicles else 0.0


def score(replay: Replay, truth: VideoTruth) -> tuple[EventMatch, tuple[float, ...]]:
    """Match the events to the truth's vehicles; latency of each vehicle read right."""
    from edge_alpr.evaluation.video import EVENT_FRAME_SLACK, FrameClock

    clock = FrameClock(0.0, truth.fps)
    spans = [(t.event.event.plate, clock.frame_of_iso(t.event.event.first_seen),
              clock.frame_of_iso(t.event.event.last_seen)) for t in replay.events]
    match = match_events(spans, [(v.plate, v.first_frame, v.last_frame) for v in truth.vehicles], EVENT_FRAME_SLACK)
    latencies = []
    for vehicle in match.vehicles:
        if vehicle.status == "correct":
            first_right = min(e for e in vehicle.events if spans[e][0] == vehicle.plate)
            latencies.append(replay.events[first_right].at_s - vehicle.last_frame / truth.fps)
    return match, tuple(latencies)


def pace_models(cfg: AppConfig, detector, reader, device: Device, charges: Charges) -> dict[str, float]:
    """Charge every TFLite model of the detector and the reader at ``device``'s time per inference
    (the reader runs one model per crop shape, its ``recognizers``); returns ms per inference."""
    from edge_alpr.bench.macs import count_macs  # imported here: python -m edge_alpr.bench.macs runs it as __main__

    inference_ms: dict[str, float] = {}
    for name, stage, threads in (("detector", detector, cfg.detector.num_threads),
                                 ("reader", reader, cfg.reader.num_threads)):
        for holder in getattr(stage, "recognizers", (stage,)):
            model = getattr(holder, "model", None)
            if model is None:
                raise InputError(f"bench pace: the {name} has no TFLite model to pace (reader.backend must be 'edge')")
            seconds = inference_seconds(count_macs(model.path).total, device, threads)
            holder.model = PacedModel(model, name, seconds, charges)
            inference_ms[name] = max(inference_ms.get(name, 0.0), seconds * 1000)
    return inference_ms


def run_pace(cfg: AppConfig, video: Path, truth: VideoTruth, device: Device | None) -> PaceRun:
    """One replay of ``video``: at ``device``'s pace, or unpaced (every frame) when None."""
    detector, reader = build_detector(cfg), build_reader(cfg)
    charges = Charges()
    inference_ms = pace_models(cfg, detector, reader, device, charges) if device is not None else {}
    pipeline = Pipeline(cfg, detector, reader)
    frames, fps = video_frames(video)
    replay = live_replay(frames, fps, pipeline.process, pipeline.flush, charges if device is not None else None)
    match, latencies = score(replay, truth)
    return PaceRun(device.name if device else "unpaced", replay, match, latencies, inference_ms, dict(charges.inferences))


def truth_for(video: Path) -> VideoTruth:
    from edge_alpr.evaluation.video import load_truth

    path = video.with_suffix(".json")
    if not path.is_file():
        raise InputError(f"{video}: no truth file {path.name} next to it (bench pace scores against it)")
    return load_truth(path)


# --- the benchmark ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PaceReport:
    video: str
    size: tuple[int, int]
    fps: float
    vehicles: int
    settings: tuple[str, ...]
    runs: tuple[PaceRun, ...]  # unpaced first


def with_settings(cfg: AppConfig, settings: list[str]) -> AppConfig:
    """``cfg`` with ``KEY.PATH=VALUE`` overrides (values in YAML: ``false``, ``4``), validated again."""
    import yaml

    data = cfg.model_dump()
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. reader.retry_unsure=false")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise InputError(f"--set {item!r}: {part!r} is not a section of the config")
            node = node[part]
        if parts[-1] not in node:
            raise InputError(f"--set {item!r}: no setting {parts[-1]!r} in {'.'.join(parts[:-1]) or 'the config'}")
        node[parts[-1]] = yaml.safe_load(value)
    return AppConfig.model_validate(data)


def generated_scene(out_dir: Path, size: tuple[int, int], vehicles: int, seed: int) -> Path:
    """A generated roadside scene (``synth.scenes``) and its truth JSON next to it."""
    from edge_alpr.synth.scenes import make_video

    path = out_dir / f"scene_{size[0]}x{size[1]}_seed{seed}.mp4"
    make_video(path, seed=seed, n_vehicles=vehicles, size=size).save(path.with_suffix(".json"))
    return path


def bench_pace(cfg: AppConfig, video: Path, devices: list[Device], settings: tuple[str, ...] = ()) -> PaceReport:
    truth = truth_for(video)
    runs = [run_pace(cfg, video, truth, None)]
    runs += [run_pace(cfg, video, truth, device) for device in devices]
    return PaceReport(video.name, truth.size, truth.fps, len(truth.vehicles), settings, tuple(runs))


def _seconds(values: tuple[float, ...]) -> str:
    if not values:
        return "-"
    return f"{float(np.median(values)):.2f} / {max(values):.2f} s"


def format_pace(report: PaceReport) -> str:
    w, h = report.size
    lines = [
        "## Pace: the pipeline at a Raspberry Pi's pace (simulated live camera, newest frame only)",
        f"video: {report.video}, {w}x{h} at {report.fps:g} fps, {report.vehicles} vehicles; "
        f"settings: {', '.join(report.settings) or 'defaults'}",
        "",
    ]
    devices = {d.name: d for d in DEVICES.values()}
    headers = ["figure", *(r.label for r in report.runs)]
    rows = [
        ["frames processed / in the video", *(f"{r.replay.processed} / {r.replay.frames_in_video}" for r in report.runs)],
        ["frames dropped (camera ahead of the loop)", *(str(r.replay.dropped) for r in report.runs)],
        ["detector ms per inference (modelled)", *(_ms(r, "detector") for r in report.runs)],
        ["reader ms per inference (modelled)", *(_ms(r, "reader") for r in report.runs)],
        ["detector / reader inferences", *(_count(r) for r in report.runs)],
        ["vehicles read right", *(f"{r.correct} / {len(r.match.vehicles)} ({100 * r.accuracy:.1f} %)" for r in report.runs)],
        ["wrong text / missed", *(f"{r.match.wrong_text} / {r.match.missed}" for r in report.runs)],
        ["last frame -> event, median / max",
         *("- (not live)" if r.label == "unpaced" else _seconds(r.latencies_s) for r in report.runs)],
    ]
    from edge_alpr.bench.common import markdown_table

    lines.append(markdown_table(headers, rows))
    for run in report.runs[1:]:
        d = devices[run.label]
        lines.append(f"\n{run.label}: {d.title}, {d.gmacs_per_core:.2f} G MAC/s per core ({d.source})")
    return "\n".join(lines)


def _ms(run: PaceRun, stage: str) -> str:
    return f"{run.inference_ms[stage]:.0f}" if stage in run.inference_ms else "(this machine)"


def _count(run: PaceRun) -> str:
    if not run.inferences:
        return "-"
    return f"{run.inferences.get('detector', 0)} / {run.inferences.get('reader', 0)}"
