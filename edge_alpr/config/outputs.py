"""Config of where plate events go: MQTT (through the durable spool), the plate log, JPEG crops.

Every field says what changing it costs. Secrets: the MQTT password comes from exactly one of
``mqtt.password``, ``mqtt.password_file`` (e.g. a systemd ``LoadCredential=`` file under
``$CREDENTIALS_DIRECTORY``) or the environment variable ``EDGE_ALPR_MQTT_PASSWORD``; it is read
once, when the config is loaded, and is never logged.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from edge_alpr.config.base import StrictModel

#: Environment variable that may hold the MQTT password (one of the three password sources).
PASSWORD_ENV = "EDGE_ALPR_MQTT_PASSWORD"

# Home Assistant accepts only these characters in discovery topic segments.
_HA_SEGMENT = re.compile(r"^[a-zA-Z0-9_-]+$")


def state_dir() -> Path:
    """Where state (spool, crops, review) goes unless the config says: systemd's
    ``$STATE_DIRECTORY`` (the unit's ``StateDirectory=``, so every instance of
    ``edge-alpr@.service`` gets a folder of its own), else ``/var/lib/edge-alpr``."""
    return _systemd_directory("STATE_DIRECTORY", "/var/lib/edge-alpr")


def logs_dir() -> Path:
    """Where the plate logs go unless the config says: ``$LOGS_DIRECTORY`` (``LogsDirectory=``), else
    ``/var/log/edge-alpr``."""
    return _systemd_directory("LOGS_DIRECTORY", "/var/log/edge-alpr")


def _systemd_directory(variable: str, fallback: str) -> Path:
    # systemd lists several directories separated by ':' when the unit names several; the first is ours.
    value = os.environ.get(variable, "").split(":")[0]
    return Path(value) if value else Path(fallback)


def _check_topic_prefix(value: str, field: str) -> str:
    if not value:
        raise ValueError(f"{field} must not be empty")
    if "#" in value or "+" in value:
        raise ValueError(f"{field} {value!r} must not contain the MQTT wildcards '#' or '+'")
    if value.startswith("/") or value.endswith("/"):
        raise ValueError(f"{field} {value!r} must not start or end with '/'")
    if "//" in value:
        raise ValueError(f"{field} {value!r} must not contain an empty level ('//')")
    return value


def _check_existing_file(path: Path | None, field: str) -> None:
    if path is not None and not path.is_file():
        raise ValueError(f"{field}: file {str(path)!r} does not exist or is not a regular file")


def _check_plain_file_name(value: str, field: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"{field} {value!r} must be a plain file name inside the directory, without '/'")
    return value


class TlsConfig(StrictModel):
    enabled: bool = Field(
        False,
        description="Encrypt the MQTT connection with TLS. Costs a little CPU per message and a "
        "slower connect; the broker must offer a TLS listener (usually port 8883).",
    )
    ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the broker's certificate. Unset: the system's "
        "trusted CAs are used, which is right only for a broker with a public certificate.",
    )
    cert_file: Path | None = Field(
        None,
        description="PEM client certificate, for brokers that authenticate clients by certificate. "
        "Needs key_file too.",
    )
    key_file: Path | None = Field(
        None, description="PEM private key of cert_file. Keep it readable by the service user only."
    )
    insecure: bool = Field(
        False,
        description="Skip checking that the broker's certificate names the host connected to. "
        "RISK: anyone who can get any certificate from the CA can impersonate the broker and "
        "read every plate event. Only for testing with a certificate issued for another name.",
    )

    @model_validator(mode="after")
    def _files_exist_when_enabled(self) -> TlsConfig:
        if not self.enabled:
            return self
        _check_existing_file(self.ca_file, "mqtt.tls.ca_file")
        _check_existing_file(self.cert_file, "mqtt.tls.cert_file")
        _check_existing_file(self.key_file, "mqtt.tls.key_file")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("mqtt.tls.cert_file and mqtt.tls.key_file must be given together")
        return self


class HomeAssistantConfig(StrictModel):
    enabled: bool = Field(
        False,
        description="Publish Home Assistant MQTT discovery configs (retained), so the camera shows "
        "up as a device with a last-plate sensor, status sensors and a plate event entity.",
    )
    discovery_prefix: str = Field(
        "homeassistant",
        description="Home Assistant's discovery prefix. Must match HA's MQTT integration setting, "
        "or HA never sees the device.",
    )
    node_id: str | None = Field(
        None,
        description="Discovery node id ([a-zA-Z0-9_-]). Unset: 'edge_alpr_<camera_id>'. Changing "
        "it makes HA create a new device; the old one stays until deleted in HA.",
    )

    alert_off_delay_s: int = Field(
        30, ge=1, le=86400,
        description="Seconds the 'Watchlist alert active' binary sensor stays on after an alert. Longer keeps "
        "it visible on a dashboard; shorter lets an automation see two alerts close together as two.",
    )

    @field_validator("discovery_prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        return _check_topic_prefix(value, "mqtt.homeassistant.discovery_prefix")

    @field_validator("node_id")
    @classmethod
    def _valid_node_id(cls, value: str | None) -> str | None:
        if value is not None and not _HA_SEGMENT.match(value):
            raise ValueError(f"mqtt.homeassistant.node_id {value!r} may contain only a-z, A-Z, 0-9, '_' and '-'")
        return value


class MqttConfig(StrictModel):
    enabled: bool = Field(
        False,
        description="Publish plate events to an MQTT broker. Events are spooled on disk first, so "
        "a broker outage delays them instead of losing them.",
    )
    host: str = Field("localhost", description="Broker host name or IP address.")
    port: int = Field(
        1883,
        ge=1,
        le=65535,
        description="Broker TCP port. Unset: 1883, or 8883 when tls.enabled.",
    )
    client_id: str | None = Field(
        None,
        description="MQTT client id. Unset: 'edge-alpr-<camera_id>-<hostname>'. Two clients with "
        "the same id knock each other off the broker in a loop.",
    )
    topic_prefix: str = Field(
        "edge-alpr",
        description="First level(s) of every topic: <prefix>/<camera_id>/plate|status|availability. "
        "Changing it breaks subscribers that use the old prefix.",
    )
    username: str | None = Field(None, description="Broker user name; unset for anonymous access.")
    password: SecretStr | None = Field(
        None,
        description="Broker password, inline. Prefer password_file or the "
        f"{PASSWORD_ENV} environment variable, which keep it out of the config file.",
    )
    password_file: Path | None = Field(
        None,
        description="File holding the broker password (trailing newline ignored), read once at load.",
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings of the connection.")
    qos: Literal[0, 1, 2] = Field(
        1,
        description="QoS of plate events. 1 (default): at least once, the spool keeps an event until "
        "the broker acknowledges it. 0 can lose events on a flaky link; 2 costs two more round trips.",
    )
    keepalive_s: int = Field(
        30,
        ge=5,
        le=3600,
        description="Seconds between keepalive pings. Lower detects a dead link (and fires the Last "
        "Will) sooner at the cost of a little traffic; higher suits metered links.",
    )
    retain_events: bool = Field(
        False,
        description="Retain the last plate event on the broker, so a new subscriber gets it at once. "
        "Also means an old plate is re-delivered to every reconnecting subscriber.",
    )
    max_inflight: int = Field(
        20,
        ge=1,
        le=1000,
        description="Plate events sent but not yet acknowledged at any moment. Higher drains a "
        "backlog faster on a high-latency link; each costs memory until acknowledged.",
    )
    reconnect_min_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="First wait before reconnecting after the broker is lost; doubles per failure.",
    )
    reconnect_max_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Longest wait between reconnect attempts. Lower reconnects sooner after a long "
        "outage but retries more often while the broker is down.",
    )
    homeassistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig, description="Home Assistant MQTT discovery."
    )

    _resolved_password: SecretStr | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _tls_default_port(cls, data: Any) -> Any:
        # The natural port depends on another field, so it is filled in before field validation.
        if isinstance(data, dict) and data.get("port") is None:
            tls = data.get("tls")
            tls_enabled = tls.get("enabled", False) if isinstance(tls, dict) else getattr(tls, "enabled", False)
            data = {**data, "port": 8883 if tls_enabled else 1883}
        return data

    @field_validator("topic_prefix")
    @classmethod
    def _valid_topic_prefix(cls, value: str) -> str:
        return _check_topic_prefix(value, "mqtt.topic_prefix")

    @model_validator(mode="after")
    def _resolve_password(self) -> MqttConfig:
        env_password = os.environ.get(PASSWORD_ENV)
        sources = [
            name
            for name, given in (
                ("mqtt.password", self.password is not None),
                ("mqtt.password_file", self.password_file is not None),
                (f"environment variable {PASSWORD_ENV}", env_password is not None),
            )
            if given
        ]
        if len(sources) > 1:
            raise ValueError(f"the MQTT password is given more than once ({', '.join(sources)}); keep exactly one")
        if self.password is not None:
            password: SecretStr | None = self.password
        elif self.password_file is not None:
            password = SecretStr(_read_password_file(self.password_file))
        elif env_password is not None:
            password = SecretStr(env_password)
        else:
            password = None
        if password is not None and self.username is None:
            raise ValueError(f"a password is given ({sources[0]}) but mqtt.username is not; set both or neither")
        self._resolved_password = password
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                f"mqtt.reconnect_min_s ({self.reconnect_min_s}) must not exceed "
                f"mqtt.reconnect_max_s ({self.reconnect_max_s})"
            )
        return self

    def resolved_password(self) -> str | None:
        """The password from whichever source was configured; ``None`` for no password."""
        return None if self._resolved_password is None else self._resolved_password.get_secret_value()

    def resolved_client_id(self, camera_id: str) -> str:
        if self.client_id:
            return self.client_id
        return f"edge-alpr-{camera_id}-{os.uname().nodename}"

    def redacted(self) -> dict:
        """The config as a dict safe to log: the password replaced by whether one is set."""
        data = self.model_dump(mode="json", exclude={"password"})
        data["password"] = "<set>" if self._resolved_password is not None else None
        return data


def _read_password_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise ValueError(f"mqtt.password_file {str(path)!r} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"mqtt.password_file {str(path)!r} is not UTF-8 text") from None


class PlateLogConfig(StrictModel):
    enabled: bool = Field(
        True,
        description="Append every plate event to a text log and a JSONL log. Each event costs one "
        "fsync per file, a few milliseconds on an SD card.",
    )
    directory: Path = Field(
        default_factory=logs_dir,
        description="Directory of the logs, created if missing. The service user must be able to write it. "
        "Unset: $LOGS_DIRECTORY (set by the systemd unit: /var/log/edge-alpr, or /var/log/edge-alpr/<instance> "
        "for edge-alpr@<instance>), else /var/log/edge-alpr.",
    )
    text_file: str = Field(
        "plates.log",
        description="Name of the human-readable log: one line per plate, tab-separated "
        "first_seen, camera_id, plate, confidence, event_id.",
    )
    jsonl_file: str = Field("plates.jsonl", description="Name of the JSONL log: one full event JSON per line.")
    max_bytes: int = Field(
        10_000_000,
        ge=1024,
        description="Rotate a log file when it would grow past this many bytes. Smaller files, "
        "fewer kept events.",
    )
    backup_count: int = Field(
        5,
        ge=0,
        le=1000,
        description="Rotated files kept per log (<name>.1 is the newest). Disk use is at most about "
        "(backup_count + 1) * max_bytes per log.",
    )

    @field_validator("text_file", "jsonl_file")
    @classmethod
    def _plain_name(cls, value: str, info) -> str:
        return _check_plain_file_name(value, f"plate_log.{info.field_name}")

    @model_validator(mode="after")
    def _distinct_files(self) -> PlateLogConfig:
        if self.text_file == self.jsonl_file:
            raise ValueError(f"plate_log.text_file and plate_log.jsonl_file are both {self.text_file!r}")
        return self


class CropsConfig(StrictModel):
    enabled: bool = Field(
        False,
        description="Save JPEG crops of each event's plate and vehicle. Costs a JPEG encode and a "
        "file write per event, and disk space up to max_total_mb.",
    )
    directory: Path = Field(
        default_factory=lambda: state_dir() / "crops",
        description="Directory of the crops, one sub-folder per UTC date; created if missing. Unset: "
        "crops/ in $STATE_DIRECTORY (the systemd unit's state folder, one per instance), else /var/lib/edge-alpr/crops.",
    )
    save_plate: bool = Field(True, description="Save the plate crop (<event_id>_plate.jpg), a few kB.")
    save_vehicle: bool = Field(
        True, description="Save the vehicle crop (<event_id>_vehicle.jpg), tens of kB; the main disk cost."
    )
    jpeg_quality: int = Field(
        90, ge=1, le=100, description="JPEG quality. Lower saves disk but blurs characters in the plate crops."
    )
    max_total_mb: float = Field(
        1024.0,
        gt=0,
        description="Delete the oldest crops when all crops together exceed this many megabytes.",
    )
    max_age_days: float = Field(30.0, gt=0, description="Delete crops older than this many days.")


class SpoolConfig(StrictModel):
    path: Path = Field(
        default_factory=lambda: state_dir() / "spool.sqlite3",
        description="SQLite file that keeps events until the broker acknowledges them; its directory "
        "is created if missing. Unset: spool.sqlite3 in $STATE_DIRECTORY (one per instance of the unit), "
        "else /var/lib/edge-alpr/spool.sqlite3. Two daemons must never share one. Put it on persistent "
        "storage, not tmpfs, or an outage plus a reboot loses events.",
    )
    max_events: int = Field(
        100_000,
        ge=1,
        description="Most events kept while the broker is unreachable; past it the oldest are dropped "
        "(counted and logged). About 1 kB of disk each.",
    )
    max_age_days: float = Field(
        30.0,
        gt=0,
        description="Drop spooled events older than this (counted and logged): stale plates are "
        "rarely worth delivering.",
    )
    memory_fallback_events: int = Field(
        1000,
        ge=0,
        description="Events kept in memory while the spool file cannot be written (disk full); they "
        "are retried into the file and lost only if the daemon stops first.",
    )


class OutputsConfig(StrictModel):
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT publishing.")
    plate_log: PlateLogConfig = Field(default_factory=PlateLogConfig, description="The plate log files.")
    crops: CropsConfig = Field(default_factory=CropsConfig, description="JPEG crops of each event.")
    spool: SpoolConfig = Field(default_factory=SpoolConfig, description="The MQTT store-and-forward spool.")
