"""Gate or barrier control: open for a plate on an ``allow`` watchlist, if the read is sure.

``Gate.consider(event)`` decides; the backends act:

* ``gpio``: pulses a relay on a GPIO pin through gpiozero (imported only when this backend is
  configured; on Raspberry Pi OS it comes with the system, ``python3-gpiozero``);
* ``mqtt``: publishes an open command at once, QoS 1. Never spooled: a command delivered
  after a broker outage would open the gate minutes late for nobody;
* ``log``: only logs, for commissioning and for machines without GPIO.

Whatever the backends, every opening is logged and written to the plate log as one line
(``GateOpening.log_line``). Nothing opens for a read under ``gate.min_confidence``, and the
same listed plate opens at most once per ``gate.cooldown_s``. A backend that fails is logged
and counted; it never stops the daemon or the other backends.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from edge_alpr.config.watchlists import GateConfig
from edge_alpr.errors import ConfigError
from edge_alpr.types import PlateEvent, WatchlistMatch

log = logging.getLogger(__name__)

Decision = Literal["opened", "no_match", "unsure", "cooldown"]


@dataclass(frozen=True)
class GateOpening:
    """One opening of the gate, as logged."""

    at: str  # ISO 8601 UTC
    camera_id: str
    plate: str  # as read
    match: WatchlistMatch
    confidence: float
    event_id: str
    pulse_s: float
    backends: tuple[str, ...]  # each backend's name, with ':failed' where it failed

    def log_line(self) -> str:
        """The plate-log line: the plate line's first three columns, then 'gate-open' where
        a plate line has its confidence, so one split tells the two apart."""
        return "\t".join((self.at, self.camera_id, self.plate, "gate-open", self.event_id, self.match.list_name,
                          self.match.plate, self.match.label, ",".join(self.backends)))

    def command(self) -> dict:
        """The JSON body of the MQTT open command (unless gate.mqtt.payload replaces it)."""
        return {"command": "open", "pulse_s": self.pulse_s, "plate": self.plate, "list": self.match.list_name,
                "label": self.match.label, "event_id": self.event_id, "camera_id": self.camera_id, "at": self.at}


class Backend(Protocol):
    name: str

    def open(self, opening: GateOpening) -> None:
        """Open the gate; raises when it could not."""

    def close(self) -> None: ...


class LogBackend:
    name = "log"

    def open(self, opening: GateOpening) -> None:
        log.info("gate (log only): would open for %s (%s %s) for %.1f s", opening.plate, opening.match.list_name,
                 opening.match.label, opening.pulse_s)

    def close(self) -> None:
        pass


class GpioRelay:
    """A relay on one GPIO pin, closed for ``pulse_s`` per opening (gpiozero's own thread)."""

    name = "gpio"

    def __init__(self, pin: int, active_high: bool, pin_factory: object | None = None) -> None:
        try:
            from gpiozero import DigitalOutputDevice
        except ImportError:
            raise ConfigError("gate.backends has 'gpio' but gpiozero is not installed (Raspberry Pi OS: "
                              "apt install python3-gpiozero; or pip install 'edge-alpr[pi]')") from None
        try:
            self._relay = DigitalOutputDevice(pin, active_high=active_high, initial_value=False,
                                              pin_factory=pin_factory)
        except Exception as error:  # gpiozero raises its own errors for a busy pin or no GPIO at all
            raise ConfigError(f"gate.gpio.pin: GPIO{pin} cannot be used: {type(error).__name__}: {error}") from None

    def open(self, opening: GateOpening) -> None:
        # blink(n=1) closes the relay, waits on_time in a background thread, then opens it.
        self._relay.blink(on_time=opening.pulse_s, off_time=0.0, n=1, background=True)

    def close(self) -> None:
        self._relay.off()  # a pulse cut short by shutdown must not leave the gate held open
        self._relay.close()


class CommandPublisher(Protocol):
    def publish_command(self, topic: str, payload: str) -> bool: ...


class MqttCommand:
    name = "mqtt"

    def __init__(self, publisher: CommandPublisher, topic: str, payload: str | None) -> None:
        self.publisher = publisher
        self.topic = topic
        self.payload = payload

    def open(self, opening: GateOpening) -> None:
        payload = self.payload if self.payload is not None else json.dumps(opening.command(), separators=(",", ":"))
        if not self.publisher.publish_command(self.topic, payload):
            raise ConnectionError(f"the broker is not connected; the command to {self.topic} was not sent")

    def close(self) -> None:
        pass


class Gate:
    """Decides per event whether the gate opens, and opens it through every backend."""

    def __init__(
        self,
        config: GateConfig,
        camera_id: str,
        backends: list[Backend],
        record: Callable[[GateOpening], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.camera_id = camera_id
        self.backends = backends
        self.record = record
        self._clock = clock
        self._last_open: dict[str, float] = {}  # listed plate -> clock() of its last opening
        self.counts = {"opened": 0, "unsure": 0, "cooldown": 0, "backend_errors": 0}
        self.last_error: str | None = None

    def consider(self, event: PlateEvent) -> Decision:
        """Open the gate for ``event`` if its plate is allow-listed, sure enough and not cooling down."""
        match = self._allow_match(event)
        if match is None:
            return "no_match"
        if event.confidence < self.config.min_confidence:
            self.counts["unsure"] += 1
            log.info("gate stays shut for %s (%s): confidence %.2f is under gate.min_confidence %.2f",
                     event.plate, match.list_name, event.confidence, self.config.min_confidence)
            return "unsure"
        now = self._clock()
        self._forget_cooled(now)
        if match.plate in self._last_open:
            self.counts["cooldown"] += 1
            log.info("gate not reopened for %s: opened %.0f s ago (gate.cooldown_s %.0f)", event.plate,
                     now - self._last_open[match.plate], self.config.cooldown_s)
            return "cooldown"
        self._last_open[match.plate] = now
        self._open(event, match)
        return "opened"

    def _allow_match(self, event: PlateEvent) -> WatchlistMatch | None:
        wanted = self.config.lists
        allowed = [m for m in event.watchlist if m.kind == "allow" and (not wanted or m.list_name in wanted)]
        return min(allowed, key=lambda m: m.distance, default=None)

    def _forget_cooled(self, now: float) -> None:
        for plate in [p for p, at in self._last_open.items() if now - at >= self.config.cooldown_s]:
            del self._last_open[plate]

    def _open(self, event: PlateEvent, match: WatchlistMatch) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        draft = GateOpening(at, self.camera_id, event.plate, match, event.confidence, event.event_id,
                            self.config.pulse_s, ())
        results = []
        for backend in self.backends:
            try:
                backend.open(draft)
                results.append(backend.name)
            except Exception as error:  # one backend failing must not keep the others from opening
                self.counts["backend_errors"] += 1
                self.last_error = f"{backend.name}: {error}"
                log.error("gate: the %s backend failed to open for %s: %s", backend.name, event.plate, error)
                results.append(f"{backend.name}:failed")
        opening = dataclasses.replace(draft, backends=tuple(results))
        self.counts["opened"] += 1
        log.info("gate opened for %s (%s: %s %s, distance %.1f, confidence %.2f) via %s", event.plate,
                 match.list_name, match.plate, match.label, match.distance, event.confidence, ",".join(results))
        if self.record is not None:
            try:
                self.record(opening)
            except Exception:
                log.exception("gate: recording the opening for %s failed", event.plate)

    def health(self) -> dict:
        return {"gate_openings": self.counts["opened"], "gate_refused_unsure": self.counts["unsure"],
                "gate_refused_cooldown": self.counts["cooldown"], "gate_backend_errors": self.counts["backend_errors"],
                "gate_last_error": self.last_error}

    def close(self) -> None:
        for backend in self.backends:
            try:
                backend.close()
            except Exception:
                log.exception("gate: closing the %s backend failed", backend.name)


def build_gate(
    config: GateConfig,
    camera_id: str,
    *,
    topic_prefix: str,
    publisher: CommandPublisher | None,
    record: Callable[[GateOpening], None] | None,
    pin_factory: object | None = None,
) -> Gate:
    """The configured gate. A GPIO pin that cannot be opened is a ``ConfigError``."""
    backends: list[Backend] = []
    for name in config.backends:
        if name == "log":
            backends.append(LogBackend())
        elif name == "gpio":
            backends.append(GpioRelay(config.gpio.pin, config.gpio.active_high, pin_factory))
        else:
            if publisher is None:
                raise ConfigError("gate.backends has 'mqtt' but outputs.mqtt is not enabled")
            topic = config.mqtt.topic or f"{topic_prefix}/{camera_id}/gate"
            backends.append(MqttCommand(publisher, topic, config.mqtt.payload))
    return Gate(config, camera_id, backends, record)
