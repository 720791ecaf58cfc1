"""Watchlists: named plate lists read from CSV or text files, matched fuzzily against each
event's plate, and reloaded when a file changes, without a restart.

Matching forgives the errors plate readers make. A reader rarely invents a character; it
mistakes one for a look-alike (0/O/D/Q, 1/I/L, 2/Z, 5/S, 6/G, 8/B), so those substitutions
cost 0.5 and every other edit (substitution, missing or extra character) costs 1.

rapidfuzz's Levenshtein takes one cost per kind of edit, not per pair of characters, so the
weighted distance is built from two plain distances (``plate_distance``)::

    blind = Levenshtein(canonical(a), canonical(b))   # look-alikes mapped to one character
    plain = Levenshtein(a, b)
    distance = blind + 0.5 * (plain - blind)

``plain - blind`` counts the edits that only look-alike mapping explains, and each costs half.
The result is never above the true weighted edit distance (so it never rejects a plate that
distance would accept) and equals it whenever one alignment is best for both strings, which is
the case for plates with a few errors; tests/test_watchlist.py checks both against a full
dynamic programme on random plate pairs.

A bad line makes the whole file a clear error naming the file and line; the list loaded
before stays in force, and so the daemon never runs with half a hotlist. A list whose file
cannot be loaded at start is empty until the file is fixed (logged, and shown in the status).
"""
from __future__ import annotations

import csv
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from edge_alpr.config.watchlists import WatchlistConfig, WatchlistsConfig
from edge_alpr.types import PlateEvent, WatchlistMatch

log = logging.getLogger(__name__)

#: Characters a plate reader mistakes for each other; each group maps to its first character.
CONFUSABLE_GROUPS = ("0ODQ", "1IL", "2Z", "5S", "6G", "8B")
#: Cost of substituting one character of a group for another (every other edit costs 1).
CONFUSABLE_COST = 0.5
#: Bad lines listed in one error message; the rest are counted.
MAX_REPORTED_LINES = 10

_CANONICAL = str.maketrans({c: group[0] for group in CONFUSABLE_GROUPS for c in group})
_IGNORED = re.compile(r"[\s\-.]")  # 'KA 01 AB-1234' is how people type plates
_PLATE = re.compile(r"^[A-Z0-9]{2,12}$")


class WatchlistError(ValueError):
    """A list file that cannot be used; the message names the file and the bad lines."""


@dataclass(frozen=True)
class ListEntry:
    plate: str  # normalised: A-Z0-9 only
    label: str
    expires: date | None  # the last day the entry matches; None: never expires
    line: int  # in the file, for messages

    def active(self, today: date) -> bool:
        return self.expires is None or today <= self.expires


def canonical(plate: str) -> str:
    """``plate`` with every look-alike character replaced by its group's first character."""
    return plate.translate(_CANONICAL)


def normalise_plate(text: str) -> str:
    """Upper case without spaces, '-' or '.': the form events carry."""
    return _IGNORED.sub("", text).upper()


def plate_distance(a: str, b: str) -> float:
    """Edit distance in which substituting a look-alike costs 0.5 and any other edit 1."""
    blind = Levenshtein.distance(canonical(a), canonical(b))
    plain = Levenshtein.distance(a, b)
    return blind + CONFUSABLE_COST * (plain - blind)


# --- reading a list file ------------------------------------------------------------------------


def read_list(path: Path) -> tuple[ListEntry, ...]:
    """The entries of a list file; raises ``WatchlistError`` naming the file and every bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a byte-order mark
    except FileNotFoundError:
        raise WatchlistError(f"{path}: list file does not exist") from None
    except IsADirectoryError:
        raise WatchlistError(f"{path}: is a directory, expected a CSV or text file of plates") from None
    except UnicodeDecodeError as error:
        raise WatchlistError(f"{path}: is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise WatchlistError(f"{path}: cannot be read: {error.strerror}") from None
    entries: list[ListEntry] = []
    problems: list[str] = []
    rows = csv.reader(text.splitlines())
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not entries and not problems and cells[0].lower() == "plate":
            continue  # the header
        try:
            entries.append(_entry(cells, number))
        except ValueError as error:
            problems.append(f"{path}:{number}: {error}")
    if problems:
        more = len(problems) - MAX_REPORTED_LINES
        shown = problems[:MAX_REPORTED_LINES] + ([f"{path}: ... and {more} more bad lines"] if more > 0 else [])
        raise WatchlistError("\n".join(shown))
    return tuple(entries)


def _entry(cells: list[str], number: int) -> ListEntry:
    if len(cells) > 3:
        raise ValueError(f"expected plate[,label[,expires]], got {len(cells)} fields")
    plate = normalise_plate(cells[0])
    if not _PLATE.match(plate):
        raise ValueError(f"plate {cells[0]!r} must be 2 to 12 letters and digits (spaces, '-' and '.' are ignored)")
    label = cells[1] if len(cells) > 1 else ""
    expires = None
    if len(cells) > 2 and cells[2]:
        try:
            expires = date.fromisoformat(cells[2])
        except ValueError:
            raise ValueError(f"expiry {cells[2]!r} is not a date like 2026-12-31") from None
    return ListEntry(plate, label, expires, number)


# --- one loaded list -------------------------------------------------------------------------------


class LoadedList:
    """One configured list: its entries, and the file state they were read from."""

    def __init__(self, name: str, config: WatchlistConfig) -> None:
        assert config.file is not None  # the config model requires it
        self.name = name
        self.config = config
        self.path: Path = config.file
        self.entries: tuple[ListEntry, ...] = ()
        self.error: str | None = None  # why the file's current content is not in force
        self.loaded_at: float | None = None  # time.time() of the last good load
        self._canonical: list[str] = []
        self._seen: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) last looked at

    def load(self) -> bool:
        """Read the file if it changed since last looked at; True when new entries are in force."""
        key = _file_key(self.path)
        if key == self._seen:
            return False  # unchanged, or still missing: reported once already
        self._seen = key
        try:
            entries = read_list(self.path)
        except WatchlistError as error:
            self._fail(str(error))
            return False
        self.entries = entries
        self._canonical = [canonical(e.plate) for e in entries]
        self.loaded_at = time.time()
        if self.error is not None:
            log.warning("watchlist %s: %s is good again", self.name, self.path)
        self.error = None
        log.info("watchlist %s (%s): %d plates from %s", self.name, self.config.kind, len(entries), self.path)
        return True

    def _fail(self, message: str) -> None:
        self.error = message
        kept = (f"keeping the last good list ({len(self.entries)} plates)" if self.loaded_at is not None
                else "the list is empty until the file is fixed")
        log.error("watchlist %s: %s\n%s", self.name, kept, message)

    def match(self, plate: str, today: date) -> WatchlistMatch | None:
        """The closest active entry within the list's ``max_distance``, or None."""
        limit = self.config.max_distance
        # The look-alike-blind distance is a lower bound of plate_distance: a cheap first cut.
        near = process.extract(canonical(plate), self._canonical, scorer=Levenshtein.distance,
                               score_cutoff=int(limit), limit=None)
        best: tuple[float, ListEntry] | None = None
        for _, _, index in near:
            entry = self.entries[index]
            if not entry.active(today):
                continue
            distance = plate_distance(plate, entry.plate)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, entry)
        if best is None:
            return None
        distance, entry = best
        return WatchlistMatch(self.name, self.config.kind, entry.plate, entry.label, distance)


def _file_key(path: Path) -> tuple[int, int, int]:
    """What tells a changed file: a new time, a new size, or a new file renamed over it."""
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1, -1)
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


# --- all lists of one camera ------------------------------------------------------------------------


class Watchlists:
    """The lists that apply to one camera; ``poll`` reloads changed files, ``annotate`` matches."""

    def __init__(
        self,
        config: WatchlistsConfig,
        camera_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.config = config
        self.lists = [
            LoadedList(name, cfg) for name, cfg in config.lists.items()
            if cfg.enabled and (not cfg.cameras or camera_id in cfg.cameras)
        ]
        self._clock = clock
        self._today = today
        self._next_check = clock() + config.check_interval_s
        for loaded in self.lists:
            loaded.load()

    def poll(self) -> None:
        """Reload the files that changed; cheap (one stat per file, every check_interval_s)."""
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + self.config.check_interval_s
        for loaded in self.lists:
            loaded.load()

    def match(self, plate: str) -> tuple[WatchlistMatch, ...]:
        """One match per list the plate is on, closest first."""
        today = self._today()
        found = [m for loaded in self.lists if (m := loaded.match(plate, today)) is not None]
        return tuple(sorted(found, key=lambda m: (m.distance, m.list_name)))

    def annotate(self, event: PlateEvent) -> PlateEvent:
        """``event`` with its ``watchlist`` matches filled in."""
        if not self.lists:
            return event
        return dataclasses.replace(event, watchlist=self.match(event.plate))

    def errors(self) -> list[str]:
        return [f"watchlist {loaded.name}: {loaded.error}" for loaded in self.lists if loaded.error]

    def health(self) -> dict:
        """For the status heartbeat: entries in force and the current fault of each list."""
        return {
            "watchlists": {
                loaded.name: {"kind": loaded.config.kind, "plates": len(loaded.entries), "error": loaded.error}
                for loaded in self.lists
            }
        }


def check_files(config: WatchlistsConfig) -> list[str]:
    """Every list file read once (whatever its cameras): one message per bad file, with its lines."""
    problems = []
    for name, cfg in config.lists.items():
        if cfg.enabled and cfg.file is not None:
            try:
                read_list(cfg.file)
            except WatchlistError as error:
                problems.append(f"watchlists.lists.{name}.file: {error}")
    return problems


def has_alert(event: PlateEvent) -> bool:
    return any(match.kind == "alert" for match in event.watchlist)
