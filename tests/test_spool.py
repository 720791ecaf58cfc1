"""The durable spool: order, idempotence, acks, overflow, crash safety, corrupt and full files."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge_alpr.sinks.spool import Spool

REPO_ROOT = Path(__file__).resolve().parents[1]


def ids(events) -> list[str]:
    return [e.event_id for e in events]


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3", max_events=1000, max_age_days=30)
    yield spool
    spool.close()


def test_pending_returns_events_in_insertion_order_and_round_trips(spool, make_plate_event):
    events = [make_plate_event(i) for i in (5, 1, 9, 3)]
    for event in events:
        assert spool.put(event) is True
    assert spool.pending(10) == events  # whole events, not only ids, survive the round trip
    assert ids(spool.pending(2)) == ids(events[:2])


def test_put_is_idempotent_on_event_id(spool, make_plate_event):
    spool.put(make_plate_event(1))
    spool.put(make_plate_event(1, plate="MH12XY0001"))
    assert spool.count() == 1
    assert spool.pending(10)[0].plate == make_plate_event(1).plate


def test_in_flight_events_are_skipped_until_acked_or_reset(spool, make_plate_event):
    for i in range(4):
        spool.put(make_plate_event(i))
    spool.mark_in_flight("evt-000000", mid=7)
    spool.mark_in_flight("evt-000001", mid=8)
    assert ids(spool.pending(10)) == ["evt-000002", "evt-000003"]
    assert spool.in_flight_count() == 2

    spool.ack("evt-000000")
    assert spool.count() == 3
    assert spool.in_flight_count() == 1

    spool.reset_in_flight()
    assert ids(spool.pending(10)) == ["evt-000001", "evt-000002", "evt-000003"]


def test_ack_survives_reopen(tmp_path, make_plate_event):
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path, 100, 30)
    for i in range(3):
        spool.put(make_plate_event(i))
    spool.ack("evt-000001")
    spool.close()
    reopened = Spool(path, 100, 30)
    assert ids(reopened.pending(10)) == ["evt-000000", "evt-000002"]
    reopened.close()


@pytest.mark.parametrize(
    ("max_events", "put"),
    [(5, 5), (5, 6), (5, 12), (1, 4)],
)
def test_overflow_drops_the_oldest_and_counts_them(tmp_path, make_plate_event, caplog, max_events, put):
    spool = Spool(tmp_path / "spool.sqlite3", max_events=max_events, max_age_days=30)
    with caplog.at_level(logging.WARNING, logger="edge_alpr.sinks.spool"):
        for i in range(put):
            spool.put(make_plate_event(i))
    kept = min(put, max_events)
    assert spool.count() == kept
    assert ids(spool.pending(100)) == [f"evt-{i:06d}" for i in range(put - kept, put)]
    assert spool.counters().dropped_overflow == put - kept
    assert spool.counters().dropped == put - kept
    assert ("dropped" in caplog.text) == (put > max_events)
    spool.close()


def test_events_older_than_max_age_are_dropped_and_counted(tmp_path, make_plate_event):
    now = [1_000_000.0]
    spool = Spool(tmp_path / "spool.sqlite3", max_events=100, max_age_days=1, clock=lambda: now[0])
    spool.put(make_plate_event(0))
    spool.put(make_plate_event(1))
    now[0] += 2 * 86400
    spool.put(make_plate_event(2))
    assert ids(spool.pending(10)) == ["evt-000002"]
    assert spool.counters().dropped_age == 2
    spool.close()


_WRITER = """
import sys, time
sys.path.insert(0, {repo!r})
from edge_alpr.sinks.spool import Spool
from edge_alpr.types import PlateEvent
spool = Spool({path!r}, 1000, 30)
for i in range({count}):
    spool.put(PlateEvent(f"evt-{{i:06d}}", "cam1", f"KA01AB{{i:04d}}", "standard", 0.9, 3,
                         "2026-11-25T14:03:11Z", "2026-11-25T14:03:12Z", (1.0, 2.0, 3.0, 4.0)))
print("stored", flush=True)
time.sleep(60)
"""


def test_confirmed_events_survive_kill_9(tmp_path):
    path = tmp_path / "spool.sqlite3"
    script = _WRITER.format(repo=str(REPO_ROOT), path=str(path), count=25)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "stored"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    spool = Spool(path, 1000, 30)
    assert ids(spool.pending(100)) == [f"evt-{i:06d}" for i in range(25)]
    spool.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not a database at all" * 200,
        b"SQLite format 3\x00" + b"\xff" * 4080,  # a valid header over a mangled page
    ],
    ids=["not-sqlite", "mangled-page"],
)
def test_corrupt_file_is_set_aside_and_a_new_spool_started(tmp_path, make_plate_event, caplog, garbage):
    path = tmp_path / "spool.sqlite3"
    path.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="edge_alpr.sinks.spool"):
        spool = Spool(path, 100, 30)
    assert "corrupt" in caplog.text
    aside = list(tmp_path.glob("spool.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert spool.open_error is None
    assert spool.put(make_plate_event(0)) is True
    assert ids(spool.pending(5)) == ["evt-000000"]
    spool.close()


def test_unopenable_path_falls_back_to_memory(tmp_path, make_plate_event):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the spool's directory should be")
    spool = Spool(blocker / "spool.sqlite3", 100, 30)
    assert spool.open_error is not None and str(blocker) in spool.open_error
    spool.put(make_plate_event(0))
    assert ids(spool.pending(5)) == ["evt-000000"]
    spool.close()


def _fill_disk(spool: Spool) -> None:
    # SQLite reports SQLITE_FULL once the database reaches max_page_count: a full disk on demand.
    pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
    spool._db.execute(f"PRAGMA max_page_count = {pages}")


def test_full_disk_keeps_events_in_memory_and_retries(tmp_path, make_plate_event, caplog):
    spool = Spool(tmp_path / "spool.sqlite3", 10_000, 30, memory_fallback_events=100)
    spool.put(make_plate_event(0))
    _fill_disk(spool)
    with caplog.at_level(logging.ERROR, logger="edge_alpr.sinks.spool"):
        results = [spool.put(make_plate_event(i, plate="X" * 2000)) for i in range(1, 40)]
    assert not all(results)
    assert spool.write_fault is not None and "full" in spool.write_fault
    assert spool.counters().write_errors >= 1
    assert caplog.text.count("cannot store events") == 1  # logged once per fault, not per event
    assert spool.count() == 40
    assert ids(spool.pending(100)) == [f"evt-{i:06d}" for i in range(40)]

    spool._db.execute("PRAGMA max_page_count = 1000000")  # space freed
    assert spool.put(make_plate_event(40)) is True
    assert spool.write_fault is None
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite3", 10_000, 30)
    assert ids(reopened.pending(100)) == [f"evt-{i:06d}" for i in range(41)]
    reopened.close()


def test_memory_fallback_overflow_is_counted(tmp_path, make_plate_event):
    spool = Spool(tmp_path / "spool.sqlite3", 10_000, 30, memory_fallback_events=3)
    spool.put(make_plate_event(0, plate="X" * 3000))
    _fill_disk(spool)
    for i in range(1, 11):
        spool.put(make_plate_event(i, plate="X" * 3000))
    stored = spool.count()
    assert spool.counters().dropped_memory == 11 - stored
    assert spool.counters().dropped_memory > 0
    assert ids(spool.pending(100))[-3:] == ["evt-000008", "evt-000009", "evt-000010"]
    spool.close()


def test_concurrent_puts_and_acks_lose_nothing(spool, make_plate_event):
    def writer(start: int) -> None:
        for i in range(start, start + 50):
            spool.put(make_plate_event(i))

    threads = [threading.Thread(target=writer, args=(start,)) for start in (0, 100, 200)]
    for thread in threads:
        thread.start()
    acked: list[str] = []
    while any(t.is_alive() for t in threads) or spool.count():
        for event in spool.pending(10):
            spool.ack(event.event_id)
            acked.append(event.event_id)
    assert sorted(acked) == sorted(f"evt-{i:06d}" for s in (0, 100, 200) for i in range(s, s + 50))
    assert spool.count() == 0


def test_size_bytes_grows_with_content(spool, make_plate_event):
    before = spool.size_bytes()
    for i in range(50):
        spool.put(make_plate_event(i))
    assert spool.size_bytes() > before
    assert os.path.exists(spool.path)
