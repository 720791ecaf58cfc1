"""Config of access control: watchlists (named plate lists matched against every event) and
the gate or barrier that an ``allow`` list opens.

A list's plates live in their own CSV or text file, not in the YAML, so a control room can
replace the file (a synced hotlist, an exported residents' register) without touching the
config; ``edge_alpr.watchlist`` reads the files and reloads them when they change.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge_alpr.config.base import StrictModel

ListKind = Literal["alert", "allow"]
GateBackend = Literal["log", "gpio", "mqtt"]

# List names appear in event payloads, log lines and the status; keep them plain.
_LIST_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


class WatchlistConfig(StrictModel):
    """One named list of plates."""

    enabled: bool = Field(True, description="Match against this list. False keeps the entry in the config but unused.")
    kind: ListKind = Field(
        "alert",
        description="'alert': a hotlist (stolen, wanted, VIP): a matching event is also published to "
        "<prefix>/<camera_id>/alert (QoS 1, through the spool, so an outage delays alerts and loses none). "
        "'allow': residents, staff: a match may open the gate (see gate:).",
    )
    file: Path | None = Field(
        None,
        description="The list: a CSV or text file, one plate per line, then optionally a label and an "
        "expiry date (YYYY-MM-DD, the last day it matches), comma-separated; '#' starts a comment line, "
        "a first line 'plate,label,expires' is a header. Relative paths are from the working directory. "
        "Reloaded without a restart when it changes; a bad line keeps the last good list in force.",
    )
    max_distance: float = Field(
        1.0,
        ge=0.0,
        le=4.0,
        description="Largest fuzzy distance between the read plate and a listed plate that still matches. "
        "A substitution between characters readers confuse (0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B) costs 0.5; "
        "any other substitution, a missing or an extra character costs 1. 0 matches exactly; 1 (default) "
        "forgives one misread character or two confusions. Higher catches more misreads and more wrong plates: "
        "keep allow lists that open a gate at 0.5 or less.",
    )
    cameras: list[str] = Field(
        default_factory=list,
        description="Camera ids (camera_id) this list applies to; empty: every camera. Lets one config "
        "template serve several cameras with per-camera lists.",
    )

    @model_validator(mode="after")
    def _needs_a_file(self) -> WatchlistConfig:
        if self.file is None:
            raise ValueError("a watchlist needs a file (a CSV or text file of plates)")
        return self


class WatchlistsConfig(StrictModel):
    lists: dict[str, WatchlistConfig] = Field(
        default_factory=dict,
        description="The watchlists by name (letters, digits, '_' and '-'; the name appears in events as "
        "watchlist[].list). None by default.",
    )
    check_interval_s: float = Field(
        5.0,
        ge=0.1,
        le=3600.0,
        description="How often the list files are checked for changes (one stat() per file). Lower picks "
        "up an edited list sooner; a change is read in full only when the file's time or size changed.",
    )

    @field_validator("lists")
    @classmethod
    def _plain_names(cls, lists: dict[str, WatchlistConfig]) -> dict[str, WatchlistConfig]:
        for name in lists:
            if not _LIST_NAME.match(name):
                raise ValueError(f"list name {name!r} may contain only letters, digits, '_' and '-'")
        return lists


class GpioGateConfig(StrictModel):
    pin: int = Field(
        17, ge=0, le=53,
        description="BCM GPIO number of the relay input (GPIO17 is physical pin 11 on a Pi 4/5).",
    )
    active_high: bool = Field(
        True,
        description="True: a high level closes the relay. False for relay boards that switch on a low "
        "level (many opto-isolated modules); wrong here means the gate is held open while idle.",
    )


class MqttGateConfig(StrictModel):
    topic: str | None = Field(
        None,
        description="Topic of the open command. Unset: <topic_prefix>/<camera_id>/gate. Needs outputs.mqtt.",
    )
    payload: str | None = Field(
        None,
        description="The command's payload as sent, e.g. 'on' for a smart relay that switches itself off. "
        "Unset: a JSON object {command: 'open', pulse_s, plate, list, label, event_id, camera_id, at}.",
    )

    @field_validator("topic")
    @classmethod
    def _plain_topic(cls, topic: str | None) -> str | None:
        if topic is not None and (not topic or "#" in topic or "+" in topic):
            raise ValueError(f"gate.mqtt.topic {topic!r} must be a non-empty topic without the wildcards '#' or '+'")
        return topic


class GateConfig(StrictModel):
    """A gate or barrier opened for plates on an ``allow`` list."""

    enabled: bool = Field(False, description="Open the gate for plates on an allow list.")
    backends: list[GateBackend] = Field(
        default_factory=lambda: ["log"],
        min_length=1,
        description="How the gate is opened: 'gpio' pulses a relay on a Pi GPIO pin (gpiozero); 'mqtt' "
        "publishes a command (QoS 1, never spooled: a gate that opens after an outage, minutes late, is "
        "worse than one that stays shut); 'log' only logs (commissioning, or a machine without GPIO). "
        "Every opening is logged and written to the plate log whatever the backends.",
    )
    lists: list[str] = Field(
        default_factory=list,
        description="Names of the allow lists that open this gate; empty: every allow list.",
    )
    min_confidence: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Open only when the event's plate confidence is at least this. Reads at 0.9 or more "
        "are right about 96 % of the time; higher keeps out more misreads and makes residents wait for "
        "more reads. Independent of voting.min_confidence, which decides what is reported at all.",
    )
    pulse_s: float = Field(
        1.0, gt=0.0, le=60.0,
        description="How long the relay is closed (and the pulse length sent with the MQTT command).",
    )
    cooldown_s: float = Field(
        30.0,
        ge=0.0,
        le=86400.0,
        description="After an opening, the same listed plate does not open the gate again for this long "
        "(a car seen twice while it waits). Other plates are not held back.",
    )
    gpio: GpioGateConfig = Field(default_factory=GpioGateConfig, description="The relay, for backend 'gpio'.")
    mqtt: MqttGateConfig = Field(default_factory=MqttGateConfig, description="The command, for backend 'mqtt'.")

    @field_validator("backends")
    @classmethod
    def _distinct(cls, backends: list[GateBackend]) -> list[GateBackend]:
        if len(set(backends)) != len(backends):
            raise ValueError(f"gate.backends lists a backend twice: {backends}")
        return backends


def check_gate(gate: GateConfig, watchlists: WatchlistsConfig | None, mqtt_enabled: bool | None) -> GateConfig:
    """Rules between the gate and the rest of the config (``AppConfig`` calls this)."""
    if not gate.enabled or watchlists is None:
        return gate
    allow = sorted(name for name, cfg in watchlists.lists.items() if cfg.kind == "allow")
    for name in gate.lists:
        if name not in watchlists.lists:
            raise ValueError(f"gate.lists names {name!r}, which is not in watchlists.lists (allow lists: {allow})")
        if watchlists.lists[name].kind != "allow":
            raise ValueError(f"gate.lists names {name!r}, an 'alert' list; only 'allow' lists open the gate")
    if not allow:
        raise ValueError("the gate is enabled but watchlists.lists has no 'allow' list to open it")
    if "mqtt" in gate.backends and mqtt_enabled is False:
        raise ValueError("gate.backends has 'mqtt' but outputs.mqtt.enabled is false")
    return gate
