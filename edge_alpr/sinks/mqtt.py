"""MQTT publishing of plate events through the durable spool (paho-mqtt 2.x).

Topics, all under ``<topic_prefix>/<camera_id>/``:

* ``plate``: one compact JSON per event, ``PlateEvent.to_json()``, QoS ``mqtt.qos`` (1).
* ``availability``: ``online`` (retained) on connect, ``offline`` (retained) on clean shutdown,
  and ``offline`` as the Last Will when the connection dies.
* ``status``: retained JSON from ``publish_status``: the service's status plus this sink's health.
* ``alert``: the same event JSON again, QoS 1, for events whose plate is on an ``alert`` watchlist.
  Alerts have their own spool (``<spool>-alerts.sqlite3``) and are sent before the plate backlog,
  so after an outage the control room gets the alerts first and loses none.

Delivery is at least once. ``publish`` only writes the event to the spool; a pump thread feeds
pending events to paho, at most ``mqtt.max_inflight`` unacknowledged at a time, so a 10,000-event
backlog never sits in memory. An event leaves the spool only when its PUBACK arrives
(``on_publish``, mapped from paho's message id). While the broker is away events stay spooled;
after a reconnect paho resends its unacknowledged messages and the pump goes on with the rest,
in order, with their original ``event_id`` and timestamps. An event whose ack was lost to a
crash is sent again: receivers dedupe on ``event_id``.

The connection is made by paho's own thread (``connect_async`` + ``loop_start``) with
exponential reconnect delays, so an unreachable broker, a refused password or a bad
certificate never blocks or stops the daemon; the reason shows in ``health()``.

Lock order, to stay free of deadlocks: paho's internal locks, then ``self._lock``, then the
spool's lock. Nothing calls into paho while holding ``self._lock``.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from edge_alpr.config.outputs import MqttConfig
from edge_alpr.sinks import homeassistant
from edge_alpr.sinks.homeassistant import CameraTopics
from edge_alpr.sinks.spool import Spool
from edge_alpr.types import PlateEvent
from edge_alpr.watchlist import has_alert

log = logging.getLogger(__name__)

#: Seconds the pump sleeps when nothing wakes it; it then re-checks the spool anyway.
PUMP_POLL_S = 1.0
#: paho in-flight slots beyond mqtt.max_inflight, for availability, status and discovery messages.
CONTROL_INFLIGHT_SLOTS = 10


class MqttSink:
    """Publishes plate events (via the spool), availability, status and HA discovery."""

    name = "mqtt"

    def __init__(self, config: MqttConfig, camera_id: str, spool: Spool, alert_spool: Spool | None = None) -> None:
        self.config = config
        self.camera_id = camera_id
        self.spool = spool
        self.alert_spool = alert_spool
        self.topics = CameraTopics.for_camera(config.topic_prefix, camera_id)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._work = True  # the pump should look at the spool
        self._stopping = False
        self._connected = False
        self._mids: dict[int, _Spooled | None] = {}  # paho mid -> spooled message (None: not spooled)
        self._early_acks: set[int] = set()  # PUBACKs that beat publish() returning their mid
        self._events_published = 0
        self._alerts_published = 0
        self._last_error: str | None = None
        self._client = self._make_client()
        self._pump_thread = threading.Thread(target=self._pump, name="mqtt-spool-pump", daemon=True)
        self._started = False

    # ---- life cycle ----------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        config = self.config
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.resolved_client_id(self.camera_id),
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.resolved_password())
        if config.tls.enabled:
            client.tls_set(
                ca_certs=_str_or_none(config.tls.ca_file),
                certfile=_str_or_none(config.tls.cert_file),
                keyfile=_str_or_none(config.tls.key_file),
            )
            if config.tls.insecure:
                client.tls_insecure_set(True)
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)
        client.max_inflight_messages_set(config.max_inflight + CONTROL_INFLIGHT_SLOTS)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Start connecting in the background; returns at once even if the broker is down."""
        if self._started:
            return
        self._started = True
        log.info("MQTT: connecting to %s:%d as %s, topics %s/*; config %s",
                 self.config.host, self.config.port, self.config.resolved_client_id(self.camera_id),
                 self.topics.plate.rsplit("/", 1)[0], self.config.redacted())
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self._client.loop_start()
        self._pump_thread.start()

    def close(self, timeout_s: float = 3.0) -> None:
        """Publish ``offline``, wait up to ``timeout_s`` for outstanding acks, disconnect.

        Events not acknowledged by then stay in the spool for the next start.
        """
        deadline = time.monotonic() + timeout_s
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if not self._started:
            return
        self._pump_thread.join(max(0.0, deadline - time.monotonic()))
        if self._connected:
            # Events spooled just before close (tracks flushed at SIGTERM or at the end of a file)
            # go out now, while the broker is there, instead of waiting for the next start.
            while time.monotonic() < deadline and self._connected and any(q.count() for q in self._spools()):
                self._send_pending()
                time.sleep(0.02)
            offline = self._send(self.topics.availability, "offline", qos=1, retain=True)
            while time.monotonic() < deadline and self._connected:
                if self._in_flight() == 0 and (offline is None or offline.is_published()):
                    break
                time.sleep(0.02)
        self._client.disconnect()
        # loop_stop() joins paho's thread, which may sit in a blocking connect(); bound the wait.
        stopper = threading.Thread(target=self._client.loop_stop, name="mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(max(0.1, deadline - time.monotonic()))
        if stopper.is_alive():
            log.warning("MQTT: network thread did not stop within %.1f s; leaving it behind", timeout_s)

    # ---- the sink interface --------------------------------------------------------------

    def publish(self, event: PlateEvent) -> None:
        """Spool ``event`` (and its alert); the pump sends them as soon as the broker can take them."""
        self.spool.put(event)
        if self.alert_spool is not None and has_alert(event):
            self.alert_spool.put(event)
        with self._wake:
            self._work = True
            self._wake.notify_all()

    def publish_status(self, status: dict) -> None:
        """Publish ``status`` plus this sink's health, retained; skipped while disconnected."""
        if not self._connected:
            return
        payload = json.dumps({**status, **self.health()}, separators=(",", ":"), default=str)
        self._send(self.topics.status, payload, qos=0, retain=True)

    def publish_command(self, topic: str, payload: str) -> bool:
        """Send a command now (QoS 1, not retained, not spooled); False while disconnected."""
        if not self._connected:
            return False
        return self._send(topic, payload, qos=1, retain=False) is not None

    def health(self) -> dict:
        counters = self.spool.counters()
        with self._lock:
            connected, published, last_error = self._connected, self._events_published, self._last_error
            alerts_published = self._alerts_published
        alerts = {} if self.alert_spool is None else {
            "mqtt_alert_spool_depth": self.alert_spool.count(),
            "mqtt_alert_spool_dropped": self.alert_spool.counters().dropped,
            "mqtt_alerts_published": alerts_published,
        }
        return {**alerts,
            "mqtt_connected": connected,
            "mqtt_spool_depth": self.spool.count(),
            "mqtt_spool_dropped": counters.dropped,
            "mqtt_spool_bytes": self.spool.size_bytes(),
            "mqtt_spool_error": self.spool.open_error or self.spool.write_fault,
            "mqtt_events_published": published,
            "mqtt_last_error": last_error,
        }

    # ---- sending -------------------------------------------------------------------------

    def _pump(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopping or self._work, timeout=PUMP_POLL_S)
                self._work = False
                if self._stopping:
                    return
                if not self._connected:
                    continue
            self._send_pending()

    def _send_pending(self) -> None:
        free = self.config.max_inflight - self._in_flight()
        queues = [(self.spool, self.topics.plate, self.config.qos, self.config.retain_events)]
        if self.alert_spool is not None:  # alerts first: they matter more than the plate backlog
            queues.insert(0, (self.alert_spool, self.topics.alert, max(1, self.config.qos), False))
        for spool, topic, qos, retain in queues:
            if free <= 0:
                return  # the next PUBACK wakes the pump again
            for event in spool.pending(free):
                payload = json.dumps(event.to_json(), separators=(",", ":"))
                if self._send(topic, payload, qos, retain, _Spooled(spool, event.event_id)) is None:
                    return
                free -= 1

    def _spools(self) -> list[Spool]:
        return [self.spool] + ([self.alert_spool] if self.alert_spool is not None else [])

    def _in_flight(self) -> int:
        return sum(spool.in_flight_count() for spool in self._spools())

    def _send(
        self, topic: str, payload: str, qos: int, retain: bool, spooled: _Spooled | None = None
    ) -> mqtt.MQTTMessageInfo | None:
        """Hand one message to paho and remember its mid; None when paho refused it."""
        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, RuntimeError) as error:
            self._set_error(f"cannot publish to {topic}: {error}")
            return None
        # NO_CONN: paho keeps the message and sends it after the reconnect, under the same mid.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self._set_error(f"cannot publish to {topic}: {mqtt.error_string(info.rc)}")
            return None
        with self._lock:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                self._acknowledged(spooled)
            else:
                self._mids[info.mid] = spooled
                if spooled is not None:
                    spooled.spool.mark_in_flight(spooled.event_id, info.mid)
        return info

    def _acknowledged(self, spooled: _Spooled | None) -> None:
        # Called with self._lock held.
        if spooled is None:
            return
        spooled.spool.ack(spooled.event_id)
        if spooled.spool is self.alert_spool:
            self._alerts_published += 1
        else:
            self._events_published += 1
        self._work = True
        self._wake.notify_all()

    # ---- paho callbacks (paho's network thread) ------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set_error(f"broker {self.config.host}:{self.config.port} refused the connection: {reason_code}")
            return
        log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        if self.config.homeassistant.enabled:
            client.subscribe(homeassistant.status_topic(self.config.homeassistant), qos=1)
            self._publish_discovery()
        self._send(self.topics.availability, "online", qos=1, retain=True)
        with self._wake:
            self._connected = True
            self._work = True
            self._wake.notify_all()

    def _on_connect_fail(self, client: mqtt.Client, userdata) -> None:
        # paho calls this from inside its `except OSError`, so the cause is the current exception.
        cause = sys.exc_info()[1]
        self._set_error(f"cannot connect to {self.config.host}:{self.config.port}: {cause or 'connection failed'}")

    def _on_disconnect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was_connected, self._connected = self._connected, False
            stopping = self._stopping
        # A refused connection also ends here; keep the refusal as the error, it says more.
        if was_connected and not stopping:
            self._set_error(f"lost the connection to {self.config.host}:{self.config.port}: {reason_code}")

    def _on_publish(self, client: mqtt.Client, userdata, mid: int, reason_code, properties) -> None:
        with self._lock:
            if mid not in self._mids:
                self._early_acks.add(mid)
                return
            self._acknowledged(self._mids.pop(mid))

    def _on_message(self, client: mqtt.Client, userdata, message: mqtt.MQTTMessage) -> None:
        ha = self.config.homeassistant
        if ha.enabled and message.topic == homeassistant.status_topic(ha) and message.payload == b"online":
            log.info("MQTT: Home Assistant came online; republishing discovery")
            self._publish_discovery()

    def _publish_discovery(self) -> None:
        for message in homeassistant.discovery_messages(self.config.homeassistant, self.camera_id, self.topics):
            self._send(message.topic, json.dumps(message.config, separators=(",", ":")), qos=1, retain=True)

    def _set_error(self, message: str) -> None:
        with self._lock:
            repeated = message == self._last_error
            self._last_error = message
        # Reconnect attempts repeat the same failure every few seconds; log each new one once.
        if not repeated:
            log.warning("MQTT: %s", message)


@dataclass(frozen=True)
class _Spooled:
    """A message that leaves its spool when the broker acknowledges it."""

    spool: Spool
    event_id: str


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
