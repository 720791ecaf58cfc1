"""Home Assistant MQTT discovery for one camera.

Published retained, on every connect and again whenever Home Assistant announces itself
``online`` on ``<discovery_prefix>/status`` (it forgets non-retained state when it restarts):

* ``<prefix>/sensor/<node_id>/last_plate/config``: the last plate, every event field as attributes;
* ``<prefix>/sensor/<node_id>/<status>/config``: spool depth, events published, dropped events,
  plate-log fault, read from the status topic;
* ``<prefix>/event/<node_id>/plate/config``: an ``event`` entity firing ``plate_read`` per event
  (HA ignores retained messages for events, so it never fires twice for one plate);
* ``<prefix>/event/<node_id>/alert/config``: an ``event`` entity firing ``watchlist_alert`` for
  each event on ``<topic_prefix>/<camera_id>/alert`` (a plate on an ``alert`` watchlist);
* ``<prefix>/binary_sensor/<node_id>/alert/config``: "Watchlist alert", on for
  ``alert_off_delay_s`` after each alert, the alert's fields as attributes (for dashboards and
  automations that want a state rather than an event);
* ``<prefix>/sensor/<node_id>/passes_<direction>/config``: vehicles approaching, receding, in
  and out (the counting line), from the status's ``passes``.

All share one device and the camera's availability topic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from edge_alpr.config.outputs import HomeAssistantConfig

#: The event_type the Home Assistant event entity fires for each plate.
PLATE_EVENT_TYPE = "plate_read"
#: The event_type of the alert event entity: a plate on an 'alert' watchlist.
ALERT_EVENT_TYPE = "watchlist_alert"

_UNSAFE_SEGMENT_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(frozen=True)
class CameraTopics:
    """The MQTT topics of one camera: ``<topic_prefix>/<camera_id>/...``."""

    plate: str
    status: str
    availability: str
    alert: str  # events whose plate is on an 'alert' watchlist

    @classmethod
    def for_camera(cls, topic_prefix: str, camera_id: str) -> CameraTopics:
        base = f"{topic_prefix}/{camera_id}"
        return cls(plate=f"{base}/plate", status=f"{base}/status", availability=f"{base}/availability",
                   alert=f"{base}/alert")


@dataclass(frozen=True)
class DiscoveryMessage:
    topic: str
    config: dict  # the JSON body Home Assistant's MQTT discovery expects


@dataclass(frozen=True)
class _StatusSensor:
    object_id: str
    name: str
    health_key: str  # what follows value_json in the template: a key of the status JSON (MqttSink.publish_status)
    icon: str
    state_class: str | None = None  # "measurement" for levels, "total_increasing" for counters
    unit: str = "events"
    diagnostic: bool = True  # the device page's diagnostics, not its main sensors


_STATUS_SENSORS = (
    _StatusSensor("spool_depth", "Events waiting", "mqtt_spool_depth", "mdi:tray-full", "measurement"),
    _StatusSensor("events_published", "Events published", "mqtt_events_published", "mdi:upload", "total_increasing"),
    _StatusSensor("events_dropped", "Events dropped", "mqtt_spool_dropped", "mdi:delete-alert", "total_increasing"),
    _StatusSensor("plate_log_error", "Plate log fault", "plate_log_error", "mdi:file-alert"),
    # Vehicles since the daemon started ("in" is a Jinja keyword, hence the brackets).
    *(
        _StatusSensor(f"passes_{name}", f"Vehicles {name}", f"passes['{name}']", icon, "total_increasing",
                      "vehicles", diagnostic=False)
        for name, icon in (("approaching", "mdi:car-arrow-left"), ("receding", "mdi:car-arrow-right"),
                           ("in", "mdi:login"), ("out", "mdi:logout"))
    ),
)


# Event fields every event entity passes on: the plate's colours and category, its direction
# (None in the JSON becomes null); .get keeps an older daemon's events, which lack them, valid.
_NEW_FIELDS = ", ".join(f"'{key}': value_json.get('{key}')" for key in (
    "plate_colour", "vehicle_category", "direction", "line_crossing"))


def node_id_for(config: HomeAssistantConfig, camera_id: str) -> str:
    """The configured node id, or one derived from the camera id with unsafe characters replaced."""
    return config.node_id or "edge_alpr_" + _UNSAFE_SEGMENT_CHARS.sub("_", camera_id)


def status_topic(config: HomeAssistantConfig) -> str:
    """Where Home Assistant announces ``online`` after it starts."""
    return f"{config.discovery_prefix}/status"


def discovery_messages(config: HomeAssistantConfig, camera_id: str, topics: CameraTopics) -> list[DiscoveryMessage]:
    node_id = node_id_for(config, camera_id)
    device = {
        "identifiers": [node_id],
        "name": f"edge-alpr {camera_id}",
        "manufacturer": "edge-alpr",
        "model": "ALPR camera",
    }
    common = {"availability_topic": topics.availability, "device": device}
    messages = [
        DiscoveryMessage(
            f"{config.discovery_prefix}/sensor/{node_id}/last_plate/config",
            {
                **common,
                "name": "Last plate",
                "unique_id": f"{node_id}_last_plate",
                "state_topic": topics.plate,
                "value_template": "{{ value_json.plate }}",
                "json_attributes_topic": topics.plate,
                "icon": "mdi:car",
            },
        ),
        DiscoveryMessage(
            f"{config.discovery_prefix}/event/{node_id}/plate/config",
            {
                **common,
                "name": "Plate read",
                "unique_id": f"{node_id}_plate_event",
                "state_topic": topics.plate,
                "event_types": [PLATE_EVENT_TYPE],
                # The plate payload has no event_type; the template adds it and keeps the essentials.
                "value_template": (
                    "{{ {'event_type': '" + PLATE_EVENT_TYPE + "', 'plate': value_json.plate, "
                    "'confidence': value_json.confidence, 'event_id': value_json.event_id, "
                    "'camera_id': value_json.camera_id, " + _NEW_FIELDS + "} | to_json }}"
                ),
                "icon": "mdi:car-search",
            },
        ),
        *_alert_messages(config, node_id, common, topics),
    ]
    for sensor in _STATUS_SENSORS:
        body = {
            **common,
            "name": sensor.name,
            "unique_id": f"{node_id}_{sensor.object_id}",
            "state_topic": topics.status,
            "value_template": "{{ value_json." + sensor.health_key + " }}",
            "entity_category": "diagnostic",
            "icon": sensor.icon,
        }
        if not sensor.diagnostic:
            del body["entity_category"]
        if sensor.state_class is not None:
            body["unit_of_measurement"] = sensor.unit
            body["state_class"] = sensor.state_class
        messages.append(DiscoveryMessage(f"{config.discovery_prefix}/sensor/{node_id}/{sensor.object_id}/config", body))
    return messages


def _alert_messages(config: HomeAssistantConfig, node_id: str, common: dict, topics: CameraTopics) -> list[DiscoveryMessage]:
    """The alert topic as an event entity (one ``watchlist_alert`` per alert) and as a binary sensor
    that stays on ``alert_off_delay_s`` after each one."""
    return [
        DiscoveryMessage(
            f"{config.discovery_prefix}/event/{node_id}/alert/config",
            {
                **common,
                "name": "Watchlist alert",
                "unique_id": f"{node_id}_alert_event",
                "state_topic": topics.alert,
                "event_types": [ALERT_EVENT_TYPE],
                "value_template": (
                    "{{ {'event_type': '" + ALERT_EVENT_TYPE + "', 'plate': value_json.plate, "
                    "'watchlist': value_json.watchlist, 'confidence': value_json.confidence, "
                    "'event_id': value_json.event_id, 'camera_id': value_json.camera_id, "
                    + _NEW_FIELDS + "} | to_json }}"
                ),
                "icon": "mdi:alarm-light",
            },
        ),
        DiscoveryMessage(
            f"{config.discovery_prefix}/binary_sensor/{node_id}/alert/config",
            {
                **common,
                "name": "Watchlist alert active",
                "unique_id": f"{node_id}_alert",
                "state_topic": topics.alert,
                # Every message on the topic is an alert; HA turns the sensor off by itself.
                "value_template": "ON",
                "payload_on": "ON",
                "off_delay": config.alert_off_delay_s,
                "json_attributes_topic": topics.alert,
                "device_class": "problem",
                "icon": "mdi:alarm-light",
            },
        ),
    ]
