"""Home Assistant discovery: every entity's template rendered (with Jinja, as Home Assistant does)
against real event and status payloads, the alert entities on the alert topic, and topic rules."""
from __future__ import annotations

import json

import jinja2
import pytest

from edge_alpr.config.outputs import HomeAssistantConfig
from edge_alpr.sinks.homeassistant import ALERT_EVENT_TYPE, PLATE_EVENT_TYPE, CameraTopics, discovery_messages
from edge_alpr.types import WatchlistMatch

TOPICS = CameraTopics.for_camera("edge-alpr", "gate-north")


def render(template: str, payload: dict) -> str:
    """What Home Assistant's MQTT integration makes of ``payload`` (value_json, the to_json filter)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters["to_json"] = json.dumps
    return environment.from_string(template).render(value_json=payload, value=json.dumps(payload))


def messages(**config) -> dict[str, dict]:
    return {m.topic: m.config for m in discovery_messages(HomeAssistantConfig(enabled=True, **config), "gate-north",
                                                          TOPICS)}


@pytest.fixture
def alert_event(make_plate_event) -> dict:
    event = make_plate_event(3, camera_id="gate-north", plate_colour="yellow", text_colour="black",
                             vehicle_category="commercial", direction="approaching", line_crossing="in",
                             watchlist=(WatchlistMatch("stolen", "alert", "KA01AB0003", "white van", 0.0),))
    return event.to_json()


def test_the_alert_event_entity_fires_watchlist_alert_with_the_match(alert_event):
    body = messages()["homeassistant/event/edge_alpr_gate-north/alert/config"]
    assert body["state_topic"] == "edge-alpr/gate-north/alert"
    assert body["event_types"] == [ALERT_EVENT_TYPE]
    fired = json.loads(render(body["value_template"], alert_event))
    assert fired["event_type"] == ALERT_EVENT_TYPE
    assert fired["plate"] == alert_event["plate"]
    assert fired["watchlist"][0]["list"] == "stolen" and fired["watchlist"][0]["label"] == "white van"
    assert (fired["vehicle_category"], fired["direction"]) == ("commercial", "approaching")


def test_the_alert_binary_sensor_turns_on_for_each_alert_and_off_after_the_delay(alert_event):
    body = messages(alert_off_delay_s=45)["homeassistant/binary_sensor/edge_alpr_gate-north/alert/config"]
    assert body["state_topic"] == body["json_attributes_topic"] == "edge-alpr/gate-north/alert"
    assert render(body["value_template"], alert_event) == body["payload_on"]
    assert body["off_delay"] == 45
    assert body["availability_topic"] == TOPICS.availability


def test_the_plate_event_and_last_plate_carry_the_new_fields_and_accept_older_events(alert_event):
    found = messages()
    plate_event = found["homeassistant/event/edge_alpr_gate-north/plate/config"]
    fired = json.loads(render(plate_event["value_template"], alert_event))
    assert fired["event_type"] == PLATE_EVENT_TYPE
    assert (fired["plate_colour"], fired["line_crossing"]) == ("yellow", "in")
    older = {k: v for k, v in alert_event.items()
             if k not in ("plate_colour", "text_colour", "vehicle_category", "direction", "line_crossing")}
    assert json.loads(render(plate_event["value_template"], older))["vehicle_category"] is None
    last_plate = found["homeassistant/sensor/edge_alpr_gate-north/last_plate/config"]
    assert render(last_plate["value_template"], alert_event) == alert_event["plate"]
    assert last_plate["json_attributes_topic"] == TOPICS.plate  # every field, colour and direction too


@pytest.mark.parametrize("name", ["approaching", "receding", "in", "out"])
def test_pass_counters_read_the_status_passes(name):
    body = messages()[f"homeassistant/sensor/edge_alpr_gate-north/passes_{name}/config"]
    status = {"passes": {"approaching": 5, "receding": 3, "in": 4, "out": 2}}
    assert render(body["value_template"], status) == str(status["passes"][name])
    assert body["state_topic"] == TOPICS.status
    assert body["state_class"] == "total_increasing" and body["unit_of_measurement"] == "vehicles"
    assert "entity_category" not in body  # a main sensor, not a diagnostic one


def test_every_discovery_topic_and_id_is_unique_and_made_of_safe_segments():
    found = discovery_messages(HomeAssistantConfig(enabled=True), "gate-north", TOPICS)
    assert len({m.topic for m in found}) == len(found)
    assert len({m.config["unique_id"] for m in found}) == len(found)
    for message in found:
        assert message.topic.endswith("/config")
        assert all(part.replace("_", "").replace("-", "").isalnum() for part in message.topic.split("/"))
        assert message.config["device"]["identifiers"] == ["edge_alpr_gate-north"]
