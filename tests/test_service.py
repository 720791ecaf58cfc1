"""The daemon loop on a generated video, with a fake detector (finds bright rectangles) and a
fake reader (knows each plate by its colour), so every assertion is about the loop itself."""
from __future__ import annotations

import json
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr import plates
from edge_alpr.config import AppConfig
from edge_alpr.motion import MotionGate, RegionOfInterest
from edge_alpr.pipeline import Pipeline, iso_utc
from edge_alpr.service import run_service
from edge_alpr.sources import VideoFileSource
from edge_alpr.track_reads import TrackState, crop_quality
from edge_alpr.types import Detections, Frame, PlateEvent, PlateRead, TrackRead

W, H, FPS, FRAMES = 320, 240, 10.0, 60
PLATE_W, PLATE_H = 64, 16
# Plate colour (BGR) -> the text the fake reader sees on it.
PLATE_TEXT = {(255, 255, 255): "KA01AB1234", (0, 255, 255): "MH12DE5678", (255, 255, 0): "TN09BC4321"}


@dataclass(frozen=True)
class Plate:
    colour: tuple[int, int, int]
    frames: range  # frames in which it is visible
    start: tuple[int, int]  # top-left corner in its first frame
    step: tuple[int, int] = (0, 0)  # pixels per frame

    def box_at(self, frame: int) -> tuple[int, int, int, int]:
        t = frame - self.frames.start
        x, y = self.start[0] + self.step[0] * t, self.start[1] + self.step[1] * t
        return x, y, x + PLATE_W, y + PLATE_H


CAR_A = Plate((255, 255, 255), range(0, 20), (10, 40), (12, 0))
CAR_B = Plate((0, 255, 255), range(25, 45), (250, 120), (-10, 0))
# A parked car, hidden from frame 28 to 40 by something passing in front of it.
PARKED = Plate((255, 255, 0), range(0, FRAMES), (200, 190))
PARKED_HIDDEN = range(28, 41)


def write_video(path: Path, plates_in_view: list[Plate], frames: int = FRAMES,
                hidden: dict[Plate, range] | None = None) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    for i in range(frames):
        image = np.zeros((H, W, 3), np.uint8)
        for plate in plates_in_view:
            if i in plate.frames and i not in (hidden or {}).get(plate, ()):
                x1, y1, x2, y2 = plate.box_at(i)
                cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), plate.colour, thickness=-1)
                cv2.line(image, (x1 + 8, y1 + 4), (x2 - 8, y1 + 4), (40, 40, 40), 1)  # "characters", off-centre
        writer.write(image)
    writer.release()
    return path


@pytest.fixture(scope="module")
def street_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "street.avi", [CAR_A, CAR_B, PARKED],
                       hidden={PARKED: PARKED_HIDDEN})


class BrightBoxDetector:
    """Finds the bright rectangles of the generated video; records what it was shown."""

    model_info = {"name": "fake-detector", "version": "test"}

    def __init__(self, fail_on_calls: set[int] = frozenset()) -> None:
        self.calls = 0
        self.fail_on_calls = fail_on_calls
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, image_bgr: np.ndarray) -> Detections:
        self.calls += 1
        self.shapes.append(image_bgr.shape)
        if self.calls in self.fail_on_calls:
            raise RuntimeError("fake detector failure")
        mask = (image_bgr.max(axis=2) > 128).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 100]
        xyxy = np.array([(x, y, x + w, y + h) for x, y, w, h in boxes], np.float32).reshape(-1, 4)
        return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32))


class ColourReader:
    """Reads a plate by its colour (the centre pixel of the crop)."""

    model_info = {"name": "fake-reader", "version": "test"}

    def __init__(self, fail_on_calls: set[int] = frozenset()) -> None:
        self.calls = 0
        self.fail_on_calls = fail_on_calls

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        self.calls += 1
        if self.calls in self.fail_on_calls:
            raise RuntimeError("fake reader failure")
        h, w = crop_bgr.shape[:2]
        centre = crop_bgr[h // 2, w // 2].astype(int)
        colour = min(PLATE_TEXT, key=lambda c: int(np.abs(np.array(c) - centre).sum()))
        text = PLATE_TEXT[colour]
        return PlateRead(text, (0.95,) * len(text), 0.9, plates.plate_format(text))


class RecordingSinks:
    def __init__(self) -> None:
        self.events: list[PlateEvent] = []
        self.crops: list[tuple[np.ndarray | None, np.ndarray | None]] = []
        self.statuses: list[dict] = []
        self.closed = False

    def publish(self, event: PlateEvent, plate_crop=None, vehicle_crop=None) -> PlateEvent:
        self.events.append(event)
        self.crops.append((plate_crop, vehicle_crop))
        return event

    def publish_status(self, status: dict) -> None:
        self.statuses.append(status)

    def close(self, timeout_s: float = 3.0) -> None:
        self.closed = True


def config(video: Path, **overrides) -> AppConfig:
    data = {
        "camera_id": "test-cam",
        "source": {"kind": "file", "uri": str(video)},
        "detector": {"motion_gating": False, "min_plate_width_px": 20, "min_plate_height_px": 8},
        "reader": {"max_reads_per_track": 3, "min_frames_between_reads": 1},
        "tracker": {"max_age_frames": 5, "min_hits": 2},
        "voting": {"min_reads": 2, "min_confidence": 0.5, "dedup_window_s": 60},
        "outputs": {"plate_log": {"enabled": False}},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return AppConfig.model_validate(data)


def run(cfg: AppConfig, **kwargs) -> tuple[int, RecordingSinks]:
    sinks = RecordingSinks()
    kwargs.setdefault("detector", BrightBoxDetector())
    kwargs.setdefault("reader", ColourReader())
    code = run_service(cfg, sinks=sinks, print_events=False, **kwargs)
    return code, sinks


def test_one_event_per_vehicle_and_a_parked_plate_is_reported_once(street_video) -> None:
    code, sinks = run(config(street_video))
    assert code == 0 and sinks.closed
    assert [e.plate for e in sinks.events] == ["KA01AB1234", "TN09BC4321", "MH12DE5678"]
    final = sinks.statuses[-1]
    assert final["state"] == "stopped"
    assert final["duplicates_suppressed"] == 1  # the parked car's second track
    assert final["frames_in"] == FRAMES and final["events"] == 3
    assert final["errors"] == {}


def test_event_fields(street_video) -> None:
    _, sinks = run(config(street_video))
    car_a = sinks.events[0]
    assert len(car_a.event_id) == 32 and int(car_a.event_id, 16) >= 0
    assert len({e.event_id for e in sinks.events}) == len(sinks.events)
    assert car_a.camera_id == "test-cam" and car_a.plate_format == "standard"
    assert car_a.first_seen.endswith("Z") and car_a.first_seen < car_a.last_seen
    # A file's times follow the video: car A is seen for 2 s at 10 fps (confirmed on frame 1).
    seen = np.datetime64(car_a.last_seen.rstrip("Z")) - np.datetime64(car_a.first_seen.rstrip("Z"))
    assert seen == np.timedelta64(1800, "ms")
    assert car_a.reads >= 2 and 0.5 <= car_a.confidence <= 1
    x1, y1, x2, y2 = car_a.box
    assert (x2 - x1, y2 - y1) == pytest.approx((PLATE_W, PLATE_H), abs=2) and y1 == pytest.approx(40, abs=2)
    plate_crop, vehicle_crop = sinks.crops[0]
    assert plate_crop is not None and plate_crop.shape[0] >= PLATE_H
    assert vehicle_crop is None  # crops are disabled in the config


def test_vehicle_crops_are_kept_when_crops_are_saved(street_video, tmp_path) -> None:
    cfg = config(street_video, outputs={"plate_log": {"enabled": False},
                                        "crops": {"enabled": True, "directory": str(tmp_path)}})
    _, sinks = run(cfg)
    _, vehicle = sinks.crops[0]
    assert vehicle is not None and vehicle.shape[1] > PLATE_W and vehicle.shape[0] > PLATE_H


def test_reader_and_detector_failures_on_single_frames_do_not_stop_the_loop(street_video) -> None:
    detector = BrightBoxDetector(fail_on_calls={6})
    reader = ColourReader(fail_on_calls={2})
    code, sinks = run(config(street_video), detector=detector, reader=reader)
    assert code == 0
    assert [e.plate for e in sinks.events] == ["KA01AB1234", "TN09BC4321", "MH12DE5678"]
    assert sinks.statuses[-1]["errors"] == {"detector": 1, "reader": 1}
    assert detector.calls == FRAMES


class SignalAfter:
    """A source that raises SIGTERM in the process after ``frames`` frames."""

    def __init__(self, source: VideoFileSource, frames: int) -> None:
        self.source, self.frames = source, frames
        self.finished = False

    def read(self) -> Frame | None:
        frame = self.source.read()
        if frame is not None and frame.index == self.frames:
            signal.raise_signal(signal.SIGTERM)
        return frame

    def close(self) -> None:
        self.source.close()

    def describe(self) -> str:
        return "signalling source"

    def stats(self):
        return self.source.stats()


def test_sigterm_flushes_open_tracks_as_events_and_restores_the_handler(street_video) -> None:
    before = signal.getsignal(signal.SIGTERM)
    source = SignalAfter(VideoFileSource(street_video), frames=10)
    detector = BrightBoxDetector()
    code, sinks = run(config(street_video), source=source, detector=detector)
    assert code == 0
    # Car A and the parked car were in view; car B had not come yet.
    assert sorted(e.plate for e in sinks.events) == ["KA01AB1234", "TN09BC4321"]
    assert detector.calls == 11  # stopped right after the frame that raised the signal
    assert signal.getsignal(signal.SIGTERM) is before
    assert sinks.closed


class StopFromThreadAfter(SignalAfter):
    """A source that, after ``frames`` frames, has another thread set the stop event."""

    def __init__(self, source: VideoFileSource, frames: int, stop: threading.Event) -> None:
        super().__init__(source, frames)
        self.stop = stop

    def read(self) -> Frame | None:
        frame = self.source.read()
        if frame is not None and frame.index == self.frames:
            setter = threading.Thread(target=self.stop.set)
            setter.start()
            setter.join()
        return frame


def test_stop_event_from_another_thread_stops_a_looping_source(street_video) -> None:
    stop = threading.Event()
    looping = VideoFileSource(street_video, loop=True)
    code, sinks = run(config(street_video), stop_event=stop, source=StopFromThreadAfter(looping, FRAMES + 10, stop))
    assert code == 0 and sinks.closed
    assert sinks.statuses[-1]["frames_in"] == FRAMES + 11  # it looped, and stopped after that frame
    assert looping.finished  # closed on the way out


def test_early_emit_reports_while_the_vehicle_is_in_view_and_only_once(street_video) -> None:
    cfg = config(street_video, voting={"min_reads": 2, "min_confidence": 0.5, "early_emit": True, "early_emit_reads": 2})
    _, sinks = run(cfg)
    car_a = [e for e in sinks.events if e.plate == "KA01AB1234"]
    assert len(car_a) == 1
    # Reads on frames 1 and 3 (one frame between reads): emitted at frame 3, not at frame 19.
    seen = np.datetime64(car_a[0].last_seen.rstrip("Z")) - np.datetime64(car_a[0].first_seen.rstrip("Z"))
    assert seen == np.timedelta64(200, "ms")


def test_events_jsonl_gets_one_json_line_per_event(street_video, tmp_path) -> None:
    out = tmp_path / "out" / "events.jsonl"
    _, sinks = run(config(street_video), events_jsonl=out)
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    assert [PlateEvent.from_json(json.loads(line)) for line in lines] == sinks.events


def test_events_are_printed_as_readable_lines_when_asked(street_video) -> None:
    import io

    printed = io.StringIO()
    run_service(config(street_video), sinks=RecordingSinks(), detector=BrightBoxDetector(), reader=ColourReader(),
                print_events=True, out=printed)
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].split()[1:3] == ["test-cam", "KA01AB1234"] and lines[0].split()[0].endswith("Z")


def test_status_reports_rates_latencies_and_models(street_video) -> None:
    _, sinks = run(config(street_video))
    status = sinks.statuses[-1]
    assert status["models"] == {"detector": BrightBoxDetector.model_info, "reader": ColourReader.model_info}
    assert status["frames_processed"] == FRAMES and status["frames_skipped_by_motion"] == 0
    for stage in ("detect", "track", "read", "vote", "total"):
        assert 0 <= status["latency_ms"][stage]["p50"] <= status["latency_ms"][stage]["p95"]
    assert status["reads"] > 0 and status["fps_in"] > 0
    assert status["cpu_temp_c"] is None or 0 < status["cpu_temp_c"] < 150


def test_motion_gating_skips_still_frames(tmp_path) -> None:
    video = write_video(tmp_path / "quiet.avi", [CAR_A], frames=50)  # car A, then 30 empty frames
    detector = BrightBoxDetector()
    _, sinks = run(config(video, detector={"motion_gating": True, "min_plate_width_px": 20}), detector=detector)
    assert [e.plate for e in sinks.events] == ["KA01AB1234"]
    status = sinks.statuses[-1]
    assert status["frames_skipped_by_motion"] >= 25
    assert detector.calls == 50 - status["frames_skipped_by_motion"]


def test_roi_crops_the_detector_input_and_drops_plates_outside(street_video) -> None:
    # Only the bottom band, where the parked car is.
    roi = [[0, 170], [W, 170], [W, H], [0, H]]
    detector = BrightBoxDetector()
    _, sinks = run(config(street_video, detector={"motion_gating": False, "min_plate_width_px": 20, "roi": roi}),
                   detector=detector)
    assert [e.plate for e in sinks.events] == ["TN09BC4321"]
    assert set(detector.shapes) == {(H - 170, W, 3)}
    # Boxes are back in frame pixels.
    assert sinks.events[0].box[1] == pytest.approx(PARKED.start[1], abs=2)


def test_plates_below_the_minimum_size_are_ignored(street_video) -> None:
    _, sinks = run(config(street_video, detector={"motion_gating": False, "min_plate_width_px": PLATE_W + 10}))
    assert sinks.events == []


def test_detect_every_n_frames_runs_the_detector_less_and_keeps_the_events(street_video) -> None:
    detector = BrightBoxDetector()
    cfg = config(street_video, detector={"motion_gating": False, "min_plate_width_px": 20, "detect_every_n_frames": 2},
                 tracker={"max_age_frames": 6, "min_hits": 2})
    _, sinks = run(cfg, detector=detector)
    assert detector.calls == FRAMES // 2
    assert [e.plate for e in sinks.events] == ["KA01AB1234", "TN09BC4321", "MH12DE5678"]


def test_systemd_notifications(street_video, tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "notify")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(1.0)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        run(config(street_video))
        messages = []
        receiver.setblocking(False)
        while True:
            try:
                messages.append(receiver.recv(4096).decode())
            except BlockingIOError:
                break
    finally:
        receiver.close()
    kinds = [m.split("=")[0] for m in messages]
    assert kinds.index("READY") < kinds.index("WATCHDOG") < kinds.index("STOPPING")
    assert any(m.startswith("STATUS=running") for m in messages)


# --- the parts of the pipeline on their own ---------------------------------------------------


def kept(quality: float, frame_index: int):
    from edge_alpr.track_reads import KeptRead

    read = TrackRead(PlateRead("KA01AB1234", (0.9,) * 10, 0.9, "standard"), frame_index, 0.0, (0, 0, 1, 1), 0.9)
    return KeptRead(quality, read, np.zeros((2, 2, 3), np.uint8), None)


@pytest.mark.parametrize(
    ("qualities", "frame", "quality", "expected"),
    [
        ([], 0, 1.0, True),  # nothing read yet
        ([5.0, 6.0], 10, 1.0, True),  # short of K=3 reads
        ([5.0, 6.0, 7.0], 10, 4.0, False),  # K reads and worse than all of them
        ([5.0, 6.0, 7.0], 10, 5.5, True),  # beats the worst kept read
        ([5.0, 6.0, 7.0], 9, 50.0, False),  # too soon after the last read (frame 8, gap 1)
    ],
)
def test_track_state_reads_only_crops_that_make_the_best_k(qualities, frame, quality, expected) -> None:
    state = TrackState(1, 0.0, 0.0)
    for i, q in enumerate(qualities):
        state.keep(kept(q, 8 - 2 * (len(qualities) - 1 - i)), max_reads=3)
    assert state.wants_read(quality, frame, max_reads=3, min_gap=1) is expected


def test_track_state_keeps_only_the_best_k() -> None:
    state = TrackState(1, 0.0, 0.0)
    for i, q in enumerate([3.0, 1.0, 5.0, 4.0, 2.0]):
        state.keep(kept(q, i * 2), max_reads=3)
    assert sorted(k.quality for k in state.kept) == [3.0, 4.0, 5.0]


def test_crop_quality_prefers_big_sharp_frontal_plates() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (24, 100, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(sharp, (9, 9), 3)
    box = np.array([0, 0, 100, 24], np.float32)
    assert crop_quality(sharp, box) > crop_quality(blurred, box)
    small = cv2.resize(sharp, (50, 12))
    assert crop_quality(sharp, box) > crop_quality(small, np.array([0, 0, 50, 12], np.float32))
    squeezed = np.array([0, 0, 40, 24], np.float32)  # seen at a steep angle
    assert crop_quality(sharp[:, :40], squeezed) < crop_quality(sharp[:, :100], box) * 0.4


def test_motion_gate() -> None:
    gate = MotionGate(threshold=0.002, pixel_delta=25)
    still = np.zeros((240, 320, 3), np.uint8)
    assert gate.has_motion(still)  # nothing to compare with yet
    gate.remember(still)
    noisy = (still + np.random.default_rng(1).integers(0, 10, still.shape)).astype(np.uint8)
    assert not gate.has_motion(noisy)  # sensor noise is not motion
    moved = still.copy()
    cv2.rectangle(moved, (100, 100), (140, 120), (255, 255, 255), -1)
    assert gate.has_motion(moved)


def test_region_of_interest() -> None:
    roi = RegionOfInterest([(10, 20), (110, 20), (60, 120)])
    assert roi.bounds((240, 320, 3)) == (10, 20, 110, 120)
    assert RegionOfInterest(None).bounds((240, 320, 3)) == (0, 0, 320, 240)


def test_iso_utc() -> None:
    assert iso_utc(0.5) == "1970-01-01T00:00:00.500Z"


def test_pipeline_flush_reports_tracks_still_open() -> None:
    cfg = config(Path("unused.mp4"))
    pipeline = Pipeline(cfg, BrightBoxDetector(), ColourReader())
    image = np.zeros((H, W, 3), np.uint8)
    cv2.rectangle(image, (50, 50), (50 + PLATE_W - 1, 50 + PLATE_H - 1), (255, 255, 255), -1)
    events = []
    for i in range(6):
        events += pipeline.process(Frame(image, i, float(i), 1000.0 + i / FPS))
    assert events == [] and pipeline.active_tracks() == 1
    flushed = pipeline.flush()
    assert [e.event.plate for e in flushed] == ["KA01AB1234"]
    assert pipeline.active_tracks() == 0 and pipeline.flush() == []


class ExplodingTracker:
    """Stands in for a tracker with a bug that shows on one frame."""

    def __init__(self, real, bad_frame: int) -> None:
        self.real, self.bad_frame = real, bad_frame

    def update(self, detections, frame_index):
        if frame_index == self.bad_frame:
            raise IndexError("a bug in a stage")
        return self.real.update(detections, frame_index)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_an_unexpected_error_inside_the_pipeline_costs_one_frame(street_video, monkeypatch) -> None:
    original_init = Pipeline.__init__

    def init_with_bad_tracker(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.tracker = ExplodingTracker(self.tracker, bad_frame=30)

    monkeypatch.setattr(Pipeline, "__init__", init_with_bad_tracker)
    code, sinks = run(config(street_video))
    assert code == 0
    assert [e.plate for e in sinks.events] == ["KA01AB1234", "TN09BC4321", "MH12DE5678"]
    assert sinks.statuses[-1]["errors"] == {"pipeline": 1}


def test_unsure_tracks_go_to_the_review_folder_and_back_into_a_manifest(street_video, tmp_path) -> None:
    """Reads under review.below_confidence are kept for a person; once labelled, `data import
    --format review` turns them into a training manifest."""
    from edge_alpr.datasets.cli import main as data_main
    from edge_alpr.datasets.manifest import load_manifest

    review = tmp_path / "review"
    # ColourReader's reads give a vote confidence under 0.99: every track is "unsure".
    cfg = config(street_video, review={"enabled": True, "directory": str(review), "below_confidence": 0.99})
    _, sinks = run(cfg)
    sidecars = sorted(review.glob("*.json"))
    assert len(sidecars) == 4  # car A, car B and both tracks of the parked car
    read_texts = sorted(json.loads(p.read_text())["text_read"] for p in sidecars)
    assert read_texts == sorted(["KA01AB1234", "MH12DE5678", "TN09BC4321", "TN09BC4321"])
    for path in sidecars:  # a person confirms each read
        item = json.loads(path.read_text())
        item["text"] = item["text_read"]
        path.write_text(json.dumps(item))
    assert data_main(["import", "--format", "review", str(review), "-o", str(tmp_path / "ds")]) == 0
    rows = load_manifest(tmp_path / "ds" / "manifest.jsonl")
    assert sorted(p.text for r in rows for p in r.plates) == read_texts


def test_confident_tracks_are_not_kept_for_review(street_video, tmp_path) -> None:
    review = tmp_path / "review"
    cfg = config(street_video, review={"enabled": True, "directory": str(review), "below_confidence": 0.1})
    run(cfg)
    assert not review.exists() or not any(review.glob("*.json"))


def test_a_roi_with_mode_whole_still_drops_plates_centred_outside(street_video) -> None:
    from edge_alpr.pipeline import with_strategy

    roi = [[0, 170], [W, 170], [W, H], [0, H]]
    cfg = config(street_video, detector={"roi": roi, "strategy": {"mode": "whole"}})
    frame = np.zeros((H, W, 3), np.uint8)
    cv2.rectangle(frame, (20, 20), (20 + PLATE_W, 20 + PLATE_H), (255, 255, 255), -1)  # above the roi
    cv2.rectangle(frame, (20, 200), (20 + PLATE_W, 200 + PLATE_H), (255, 255, 255), -1)  # inside
    found = with_strategy(BrightBoxDetector(), cfg).detect(frame)
    assert len(found) == 1 and found.boxes[0][1] == pytest.approx(200, abs=2)


def test_tiling_strategy_wraps_the_detector_for_run_detect_and_eval(street_video) -> None:
    from edge_alpr.pipeline import with_strategy
    from edge_alpr.tiling import MultiViewDetector

    plain = BrightBoxDetector()
    assert with_strategy(plain, config(street_video, detector={"strategy": {"mode": "whole"}})) is plain
    assert isinstance(with_strategy(plain, config(street_video)), MultiViewDetector)  # auto picks per frame size
    tiled = with_strategy(plain, config(street_video, detector={"strategy": {"mode": "tiles", "tile_size": 160}}))
    assert isinstance(tiled, MultiViewDetector)
    frame = np.zeros((H, W, 3), np.uint8)
    cv2.rectangle(frame, (140, 100), (140 + PLATE_W, 100 + PLATE_H), (255, 255, 255), -1)  # across tile seams
    found = tiled.detect(frame)
    assert len(found) == 1
    assert found.boxes[0].tolist() == pytest.approx([140, 100, 140 + PLATE_W + 1, 100 + PLATE_H + 1], abs=2)
    assert plain.calls > 1  # one run per tile
