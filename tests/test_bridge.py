"""A unit's mosquitto bridged to a control room's, both run from the shipped config/mosquitto/ files.

Only what cannot be shipped is substituted (ports, file paths, the bridge's password, a shorter
reconnect delay); each substituted directive must be in the example, so a renamed or dropped one
fails here instead of leaving an untested example behind.
"""
from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from broker import Mosquitto, Subscriber, make_password_file, wait_until

from edge_alpr.config import load_config
from edge_alpr.sinks.mqtt import MqttSink
from edge_alpr.sinks.spool import Spool

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "config" / "mosquitto"
UNIT = "gate-north"  # the camera_id and bridge user name in the examples
OTHER_UNIT = "toll-lane-3"
PASSWORDS = {"control-room": "room-secret", UNIT: "unit-secret", OTHER_UNIT: "other-secret"}


def render(example: Path, replace: dict[str, str]) -> str:
    """``example`` with the value of each directive in ``replace`` substituted (first occurrence)."""
    lines, done = [], set()
    for line in example.read_text(encoding="utf-8").splitlines():
        key = line.split(" ", 1)[0]
        if key in replace and key not in done:
            line = f"{key} {replace[key]}"
            done.add(key)
        lines.append(line)
    assert done == set(replace), f"{example.name} lacks {sorted(set(replace) - done)}"
    return "\n".join(lines) + "\n"


def configure(broker: Mosquitto, example: Path, replace: dict[str, str]) -> Mosquitto:
    """Write ``broker``'s config: what Debian's /etc/mosquitto/mosquitto.conf sets, then the drop-in."""
    debian_main = [
        f"user {getpass.getuser()}",  # as root mosquitto would switch to 'mosquitto', locked out of tmp_path
        "persistence true",
        f"persistence_location {broker.workdir}/",
        "log_dest stderr",
        "log_type all",
    ]
    broker.config_path.write_text("\n".join(debian_main) + "\n" + render(example, replace))
    return broker.start()


@pytest.fixture
def control_room(mosquitto: Callable[..., Mosquitto], tmp_path: Path) -> Mosquitto:
    broker = mosquitto(start=False)
    passwords = make_password_file(tmp_path / "edge-alpr.passwd", PASSWORDS)
    return configure(broker, EXAMPLES / "control-room.conf", {
        "listener": f"{broker.port} 127.0.0.1",
        "password_file": str(passwords),
        "acl_file": str(EXAMPLES / "edge-alpr.acl"),  # the shipped ACL, unchanged
    })


def control_room_subscriber(broker: Mosquitto) -> Subscriber:
    # A persistent session, as the control room's database writer has: the broker keeps its
    # messages across its own restart and the subscriber's reconnect.
    return Subscriber(broker.port, ["edge-alpr/#"], client_id="control-room", clean_session=False,
                      username="control-room", password=PASSWORDS["control-room"]).start()


def payloads(subscriber: Subscriber, topic: str) -> list[str]:
    return [m.payload.decode() for m in subscriber.on(topic)]


def test_a_unit_writes_only_under_its_own_topic(control_room: Mosquitto) -> None:
    room = control_room_subscriber(control_room)
    unit = Subscriber(control_room.port, ["edge-alpr/#"], username=UNIT, password=PASSWORDS[UNIT]).start()
    forged = unit.client.publish(f"edge-alpr/{OTHER_UNIT}/plate", "forged", qos=1)
    forged.wait_for_publish(5)  # mosquitto acknowledges a refused publish and drops it
    unit.client.publish(f"edge-alpr/{UNIT}/plate", "own", qos=1).wait_for_publish(5)
    # One connection's messages are delivered in order: once "own" is in, "forged" would be too.
    assert wait_until(lambda: payloads(room, f"edge-alpr/{UNIT}/plate") == ["own"], 5)
    time.sleep(0.3)
    assert room.on(f"edge-alpr/{OTHER_UNIT}/plate") == []
    assert f"Denied PUBLISH from {UNIT}" in control_room.log_text()
    # Units cannot read each other's plates (nor their own) on the control room's broker.
    assert unit.messages == []
    unit.stop()
    room.stop()


def test_anonymous_and_wrong_passwords_are_refused(control_room: Mosquitto) -> None:
    for username, password in ((None, None), (UNIT, "wrong")):
        with pytest.raises(TimeoutError):
            Subscriber(control_room.port, [], username=username, password=password).start(timeout_s=1)


def test_the_bridge_forwards_queues_through_an_outage_and_carries_real_events(
    control_room: Mosquitto, mosquitto: Callable[..., Mosquitto], tmp_path: Path, make_plate_event
) -> None:
    room = control_room_subscriber(control_room)
    unit = mosquitto(start=False)
    configure(unit, EXAMPLES / "unit-bridge.conf", {
        "listener": f"{unit.port} 127.0.0.1",
        "address": f"127.0.0.1:{control_room.port}",
        "remote_password": PASSWORDS[UNIT],
        "restart_timeout": "1 2",  # the example's 5 s first retry would double this test's time
    })
    bridge_state = f"edge-alpr/{UNIT}/bridge"
    assert wait_until(lambda: payloads(room, bridge_state)[-1:] == ["1"], 10), unit.log_text()

    local = Subscriber(unit.port, []).start()  # anonymous, as edge-alpr on the Pi connects
    local.client.publish(f"edge-alpr/{OTHER_UNIT}/plate", "not bridged", qos=1).wait_for_publish(5)
    local.client.publish(f"edge-alpr/{UNIT}/plate", "live", qos=1).wait_for_publish(5)
    assert wait_until(lambda: payloads(room, f"edge-alpr/{UNIT}/plate") == ["live"], 5)
    assert room.on(f"edge-alpr/{OTHER_UNIT}/plate") == []

    # The control room goes away; the unit's broker goes on acknowledging and queues for the bridge.
    control_room.stop()
    queued = [f"queued-{i}" for i in range(20)]
    for payload in queued:
        local.client.publish(f"edge-alpr/{UNIT}/plate", payload, qos=1).wait_for_publish(5)
    unit.stop()  # and the Pi is shut down cleanly meanwhile: the queue is saved with the session
    unit.start()
    control_room.start()
    assert wait_until(lambda: set(queued) <= set(payloads(room, f"edge-alpr/{UNIT}/plate")), 15), (
        f"{payloads(room, f'edge-alpr/{UNIT}/plate')}\n{unit.log_text()[-3000:]}")
    arrived = [p for p in payloads(room, f"edge-alpr/{UNIT}/plate") if p.startswith("queued-")]
    assert list(dict.fromkeys(arrived)) == queued  # in order; a resent one may come twice
    local.stop()

    # A real event from the daemon's MQTT sink, configured by the shipped unit example.
    config = load_config(REPO / "config" / "bridged-unit.yaml")
    assert config.camera_id == UNIT and config.outputs.mqtt.host == "127.0.0.1"
    spool = Spool(tmp_path / "spool.sqlite3", 1000, 30)
    sink = MqttSink(config.outputs.mqtt.model_copy(update={"port": unit.port}), config.camera_id, spool)
    sink.start()
    event = make_plate_event(7, camera_id=UNIT)
    sink.publish(event)
    plate_topic = f"edge-alpr/{UNIT}/plate"
    assert wait_until(lambda: any(m.payload.startswith(b"{") for m in room.on(plate_topic)), 10)
    received = [json.loads(m.payload) for m in room.on(plate_topic) if m.payload.startswith(b"{")]
    assert received[0]["event_id"] == event.event_id and received[0]["plate"] == event.plate
    assert wait_until(lambda: "online" in payloads(room, f"edge-alpr/{UNIT}/availability"), 5)
    sink.close(timeout_s=2)
    spool.close()
    room.stop()
