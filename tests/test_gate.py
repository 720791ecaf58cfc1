"""Gate control: the relay pulse through gpiozero's own mock pin factory, the cooldown per
plate, no opening on an unsure read, the MQTT command against a real mosquitto (never sent
late), the plate-log line of every opening, and the whole daemon opening for a resident."""
from __future__ import annotations

import io
import json
import time

import pytest

from edge_alpr.config import AppConfig, GateConfig
from edge_alpr.gate import Gate, GateOpening, GpioRelay, LogBackend, MqttCommand, build_gate
from edge_alpr.types import WatchlistMatch

gpiozero = pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory  # noqa: E402

RESIDENT = WatchlistMatch("residents", "allow", "KA01AB1234", "Flat 12", 0.0)
STOLEN = WatchlistMatch("stolen", "alert", "MH12DE5678", "", 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.close()


def gate_config(**overrides) -> GateConfig:
    return GateConfig.model_validate({"enabled": True, "backends": ["gpio"], "pulse_s": 0.2, "cooldown_s": 30,
                                      "min_confidence": 0.9, **overrides})


def gpio_gate(factory, clock=None, record=None, **overrides) -> tuple[Gate, object]:
    config = gate_config(**overrides)
    relay = GpioRelay(config.gpio.pin, config.gpio.active_high, pin_factory=factory)
    return Gate(config, "gate-north", [relay], record, clock=clock or Clock()), factory.pin(config.gpio.pin)


def levels(pin) -> list[bool]:
    return [bool(state.state) for state in pin.states]


def wait_for_level(pin, level: bool, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and bool(pin.state) != level:
        time.sleep(0.005)
    return bool(pin.state) == level


def test_an_allow_listed_sure_plate_pulses_the_relay_for_pulse_s(factory, make_plate_event) -> None:
    gate, pin = gpio_gate(factory)
    assert levels(pin) == [False]
    assert gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,))) == "opened"
    assert wait_for_level(pin, False)
    assert levels(pin) == [False, True, False]
    # MockPin keeps each state with the seconds since the previous change: the on time is the pulse.
    on_time = pin.states[2].timestamp
    assert 0.2 <= on_time < 1.0, on_time
    gate.close()


def test_active_low_relay_boards_idle_high_and_pulse_low(factory, make_plate_event) -> None:
    gate, pin = gpio_gate(factory, gpio={"pin": 22, "active_high": False})
    assert pin.state
    gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,)))
    assert wait_for_level(pin, True)
    assert levels(pin)[-2:] == [False, True]
    gate.close()


def test_the_same_plate_does_not_reopen_within_the_cooldown(factory, make_plate_event) -> None:
    clock = Clock()
    gate, pin = gpio_gate(factory, clock=clock)
    event = make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,))
    assert gate.consider(event) == "opened"
    assert wait_for_level(pin, False) and levels(pin) == [False, True, False]
    clock.now += 29.0
    # The same listed plate read with a confusion (another event) is the same car: still cooling down.
    misread = make_plate_event(2, plate="KAO1AB1234", confidence=0.95,
                               watchlist=(WatchlistMatch("residents", "allow", "KA01AB1234", "Flat 12", 0.5),))
    assert gate.consider(misread) == "cooldown"
    time.sleep(0.3)
    assert levels(pin) == [False, True, False]  # no second pulse
    other = WatchlistMatch("residents", "allow", "MH12DE5678", "Flat 3", 0.0)
    assert gate.consider(make_plate_event(3, plate="MH12DE5678", confidence=0.95, watchlist=(other,))) == "opened"
    assert wait_for_level(pin, False) and levels(pin) == [False, True, False, True, False]
    clock.now += 1.0  # 30 s after the first opening
    assert gate.consider(event) == "opened"
    assert gate.health()["gate_openings"] == 3 and gate.health()["gate_refused_cooldown"] == 1
    gate.close()


@pytest.mark.parametrize(("confidence", "decision"), [(0.89, "unsure"), (0.5, "unsure"), (0.9, "opened")])
def test_nothing_opens_under_min_confidence(factory, make_plate_event, confidence, decision) -> None:
    gate, pin = gpio_gate(factory, min_confidence=0.9)
    assert gate.consider(make_plate_event(1, confidence=confidence, watchlist=(RESIDENT,))) == decision
    time.sleep(0.05)
    assert (levels(pin) != [False]) == (decision == "opened")
    gate.close()


@pytest.mark.parametrize(("watchlist", "lists"), [
    ((), []),  # on no list
    ((STOLEN,), []),  # on an alert list only
    ((RESIDENT,), ["staff"]),  # on an allow list that is not this gate's
])
def test_only_this_gates_allow_lists_open_it(factory, make_plate_event, watchlist, lists) -> None:
    gate, pin = gpio_gate(factory, lists=lists)
    assert gate.consider(make_plate_event(1, confidence=0.99, watchlist=watchlist)) == "no_match"
    time.sleep(0.05)
    assert levels(pin) == [False]
    gate.close()


def test_every_opening_is_a_plate_log_line(tmp_path, factory, make_plate_event) -> None:
    from edge_alpr.config.outputs import PlateLogConfig
    from edge_alpr.sinks import PlateLogSink

    plate_log = PlateLogSink(PlateLogConfig(directory=tmp_path))
    gate, _ = gpio_gate(factory, record=lambda opening: plate_log.append_line(opening.log_line()))
    gate.consider(make_plate_event(7, confidence=0.95, watchlist=(RESIDENT,)))
    gate.consider(make_plate_event(8, confidence=0.95, watchlist=(RESIDENT,)))  # cooldown: no line
    gate.consider(make_plate_event(9, confidence=0.5, watchlist=(RESIDENT,)))  # unsure: no line
    lines = (tmp_path / "plates.log").read_text().splitlines()
    assert len(lines) == 1
    at, camera, plate, what, event_id, list_name, listed, label, backends = lines[0].split("\t")
    assert (camera, plate, what, event_id, list_name, listed, label, backends) == (
        "gate-north", "KA01AB0007", "gate-open", "evt-000007", "residents", "KA01AB1234", "Flat 12", "gpio")
    assert at.endswith("Z") and at[:4].isdigit()
    gate.close()


class Refusing:
    """A command publisher whose broker is away."""

    def publish_command(self, topic: str, payload: str) -> bool:
        return False


def test_a_failing_backend_does_not_keep_the_others_from_opening(factory, make_plate_event) -> None:
    config = gate_config(backends=["mqtt", "gpio"])
    openings: list[GateOpening] = []
    relay = GpioRelay(17, True, pin_factory=factory)
    gate = Gate(config, "gate-north", [MqttCommand(Refusing(), "site/gate", None), relay], openings.append)
    assert gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,))) == "opened"
    assert wait_for_level(factory.pin(17), False) and levels(factory.pin(17)) == [False, True, False]
    assert openings[0].backends == ("mqtt:failed", "gpio")
    assert "not connected" in gate.health()["gate_last_error"]
    gate.close()


def test_close_during_a_pulse_leaves_the_relay_open(factory, make_plate_event) -> None:
    gate, pin = gpio_gate(factory, pulse_s=30.0)
    gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,)))
    assert wait_for_level(pin, True)
    gate.close()  # SIGTERM mid-pulse
    assert not pin.state


def test_log_backend_only_logs(caplog, make_plate_event) -> None:
    gate = Gate(gate_config(backends=["log"]), "cam1", [LogBackend()])
    with caplog.at_level("INFO", logger="edge_alpr.gate"):
        assert gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,))) == "opened"
    assert "would open for KA01AB0001" in caplog.text and "gate opened for KA01AB0001" in caplog.text


def test_gpio_without_gpiozero_is_a_clear_config_error(monkeypatch) -> None:
    import builtins

    from edge_alpr.errors import ConfigError

    real_import = builtins.__import__

    def no_gpiozero(name, *args, **kwargs):
        if name == "gpiozero":
            raise ImportError("No module named 'gpiozero'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gpiozero)
    with pytest.raises(ConfigError, match="python3-gpiozero"):
        build_gate(gate_config(), "cam1", topic_prefix="edge-alpr", publisher=None, record=None)


def test_a_busy_pin_is_a_config_error_naming_it(factory) -> None:
    from edge_alpr.errors import ConfigError

    first = GpioRelay(17, True, pin_factory=factory)
    with pytest.raises(ConfigError, match="gate.gpio.pin: GPIO17 cannot be used"):
        GpioRelay(17, True, pin_factory=factory)
    first.close()


# --- the MQTT command, against a real mosquitto ---------------------------------------------------


@pytest.mark.integration
def test_the_mqtt_command_is_sent_at_once_and_never_late(tmp_path, mosquitto, make_plate_event) -> None:
    from broker import Subscriber, wait_until
    from test_mqtt import outputs_for

    from edge_alpr.sinks import build_sinks

    broker = mosquitto(persistence=True)
    outputs = outputs_for(tmp_path, broker.port, client_id="edge-alpr-gate-test")
    subscriber = Subscriber(broker.port, ["edge-alpr/cam1/gate"], client_id="test-gate", clean_session=False).start()
    sink_set = build_sinks(outputs, "cam1")
    try:
        assert wait_until(lambda: sink_set.health()["mqtt_connected"], 5)
        gate = build_gate(gate_config(backends=["mqtt"], pulse_s=1.5), "cam1", topic_prefix="edge-alpr",
                          publisher=sink_set.mqtt, record=None)
        assert gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,))) == "opened"
        command = json.loads(subscriber.wait_for("edge-alpr/cam1/gate", 1)[0].payload)
        assert command["command"] == "open" and command["pulse_s"] == 1.5 and command["plate"] == "KA01AB0001"
        assert command["list"] == "residents" and command["event_id"] == "evt-000001"
        assert subscriber.on("edge-alpr/cam1/gate")[0].qos == 1

        broker.stop()
        assert wait_until(lambda: not sink_set.health()["mqtt_connected"], 5)
        other = WatchlistMatch("residents", "allow", "MH12DE5678", "", 0.0)
        gate.consider(make_plate_event(2, plate="MH12DE5678", confidence=0.95, watchlist=(other,)))
        assert gate.health()["gate_backend_errors"] == 1
        broker.start()
        assert wait_until(lambda: sink_set.health()["mqtt_connected"], 5)
        time.sleep(1.0)  # had it been queued, it would arrive now
        assert len(subscriber.on("edge-alpr/cam1/gate")) == 1
    finally:
        subscriber.stop()
        sink_set.close(timeout_s=1.0)


def test_a_custom_payload_is_sent_as_is(make_plate_event) -> None:
    sent: list[tuple[str, str]] = []

    class Recorder:
        def publish_command(self, topic: str, payload: str) -> bool:
            sent.append((topic, payload))
            return True

    config = gate_config(backends=["mqtt"], mqtt={"topic": "shellies/gate/relay/0/command", "payload": "on"})
    gate = build_gate(config, "cam1", topic_prefix="edge-alpr", publisher=Recorder(), record=None)
    gate.consider(make_plate_event(1, confidence=0.95, watchlist=(RESIDENT,)))
    assert sent == [("shellies/gate/relay/0/command", "on")]


# --- the daemon --------------------------------------------------------------------------------


def test_the_daemon_alerts_and_opens_the_gate_for_the_listed_plates(tmp_path) -> None:
    """The service loop of test_service (fake detector and reader on a generated video) with a
    hotlist and a residents' list: events carry their matches, the gate opens once, the plate
    log has the opening, the terminal says so."""
    from test_service import CAR_A, CAR_B, BrightBoxDetector, ColourReader, write_video

    from edge_alpr.service import run_service

    video = write_video(tmp_path / "street.avi", [CAR_A, CAR_B])
    residents = tmp_path / "residents.csv"
    residents.write_text("plate,label\nKA01AB1234,Flat 12\n")
    hotlist = tmp_path / "hotlist.csv"
    hotlist.write_text("MH12DE567B,Reported stolen\n")  # as typed from a poor photo: B for 8
    cfg = AppConfig.model_validate({
        "camera_id": "gate-north",
        "source": {"kind": "file", "uri": str(video)},
        "detector": {"motion_gating": False, "min_plate_width_px": 20, "min_plate_height_px": 8},
        "reader": {"max_reads_per_track": 3, "min_frames_between_reads": 1},
        "tracker": {"max_age_frames": 5, "min_hits": 2},
        "voting": {"min_reads": 2, "min_confidence": 0.5},
        "outputs": {"plate_log": {"enabled": True, "directory": str(tmp_path / "log")}},
        "watchlists": {"lists": {"residents": {"kind": "allow", "file": str(residents), "max_distance": 0.5},
                                 "stolen": {"kind": "alert", "file": str(hotlist)}}},
        "gate": {"enabled": True, "backends": ["log"], "min_confidence": 0.5},
    })
    printed = io.StringIO()
    events_jsonl = tmp_path / "events.jsonl"
    assert run_service(cfg, detector=BrightBoxDetector(), reader=ColourReader(), print_events=True, out=printed,
                       events_jsonl=events_jsonl) == 0
    events = {e["plate"]: e for e in map(json.loads, events_jsonl.read_text().splitlines())}
    assert events["KA01AB1234"]["watchlist"] == [
        {"list": "residents", "kind": "allow", "plate": "KA01AB1234", "label": "Flat 12", "distance": 0.0}]
    assert events["MH12DE5678"]["watchlist"] == [
        {"list": "stolen", "kind": "alert", "plate": "MH12DE567B", "label": "Reported stolen", "distance": 0.5}]
    log_lines = [line.split("\t") for line in (tmp_path / "log" / "plates.log").read_text().splitlines()]
    gate_lines = [cols for cols in log_lines if cols[3] == "gate-open"]
    assert [(cols[2], cols[4], cols[5]) for cols in gate_lines] == [
        ("KA01AB1234", events["KA01AB1234"]["event_id"], "residents")]
    text = printed.getvalue()
    assert "KA01AB1234" in text and "allow residents (Flat 12)  GATE OPENED" in text
    assert "ALERT stolen (Reported stolen) as MH12DE567B d=0.5" in text

