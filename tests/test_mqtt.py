"""MQTT publishing against a real mosquitto: topics and schema, availability and Last Will,
store-and-forward through broker outages and crashes, TLS + passwords, Home Assistant discovery."""
from __future__ import annotations

import json
import logging
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broker import Mosquitto, Subscriber, make_password_file, make_tls_files, wait_until

from edge_alpr.config.outputs import MqttConfig, OutputsConfig, PlateLogConfig, SpoolConfig
from edge_alpr.errors import ConfigError
from edge_alpr.sinks import SinkSet, build_sinks

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMERA = "cam1"
PLATE_TOPIC = f"edge-alpr/{CAMERA}/plate"
AVAILABILITY_TOPIC = f"edge-alpr/{CAMERA}/availability"
STATUS_TOPIC = f"edge-alpr/{CAMERA}/status"


def mqtt_config(port: int, **overrides) -> dict:
    """Config of a sink that reconnects fast, as tests need; ``overrides`` win (a client_id too)."""
    return {
        **dict(enabled=True, host="127.0.0.1", port=port, client_id="edge-alpr-test",
               reconnect_min_s=0.1, reconnect_max_s=0.5, keepalive_s=5),
        **overrides,
    }


def outputs_for(tmp_path: Path, port: int, **mqtt_overrides) -> OutputsConfig:
    return OutputsConfig(
        mqtt=MqttConfig(**mqtt_config(port, **mqtt_overrides)),
        plate_log=PlateLogConfig(directory=tmp_path / "logs"),
        spool=SpoolConfig(path=tmp_path / "spool.sqlite3"),
    )


@pytest.fixture
def sinks(tmp_path):
    """``sinks(port, **mqtt_overrides) -> SinkSet``, closed after the test."""
    made: list[SinkSet] = []

    def make(port: int, tmp: Path = tmp_path, **mqtt_overrides) -> SinkSet:
        sink_set = build_sinks(outputs_for(tmp, port, **mqtt_overrides), CAMERA)
        made.append(sink_set)
        return sink_set

    yield make
    for sink_set in made:
        sink_set.close(timeout_s=1.0)


def event_ids(messages) -> list[str]:
    return [json.loads(m.payload)["event_id"] for m in messages]


def payloads(messages) -> list[str]:
    return [m.payload.decode() for m in messages]


def persistent_subscriber(broker: Mosquitto, client_id: str = "test-persistent") -> Subscriber:
    """A subscriber whose session (and queued QoS 1 messages) the broker keeps while it is away."""
    return Subscriber(broker.port, [PLATE_TOPIC], client_id=client_id, clean_session=False).start()


# ---- delivery and schema ---------------------------------------------------------------------


def test_events_arrive_on_the_plate_topic_with_the_full_schema(mosquitto, sinks, make_plate_event):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC]).start()
    sink_set = sinks(broker.port)
    events = [make_plate_event(i) for i in range(3)]
    for event in events:
        sink_set.publish(event)

    received = subscriber.wait_for(PLATE_TOPIC, 3)
    assert [json.loads(m.payload) for m in received] == [e.to_json() for e in events]
    assert all(m.qos == 1 and not m.retain for m in received)
    assert b" " not in received[0].payload  # compact JSON
    assert wait_until(lambda: sink_set.health()["mqtt_spool_depth"] == 0, 3)
    assert sink_set.health()["mqtt_events_published"] == 3
    subscriber.stop()


def test_availability_is_online_then_offline_on_close(mosquitto, sinks):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [AVAILABILITY_TOPIC]).start()
    sink_set = sinks(broker.port)
    assert payloads(subscriber.wait_for(AVAILABILITY_TOPIC, 1)) == ["online"]
    started = time.monotonic()
    sink_set.close(timeout_s=2.0)
    assert time.monotonic() - started < 2.5
    assert payloads(subscriber.wait_for(AVAILABILITY_TOPIC, 2)) == ["online", "offline"]
    subscriber.stop()
    late = Subscriber(broker.port, [AVAILABILITY_TOPIC]).start()  # the retained state
    assert [(m.payload, m.retain) for m in late.wait_for(AVAILABILITY_TOPIC, 1)] == [(b"offline", True)]
    late.stop()


_PUBLISHER = """
import json, sys, time
sys.path.insert(0, {repo!r})
from edge_alpr.config.outputs import MqttConfig
from edge_alpr.sinks.mqtt import MqttSink
from edge_alpr.sinks.spool import Spool
from edge_alpr.types import PlateEvent
args = json.loads(sys.argv[1])
sink = MqttSink(MqttConfig(**args["mqtt"]), "cam1", Spool(args["spool"], 1000, 30))
sink.start()
for data in args["events"]:
    sink.publish(PlateEvent.from_json(data))
key, value = args["ready_when"]
while sink.health()[key] != value:
    time.sleep(0.02)
print("ready", flush=True)
time.sleep(60)
"""


def start_publisher_process(mqtt: dict, spool: Path, events, ready_when: tuple[str, object]) -> subprocess.Popen:
    """Run an MqttSink in another process; returns once it reports ``health()[key] == value``."""
    args = json.dumps({"mqtt": mqtt, "spool": str(spool), "events": [e.to_json() for e in events],
                       "ready_when": list(ready_when)})
    process = subprocess.Popen(
        [sys.executable, "-c", _PUBLISHER.format(repo=str(REPO_ROOT)), args],
        stdout=subprocess.PIPE, text=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], 15.0)
    if not ready or process.stdout.readline().strip() != "ready":
        process.kill()
        raise AssertionError(f"publisher process never reached {ready_when}")
    return process


def kill_9(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_last_will_publishes_offline_when_the_publisher_dies(mosquitto, tmp_path):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [AVAILABILITY_TOPIC]).start()
    process = start_publisher_process(
        mqtt_config(broker.port), tmp_path / "spool.sqlite3", [], ("mqtt_connected", True)
    )
    assert payloads(subscriber.wait_for(AVAILABILITY_TOPIC, 1)) == ["online"]
    kill_9(process)
    assert payloads(subscriber.wait_for(AVAILABILITY_TOPIC, 2)) == ["online", "offline"]
    subscriber.stop()


# ---- store and forward -----------------------------------------------------------------------


def test_events_published_while_the_broker_is_unreachable_arrive_once_it_starts(
    mosquitto, sinks, make_plate_event
):
    broker = mosquitto(persistence=True)
    persistent_subscriber(broker).stop()  # register the session, so the broker queues for it
    broker.stop()

    sink_set = sinks(broker.port)
    events = [make_plate_event(i) for i in range(5)]
    for event in events:
        assert sink_set.publish(event) == event
    assert wait_until(lambda: sink_set.health()["mqtt_last_error"] is not None, 3)
    health = sink_set.health()
    assert health["mqtt_connected"] is False
    assert "cannot connect" in health["mqtt_last_error"]
    assert health["mqtt_spool_depth"] == 5

    broker.start()
    subscriber = persistent_subscriber(broker)
    assert event_ids(subscriber.wait_for(PLATE_TOPIC, 5)) == [e.event_id for e in events]
    assert wait_until(lambda: sink_set.health()["mqtt_spool_depth"] == 0, 3)
    subscriber.stop()


def test_no_event_is_lost_when_the_broker_restarts_mid_stream(mosquitto, sinks, make_plate_event):
    broker = mosquitto(persistence=True)
    subscriber = persistent_subscriber(broker)
    sink_set = sinks(broker.port)
    events = [make_plate_event(i) for i in range(50)]
    for index, event in enumerate(events):
        if index == 15:
            broker.stop()  # SIGTERM mid-stream; mosquitto saves queued messages
        if index == 40:
            health = sink_set.health()
            assert health["mqtt_connected"] is False
            assert health["mqtt_spool_depth"] >= 40 - 15  # the outage's events wait in the spool
            broker.start()  # a second later, on the same port
        sink_set.publish(event)
        time.sleep(0.04)

    wanted = {e.event_id for e in events}
    assert wait_until(lambda: wanted <= set(event_ids(subscriber.on(PLATE_TOPIC))), 10), (
        f"missing: {sorted(wanted - set(event_ids(subscriber.on(PLATE_TOPIC))))}"
    )
    assert wait_until(lambda: sink_set.health()["mqtt_spool_depth"] == 0, 3)
    subscriber.stop()


def test_spooled_events_survive_kill_9_and_keep_their_ids_and_times(mosquitto, sinks, tmp_path, make_plate_event):
    broker = mosquitto(start=False)
    spool_path = tmp_path / "spool.sqlite3"
    events = [make_plate_event(i, first_seen=f"2026-01-0{i + 1}T00:00:00Z") for i in range(5)]
    process = start_publisher_process(mqtt_config(broker.port), spool_path, events, ("mqtt_spool_depth", 5))
    kill_9(process)

    broker.start()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC]).start()
    sink_set = sinks(broker.port)  # same spool file
    received = subscriber.wait_for(PLATE_TOPIC, 5)
    assert [json.loads(m.payload) for m in received] == [e.to_json() for e in events]
    assert wait_until(lambda: sink_set.health()["mqtt_spool_depth"] == 0, 3)
    subscriber.stop()


def test_a_large_backlog_drains_with_bounded_in_flight_messages(mosquitto, sinks, make_plate_event):
    broker = mosquitto(persistence=True)
    persistent_subscriber(broker).stop()
    broker.stop()
    max_inflight = 5
    sink_set = sinks(broker.port, max_inflight=max_inflight)
    events = [make_plate_event(i) for i in range(300)]
    for event in events:
        sink_set.publish(event)
    assert sink_set.health()["mqtt_spool_depth"] == 300

    broker.start()
    subscriber = persistent_subscriber(broker)
    spool = sink_set.spool
    most_in_flight = 0
    deadline = time.monotonic() + 15
    while spool.count() and time.monotonic() < deadline:
        most_in_flight = max(most_in_flight, spool.in_flight_count())
        time.sleep(0.001)
    assert spool.count() == 0
    assert 1 <= most_in_flight <= max_inflight
    assert event_ids(subscriber.wait_for(PLATE_TOPIC, 300)) == [e.event_id for e in events]
    subscriber.stop()


def test_a_failing_plate_log_does_not_stop_mqtt(mosquitto, sinks, tmp_path, make_plate_event):
    broker = mosquitto()
    subscriber = Subscriber(broker.port, [PLATE_TOPIC, STATUS_TOPIC]).start()
    (tmp_path / "logs").write_text("a file where the log directory should be")
    sink_set = sinks(broker.port)
    sink_set.publish(make_plate_event(0))
    assert event_ids(subscriber.wait_for(PLATE_TOPIC, 1)) == ["evt-000000"]
    assert sink_set.health()["plate_log_error"] is not None

    assert wait_until(lambda: sink_set.health()["mqtt_spool_depth"] == 0, 3)
    sink_set.publish_status({"fps": 7.5, "uptime_s": 12})
    status = json.loads(subscriber.wait_for(STATUS_TOPIC, 1)[0].payload)
    assert status["fps"] == 7.5 and status["uptime_s"] == 12
    assert status["plate_log_error"] == sink_set.health()["plate_log_error"]
    assert status["mqtt_connected"] is True
    assert status["mqtt_spool_depth"] == 0
    assert status["mqtt_events_published"] == 1
    subscriber.stop()
    late = Subscriber(broker.port, [STATUS_TOPIC]).start()
    assert [m.retain for m in late.wait_for(STATUS_TOPIC, 1)] == [True]
    late.stop()


def test_close_never_hangs_while_the_broker_is_down(sinks, make_plate_event, free_port):
    sink_set = sinks(free_port)
    sink_set.publish(make_plate_event(0))
    time.sleep(0.3)
    started = time.monotonic()
    sink_set.close(timeout_s=1.0)
    assert time.monotonic() - started < 1.5


# ---- TLS and passwords -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    try:
        return make_tls_files(tmp_path_factory.mktemp("tls"))
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot make test certificates with openssl: {error}")


@pytest.fixture
def secure_broker(mosquitto, tmp_path, tls_files, request) -> Mosquitto:
    password_file = make_password_file(tmp_path / "passwd", {"alpr": "right-password", "viewer": "view"})
    require_cert = getattr(request, "param", False)
    return mosquitto(password_file=password_file, tls=tls_files, require_client_certificate=require_cert)


@pytest.mark.parametrize(
    ("secure_broker", "with_client_cert"),
    [(False, False), (True, True)],
    ids=["password", "password+client-cert"],
    indirect=["secure_broker"],
)
def test_tls_with_password_delivers_events(secure_broker, sinks, tls_files, make_plate_event, with_client_cert):
    client_cert = dict(client_cert=tls_files.client_cert, client_key=tls_files.client_key) if with_client_cert else {}
    subscriber = Subscriber(
        secure_broker.port, [PLATE_TOPIC], username="viewer", password="view", ca_cert=tls_files.ca_cert, **client_cert
    ).start()
    tls = {"enabled": True, "ca_file": tls_files.ca_cert}
    if with_client_cert:
        tls |= {"cert_file": tls_files.client_cert, "key_file": tls_files.client_key}
    sink_set = sinks(secure_broker.port, username="alpr", password="right-password", tls=tls)
    sink_set.publish(make_plate_event(1))
    assert event_ids(subscriber.wait_for(PLATE_TOPIC, 1)) == ["evt-000001"]
    assert sink_set.health()["mqtt_connected"] is True
    subscriber.stop()


@pytest.mark.parametrize(
    ("credentials", "use_other_ca", "expected_error"),
    [
        ({"username": "alpr", "password": "wrong-password"}, False, "refused the connection"),
        ({"username": "nobody", "password": "right-password"}, False, "refused the connection"),
        ({}, False, "refused the connection"),  # anonymous, not allowed
        ({"username": "alpr", "password": "right-password"}, True, "certificate verify failed"),
    ],
    ids=["wrong-password", "unknown-user", "anonymous", "wrong-ca"],
)
def test_refused_connections_are_reported_not_fatal(
    secure_broker, sinks, tls_files, make_plate_event, caplog, credentials, use_other_ca, expected_error
):
    caplog.set_level(logging.DEBUG)  # the connect line logs the (redacted) config at INFO
    ca_file = tls_files.other_ca_cert if use_other_ca else tls_files.ca_cert
    sink_set = sinks(secure_broker.port, tls={"enabled": True, "ca_file": ca_file}, **credentials)
    sink_set.publish(make_plate_event(0))
    assert wait_until(lambda: sink_set.health()["mqtt_last_error"] is not None, 5)
    health = sink_set.health()
    assert expected_error in health["mqtt_last_error"]
    assert health["mqtt_connected"] is False
    assert health["mqtt_spool_depth"] == 1  # kept for when the credentials are fixed
    if credentials:
        assert "'password': '<set>'" in caplog.text  # the config is logged, the password redacted
    assert "right-password" not in caplog.text and "wrong-password" not in caplog.text


# ---- Home Assistant discovery ----------------------------------------------------------------


def test_home_assistant_discovery_is_retained_and_republished_when_ha_comes_online(mosquitto, sinks):
    broker = mosquitto()
    sink_set = sinks(broker.port, homeassistant={"enabled": True})
    assert wait_until(lambda: sink_set.health()["mqtt_connected"], 3)
    # Connected is not yet published (on a loaded machine the configs can follow a moment later):
    # a first subscriber sees them arrive, so the one after it surely joins late.
    probe = Subscriber(broker.port, ["homeassistant/+/+/+/config"]).start()
    assert wait_until(lambda: len(probe.messages) >= 6, 5)
    probe.stop()
    subscriber = Subscriber(broker.port, ["homeassistant/+/+/+/config"]).start()  # joins late: retained
    assert wait_until(lambda: len(subscriber.messages) >= 6, 3)
    first = list(subscriber.messages)
    assert all(m.retain for m in first)
    topics = {m.topic for m in first}
    assert "homeassistant/sensor/edge_alpr_cam1/last_plate/config" in topics
    assert "homeassistant/event/edge_alpr_cam1/plate/config" in topics
    for message in first:
        body = json.loads(message.payload)
        assert body["availability_topic"] == AVAILABILITY_TOPIC
        assert body["state_topic"] in (PLATE_TOPIC, STATUS_TOPIC, f"edge-alpr/{CAMERA}/alert")
        assert body["unique_id"].startswith("edge_alpr_cam1_")
        assert all(part.replace("_", "").replace("-", "").isalnum() for part in message.topic.split("/"))

    announcer = Subscriber(broker.port, []).start()
    announcer.client.publish("homeassistant/status", "online", qos=1)
    assert wait_until(lambda: len(subscriber.messages) >= 2 * len(first), 3)
    assert {m.topic for m in subscriber.messages[len(first):]} == topics
    announcer.stop()
    subscriber.stop()


# ---- config ----------------------------------------------------------------------------------


def test_a_camera_id_that_cannot_be_a_topic_level_is_a_config_error(tmp_path, free_port):
    with pytest.raises(ConfigError, match="camera id 'lane/1'"):
        build_sinks(outputs_for(tmp_path, free_port), "lane/1")


@pytest.mark.parametrize(
    ("source", "expected"),
    [("inline", "s3cret"), ("file", "from-file"), ("env", "from-env"), ("none", None)],
)
def test_password_comes_from_exactly_one_source(tmp_path, monkeypatch, source, expected):
    monkeypatch.delenv("EDGE_ALPR_MQTT_PASSWORD", raising=False)
    fields: dict = {"username": "alpr"}
    if source == "inline":
        fields["password"] = "s3cret"
    elif source == "file":
        (tmp_path / "pw").write_text("from-file\n")
        fields["password_file"] = tmp_path / "pw"
    elif source == "env":
        monkeypatch.setenv("EDGE_ALPR_MQTT_PASSWORD", "from-env")
    config = MqttConfig(**fields)
    assert config.resolved_password() == expected
    assert (expected or "<none>") not in repr(config) + json.dumps(config.redacted())


@pytest.mark.parametrize(
    ("fields", "env", "message"),
    [
        ({"username": "u", "password": "a", "password_file": "/x"}, None, "more than once"),
        ({"username": "u", "password": "a"}, "b", "more than once"),
        ({"password": "a"}, None, "mqtt.username is not"),
        ({"username": "u", "password_file": "/nonexistent/pw"}, None, "mqtt.password_file '/nonexistent/pw' cannot be read"),
        ({"tls": {"enabled": True, "ca_file": "/nonexistent/ca.crt"}}, None, "mqtt.tls.ca_file: file '/nonexistent/ca.crt'"),
        ({"topic_prefix": "alpr/#"}, None, "wildcards"),
        ({"topic_prefix": "alpr/"}, None, "start or end"),
        ({"homeassistant": {"node_id": "cam 1"}}, None, "node_id"),
        ({"port": 0}, None, "greater than or equal to 1"),
        ({"qos": 3}, None, "qos"),
        ({"reconnect_min_s": 10, "reconnect_max_s": 5}, None, "must not exceed"),
    ],
)
def test_invalid_mqtt_config_is_rejected(monkeypatch, fields, env, message):
    monkeypatch.delenv("EDGE_ALPR_MQTT_PASSWORD", raising=False)
    if env is not None:
        monkeypatch.setenv("EDGE_ALPR_MQTT_PASSWORD", env)
    with pytest.raises(ValueError, match=message):
        MqttConfig(**fields)


@pytest.mark.parametrize(
    ("fields", "port"),
    [({}, 1883), ({"tls": {"enabled": True}}, 8883), ({"tls": {"enabled": True}, "port": 9999}, 9999)],
)
def test_default_port_follows_tls(fields, port):
    assert MqttConfig(**fields).port == port
