"""The plate log: line formats, fsynced appends, size rotation, faults that never raise."""
from __future__ import annotations

import json
import logging
import os
import shutil

import pytest

from edge_alpr.config.outputs import PlateLogConfig
from edge_alpr.sinks.platelog import PlateLogSink
from edge_alpr.types import PlateEvent


def make_sink(directory, **overrides) -> PlateLogSink:
    return PlateLogSink(PlateLogConfig(directory=directory, **overrides))


def test_text_line_has_the_documented_format(tmp_path, make_plate_event):
    event = make_plate_event(7, event_id="abc123", first_seen="2026-11-25T14:03:11Z", plate="KA01AB1234",
                             confidence=0.9731)
    make_sink(tmp_path).publish(event)
    assert (tmp_path / "plates.log").read_text() == "2026-11-25T14:03:11Z\tcam1\tKA01AB1234\t0.97\tabc123\n"


def test_every_event_is_appended_to_both_files(tmp_path, make_plate_event):
    sink = make_sink(tmp_path / "logs")  # created on first use
    events = [make_plate_event(i) for i in range(5)]
    for event in events:
        sink.publish(event)
    text = (tmp_path / "logs" / "plates.log").read_text().splitlines()
    jsonl = (tmp_path / "logs" / "plates.jsonl").read_text().splitlines()
    assert [line.split("\t")[2] for line in text] == [e.plate for e in events]
    assert [line.split("\t")[4] for line in text] == [e.event_id for e in events]
    assert [json.loads(line) for line in jsonl] == [e.to_json() for e in events]
    assert [PlateEvent.from_json(json.loads(line)) for line in jsonl] == events
    assert sink.health() == {"plate_log_error": None, "plate_log_events_written": 5, "plate_log_events_lost": 0}


def test_appends_to_an_existing_log(tmp_path, make_plate_event):
    make_sink(tmp_path).publish(make_plate_event(0))
    make_sink(tmp_path).publish(make_plate_event(1))
    assert len((tmp_path / "plates.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("backup_count", [0, 1, 3])
def test_files_rotate_by_size_keeping_backup_count(tmp_path, make_plate_event, backup_count):
    max_bytes = 1024
    sink = make_sink(tmp_path, max_bytes=max_bytes, backup_count=backup_count)
    events = [make_plate_event(i) for i in range(60)]  # ~19 kB of JSONL: many rotations
    for event in events:
        sink.publish(event)

    for name in ("plates.log", "plates.jsonl"):
        kept = [tmp_path / f"{name}.{i}" for i in range(backup_count, 0, -1)] + [tmp_path / name]
        assert all(path.exists() for path in kept)
        assert not (tmp_path / f"{name}.{backup_count + 1}").exists()
        assert all(path.stat().st_size <= max_bytes for path in kept)
    # Oldest backup to current file hold the newest events, contiguous and in order.
    kept_jsonl = [tmp_path / f"plates.jsonl.{i}" for i in range(backup_count, 0, -1)] + [tmp_path / "plates.jsonl"]
    lines = [json.loads(line)["event_id"] for path in kept_jsonl for line in path.read_text().splitlines()]
    assert lines == [e.event_id for e in events[len(events) - len(lines):]]


def _block_with_a_file(directory):
    directory.write_text("a regular file where the log directory should be")


def _read_only(directory):
    directory.mkdir()
    os.chmod(directory, 0o555)


@pytest.mark.parametrize(
    "break_directory",
    [
        _block_with_a_file,
        pytest.param(
            _read_only,
            marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories"),
        ),
    ],
    ids=["path-is-a-file", "read-only"],
)
def test_unwritable_directory_is_reported_not_raised_and_recovers(tmp_path, make_plate_event, caplog, break_directory):
    directory = tmp_path / "logs"
    break_directory(directory)
    sink = make_sink(directory)
    with caplog.at_level(logging.WARNING, logger="edge_alpr.sinks.platelog"):
        for i in range(3):
            sink.publish(make_plate_event(i))
        health = sink.health()
        assert health["plate_log_error"] is not None
        assert health["plate_log_events_lost"] == 3
        assert caplog.text.count("cannot write") == 1  # once per fault, not per event

        # The operator fixes the directory; the next event gets through and clears the fault.
        if directory.is_file():
            directory.unlink()
        else:
            os.chmod(directory, 0o755)
            shutil.rmtree(directory)
        sink.publish(make_plate_event(3))
    assert sink.health()["plate_log_error"] is None
    assert "writable again" in caplog.text
    assert [json.loads(line)["event_id"] for line in (directory / "plates.jsonl").read_text().splitlines()] == [
        "evt-000003"
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"text_file": "sub/plates.log"}, "plain file name"),
        ({"jsonl_file": ".."}, "plain file name"),
        ({"text_file": "same.log", "jsonl_file": "same.log"}, "both"),
        ({"max_bytes": 10}, "greater than or equal"),
    ],
)
def test_invalid_config_is_rejected(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        PlateLogConfig(directory=tmp_path, **overrides)
