"""Where plate events go: JPEG crops, the plate log and MQTT (through the durable spool).

``build_sinks(outputs, camera_id)`` makes the enabled sinks and starts MQTT in the background.
``SinkSet.publish`` saves crops first (so the event carries their paths), then writes the plate
log, then hands the event to MQTT. One failing sink never stops the others: each records its
fault in ``health()`` and logs it.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from edge_alpr.config.outputs import OutputsConfig
from edge_alpr.errors import ConfigError
from edge_alpr.sinks.crops import CropsSink
from edge_alpr.sinks.mqtt import MqttSink
from edge_alpr.sinks.platelog import PlateLogSink
from edge_alpr.sinks.spool import Spool
from edge_alpr.types import PlateEvent

log = logging.getLogger(__name__)

# A camera id becomes one MQTT topic level: no separators, no wildcards, nothing exotic.
_CAMERA_ID = re.compile(r"^[A-Za-z0-9_.-]+$")

__all__ = ["EventSink", "SinkSet", "build_sinks", "CropsSink", "MqttSink", "PlateLogSink", "Spool"]


class EventSink(Protocol):
    """What every sink offers besides crops: take an event, report health, flush on close."""

    name: str

    def publish(self, event: PlateEvent) -> None: ...

    def health(self) -> dict: ...

    def close(self, timeout_s: float = 3.0) -> None: ...


class SinkSet:
    """The enabled sinks of one camera, used by the service as one."""

    def __init__(
        self,
        sinks: list[EventSink],
        crops: CropsSink | None = None,
        mqtt: MqttSink | None = None,
        spool: Spool | None = None,
        alert_spool: Spool | None = None,
    ) -> None:
        self.sinks = sinks
        self.crops = crops
        self.mqtt = mqtt
        self.spool = spool
        self.alert_spool = alert_spool
        self.plate_log = next((sink for sink in sinks if isinstance(sink, PlateLogSink)), None)

    def publish(
        self, event: PlateEvent, plate_crop: np.ndarray | None = None, vehicle_crop: np.ndarray | None = None
    ) -> PlateEvent:
        """Deliver ``event`` to every sink; returns it with the saved crop paths filled in."""
        if self.crops is not None:
            try:
                event = self.crops.publish(event, plate_crop, vehicle_crop)
            except Exception:  # a bug in one sink must not cost the event its other outputs
                log.exception("crops sink failed on event %s", event.event_id)
        for sink in self.sinks:
            try:
                sink.publish(event)
            except Exception:
                log.exception("%s sink failed on event %s", sink.name, event.event_id)
        return event

    def publish_status(self, status: dict) -> None:
        """Publish the service's status plus every sink's health (MQTT adds its own)."""
        if self.mqtt is None:
            return
        others = {k: v for sink in self._all() if sink is not self.mqtt for k, v in sink.health().items()}
        try:
            self.mqtt.publish_status({**status, **others})
        except Exception:
            log.exception("publishing the status failed")

    def health(self) -> dict:
        merged: dict = {}
        for sink in self._all():
            merged.update(sink.health())
        return merged

    def close(self, timeout_s: float = 3.0) -> None:
        """Flush and stop every sink within ``timeout_s`` in all; unacknowledged events stay spooled."""
        deadline = time.monotonic() + timeout_s
        for sink in self._all():
            try:
                sink.close(max(0.0, deadline - time.monotonic()))
            except Exception:
                log.exception("closing the %s sink failed", sink.name)
        for spool in (self.spool, self.alert_spool):
            if spool is not None:
                spool.close()

    def _all(self) -> list[EventSink | CropsSink]:
        return ([self.crops] if self.crops is not None else []) + list(self.sinks)


def build_sinks(outputs: OutputsConfig, camera_id: str) -> SinkSet:
    """Make the enabled sinks for ``camera_id`` and start MQTT connecting in the background."""
    crops = CropsSink(outputs.crops) if outputs.crops.enabled else None
    sinks: list[EventSink] = []
    if outputs.plate_log.enabled:
        sinks.append(PlateLogSink(outputs.plate_log))
    mqtt_sink = spool = alert_spool = None
    if outputs.mqtt.enabled:
        if not _CAMERA_ID.match(camera_id):
            raise ConfigError(
                f"camera id {camera_id!r} cannot be an MQTT topic level: use only letters, digits, '_', '-' and '.'"
            )
        spool_config = outputs.spool
        spool, alert_spool = (
            Spool(path, spool_config.max_events, spool_config.max_age_days,
                  memory_fallback_events=spool_config.memory_fallback_events)
            for path in (spool_config.path, alert_spool_path(spool_config.path))
        )
        mqtt_sink = MqttSink(outputs.mqtt, camera_id, spool, alert_spool)
        sinks.append(mqtt_sink)
        mqtt_sink.start()
    return SinkSet(sinks, crops=crops, mqtt=mqtt_sink, spool=spool, alert_spool=alert_spool)


def alert_spool_path(spool_path: Path) -> Path:
    """Alerts wait in a file of their own beside the plate spool: spool.sqlite3 -> spool-alerts.sqlite3."""
    return spool_path.with_name(f"{spool_path.stem}-alerts{spool_path.suffix}")
