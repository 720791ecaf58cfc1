"""What the three benchmarks share, so each of their modules holds only what it measures: how busy
the machine is and how much memory the process holds, timing contenders side by side, and the
tables and numbers the figures are printed as."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from edge_alpr.evaluation.metrics import latency_summary

#: The command's one logger, whichever of its modules logs.
log = logging.getLogger("edge_alpr.bench")

#: Above this 1-minute load average the figures are slowed by other work.
BUSY_LOAD = 1.5
#: Untimed runs of every contender before measuring: the first inferences allocate buffers
#: and pack weights, and would otherwise inflate the first samples.
WARMUP_RUNS = 2

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

X = TypeVar("X")
R = TypeVar("R")


# --- the machine ------------------------------------------------------------------------------


def busy_warning(load_1min: float | None) -> str | None:
    """The warning to print when other work is likely to slow the measurements."""
    if load_1min is None or load_1min <= BUSY_LOAD:
        return None
    return (f"warning: the machine is busy (1-minute load average {load_1min:.2f} > {BUSY_LOAD}); "
            "figures will be pessimistic")


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # not available on this platform
        return None


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # resident now (VmRSS)
    peak_mb: float  # highest resident since the process started or the peak was reset (VmHWM)


def parse_proc_status(text: str) -> Memory | None:
    """VmRSS and VmHWM from the text of ``/proc/<pid>/status``; None when either is missing."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            number, _, unit = rest.strip().partition(" ")
            if unit.strip() == "kB" and number.isdigit():
                values[key] = int(number) / 1024.0
    if len(values) != 2:
        return None
    return Memory(values["VmRSS"], values["VmHWM"])


def memory_now(path: Path = _PROC_STATUS) -> Memory | None:
    """This process's memory, or None where there is no ``/proc`` (not Linux)."""
    try:
        return parse_proc_status(path.read_text())
    except OSError:
        return None


def reset_peak_memory(path: Path = _CLEAR_REFS) -> bool:
    """Start a new VmHWM peak (Linux 4.0+: writing 5 to clear_refs); False where not allowed."""
    try:
        path.write_text("5")
        return True
    except OSError:
        return False


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Milliseconds over ``samples`` measurements."""

    samples: int
    mean_ms: float
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, ms: Sequence[float]) -> Timing | None:
        if not ms:
            return None
        summary = latency_summary(ms)
        return cls(len(ms), summary["mean"], summary["p50"], summary["p95"])


@dataclass(frozen=True)
class Contender(Generic[X, R]):
    """One thing to time: ``run`` on each input that ``applies`` to it."""

    name: str
    run: Callable[[X], R]
    applies: Callable[[X], bool] = lambda _: True


@dataclass(frozen=True)
class Outcome(Generic[R]):
    index: int  # of the input
    result: R
    ms: float


def run_interleaved(inputs: Sequence[X], contenders: Sequence[Contender[X, R]],
                    warmup: int = WARMUP_RUNS) -> list[list[Outcome[R]]]:
    """Every contender on every input, input by input, the contender that goes first rotating.

    Running them side by side, rather than one after the other, means a background job or a
    CPU clock change slows all of them alike, so their ratio holds even on a busy machine.
    Returns one list of outcomes per contender, in input order.
    """
    for contender in contenders:
        for x in [x for x in inputs if contender.applies(x)][:warmup]:
            contender.run(x)
    outcomes: list[list[Outcome[R]]] = [[] for _ in contenders]
    for index, x in enumerate(inputs):
        for turn in range(len(contenders)):
            k = (index + turn) % len(contenders)
            if not contenders[k].applies(x):
                continue
            started = time.perf_counter()
            result = contenders[k].run(x)
            outcomes[k].append(Outcome(index, result, (time.perf_counter() - started) * 1000))
    return outcomes


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --- text output ------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A pipe table with padded columns: aligned on a terminal, and valid markdown."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def fmt_ms(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    return f"{timing.p50_ms:.1f} / {timing.p95_ms:.1f} (n={timing.samples})"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


# --- samples ----------------------------------------------------------------------------------


def spread(items: Sequence[X], n: int) -> list[X]:
    """``n`` items taken evenly across ``items`` (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def run_in_workdir(name: str, body: Callable[[Path], int], keep: bool) -> int:
    """Run a benchmark that starts processes (brokers, daemons) in a fresh work directory,
    removed afterwards unless ``keep``; Ctrl-C ends it with the shell's 130."""
    workdir = Path(tempfile.mkdtemp(prefix=f"edge-alpr-{name}-"))
    try:
        return body(workdir)
    except KeyboardInterrupt:
        return 130
    finally:
        if keep:
            print(f"{name}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
