"""The plate log: every plate event appended to two files, for people and for programs.

``plates.log`` (text) has one tab-separated line per event::

    <first_seen ISO 8601 UTC>\t<camera_id>\t<plate>\t<confidence, 2 decimals>\t<event_id>
    2026-11-25T14:03:11Z\tcam1\tKA01AB1234\t0.97\t0b6f6c3e...

A gate opening (``edge_alpr.gate``) adds a line whose fourth column is ``gate-open``::

    <at>\t<camera_id>\t<plate read>\tgate-open\t<event_id>\t<list>\t<listed plate>\t<label>\t<backends>

``plates.jsonl`` has the full event JSON (``PlateEvent.to_json()``) per line.

Each line is flushed and fsynced before ``publish`` returns. Files rotate by size like
``logging.handlers.RotatingFileHandler``: ``plates.log`` -> ``plates.log.1`` -> ... ->
``plates.log.<backup_count>``, the oldest deleted. A write that fails (disk full, read-only or
missing directory) is recorded in ``health()`` and logged once per fault; the next event tries
again, and the recovery is logged. ``publish`` never raises.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from edge_alpr.config.outputs import PlateLogConfig
from edge_alpr.types import PlateEvent

log = logging.getLogger(__name__)


def text_line(event: PlateEvent) -> str:
    """The plate's line in the text log (without the newline)."""
    return "\t".join(
        (event.first_seen, event.camera_id, event.plate, f"{event.confidence:.2f}", event.event_id)
    )


def jsonl_line(event: PlateEvent) -> str:
    """The event's line in the JSONL log (without the newline)."""
    return json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False)


class RotatingAppender:
    """Appends lines to one file durably, rotating it by size."""

    def __init__(self, path: Path, max_bytes: int, backup_count: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backup_count = backup_count

    def append(self, line: str) -> None:
        """Append ``line`` plus a newline, fsynced; raises OSError when the disk refuses."""
        data = (line + "\n").encode("utf-8")
        if self._size() > 0 and self._size() + len(data) > self.max_bytes:
            self._rotate()
        # Opened per line: cheap next to the fsync, and a directory that comes back after a
        # fault (remounted, recreated) is picked up without any reopen logic.
        with open(self.path, "ab") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _rotate(self) -> None:
        if self.backup_count == 0:
            self.path.unlink(missing_ok=True)
            return
        for index in range(self.backup_count - 1, 0, -1):
            source = self._backup(index)
            if source.exists():
                os.replace(source, self._backup(index + 1))
        os.replace(self.path, self._backup(1))

    def _backup(self, index: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{index}")


class PlateLogSink:
    """Writes each event to the text log and the JSONL log."""

    name = "plate_log"

    def __init__(self, config: PlateLogConfig) -> None:
        self.config = config
        self._text = RotatingAppender(config.directory / config.text_file, config.max_bytes, config.backup_count)
        self._jsonl = RotatingAppender(config.directory / config.jsonl_file, config.max_bytes, config.backup_count)
        self._fault: str | None = None
        self._events_written = 0
        self._events_lost = 0

    def publish(self, event: PlateEvent) -> None:
        try:
            self.config.directory.mkdir(parents=True, exist_ok=True)
            self._text.append(text_line(event))
            self._jsonl.append(jsonl_line(event))
        except OSError as error:
            self._record_fault(event, error)
            return
        self._events_written += 1
        if self._fault is not None:
            log.warning(
                "plate log %s is writable again (%d events were not logged)", self.config.directory, self._events_lost
            )
            self._fault = None

    def append_line(self, line: str) -> None:
        """Append a line that is not a plate event (a gate opening) to the text log; never raises."""
        try:
            self.config.directory.mkdir(parents=True, exist_ok=True)
            self._text.append(line)
        except OSError as error:
            log.error("plate log %s: cannot write %r: %s", self.config.directory, line, error)
            self._fault = f"{error.strerror or error}: {error.filename or self.config.directory}"

    def _record_fault(self, event: PlateEvent, error: OSError) -> None:
        self._events_lost += 1
        if self._fault is None:
            log.error(
                "plate log %s: cannot write event %s (%s); MQTT goes on, retrying with each event",
                self.config.directory, event.event_id, error,
            )
        self._fault = f"{error.strerror or error}: {error.filename or self.config.directory}"

    def health(self) -> dict:
        return {
            "plate_log_error": self._fault,
            "plate_log_events_written": self._events_written,
            "plate_log_events_lost": self._events_lost,
        }

    def close(self, timeout_s: float = 3.0) -> None:
        """Nothing to flush: every line is fsynced when written."""
