"""MACs from TFLite graphs (bench.macs) and the simulated live camera of ``bench pace``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_alpr.bench import macs, pace
from edge_alpr.config import AppConfig
from edge_alpr.errors import InputError
from edge_alpr.pipeline import EmittedEvent
from edge_alpr.synth.scenes import VehicleTruth, VideoTruth
from edge_alpr.types import PlateEvent

MODELS = Path(__file__).resolve().parents[1] / "models"


# --- MACs ---------------------------------------------------------------------------------------


def test_layer_macs_from_known_shapes():
    # YOLOv4-tiny's first layer at 320: 32 filters of 3x3x3, stride 2 -> 160x160x32 outputs of 27 MACs.
    assert macs.layer_macs("CONV_2D", [1, 322, 322, 3], [32, 3, 3, 3], [1, 160, 160, 32]) == 160 * 160 * 32 * 27
    assert macs.layer_macs("DEPTHWISE_CONV_2D", [1, 16, 16, 8], [1, 3, 3, 8], [1, 16, 16, 8]) == 16 * 16 * 8 * 9
    assert macs.layer_macs("FULLY_CONNECTED", [1, 2048], [10, 2048], [1, 10]) == 20480
    assert macs.layer_macs("FULLY_CONNECTED", [4, 7, 64], [32, 64], [4, 7, 32]) == 28 * 32 * 64  # per row
    assert macs.layer_macs("TRANSPOSE_CONV", [1, 8, 8, 16], [4, 2, 2, 16], [1, 16, 16, 4]) == 8 * 8 * 16 * 4 * 4
    with pytest.raises(ValueError, match="no MAC rule for ADD"):
        macs.layer_macs("ADD", [1], [1], [1])


@pytest.mark.slow  # imports TensorFlow to build the model
def test_count_macs_of_a_tiny_model_matches_the_hand_count(tmp_path):
    tf = pytest.importorskip("tensorflow")
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 3)),
        tf.keras.layers.Conv2D(8, 3, padding="same"),  # 16*16*8 outputs x 3*3*3 = 55296
        tf.keras.layers.DepthwiseConv2D(3, padding="same"),  # 16*16*8 outputs x 3*3 = 18432
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(10),  # 2048 x 10 = 20480
    ])
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    counted = macs.count_macs(path)
    assert counted.by_op == {"CONV_2D": 55296, "DEPTHWISE_CONV_2D": 18432, "FULLY_CONNECTED": 20480}
    assert counted.total == 94208 and counted.layers == 3


@pytest.mark.parametrize("model", ["plate_detector_int8.tflite", "plate_reader_int8.tflite",
                                   "plate_reader_square_int8.tflite"])
def test_model_cards_carry_the_counted_macs(model):
    path = MODELS / model
    card = json.loads(macs.card_path(path).read_text(encoding="utf-8"))
    assert card[macs.CARD_KEY] == macs.count_macs(path).total
    # The float16 export is the same graph: the same count.
    assert macs.count_macs(path.with_name(model.replace("int8", "float16"))).total == card[macs.CARD_KEY]


def test_card_path_drops_the_precision_suffix():
    assert macs.card_path(Path("m/plate_reader_int8.tflite")) == Path("m/plate_reader.json")
    assert macs.card_path(Path("m/other.tflite")) == Path("m/other.json")


# --- device profiles ----------------------------------------------------------------------------


def test_inference_time_splits_over_threads_up_to_the_cores():
    device = pace.Device("toy", "toy", cores=4, gmacs_per_core=2.0, source="-")
    assert pace.inference_seconds(4_000_000_000, device, 1) == pytest.approx(2.0)
    assert pace.inference_seconds(4_000_000_000, device, 2) == pytest.approx(1.0)
    assert pace.inference_seconds(4_000_000_000, device, 8) == pytest.approx(0.5)


def test_pi5_profile_is_faster_than_pi4():
    assert pace.DEVICES["pi5"].gmacs_per_core > pace.DEVICES["pi4"].gmacs_per_core


# --- the simulated live camera ------------------------------------------------------------------


class FakeStage:
    """A pipeline stand-in: every frame costs ``device_s`` of modelled model time, nothing real."""

    def __init__(self, charges: pace.Charges | None, device_s: float, emit_at: int | None = None) -> None:
        self.charges = charges
        self.device_s = device_s
        self.emit_at = emit_at
        self.indices: list[int] = []

    def process(self, frame):
        self.indices.append(frame.index)
        if self.charges is not None:
            self.charges.device_s += self.device_s
        return ["event"] if frame.index == self.emit_at else []

    def flush(self):
        return []


def frames(n: int):
    return iter([np.zeros((2, 2, 3), np.uint8)] * n)


def test_a_slow_loop_takes_only_the_newest_frame():
    charges = pace.Charges()
    stage = FakeStage(charges, device_s=0.25, emit_at=5)
    replay = pace.live_replay(frames(10), 10.0, stage.process, stage.flush, charges, clock=lambda: 0.0)
    # 0 at 0 s; at 0.25 s frame 2 is the newest; at 0.5 s frame 5; at 0.75 s frame 7; at 1.0 s
    # the camera is at frame 10, past the end.
    assert stage.indices == [0, 2, 5, 7]
    assert (replay.processed, replay.dropped, replay.frames_in_video) == (4, 6, 10)
    assert [e.at_s for e in replay.events] == [pytest.approx(0.75)]
    assert replay.busy_s == pytest.approx(1.0)


def test_a_fast_loop_waits_for_every_frame():
    charges = pace.Charges()
    stage = FakeStage(charges, device_s=0.05)
    replay = pace.live_replay(frames(10), 10.0, stage.process, stage.flush, charges, clock=lambda: 0.0)
    assert stage.indices == list(range(10)) and replay.dropped == 0


def test_real_model_time_is_replaced_by_the_devices():
    ticks = iter(np.arange(0.0, 100.0, 0.1))  # each clock() call 0.1 s later: 0.1 s real per frame
    charges = pace.Charges()

    def process(frame):
        charges.real_s += 0.08  # of which 0.08 s were inference on this machine...
        charges.device_s += 0.3  # ...that take 0.3 s on the device
        return []

    replay = pace.live_replay(frames(5), 10.0, process, list, charges, clock=lambda: float(next(ticks)))
    # A frame costs 0.1 - 0.08 + 0.3 = 0.32 s: frame 0, then frame 3 at 0.32 s, then at 0.64 s the
    # camera is at frame 6, past the end.
    assert replay.busy_s == pytest.approx(0.64)
    assert (replay.processed, replay.dropped) == (2, 3)


def test_every_model_the_daemon_runs_is_charged_at_the_devices_pace():
    """The reader runs one model for wide crops and one for squarish ones: both are paced, or a
    two-wheeler's reads would cost nothing at Pi pace."""
    from edge_alpr.service import build_detector, build_reader

    cfg = AppConfig()
    detector, reader = build_detector(cfg), build_reader(cfg)
    assert len(reader.recognizers) == 2  # the shipped pair
    charges = pace.Charges()
    ms = pace.pace_models(cfg, detector, reader, pace.DEVICES["pi4"], charges)
    assert ms["detector"] > ms["reader"] > 0
    for shape in ((40, 200, 3), (120, 160, 3)):  # a one-line crop, a two-line one
        before = charges.inferences.get("reader", 0)
        reader.decode(np.full(shape, 128, np.uint8))
        assert charges.inferences["reader"] == before + 1, shape
    assert charges.device_s == pytest.approx(2 * ms["reader"] / 1000)


def test_unpaced_replay_processes_every_frame():
    stage = FakeStage(None, device_s=1.0)
    replay = pace.live_replay(frames(7), 25.0, stage.process, stage.flush, None)
    assert stage.indices == list(range(7)) and replay.dropped == 0


def _event(plate: str, first_s: float, last_s: float, track: int) -> EmittedEvent:
    from edge_alpr.pipeline import iso_utc

    event = PlateEvent(event_id=str(track), camera_id="cam", plate=plate, plate_format="standard", confidence=0.9,
                       reads=3, first_seen=iso_utc(first_s), last_seen=iso_utc(last_s), box=(0, 0, 10, 5),
                       track_id=track)
    return EmittedEvent(event, None, None)


def test_score_latency_is_from_the_vehicles_last_frame_to_its_event():
    truth = VideoTruth("v.mp4", 10.0, (64, 64), 100, (
        VehicleTruth("KA01AB1234", "one", "car", 0, 20, {}),
        VehicleTruth("MH12DE1433", "one", "car", 40, 60, {}),
    ))
    replay = pace.Replay(100, 50, 50, 5.0, (
        pace.TimedEvent(_event("KA01AB1234", 0.0, 1.9, 1), 2.7),  # last frame 20 = 2.0 s -> 0.7 s
        pace.TimedEvent(_event("MH12DE1438", 4.0, 5.9, 2), 6.5),  # wrong text: no latency
    ))
    match, latencies = pace.score(replay, truth)
    assert (match.correct, match.wrong_text) == (1, 1)
    assert latencies == (pytest.approx(0.7),)


def test_settings_override_and_name_what_is_wrong():
    cfg = pace.with_settings(AppConfig(), ["reader.retry_unsure=false", "detector.num_threads=4"])
    assert cfg.reader.retry_unsure is False and cfg.detector.num_threads == 4
    with pytest.raises(InputError, match="no setting 'retry_unsur'"):
        pace.with_settings(AppConfig(), ["reader.retry_unsur=false"])
    with pytest.raises(InputError, match="expected KEY.PATH=VALUE"):
        pace.with_settings(AppConfig(), ["reader.retry_unsure"])
