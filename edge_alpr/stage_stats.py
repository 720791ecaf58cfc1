"""Per-stage health of the pipeline: recent durations (p50/p95 in the status) and failure counts.

The daemon's status line and ``/status`` report these; the pipeline owns one of each.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Failures are logged under the pipeline's name: they are its stages failing.
log = logging.getLogger("edge_alpr.pipeline")

# Latency percentiles are taken over this many recent frames per stage.
LATENCY_WINDOW = 500
# A failing stage is logged with its traceback once, then at most once per this many seconds.
ERROR_LOG_INTERVAL_S = 30.0


class LatencyWindow:
    """Per-stage durations of the recent frames, for p50/p95 in the status."""

    def __init__(self, size: int | None = LATENCY_WINDOW) -> None:  # None keeps every sample
        self._samples: dict[str, deque[float]] = {}
        self._size = size

    def add(self, stage: str, seconds: float) -> None:
        self._samples.setdefault(stage, deque(maxlen=self._size)).append(seconds)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Adds the duration of the ``with`` body to ``stage``, also when the body raises."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def samples_s(self) -> dict[str, list[float]]:
        """The kept durations per stage, in seconds, oldest first."""
        return {stage: list(values) for stage, values in self._samples.items()}

    def summary_ms(self) -> dict[str, dict[str, float]]:
        return {
            stage: {
                "p50": round(float(np.percentile(values, 50)) * 1000, 2),
                "p95": round(float(np.percentile(values, 95)) * 1000, 2),
            }
            for stage, values in self._samples.items()
            if values
        }


class ErrorCounter:
    """Counts failures per stage; logs the first with its traceback, then one summary line per
    interval, so a detector failing on every frame cannot flood the journal."""

    def __init__(self, interval_s: float = ERROR_LOG_INTERVAL_S) -> None:
        self.counts: dict[str, int] = {}
        self._last_logged: dict[str, float] = {}
        self._interval_s = interval_s

    def report(self, stage: str, frame_index: int, error: Exception) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + 1
        now = time.monotonic()
        last = self._last_logged.get(stage)
        if last is None:
            log.error("%s failed on frame %d: %s", stage, frame_index, error, exc_info=error)
        elif now - last >= self._interval_s:
            log.error("%s failed on frame %d: %s (%d failures so far)", stage, frame_index, error, self.counts[stage])
        else:
            return
        self._last_logged[stage] = now
