"""Fixtures shared by the test files: a mosquitto broker factory, a free port, the daemons a
test starts, the datasets, a PlateEvent factory."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from broker import Mosquitto, mosquitto_available
from broker import free_port as _free_port

from edge_alpr.types import Candidate, PlateEvent

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return _free_port()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Factory of mosquitto brokers, stopped after the test; skips when mosquitto is missing.

    ``mosquitto(start=False, port=..., persistence=..., password_file=..., tls=...)``
    """
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (apt install mosquitto)")
    brokers: list[Mosquitto] = []

    def make(start: bool = True, **kwargs) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto-{len(brokers)}", **kwargs)
        brokers.append(broker)
        return broker.start() if start else broker

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture
def daemons() -> Iterator[list]:
    """The daemon processes a test starts (``test_daemon_faults.Daemon``), each killed at the
    test's end, whatever happened."""
    started: list = []
    yield started
    for daemon in started:
        daemon.ensure_gone()


@pytest.fixture
def datasets_dir() -> Path:
    """``../shared/datasets`` next to the repository; the test is skipped where it is absent."""
    path = REPO_ROOT.parent / "shared" / "datasets"
    if not path.is_dir():
        pytest.skip(f"datasets not available at {path}")
    return path


@pytest.fixture
def make_plate_event() -> Callable[..., PlateEvent]:
    """``make_plate_event(i, **overrides)``: a distinct, fully populated PlateEvent per ``i``."""

    def make(index: int = 0, **overrides) -> PlateEvent:
        fields = dict(
            event_id=f"evt-{index:06d}",
            camera_id="cam1",
            plate=f"KA01AB{index % 10000:04d}",
            plate_format="standard",
            confidence=round(0.9 + (index % 10) / 100, 4),  # as to_json() rounds it
            reads=3 + index % 5,
            first_seen=f"2026-11-25T14:{index // 60 % 60:02d}:{index % 60:02d}Z",
            last_seen=f"2026-11-25T14:{index // 60 % 60:02d}:{index % 60:02d}Z",
            box=(10.0 + index, 20.0, 110.0 + index, 45.5),
            candidates=(Candidate(f"KA01AB{index % 10000:04d}", 0.9), Candidate("KA01A81234", 0.05)),
            track_id=index,
        )
        fields.update(overrides)
        return PlateEvent(**fields)

    return make
