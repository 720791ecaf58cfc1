"""The durable store-and-forward queue between the pipeline and the MQTT broker.

Every plate event is written here before it is published and deleted only when the broker has
acknowledged it, so a broker outage, a crash or a power cut delays events instead of losing
them. Delivery is therefore at least once: an event whose PUBACK was lost in a crash is sent
again, with its original ``event_id``, and receivers dedupe on that id.

Storage is one SQLite file in WAL mode. ``put`` commits with ``synchronous=FULL`` (the WAL is
fsynced before ``put`` returns), so an event that ``put`` confirmed survives ``kill -9`` and
power loss. Acks commit with ``synchronous=NORMAL``: losing an ack only causes a duplicate, and
skipping that fsync keeps a 10,000-event backlog drain from costing 10,000 SD-card syncs.

The spool never raises into the daemon: a corrupt file is set aside and replaced, a file that
cannot be opened is replaced by an in-memory database, and a failed write (disk full) keeps the
event in a small in-memory queue that is retried into the file. Every event it has to drop is
counted and logged.
"""
from __future__ import annotations

import collections
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_alpr.types import PlateEvent

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    spooled_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_spooled_at ON events (spooled_at);
"""

# SQLite primary result codes that mean "this file is not a usable database".
_CORRUPTION_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

#: Seconds between sweeps of events older than ``max_age_days`` (also swept at open).
AGE_SWEEP_INTERVAL_S = 60.0
#: Seconds between two log lines about dropped events; drops in between are summed.
DROP_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True)
class SpoolCounters:
    """What the spool had to give up on since it was opened. Nothing is dropped silently."""

    dropped_overflow: int = 0  # oldest events dropped because max_events was reached
    dropped_age: int = 0  # events older than max_age_days
    dropped_memory: int = 0  # the in-memory fallback queue overflowed while the file was unwritable
    dropped_unreadable: int = 0  # rows whose payload no longer decodes as a PlateEvent
    write_errors: int = 0  # failed writes to the file (disk full, I/O error)

    @property
    def dropped(self) -> int:
        return self.dropped_overflow + self.dropped_age + self.dropped_memory + self.dropped_unreadable


class Spool:
    """A thread-safe, crash-safe FIFO of plate events keyed by ``event_id``.

    ``pending`` hands out events in insertion order, skipping those marked in flight, so a
    publisher can feed the broker gradually; ``ack`` deletes an event for good.
    """

    def __init__(
        self,
        path: Path | str,
        max_events: int,
        max_age_days: float,
        memory_fallback_events: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.max_age_s = max_age_days * 86400.0
        self._clock = clock
        self._lock = threading.RLock()
        self._in_flight: dict[str, int] = {}  # event_id -> MQTT message id
        self._memory: collections.OrderedDict[str, PlateEvent] = collections.OrderedDict()
        self._memory_limit = memory_fallback_events
        self._counts = {name: 0 for name in SpoolCounters.__dataclass_fields__}
        self._write_fault: str | None = None
        self._unlogged_drops = 0
        self._last_drop_log = float("-inf")
        self._next_age_sweep = 0.0
        #: Why the spool file is not in use (events then live in memory only); None when it is.
        self.open_error: str | None = None
        self._db = self._open()
        self._stored = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        with self._lock:
            self._sweep_old()

    # ---- opening -------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return _connect(self.path)
        except sqlite3.DatabaseError as error:
            if _primary_code(error) not in _CORRUPTION_CODES:
                return self._open_in_memory(error)
            aside = self._set_aside()
            log.warning("spool %s is corrupt (%s); moved it to %s and started an empty spool", self.path, error, aside)
        except OSError as error:
            return self._open_in_memory(error)
        try:
            return _connect(self.path)
        except (sqlite3.DatabaseError, OSError) as error:
            return self._open_in_memory(error)

    def _open_in_memory(self, error: Exception) -> sqlite3.Connection:
        self.open_error = f"cannot use spool file {self.path}: {error}; events are kept in memory only"
        log.error("%s. Fix the path or its permissions and restart.", self.open_error)
        return _connect(":memory:")

    def _set_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(Path(f"{aside}{suffix}"))
        return aside

    # ---- the queue -----------------------------------------------------------------------

    def put(self, event: PlateEvent) -> bool:
        """Store ``event`` durably; a second put of a stored ``event_id`` does nothing.

        Returns True when the event is on disk, False when the file could not be written and
        the event is held in memory (retried into the file on later calls).
        """
        with self._lock:
            if event.event_id in self._memory:
                return False
            if self._memory and not self._flush_memory():
                self._keep_in_memory(event)
                return False
            try:
                self._insert(event)
            except sqlite3.Error as error:
                self._record_write_error(error)
                self._keep_in_memory(event)
                return False
            self._enforce_limits()
            return True

    def pending(self, limit: int) -> list[PlateEvent]:
        """Up to ``limit`` oldest events not in flight, in insertion order."""
        with self._lock:
            if self._memory:
                self._flush_memory()
            events: list[PlateEvent] = []
            try:
                rows = self._db.execute(
                    "SELECT seq, event_id, payload FROM events ORDER BY seq LIMIT ?",
                    (limit + len(self._in_flight),),
                ).fetchall()
            except sqlite3.Error as error:
                log.error("spool %s: cannot read pending events: %s", self.path, error)
                rows = []
            for seq, event_id, payload in rows:
                if event_id in self._in_flight:
                    continue
                event = self._decode(seq, event_id, payload)
                if event is not None:
                    events.append(event)
            memory = [e for e in self._memory.values() if e.event_id not in self._in_flight]
            return (events + memory)[:limit]

    def mark_in_flight(self, event_id: str, mid: int) -> None:
        """Note that ``event_id`` was handed to the broker as message ``mid``; ``pending`` skips it."""
        with self._lock:
            self._in_flight[event_id] = mid

    def reset_in_flight(self) -> None:
        """Forget every in-flight mark, so ``pending`` hands those events out again."""
        with self._lock:
            self._in_flight.clear()

    def in_flight_count(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def ack(self, event_id: str) -> None:
        """Delete ``event_id`` for good: the broker has it."""
        with self._lock:
            self._in_flight.pop(event_id, None)
            if self._memory.pop(event_id, None) is not None:
                return
            try:
                self._db.execute("PRAGMA synchronous=NORMAL")
                try:
                    deleted = self._db.execute("DELETE FROM events WHERE event_id = ?", (event_id,)).rowcount
                finally:
                    self._db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as error:
                # The event stays spooled and is sent again later: a duplicate, not a loss.
                log.error("spool %s: cannot delete acknowledged event %s: %s", self.path, event_id, error)
                return
            self._stored -= deleted

    def count(self) -> int:
        """Events waiting for an ack, in the file and in memory."""
        with self._lock:
            return self._stored + len(self._memory)

    def counters(self) -> SpoolCounters:
        with self._lock:
            return SpoolCounters(**self._counts)

    @property
    def write_fault(self) -> str | None:
        """The last write error while it lasts (events are then held in memory); None when healthy."""
        return self._write_fault

    def size_bytes(self) -> int:
        """Bytes the spool takes on disk (database plus write-ahead log)."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += Path(f"{self.path}{suffix}").stat().st_size
            except OSError:
                pass
        return total

    def close(self) -> None:
        with self._lock:
            if self._memory:
                self._flush_memory()
            if self._memory:
                log.error("spool %s: %d events held in memory are lost at close", self.path, len(self._memory))
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the WAL is replayed at the next open; nothing is lost
            self._db.close()

    # ---- internals (called with the lock held) ---------------------------------------------

    def _insert(self, event: PlateEvent) -> None:
        payload = json.dumps(event.to_json(), separators=(",", ":"))
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO events (event_id, spooled_at, payload) VALUES (?, ?, ?)",
            (event.event_id, self._clock(), payload),
        ).rowcount
        self._stored += inserted
        if self._write_fault is not None:
            log.warning("spool %s is writable again", self.path)
            self._write_fault = None

    def _record_write_error(self, error: sqlite3.Error) -> None:
        self._counts["write_errors"] += 1
        if self._write_fault is None:
            log.error(
                "spool %s: cannot store events (%s); holding up to %d in memory and retrying",
                self.path, error, self._memory_limit,
            )
        self._write_fault = str(error)

    def _keep_in_memory(self, event: PlateEvent) -> None:
        self._memory[event.event_id] = event
        while len(self._memory) > self._memory_limit:
            lost_id, _ = self._memory.popitem(last=False)
            self._in_flight.pop(lost_id, None)
            self._counts["dropped_memory"] += 1
            self._note_drop(1, "the spool file is unwritable and the in-memory queue is full")

    def _flush_memory(self) -> bool:
        """Move events held in memory into the file, oldest first; True when all moved."""
        while self._memory:
            event_id, event = next(iter(self._memory.items()))
            try:
                self._insert(event)
            except sqlite3.Error as error:
                self._record_write_error(error)
                return False
            del self._memory[event_id]
        self._enforce_limits()
        return True

    def _enforce_limits(self) -> None:
        if self._clock() >= self._next_age_sweep:
            self._sweep_old()
        excess = self._stored - self.max_events
        if excess <= 0:
            return
        try:
            dropped = self._db.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)", (excess,)
            ).rowcount
        except sqlite3.Error as error:
            log.error("spool %s: cannot drop overflowing events: %s", self.path, error)
            return
        self._stored -= dropped
        self._counts["dropped_overflow"] += dropped
        self._note_drop(dropped, f"the spool holds max_events={self.max_events}")

    def _sweep_old(self) -> None:
        now = self._clock()
        self._next_age_sweep = now + AGE_SWEEP_INTERVAL_S
        try:
            dropped = self._db.execute(
                "DELETE FROM events WHERE spooled_at < ?", (now - self.max_age_s,)
            ).rowcount
        except sqlite3.Error as error:
            log.error("spool %s: cannot drop expired events: %s", self.path, error)
            return
        if dropped:
            self._stored -= dropped
            self._counts["dropped_age"] += dropped
            self._note_drop(dropped, f"they are older than max_age_days={self.max_age_s / 86400:g}")

    def _decode(self, seq: int, event_id: str, payload: str) -> PlateEvent | None:
        try:
            return PlateEvent.from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError) as error:
            log.error("spool %s: dropping unreadable event %s: %s", self.path, event_id, error)
            try:
                self._stored -= self._db.execute("DELETE FROM events WHERE seq = ?", (seq,)).rowcount
            except sqlite3.Error:
                pass
            self._counts["dropped_unreadable"] += 1
            return None

    def _note_drop(self, count: int, reason: str) -> None:
        self._unlogged_drops += count
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            log.warning(
                "spool %s: dropped the %d oldest undelivered events because %s (%d dropped since start)",
                self.path, self._unlogged_drops, reason, SpoolCounters(**self._counts).dropped,
            )
            self._unlogged_drops = 0
            self._last_drop_log = now


def _connect(path: Path | str) -> sqlite3.Connection:
    # check_same_thread=False: paho's network thread acks; every use is under Spool._lock.
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check}")
        db.executescript(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        # quick_check failures are raised by us without a code: they mean corruption.
        return sqlite3.SQLITE_CORRUPT
    return code & 0xFF
