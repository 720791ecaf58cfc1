"""The daemon: a camera's frames through the pipeline, its events to the sinks, until stopped.

``run_service`` owns the loop around ``pipeline.Pipeline`` (the per-frame work): opening
models, camera and sinks, systemd notifications, the periodic status, signals and the final
flush. Nothing that goes wrong with one frame stops the loop: it is logged with the frame
number and counted in the status.
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from edge_alpr.config import AppConfig, redacted_dump
from edge_alpr.errors import EdgeAlprError, ModelError
from edge_alpr.gate import Gate, build_gate
from edge_alpr.pipeline import Detector, EmittedEvent, Pipeline, Reader
from edge_alpr.sources import FrameSource, open_source
from edge_alpr.types import Frame, PlateEvent
from edge_alpr.watchlist import Watchlists

log = logging.getLogger(__name__)

# The watchdog is pinged at most this often; WatchdogSec in the unit is 30 s.
_WATCHDOG_PING_S = 1.0
_CPU_TEMP = Path("/sys/class/thermal/thermal_zone0/temp")


class Sinks(Protocol):
    def publish(self, event: PlateEvent, plate_crop: np.ndarray | None = None,
                vehicle_crop: np.ndarray | None = None) -> PlateEvent: ...

    def publish_status(self, status: dict) -> None: ...

    def close(self, timeout_s: float = 3.0) -> None: ...


def cpu_temperature_c(path: Path = _CPU_TEMP) -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Pi throttles at 80-85 °C)."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


class StatusReport:
    """Builds the periodic status: rates since the last report, latencies, counters."""

    def __init__(self, camera_id: str, pipeline: Pipeline, source: FrameSource, models: dict[str, dict]) -> None:
        self.camera_id = camera_id
        self.pipeline = pipeline
        self.source = source
        self.models = models
        self.started = time.monotonic()
        self._mark = (self.started, 0, 0)

    def build(self, state: str = "running") -> dict:
        now = time.monotonic()
        counters = self.pipeline.counters
        source_stats = self.source.stats()
        then, frames_then, detected_then = self._mark
        elapsed = max(now - then, 1e-6)
        self._mark = (now, counters.frames, counters.detected)
        return {
            "camera_id": self.camera_id,
            "state": state,
            "source": self.source.describe(),
            "uptime_s": round(now - self.started, 1),
            "fps_in": round((counters.frames - frames_then) / elapsed, 2),
            "fps_processed": round((counters.detected - detected_then) / elapsed, 2),
            "frames_in": counters.frames,
            "frames_processed": counters.detected,
            "frames_skipped_by_motion": counters.skipped_by_motion,
            "frames_dropped": source_stats.dropped,
            "frames_corrupt": source_stats.corrupt,
            "source_outages": source_stats.outages,
            "queue_depth": source_stats.queue_depth,
            "active_tracks": self.pipeline.active_tracks(),
            "reads": counters.reads,
            "events": counters.events,
            "duplicates_suppressed": counters.duplicates_suppressed,
            "tracks_without_plate": counters.tracks_without_plate,
            # Ended tracks since the start: approaching / receding, and in / out of the counting line.
            "passes": dict(counters.passes),
            "errors": dict(self.pipeline.errors.counts),
            "latency_ms": self.pipeline.latency.summary_ms(),
            "cpu_temp_c": cpu_temperature_c(),
            "models": self.models,
        }


class Notifier:
    """systemd's sd_notify: READY, WATCHDOG, STATUS, STOPPING. Silent outside systemd."""

    def __init__(self) -> None:
        from edge_alpr.notify import SystemdNotifier

        self._notifier = SystemdNotifier()
        # Ping at least twice per WatchdogSec, and at most once a second.
        self._ping_s = min(_WATCHDOG_PING_S, self._notifier.watchdog_interval_s() or _WATCHDOG_PING_S)
        self._last_ping = -float("inf")

    def send(self, message: str) -> None:
        self._notifier.notify(message)

    def watchdog(self) -> None:
        now = time.monotonic()
        if now - self._last_ping >= self._ping_s:
            self._notifier.watchdog()
            self._last_ping = now


class EventOutputs:
    """What each event goes through before and besides the sinks: watchlists and the gate,
    the --events-jsonl file and the terminal."""

    def __init__(self, sinks: Sinks, events_jsonl: Path | None, print_events: bool, out: TextIO,
                 watchlists: Watchlists | None = None, gate: Gate | None = None) -> None:
        self.sinks = sinks
        self.out = out
        self.print_events = print_events
        self.watchlists = watchlists
        self.gate = gate
        self._jsonl: TextIO | None = None
        if events_jsonl is not None:
            try:
                events_jsonl.parent.mkdir(parents=True, exist_ok=True)
                self._jsonl = events_jsonl.open("a", encoding="utf-8")
            except OSError as error:
                raise EdgeAlprError(f"{events_jsonl}: cannot write the events file: {error.strerror}") from None

    def publish(self, emitted: EmittedEvent) -> None:
        event = emitted.event
        if self.watchlists is not None:
            event = self.watchlists.annotate(event)
        # The gate before the sinks: a resident should not wait for the plate log's fsync.
        gate = self.gate.consider(event) if self.gate is not None else None
        event = self.sinks.publish(event, emitted.plate_crop, emitted.vehicle_crop) or event
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
            self._jsonl.flush()
        if self.print_events:
            print(f"{event.last_seen}  {event.camera_id}  {event.plate:<12} {event.confidence:.2f}"
                  f"{_access_text(event, gate)}", file=self.out, flush=True)
        log.info("plate %s (%.2f, %d reads, track %d) event %s", event.plate, event.confidence, event.reads,
                 event.track_id, event.event_id)

    def poll(self) -> None:
        if self.watchlists is not None:
            self.watchlists.poll()

    def health(self) -> dict:
        return {**(self.watchlists.health() if self.watchlists is not None else {}),
                **(self.gate.health() if self.gate is not None else {})}

    def close(self) -> None:
        if self.gate is not None:
            self.gate.close()
        if self._jsonl is not None:
            self._jsonl.close()


def _access_text(event: PlateEvent, gate: str | None) -> str:
    """The terminal's note on watchlist matches and the gate, e.g. '  ALERT stolen (Wanted) d=0.5'."""
    parts = [f"{'ALERT' if m.kind == 'alert' else 'allow'} {m.list_name}" + (f" ({m.label})" if m.label else "")
             + (f" as {m.plate} d={m.distance:g}" if m.plate != event.plate else "") for m in event.watchlist]
    if gate not in (None, "no_match"):
        parts.append({"opened": "GATE OPENED", "unsure": "gate stays shut: unsure read",
                      "cooldown": "gate already opened (cooldown)"}[gate])
    return "".join(f"  {part}" for part in parts)


def make_gate(cfg: AppConfig, sinks: Sinks) -> Gate | None:
    """The configured gate, its openings written to the plate log, its MQTT commands via the sink."""
    if not cfg.gate.enabled:
        return None
    plate_log = getattr(sinks, "plate_log", None)
    return build_gate(cfg.gate, cfg.camera_id, topic_prefix=cfg.outputs.mqtt.topic_prefix,
                      publisher=getattr(sinks, "mqtt", None),
                      record=None if plate_log is None else lambda opening: plate_log.append_line(opening.log_line()))


def build_detector(cfg: AppConfig, score_floor: float | None = None) -> Detector:
    """The configured detector. With ``score_floor`` it also returns boxes scoring from the floor up
    to its operating threshold (``detector_threshold``), for whoever judges them itself: the
    evaluation's precision-recall curve, a still's boxes a sure read confirms."""
    from edge_alpr.detector import PlateDetector

    path = cfg.detector.resolved_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: detector model not found (set detector.model_path or $EDGE_ALPR_MODELS)")
    d = cfg.detector
    detector = PlateDetector(path, num_threads=d.num_threads, score_threshold=d.score_threshold,
                             iou_threshold=d.iou_threshold)
    if score_floor is not None:
        detector.score_threshold = min(detector.score_threshold, score_floor)
    return detector


def detector_threshold(cfg: AppConfig) -> float:
    """The score from which the daemon takes a box as a plate: the config's, else the model card's."""
    from edge_alpr.runtime import load_model_card

    if cfg.detector.score_threshold is not None:
        return cfg.detector.score_threshold
    path = cfg.detector.resolved_model_path()
    try:
        return float(load_model_card(path)["score_threshold"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path}: its model card has no usable score_threshold") from None


def build_reader(cfg: AppConfig) -> Reader:
    from edge_alpr.ocr import make_reader

    r = cfg.reader
    path = r.resolved_model_path() if r.backend == "edge" else None
    if path is not None and not path.is_file():
        raise ModelError(f"{path}: reader model not found (set reader.model_path or $EDGE_ALPR_MODELS; "
                         "eval commands also take --reader)")
    square = r.resolved_square_model_path()
    if square is not None and not square.is_file():
        raise ModelError(f"{square}: reader.square_model_path not found (or set reader.square_model: false)")
    return make_reader(r.backend, path, num_threads=r.num_threads, grammar=r.grammar, min_confidence=r.min_confidence,
                       retry_unsure=r.retry_unsure, square_model_path=square)


def run_service(
    cfg: AppConfig,
    *,
    events_jsonl: Path | None = None,
    stop_event: threading.Event | None = None,
    print_events: bool | None = None,
    detector: Detector | None = None,
    reader: Reader | None = None,
    source: FrameSource | None = None,
    sinks: Sinks | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the daemon until the source ends or ``stop_event`` is set (SIGTERM/SIGINT set it).

    Models, source and sinks are built from ``cfg`` unless given (tests pass fakes). Returns
    the exit code: 0 after a clean stop or the end of a file.
    """
    stop = stop_event or threading.Event()
    out = out or sys.stdout
    notifier = Notifier()
    log.debug("config: %s", json.dumps(redacted_dump(cfg), sort_keys=True))
    # The source first: a mistyped path or URL is reported before seconds of model loading.
    source = source or open_source(cfg.source)
    try:
        notifier.send("STATUS=loading models")
        detector = detector or build_detector(cfg)
        reader = reader or build_reader(cfg)
        if sinks is None:
            from edge_alpr.sinks import build_sinks

            sinks = build_sinks(cfg.outputs, cfg.camera_id)
    except BaseException:
        source.close()
        raise
    try:
        watchlists = Watchlists(cfg.watchlists, cfg.camera_id)
        outputs = EventOutputs(sinks, events_jsonl, out.isatty() if print_events is None else print_events, out,
                               watchlists, make_gate(cfg, sinks))
    except BaseException:
        sinks.close(1.0)
        source.close()
        raise
    pipeline = Pipeline(cfg, detector, reader)
    status = StatusReport(cfg.camera_id, pipeline, source,
                          {"detector": dict(detector.model_info), "reader": dict(reader.model_info)})
    with _stop_on_signals(stop):
        notifier.send("READY=1")
        notifier.send(f"STATUS=running: {source.describe()}")
        log.info("running: %s -> camera %s", source.describe(), cfg.camera_id)
        try:
            _loop(cfg, source, pipeline, outputs, status, notifier, stop)
        finally:
            _shut_down(source, pipeline, outputs, status, notifier)
    return 0


def _loop(cfg: AppConfig, source: FrameSource, pipeline: Pipeline, outputs: EventOutputs, status: StatusReport,
          notifier: Notifier, stop: threading.Event) -> None:
    next_status = time.monotonic() + cfg.status_interval_s
    while not stop.is_set():
        notifier.watchdog()  # only this loop pings: a hung loop gets the service restarted
        frame = source.read()
        if frame is None:
            if source.finished:
                log.info("%s ended", source.describe())
                return
        else:
            for emitted in _process(pipeline, frame):
                _publish(outputs, emitted, pipeline, frame.index)
        outputs.poll()
        if time.monotonic() >= next_status:
            next_status = time.monotonic() + cfg.status_interval_s
            _send_status(outputs, status, notifier)


def _process(pipeline: Pipeline, frame: Frame) -> list[EmittedEvent]:
    """The stages catch their own failures; this is the last guard, for a bug between them."""
    try:
        return pipeline.process(frame)
    except Exception as error:
        pipeline.errors.report("pipeline", frame.index, error)
        return []


def _publish(outputs: EventOutputs, emitted: EmittedEvent, pipeline: Pipeline, frame_index: int) -> None:
    started = time.perf_counter()
    try:
        outputs.publish(emitted)
    except Exception as error:  # a sink bug loses (at most) this event's outputs, not the loop
        pipeline.errors.report("publish", frame_index, error)
    pipeline.latency.add("publish", time.perf_counter() - started)


def _send_status(outputs: EventOutputs, status: StatusReport, notifier: Notifier, state: str = "running") -> None:
    report = {**status.build(state), **outputs.health()}
    notifier.send(f"STATUS={state}: {report['fps_in']} fps in, {report['fps_processed']} processed, "
                  f"{report['events']} plates, {report['active_tracks']} tracks")
    try:
        outputs.sinks.publish_status(report)
    except Exception:
        log.exception("publishing the status failed")


def _shut_down(source: FrameSource, pipeline: Pipeline, outputs: EventOutputs, status: StatusReport,
               notifier: Notifier) -> None:
    """Report the open tracks, stop the sinks; bounded so systemd's stop timeout is never hit."""
    notifier.send("STOPPING=1")
    for emitted in pipeline.flush():
        _publish(outputs, emitted, pipeline, -1)
    _send_status(outputs, status, notifier, state="stopped")
    source.close()
    try:
        outputs.sinks.close(3.0)
    finally:
        outputs.close()
    log.info("stopped: %d plates reported, %d frames", pipeline.counters.events, pipeline.counters.frames)


class _stop_on_signals:
    """SIGTERM and SIGINT set the stop event (in the main thread; elsewhere nothing changes)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, _frame: object) -> None:
        log.info("%s received: finishing open tracks and stopping", signal.Signals(signum).name)
        self.stop.set()

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
