"""The per-frame pipeline: frames in, confirmed plate events out.

    frame -> motion gate -> detector (ROI, size filter) -> tracker -> reading scheduler
          -> vote when a track ends (or early) -> duplicate filter -> PlateEvent

``Pipeline`` knows nothing of cameras, threads, signals, sinks or the network: frames go in
through ``process``, events with their crops come out, and the caller decides where they go
(``service.run_service`` for the daemon, ``eval-video`` and ``bench pipeline`` for figures).
Its one write is the optional review folder (``review.enabled``), where the best crop of a
track without a sure plate is kept for a person to label. A stage that fails on one frame is
logged with the frame number and counted in ``Pipeline.errors``; it never stops the caller.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from edge_alpr import colour
from edge_alpr.config import AppConfig
from edge_alpr.direction import CountingLine
from edge_alpr.motion import MotionGate, RegionOfInterest
from edge_alpr.ocr import crop_plate
from edge_alpr.regions import plan_regions
from edge_alpr.stage_stats import ErrorCounter, LatencyWindow
from edge_alpr.tiling import MultiViewDetector, Rect
from edge_alpr.track_reads import KeptRead, TrackState, crop_quality, vehicle_crop
from edge_alpr.tracker import Tracker
from edge_alpr.types import Candidate, Detections, Frame, PlateEvent, PlateRead, TrackRead
from edge_alpr.voting import RecentPlates, VoteResult, vote

log = logging.getLogger(__name__)

# A confirmed track whose box moves less than this per frame is a parked vehicle: it gets no
# motion region of its own, so it ends (and is reported) and then costs no detector run.
_PARKED_SPEED_PX = 0.5


class Detector(Protocol):
    model_info: dict

    def detect(self, image_bgr: np.ndarray) -> Detections: ...


class Reader(Protocol):
    model_info: dict

    def read(self, crop_bgr: np.ndarray) -> PlateRead: ...


@dataclass(frozen=True)
class EmittedEvent:
    """An event and the crops the sinks may save with it."""

    event: PlateEvent
    plate_crop: np.ndarray | None
    vehicle_crop: np.ndarray | None



def iso_utc(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_strategy(detector: Detector, cfg: AppConfig) -> Detector:
    """The configured views of a frame (roi crop, tiles, two scales) around a single-view
    detector; ``run``, ``detect`` and ``eval`` all look at frames through this."""
    strategy = cfg.detector.strategy
    if strategy.mode == "whole" and strategy.roi is None:
        return detector
    return MultiViewDetector(detector, cfg.detector.strategy, cfg.detector.min_plate_width_px)


# --- the pipeline -----------------------------------------------------------------------------


@dataclass
class PipelineCounters:
    frames: int = 0  # frames given to process()
    detected: int = 0  # frames the detector ran on
    skipped_by_motion: int = 0
    skipped_by_schedule: int = 0  # detect_every_n_frames
    reads: int = 0
    events: int = 0
    duplicates_suppressed: int = 0
    tracks_without_plate: int = 0  # tracks that ended without a confident vote
    # Ended tracks (with a plate or not) by direction and by counting-line crossing.
    passes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("approaching", "receding", "in", "out"), 0))


class Pipeline:
    """One camera's per-frame work. Not thread-safe: one loop calls it."""

    def __init__(self, cfg: AppConfig, detector: Detector, reader: Reader) -> None:
        self.cfg = cfg
        self.detector = with_strategy(detector, cfg)
        self.reader = reader
        self.tracker = Tracker(
            iou_threshold=cfg.tracker.iou_threshold,
            max_age_frames=cfg.tracker.max_age_frames,
            min_hits=cfg.tracker.min_hits,
            high_score_threshold=cfg.tracker.high_score_threshold,
        )
        self.motion = MotionGate(cfg.detector.motion_threshold, cfg.detector.motion_pixel_delta)
        self.roi = RegionOfInterest(cfg.detector.roi)
        self.recent = RecentPlates(cfg.voting.dedup_window_s)
        self.latency = LatencyWindow()
        self.errors = ErrorCounter()
        self.counters = PipelineCounters()
        self._tracks: dict[int, TrackState] = {}
        self._last_detected_index: int | None = None
        self._keep_vehicle_crops = cfg.outputs.crops.enabled and cfg.outputs.crops.save_vehicle
        self._line: CountingLine | None = None
        self._frame_size = (0, 0)  # width, height of the latest frame

    def process(self, frame: Frame) -> list[EmittedEvent]:
        """Run one frame through every stage; returns the events it completed."""
        started = time.perf_counter()
        self.counters.frames += 1
        detections = self._detect(frame)
        with self.latency.timed("track"):
            tracked = self.tracker.update(detections, frame.index)
        events = self._read_tracks(frame, tracked)
        events += self._finish(self.tracker.pop_finished())
        self.latency.add("total", time.perf_counter() - started)
        return events

    def flush(self) -> list[EmittedEvent]:
        """End every open track (end of the video, shutdown) and vote on each."""
        return self._finish(self.tracker.finish_all())

    def active_tracks(self) -> int:
        return len(self._tracks)

    # detection

    def _detect(self, frame: Frame) -> Detections | None:
        """This frame's plates in frame pixels, or None when detection was skipped or failed."""
        if not self._detection_due(frame):
            return None
        bounds = self.roi.bounds(frame.image.shape)
        x0, y0, x1, y1 = bounds
        region = frame.image[y0:y1, x0:x1]
        regions: list[Rect] | None = None
        if self.cfg.detector.motion_gating:
            with self.latency.timed("motion"):
                mask = self.motion.changed_mask(region)
                moving = self.motion.is_motion(mask)
                if self._uses_regions(frame.image):
                    regions = self._motion_regions(frame, mask if moving else None, bounds)
            if not (regions if regions is not None else moving):
                self.counters.skipped_by_motion += 1
                return None
            if moving:
                self.motion.remember(region)
        self._last_detected_index = frame.index
        self.counters.detected += 1
        try:
            with self.latency.timed("detect"):
                # The strategy crops to the roi; regions, when planned, replace its views.
                found = self.detector.detect(frame.image) if regions is None else self.detector.detect(frame.image, regions)
        except Exception as error:  # one bad frame must not stop the camera
            self.errors.report("detector", frame.index, error)
            return None
        return self._filter(found)

    def _uses_regions(self, image: np.ndarray) -> bool:
        return isinstance(self.detector, MultiViewDetector) and self.detector.uses_regions(image.shape[1], image.shape[0])

    def _motion_regions(self, frame: Frame, mask: np.ndarray | None, bounds: Rect) -> list[Rect]:
        """Detector regions around what moved (``mask``, None if nothing did) and the moving tracks."""
        strategy = self.cfg.detector.strategy
        h, w = frame.image.shape[:2]
        return plan_regions(
            mask, self.tracker.predicted_boxes(frame.index, _PARKED_SPEED_PX), frame_w=w, frame_h=h, bounds=bounds,
            size=strategy.tile_size, overlap=strategy.tile_overlap, track_growth=strategy.region_track_growth,
        )

    def _detection_due(self, frame: Frame) -> bool:
        every = self.cfg.detector.detect_every_n_frames
        if self._last_detected_index is not None and frame.index - self._last_detected_index < every:
            self.counters.skipped_by_schedule += 1
            return False
        return True

    def _filter(self, found: Detections) -> Detections:
        big_enough = (found.widths >= self.cfg.detector.min_plate_width_px) & (
            found.heights >= self.cfg.detector.min_plate_height_px
        )
        return found[big_enough]

    # reading

    def _read_tracks(self, frame: Frame, tracked: Detections) -> list[EmittedEvent]:
        events = []
        for box, score, track_id in zip(tracked.boxes, tracked.scores, tracked.track_ids.tolist()):
            state = self._tracks.get(track_id)
            if state is None:
                state = self._tracks[track_id] = TrackState(track_id, frame.wall_time, frame.wall_time)
            state.last_seen = frame.wall_time
            state.path.add(box, self._counting_line(frame))
            if self._read_if_worth_it(frame, state, box, float(score)):
                events += self._try_early_emit(state)
        return events

    def _read_if_worth_it(self, frame: Frame, state: TrackState, box: np.ndarray, score: float) -> bool:
        """Read the plate if this crop earns a place among the track's best K; True if read."""
        try:
            crop = crop_plate(frame.image, box)
        except ValueError as error:  # a box outside the frame
            self.errors.report("crop", frame.index, error)
            return False
        quality = crop_quality(crop, box)
        reader_cfg = self.cfg.reader
        if not state.wants_read(quality, frame.index, reader_cfg.max_reads_per_track, reader_cfg.min_frames_between_reads):
            return False
        try:
            with self.latency.timed("read"):
                plate_read = self.reader.read(crop)
        except Exception as error:  # a reader failure costs this read, not the track
            self.errors.report("reader", frame.index, error)
            return False
        self.counters.reads += 1
        track_read = TrackRead(plate_read, frame.index, frame.wall_time, tuple(float(v) for v in box), score)
        kept = KeptRead(quality, track_read, crop.copy(), vehicle_crop(frame.image, box) if self._keep_vehicle_crops else None)
        state.keep(kept, reader_cfg.max_reads_per_track)
        return True

    # voting and events

    def _try_early_emit(self, state: TrackState) -> list[EmittedEvent]:
        voting = self.cfg.voting
        if not voting.early_emit or state.emitted or len(state.kept) < voting.early_emit_reads:
            return []
        result = self._vote(state)
        if result is None:
            return []
        state.emitted = True
        return self._emit(state, result)

    def _finish(self, track_ids: list[int]) -> list[EmittedEvent]:
        events = []
        for track_id in track_ids:
            state = self._tracks.pop(track_id, None)
            if state is None:
                continue
            self._count_pass(state)
            if state.emitted:
                continue
            result = self._vote(state)
            if result is None or result.confidence < self.cfg.review.below_confidence:
                self._keep_for_review(state)
            if result is None:
                self.counters.tracks_without_plate += 1
                log.debug("track %d ended without a confident plate (%d reads)", track_id, len(state.kept))
                continue
            events += self._emit(state, result)
        return events

    def _keep_for_review(self, state: TrackState) -> None:
        """The best crop of an unsure track goes to the review folder, for a person to label."""
        review = self.cfg.review
        if not review.enabled or not state.kept:
            return
        from edge_alpr.datasets.review import write_review_item

        best = max(state.kept, key=lambda k: k.quality)
        h, w = best.plate_crop.shape[:2]
        write_review_item(review.directory, best.plate_crop, (0.0, 0.0, float(w), float(h)), best.read.read.text,
                          best.read.read.confidence, self.cfg.camera_id, review.max_items, review.max_mb)

    def _vote(self, state: TrackState) -> VoteResult | None:
        voting = self.cfg.voting
        try:
            with self.latency.timed("vote"):
                return vote(
                    state.reads(),
                    min_reads=voting.min_reads,
                    sure_read_confidence=voting.sure_read_confidence,
                    min_confidence=voting.min_confidence,
                    grammar=self.cfg.reader.grammar,
                    max_candidates=voting.max_candidates,
                )
        except Exception as error:  # a voting bug costs this track's event only
            frame_index = state.last_read_frame if state.last_read_frame is not None else -1
            self.errors.report("vote", frame_index, error)
            return None

    def _emit(self, state: TrackState, result: VoteResult) -> list[EmittedEvent]:
        if self.recent.seen(self.cfg.camera_id, result.plate, state.last_seen):
            self.counters.duplicates_suppressed += 1
            log.info("plate %s seen again on %s within %g s: not reported", result.plate, self.cfg.camera_id,
                     self.cfg.voting.dedup_window_s)
            return []
        self.counters.events += 1
        best = next((k for k in state.kept if k.read is result.best), None)
        plate_colour = self._track_colour(state)
        event = PlateEvent(
            event_id=uuid.uuid4().hex,
            camera_id=self.cfg.camera_id,
            plate=result.plate,
            plate_format=result.plate_format,
            confidence=float(result.confidence),
            reads=result.reads,
            first_seen=iso_utc(state.first_seen),
            last_seen=iso_utc(state.last_seen),
            box=result.best.box,
            candidates=tuple(Candidate(c.plate, float(c.confidence)) for c in result.candidates),
            track_id=state.track_id,
            plate_colour=plate_colour.background if plate_colour else None,
            text_colour=plate_colour.text if plate_colour else None,
            vehicle_category=plate_colour.category if plate_colour else None,
            direction=state.path.direction(self.cfg.direction, self._frame_size[1]),
            line_crossing=state.path.crossing(),
        )
        return [EmittedEvent(event, best.plate_crop if best else None, best.vehicle_crop if best else None)]

    # direction and colour

    def _counting_line(self, frame: Frame) -> CountingLine | None:
        """The configured line in this frame's pixels (fractions follow a change of resolution)."""
        line = self.cfg.direction.counting_line
        size = (frame.image.shape[1], frame.image.shape[0])
        if line is not None and (self._line is None or size != self._frame_size):
            self._line = CountingLine.from_config(line, *size)
        self._frame_size = size
        return self._line if line is not None else None

    def _count_pass(self, state: TrackState) -> None:
        for name in (state.path.direction(self.cfg.direction, self._frame_size[1]), state.path.crossing()):
            if name is not None:
                self.counters.passes[name] += 1

    def _track_colour(self, state: TrackState) -> colour.PlateColour | None:
        """The plate's colours voted over the track's kept crops; a failure costs only the colour."""
        try:
            with self.latency.timed("colour"):
                return colour.vote([colour.plate_colour(k.plate_crop) for k in state.kept])
        except Exception as error:
            self.errors.report("colour", state.last_read_frame if state.last_read_frame is not None else -1, error)
            return None
