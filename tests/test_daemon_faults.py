"""Fault injection against the whole daemon: ``python -m edge_alpr run`` as a subprocess on a
generated roadside video, publishing to a real mosquitto, while the test stops the broker, kills
the daemon, breaks the plate log or plays systemd.

What must hold (docs/reliability.md): an event the daemon logged reaches a subscriber at least
once whatever the broker does, a ``kill -9`` loses no spooled event, SIGTERM stops within 5 s
after reporting the open tracks, a broken plate log does not stop MQTT, and systemd hears
READY=1 only once the models and the source are open, then WATCHDOG=1 from the frame loop.

Tests that need plate events need the trained models in ``models/`` (``$EDGE_ALPR_TEST_MODELS``
may name another directory) and are skipped without them.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from broker import Subscriber, make_password_file, make_tls_files, wait_until

from edge_alpr.synth.scenes import VideoTruth, make_video

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EDGE_ALPR_TEST_MODELS") or REPO_ROOT / "models")
CAMERA = "faultcam"
PREFIX = f"edge-alpr/{CAMERA}"
PLATE_TOPIC, STATUS_TOPIC, AVAILABILITY_TOPIC = f"{PREFIX}/plate", f"{PREFIX}/status", f"{PREFIX}/availability"
CLIENT_ID = "edge-alpr-fault-test"
# The service unit gives SIGTERM 10 s (TimeoutStopSec); the daemon promises to be done in 5.
STOP_WITHIN_S = 5.0
# Generous bounds for a 2-core machine that is busy with other work.
EVENT_WAIT_S = 30.0
DELIVERY_WAIT_S = 15.0
# How long the broker stays away in the restart test (at least: it also waits for two events).
OUTAGE_S = 2.0


# --- videos ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> tuple[Path, VideoTruth]:
    """Four cars passing a roadside camera: 10 s of video, about a second to process. Cars, since
    these tests are about delivery, not about reading the small two-line plates of bikes."""
    path = tmp_path_factory.mktemp("scene") / "road.mp4"
    truth = make_video(path, seed=11, n_vehicles=4, size=(640, 360), fps=25.0, seconds_per_vehicle=2.0, kinds=["car"])
    return path, truth


@pytest.fixture(scope="module")
def parked_video(scene, tmp_path_factory) -> Path:
    """One frame of the scene where a plate is at its largest, repeated: played in a loop with
    motion gating off, the vehicle never leaves, so its track stays open until the daemon stops."""
    path, truth = scene
    frame_index = max(((frame, box[2] - box[0]) for v in truth.vehicles for frame, box in v.boxes.items()),
                      key=lambda item: item[1])[0]
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
    ok, image = capture.read()
    capture.release()
    assert ok, f"cannot read frame {frame_index} of {path}"
    return write_clip(tmp_path_factory.mktemp("parked") / "parked.avi", [image] * 10)


@pytest.fixture(scope="module")
def idle_video(tmp_path_factory) -> Path:
    """An empty grey road: the detector finds nothing, so no new events."""
    return write_clip(tmp_path_factory.mktemp("idle") / "idle.avi", [np.full((96, 160, 3), 110, np.uint8)] * 10)


def write_clip(path: Path, images: list[np.ndarray]) -> Path:
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (w, h))
    for image in images:
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def trained_models() -> Path:
    if not (MODELS_DIR / "plate_detector_int8.tflite").is_file():
        pytest.skip(f"needs the trained models in {MODELS_DIR} to produce plate events "
                    "(plate_detector_int8.tflite is absent)")
    return MODELS_DIR


# --- the daemon ---------------------------------------------------------------------------------


def write_config(path: Path, video: Path, *, port: int | None, workdir: Path, loop: bool = False,
                 **sections: object) -> Path:
    """A daemon config for ``video``: plate log and spool under ``workdir``, MQTT to ``port``
    with fast reconnects, one detector thread, every pass of a looping video reported again."""
    config: dict = {
        "camera_id": CAMERA,
        "source": {"kind": "file", "uri": str(video), "loop": loop},
        "detector": {"num_threads": 1},
        "voting": {"dedup_window_s": 0},
        "status_interval_s": 1,
        "outputs": {
            "mqtt": {"enabled": port is not None, "host": "127.0.0.1", "port": port or 1883, "client_id": CLIENT_ID,
                     "keepalive_s": 5, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
            "plate_log": {"directory": str(workdir / "log")},
            "spool": {"path": str(workdir / "spool.sqlite3")},
        },
    }
    merge(config, sections)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def merge(config: dict, overrides: dict) -> None:
    """Deep-merge ``overrides`` into ``config``: nested sections keep the keys not overridden."""
    for name, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            merge(config[name], value)
        else:
            config[name] = value


class Daemon:
    """``python -m edge_alpr run --config FILE`` in the background; stderr goes to a file."""

    def __init__(self, config: Path, models: Path, env: dict[str, str] | None = None) -> None:
        self.stderr_path = config.with_suffix(".stderr")
        child_env = {k: v for k, v in os.environ.items()
                     if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "EDGE_ALPR_MQTT_PASSWORD",
                                  "JOURNAL_STREAM")}
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        child_env["EDGE_ALPR_MODELS"] = str(models)
        child_env.update(env or {})
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge_alpr", "run", "--config", str(config), "--no-print-events"],
                cwd=REPO_ROOT, env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            )

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the daemon did not exit within {timeout_s} s; its log:\n{self.stderr()[-3000:]}")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; returns the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.wait(STOP_WITHIN_S + 5)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def ensure_gone(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_daemon(daemons: list[Daemon], config: Path, models: Path, **kwargs) -> Daemon:
    daemon = Daemon(config, models, **kwargs)
    daemons.append(daemon)
    return daemon


# --- what the daemon wrote and what arrived ------------------------------------------------------


def logged_events(workdir: Path) -> dict[str, dict]:
    """event_id -> event of every complete line in the plate log's JSONL file."""
    path = workdir / "log" / "plates.jsonl"
    if not path.is_file():
        return {}
    events = {}
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # a line being written right now
            continue
        events[event["event_id"]] = event
    return events


def received_events(subscriber: Subscriber) -> dict[str, dict]:
    """event_id -> event of every plate message the subscriber got (duplicates collapse)."""
    return {event["event_id"]: event for event in (json.loads(m.payload) for m in subscriber.on(PLATE_TOPIC))}


def spooled_events(spool: Path) -> dict[str, dict]:
    """event_id -> event still waiting in the daemon's spool for a broker acknowledgement."""
    if not spool.exists():
        return {}
    db = sqlite3.connect(spool)
    try:
        rows = db.execute("SELECT event_id, payload FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
    return {event_id: json.loads(payload) for event_id, payload in rows}


def wait_for_events(workdir: Path, count: int, daemon: Daemon) -> dict[str, dict]:
    """Wait until the plate log holds ``count`` events; fail with the daemon's log if it does not."""
    if not wait_until(lambda: len(logged_events(workdir)) >= count or daemon.process.poll() is not None,
                      EVENT_WAIT_S, interval_s=0.05):
        pytest.fail(f"fewer than {count} events in {EVENT_WAIT_S} s; daemon log:\n{daemon.stderr()[-3000:]}")
    events = logged_events(workdir)
    assert len(events) >= count, f"the daemon exited with {len(events)} events:\n{daemon.stderr()[-3000:]}"
    return events


def wait_for_delivery(subscriber: Subscriber, expected: set[str]) -> set[str]:
    """Wait until every id in ``expected`` has arrived; returns the ones that did not."""
    wait_until(lambda: expected <= received_events(subscriber).keys(), DELIVERY_WAIT_S, interval_s=0.05)
    return expected - received_events(subscriber).keys()


def statuses(subscriber: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in subscriber.on(STATUS_TOPIC)]


def assert_clean_log(daemon: Daemon) -> None:
    assert "Traceback" not in daemon.stderr(), daemon.stderr()[-3000:]


# --- the broker goes away -------------------------------------------------------------------------


def test_broker_restarted_mid_run_every_logged_event_arrives(mosquitto, scene, trained_models, tmp_path, daemons):
    broker = mosquitto(persistence=True)  # keeps the subscriber's session and queue over the restart
    subscriber = Subscriber(broker.port, [PLATE_TOPIC], client_id="fault-test-sub", clean_session=False).start()
    config = write_config(tmp_path / "run.yaml", scene[0], port=broker.port, workdir=tmp_path, loop=True)
    daemon = start_daemon(daemons, config, trained_models)

    before = wait_for_events(tmp_path, 1, daemon)
    assert not wait_for_delivery(subscriber, set(before)), "events do not arrive even with the broker up"
    broker.stop()
    outage_started = time.monotonic()
    during = wait_for_events(tmp_path, len(before) + 2, daemon)  # made while no broker listened
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
    broker.start()
    logged = set(logged_events(tmp_path))
    missing = wait_for_delivery(subscriber, logged)
    code, _ = daemon.stop()

    assert len(set(during) - set(before)) >= 2
    assert not missing, f"{len(missing)} of {len(logged)} logged events never arrived"
    assert code == 0
    # The tracks still open at SIGTERM were reported and delivered before the daemon exited.
    assert not wait_for_delivery(subscriber, set(logged_events(tmp_path)))
    subscriber.stop()
    assert spooled_events(tmp_path / "spool.sqlite3") == {}
    assert_clean_log(daemon)


def test_broker_unreachable_at_start_events_arrive_once_it_is_up(mosquitto, scene, trained_models, tmp_path,
                                                                  daemons):
    broker = mosquitto(persistence=True)
    # Register a persistent session, so the broker queues what arrives before the subscriber is back.
    Subscriber(broker.port, [PLATE_TOPIC], client_id="fault-test-sub", clean_session=False).start().stop()
    broker.stop()
    config = write_config(tmp_path / "run.yaml", scene[0], port=broker.port, workdir=tmp_path, loop=True)
    daemon = start_daemon(daemons, config, trained_models)

    spooled = wait_for_events(tmp_path, 2, daemon)
    broker.start()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC], client_id="fault-test-sub", clean_session=False).start()
    missing = wait_for_delivery(subscriber, set(spooled))
    code, _ = daemon.stop()
    subscriber.stop()

    assert not missing, f"{len(missing)} of the {len(spooled)} events made while the broker was down never arrived"
    assert code == 0
    assert "cannot connect to 127.0.0.1" in daemon.stderr()  # the outage was logged
    assert_clean_log(daemon)


def test_kill_9_with_events_spooled_they_arrive_after_a_restart(mosquitto, scene, idle_video, trained_models,
                                                                tmp_path, daemons):
    broker = mosquitto(start=False)
    spool = tmp_path / "spool.sqlite3"
    first = start_daemon(daemons, write_config(tmp_path / "first.yaml", scene[0], port=broker.port,
                                               workdir=tmp_path, loop=True), trained_models)
    wait_for_events(tmp_path, 2, first)
    first.kill()

    logged = logged_events(tmp_path)
    spooled = spooled_events(spool)
    # The plate log is written just before the spool: only the newest event can miss it in a kill.
    newest = list(logged)[-1]
    assert set(logged) - {newest} <= set(spooled) <= set(logged)
    assert len(spooled) >= 1

    broker.start()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC]).start()
    second = start_daemon(daemons, write_config(tmp_path / "second.yaml", idle_video, port=broker.port,
                                                workdir=tmp_path, loop=True), trained_models)
    missing = wait_for_delivery(subscriber, set(spooled))
    code, _ = second.stop()
    subscriber.stop()

    assert not missing, f"{len(missing)} of {len(spooled)} spooled events were lost to kill -9"
    received = received_events(subscriber)
    for event_id in spooled:
        assert received[event_id] == logged[event_id]  # original event_id, first_seen, plate: unchanged
    assert code == 0
    assert spooled_events(spool) == {}  # acknowledged, so gone from the spool


# --- stopping ---------------------------------------------------------------------------------------


def test_sigterm_reports_the_open_track_publishes_offline_and_exits_0(mosquitto, parked_video, trained_models,
                                                                      tmp_path, daemons):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC, STATUS_TOPIC, AVAILABILITY_TOPIC]).start()
    config = write_config(tmp_path / "run.yaml", parked_video, port=broker.port, workdir=tmp_path, loop=True,
                          detector={"motion_gating": False},
                          reader={"min_confidence": 0.3}, voting={"min_confidence": 0.3})
    daemon = start_daemon(daemons, config, trained_models)

    # The parked vehicle has been read, but its track is open: nothing is reported yet.
    assert wait_until(lambda: any(s["active_tracks"] >= 1 and s["reads"] >= 2 for s in statuses(subscriber)),
                      EVENT_WAIT_S), f"no open track with reads; daemon log:\n{daemon.stderr()[-3000:]}"
    assert logged_events(tmp_path) == {}
    code, seconds = daemon.stop()

    assert code == 0
    assert seconds < STOP_WITHIN_S
    flushed = list(logged_events(tmp_path).values())
    assert len(flushed) == 1, "the open track was not reported at SIGTERM"
    assert flushed[0]["first_seen"] < flushed[0]["last_seen"]  # seen over many frames before the stop
    assert not wait_for_delivery(subscriber, {flushed[0]["event_id"]})  # sent before going offline
    assert spooled_events(tmp_path / "spool.sqlite3") == {}
    assert wait_until(lambda: [m.payload for m in subscriber.on(AVAILABILITY_TOPIC)][-1:] == [b"offline"], 5)
    assert f"Received DISCONNECT from {CLIENT_ID}" in broker.log_text()  # a clean goodbye, not the Last Will
    assert wait_until(lambda: statuses(subscriber)[-1]["state"] == "stopped", 5)
    subscriber.stop()
    assert "SIGTERM received" in daemon.stderr()
    assert_clean_log(daemon)


def test_events_reported_at_shutdown_reach_a_connected_broker_before_exit(mosquitto, tmp_path):
    from edge_alpr.config.outputs import MqttConfig, OutputsConfig, PlateLogConfig, SpoolConfig
    from edge_alpr.sinks import build_sinks
    from edge_alpr.types import Candidate, PlateEvent

    broker = mosquitto()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC]).start()
    outputs = OutputsConfig(
        mqtt=MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, client_id=CLIENT_ID,
                        reconnect_min_s=0.1, reconnect_max_s=0.5, keepalive_s=5),
        plate_log=PlateLogConfig(enabled=False),
        spool=SpoolConfig(path=tmp_path / "spool.sqlite3"),
    )
    sinks = build_sinks(outputs, CAMERA)
    assert wait_until(lambda: sinks.health()["mqtt_connected"], 5)
    event = PlateEvent(event_id="flushed-at-stop", camera_id=CAMERA, plate="KA01AB1234", plate_format="standard",
                       confidence=0.9, reads=3, first_seen="2026-11-25T14:00:00.000Z",
                       last_seen="2026-11-25T14:00:01.500Z", box=(10.0, 20.0, 110.0, 45.0),
                       candidates=(Candidate("KA01AB1234", 0.9),), track_id=1)
    sinks.publish(event)  # what _shut_down does with the flushed tracks, right before closing
    sinks.close(3.0)

    delivered = wait_until(lambda: "flushed-at-stop" in received_events(subscriber), 2)
    subscriber.stop()
    assert delivered, f"still spooled after close: {list(spooled_events(tmp_path / 'spool.sqlite3'))}"


# --- a broken output or input -----------------------------------------------------------------------


def test_unwritable_plate_log_mqtt_goes_on_and_status_reports_it(mosquitto, scene, trained_models, tmp_path,
                                                                 daemons):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC, STATUS_TOPIC]).start()
    (tmp_path / "log").write_text("a file where the plate-log directory should be\n")  # root ignores chmod
    config = write_config(tmp_path / "run.yaml", scene[0], port=broker.port, workdir=tmp_path)
    daemon = start_daemon(daemons, config, trained_models)

    code = daemon.wait(60)
    assert code == 0  # it played the whole video
    assert wait_until(lambda: statuses(subscriber) and statuses(subscriber)[-1]["state"] == "stopped", 5)
    final = statuses(subscriber)[-1]
    wait_until(lambda: len(received_events(subscriber)) >= final["events"], DELIVERY_WAIT_S)
    subscriber.stop()
    assert final["plate_log_events_written"] == 0
    assert final["plate_log_events_lost"] == final["events"] >= 1
    assert str(tmp_path / "log") in final["plate_log_error"]
    assert len(received_events(subscriber)) == final["events"]  # MQTT did not stop with the log
    assert f"plate log {tmp_path / 'log'}: cannot write event" in daemon.stderr()
    assert_clean_log(daemon)


def test_a_video_that_is_not_a_video_exits_4_before_going_online(mosquitto, tmp_path, daemons):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [AVAILABILITY_TOPIC]).start()
    video = tmp_path / "camera.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))  # an mp4 header, then noise
    config = write_config(tmp_path / "run.yaml", video, port=broker.port, workdir=tmp_path)
    daemon = start_daemon(daemons, config, tmp_path / "no-models-needed")

    code = daemon.wait(30)
    time.sleep(0.3)
    subscriber.stop()
    assert code == 4
    assert f"edge-alpr: {video}: cannot be decoded as a video" in daemon.stderr()
    assert_clean_log(daemon)
    assert subscriber.on(AVAILABILITY_TOPIC) == []  # it never connected, so never claimed to be online


# --- systemd -----------------------------------------------------------------------------------------


class NotifySocket:
    """The datagram socket systemd gives a Type=notify service; a thread records each line with
    the time it arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self._messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closing.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            with self._lock:
                self._messages += [(time.monotonic(), line) for line in data.decode().splitlines()]

    def lines(self) -> list[str]:
        with self._lock:
            return [line for _, line in self._messages]

    def times_of(self, line: str) -> list[float]:
        with self._lock:
            return [at for at, text in self._messages if text == line]

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_systemd_ready_after_models_then_watchdog_pings_then_stopping(scene, trained_models, tmp_path, daemons,
                                                                     notify_socket):
    config = write_config(tmp_path / "run.yaml", scene[0], port=None, workdir=tmp_path, loop=True)
    # WatchdogSec=1 s: the daemon must ping at least every 0.5 s (half, as sd_watchdog_enabled advises).
    daemon = start_daemon(daemons, config, trained_models,
                          env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"})

    assert wait_until(lambda: "READY=1" in notify_socket.lines(), 30), daemon.stderr()[-3000:]
    time.sleep(3.0)
    code, _ = daemon.stop()
    lines = notify_socket.lines()

    assert code == 0
    assert lines.index("STATUS=loading models") < lines.index("READY=1") < lines.index("STOPPING=1")
    assert any(line.startswith("STATUS=running: video file") for line in lines)
    ready_at = notify_socket.times_of("READY=1")[0]
    pings = [at for at in notify_socket.times_of("WATCHDOG=1") if at > ready_at]
    assert len(pings) >= 5  # 3 s at one ping per 0.5 s
    assert max(np.diff(pings)) < 1.0  # never silent for a whole WatchdogSec


def test_systemd_never_hears_ready_when_a_model_is_missing(scene, tmp_path, daemons, notify_socket):
    config = write_config(tmp_path / "run.yaml", scene[0], port=None, workdir=tmp_path)
    daemon = start_daemon(daemons, config, tmp_path / "empty-models",
                          env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"})

    code = daemon.wait(30)
    lines = notify_socket.lines()
    assert code == 3
    assert "STATUS=loading models" in lines  # the source opened: it got as far as the models
    assert "READY=1" not in lines and "WATCHDOG=1" not in lines  # systemd marks the start as failed
    assert "detector model not found" in daemon.stderr()


# --- TLS and a password --------------------------------------------------------------------------------


def test_events_arrive_over_tls_with_a_password_that_is_never_logged(mosquitto, scene, trained_models, tmp_path,
                                                                     daemons):
    tls = make_tls_files(tmp_path / "tls")
    secret = "correct-horse-battery-staple"
    broker = mosquitto(tls=tls, password_file=make_password_file(tmp_path / "passwd", {"camera": secret}))
    subscriber = Subscriber(broker.port, [PLATE_TOPIC], username="camera", password=secret,
                            ca_cert=tls.ca_cert).start()
    (tmp_path / "mqtt-password").write_text(secret + "\n")
    config = write_config(tmp_path / "run.yaml", scene[0], port=broker.port, workdir=tmp_path,
                          log_level="DEBUG",  # the most the daemon ever logs
                          outputs={"mqtt": {"username": "camera", "password_file": str(tmp_path / "mqtt-password"),
                                            "tls": {"enabled": True, "ca_file": str(tls.ca_cert)}}})
    daemon = start_daemon(daemons, config, trained_models)

    code = daemon.wait(60)
    logged = set(logged_events(tmp_path))
    missing = wait_for_delivery(subscriber, logged)
    subscriber.stop()

    assert code == 0
    assert logged, f"no events; daemon log:\n{daemon.stderr()[-3000:]}"
    assert not missing, f"{len(missing)} of {len(logged)} events did not arrive over TLS"
    assert set(received_events(subscriber)) == logged
    assert "MQTT: connected to 127.0.0.1" in daemon.stderr()
    assert secret not in daemon.stderr()
    assert_clean_log(daemon)
