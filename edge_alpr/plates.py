"""Indian number-plate grammar: the formats, and their parser and automaton.

Formats accepted (after :func:`normalise`, i.e. no spaces):

``standard`` — ``SS NN L{0,3} N{1,4}``
    ``SS`` a state/UT code from :data:`STATE_CODES`; ``NN`` the RTO number, 1-2 digits, not
    ``0``/``00`` (``KA 01``, ``DL 3``); 0-3 series letters from :data:`SERIES_LETTERS`; the
    vehicle number, 1-4 digits, not all zeros. High-security plates (HSRP, mandatory since
    2019) always print four digits (``0012``), but older plates print ``12``, so 1-4 digits
    are accepted (:data:`MIN_NUMBER_DIGITS`). Delhi's ``DL 3C AB 1234`` (RTO digit followed
    by a vehicle-category letter) is this same pattern with three series letters.
``old`` — ``SS L NNN[N]``
    The series before 1989, still on old vehicles: a state code and one letter as one
    three-letter group, then 3-4 digits (``TNQ 3450``, ``APM 8896``). Older three-letter groups
    that do not start with today's state code (``MRK``, ``TMX``) are not accepted: read as
    ``unknown``. Requiring a state code keeps badges (``KTM 200``, ``TVS 125``) out, and
    requiring three digits keeps out short fragments of lettering (``UPF19``).
``bh`` — ``YY BH NNNN LL``
    Bharat series (since 2021): ``YY`` the two-digit registration year, 21 up to this year;
    four digits, not all zeros; 1-2 letters from :data:`SERIES_LETTERS`.

Two-line plates (two-wheelers, autos, trucks, tractors) are read top line first, then the
bottom line, and the text is the same however the groups are split across the lines: state
and RTO over series and number (``KA 01`` / ``AB 1234``), the state alone over the rest
(``KA`` / ``01 AB 1234``), state, RTO and series over the number (``KA 01 AB`` / ``1234``), or
a BH plate's year and ``BH`` over its number and letters (``22 BH`` / ``1234 AA``). So one
grammar covers both layouts. Dashes, dots, spaces and line breaks between groups, common on
hand-painted plates (``KA-01 / AB.1234``), are ignored (:func:`normalise`).

Not supported (they come back as ``unknown``): diplomatic ``CD``/``CC``/``UN`` plates,
military plates (arrow prefix), temporary ``TR``/``TEMP`` registrations and the 2021
vintage ``SS VA LL NNNN`` series. Each is rare at a roadside; accepting them would make
the grammar looser and so correct fewer misreads.

Both :func:`is_valid` and the CTC decoder (:func:`edge_alpr.ctc.decode_ctc`) derive from one
spec (:data:`_FORMATS`): the regular expression used for parsing and the automaton used for
decoding are generated from it here, so they cannot drift apart.
"""
from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass

import numpy as np

from edge_alpr.types import ALPHABET, PlateFormat

#: State and union-territory codes printed on plates, including ones still seen on older
#: vehicles after a rename or merger.
STATE_CODES: tuple[str, ...] = (
    "AN",  # Andaman and Nicobar Islands
    "AP",  # Andhra Pradesh
    "AR",  # Arunachal Pradesh
    "AS",  # Assam
    "BR",  # Bihar
    "CG",  # Chhattisgarh
    "CH",  # Chandigarh
    "DD",  # Dadra and Nagar Haveli and Daman and Diu (Daman and Diu before the 2020 merger)
    "DL",  # Delhi
    "DN",  # historical: Dadra and Nagar Haveli, merged into DD in 2020
    "GA",  # Goa
    "GJ",  # Gujarat
    "HP",  # Himachal Pradesh
    "HR",  # Haryana
    "JH",  # Jharkhand
    "JK",  # Jammu and Kashmir
    "KA",  # Karnataka
    "KL",  # Kerala
    "LA",  # Ladakh (since 2019; JK before)
    "LD",  # Lakshadweep
    "MH",  # Maharashtra
    "ML",  # Meghalaya
    "MN",  # Manipur
    "MP",  # Madhya Pradesh
    "MZ",  # Mizoram
    "NL",  # Nagaland
    "OD",  # Odisha (since 2012)
    "OR",  # historical: Orissa, before 2012
    "PB",  # Punjab
    "PY",  # Puducherry
    "RJ",  # Rajasthan
    "SK",  # Sikkim
    "TG",  # Telangana (new registrations since 2024)
    "TN",  # Tamil Nadu
    "TR",  # Tripura
    "TS",  # Telangana, 2014-2024 (still on most Telangana vehicles)
    "UA",  # historical: Uttaranchal, before 2007
    "UK",  # Uttarakhand
    "UP",  # Uttar Pradesh
    "WB",  # West Bengal
)

#: Letters used in series: I and O are skipped by the RTOs because they read as 1 and 0.
#: Knowing this lets the decoder turn an uncertain "0" in the series into a letter.
SERIES_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
#: Fewest digits in a standard plate's number; 1 because pre-HSRP plates print "12", not "0012".
MIN_NUMBER_DIGITS = 1
#: The Bharat series started in 2021.
BH_FIRST_YEAR = 21


def _bh_last_year() -> int:
    # A Pi without a real-time clock may boot with a stale date; never let that shrink the
    # range below the years already issued when this code was written.
    return max(datetime.date.today().year, 2026) % 100


# --- the grammar spec ---------------------------------------------------------------------
# A format is a sequence of pieces; a piece is a set of alternative templates; a template is
# a fixed-length sequence of character classes. Every piece here is a finite set of short
# templates, which keeps both the regex and the automaton small.

_CharClass = frozenset[str]
_Template = tuple[_CharClass, ...]


@dataclass(frozen=True)
class _Piece:
    name: str
    templates: tuple[_Template, ...]


def _literals(name: str, words: tuple[str, ...] | list[str]) -> _Piece:
    return _Piece(name, tuple(tuple(frozenset(ch) for ch in word) for word in words))


def _repeat(name: str, chars: str, lengths: range) -> _Piece:
    cls = frozenset(chars)
    return _Piece(name, tuple((cls,) * n for n in lengths))


def _nonzero_digits(name: str, lengths: range) -> _Piece:
    """1..n digits that are not all zeros: leading zeros, one non-zero digit, then any digits."""
    zero, nonzero, digit = frozenset("0"), frozenset("123456789"), frozenset(DIGITS)
    templates = [
        (zero,) * lead + (nonzero,) + (digit,) * (n - lead - 1) for n in lengths for lead in range(n)
    ]
    return _Piece(name, tuple(templates))


def _build_formats() -> dict[str, tuple[_Piece, ...]]:
    years = [f"{y:02d}" for y in range(BH_FIRST_YEAR, _bh_last_year() + 1)]
    return {
        "standard": (
            _literals("state", STATE_CODES),
            _nonzero_digits("rto", range(1, 3)),
            _repeat("series", SERIES_LETTERS, range(0, 4)),
            _nonzero_digits("number", range(MIN_NUMBER_DIGITS, 5)),
        ),
        "old": (
            _literals("state", STATE_CODES),
            _repeat("series", SERIES_LETTERS, range(1, 2)),
            _nonzero_digits("number", range(3, 5)),
        ),
        "bh": (
            _literals("year", years),
            _literals("bh", ["BH"]),
            _nonzero_digits("number", range(4, 5)),
            _repeat("letters", SERIES_LETTERS, range(1, 3)),
        ),
    }


_FORMATS = _build_formats()


def _class_regex(cls: _CharClass) -> str:
    return "[" + "".join(sorted(cls)) + "]"


def _piece_regex(piece: _Piece) -> str:
    alternatives = ["".join(_class_regex(c) for c in t) for t in piece.templates]
    # Shortest first, so that "KA11234" parses as RTO 1 + number 1234 (HSRP prints 4 digits).
    alternatives.sort(key=len)
    return f"(?P<{piece.name}>" + "|".join(alternatives) + ")"


_REGEXES = {fmt: re.compile("".join(_piece_regex(p) for p in pieces)) for fmt, pieces in _FORMATS.items()}

_SEPARATORS = re.compile(r"[\s\-.]+")


def normalise(text: str) -> str:
    """Uppercase and drop spaces, dashes and dots: ``"ka-01 ab.1234"`` -> ``"KA01AB1234"``."""
    return _SEPARATORS.sub("", text).upper()


def plate_format(text: str) -> PlateFormat:
    """``"standard"``, ``"old"``, ``"bh"`` or ``"unknown"`` for a plate text (normalised first)."""
    text = normalise(text)
    for fmt, regex in _REGEXES.items():
        if regex.fullmatch(text):
            return fmt  # type: ignore[return-value]
    return "unknown"


def is_valid(text: str) -> bool:
    """True when the text is a standard, old-series or BH plate."""
    return plate_format(text) != "unknown"


@dataclass(frozen=True)
class PlateParts:
    """A valid plate split into its printed groups, e.g. ``("KA", "01", "AB", "1234")``."""

    plate_format: PlateFormat
    groups: tuple[str, ...]  # standard: state, rto, series ("" when none), number; old: state, series, number;
    # bh: year, "BH", number, letters

    @property
    def display(self) -> str:
        if self.plate_format == "old":  # printed as one three-letter group: "TNQ 3450"
            return f"{self.groups[0]}{self.groups[1]} {self.groups[2]}"
        return " ".join(g for g in self.groups if g)


def parse(text: str) -> PlateParts | None:
    """Split a valid plate into its groups; None when it fits no format."""
    text = normalise(text)
    for fmt, regex in _REGEXES.items():
        match = regex.fullmatch(text)
        if match:
            return PlateParts(fmt, tuple(match.group(p.name) for p in _FORMATS[fmt]))  # type: ignore[arg-type]
    return None


# --- the grammar automaton ----------------------------------------------------------------

#: Columns of the automaton's table: the CTC blank (never a transition) + ALPHABET, so the
#: decoder can index it with a recognizer's class numbers.
NUM_CLASSES = len(ALPHABET) + 1


@dataclass(frozen=True)
class Automaton:
    """Deterministic automaton over ALPHABET accepting exactly the valid plates.

    ``next_state[s, c]`` is the state after reading class ``c`` (1..36) in state ``s``, -1 if
    no valid plate continues that way (column 0, the blank, is always -1). ``accepting[s]``
    names the format completed in state ``s`` ("" if none). State 0 is the start.
    """

    next_state: np.ndarray  # int32 [S, 37]
    accepting: tuple[str, ...]


# An NFA position: (format, piece index, template index, characters consumed in the template).
_Position = tuple[str, int, int, int]


def _closure(positions: set[_Position]) -> frozenset[_Position]:
    """Move every position that finished its template on to the start of the next piece."""
    result: set[_Position] = set()
    todo = list(positions)
    while todo:
        pos = todo.pop()
        if pos in result:
            continue
        result.add(pos)
        fmt, piece, template, consumed = pos
        if piece < 0 or consumed < len(_FORMATS[fmt][piece].templates[template]):
            continue
        if piece + 1 == len(_FORMATS[fmt]):
            todo.append((fmt, -1, -1, -1))  # piece -1: the whole format has been read
        else:
            todo.extend((fmt, piece + 1, j, 0) for j in range(len(_FORMATS[fmt][piece + 1].templates)))
    return frozenset(result)


def _step(state: frozenset[_Position], ch: str) -> frozenset[_Position]:
    moved: set[_Position] = set()
    for fmt, piece, template, consumed in state:
        if piece < 0:
            continue
        tpl = _FORMATS[fmt][piece].templates[template]
        if consumed < len(tpl) and ch in tpl[consumed]:
            moved.add((fmt, piece, template, consumed + 1))
    return _closure(moved) if moved else frozenset()


@functools.cache
def automaton() -> Automaton:
    """Subset construction from the grammar spec, then minimisation; built once, on first use."""
    start = _closure({(fmt, 0, j, 0) for fmt, pieces in _FORMATS.items() for j in range(len(pieces[0].templates))})
    index = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    while len(rows) < len(order):
        state = order[len(rows)]
        row = [-1] * NUM_CLASSES
        for c, ch in enumerate(ALPHABET, start=1):
            nxt = _step(state, ch)
            if not nxt:
                continue
            if nxt not in index:
                index[nxt] = len(order)
                order.append(nxt)
            row[c] = index[nxt]
        rows.append(row)
    accepting = [next((fmt for fmt, piece, _, _ in s if piece < 0), "") for s in order]
    return _minimise(np.asarray(rows, dtype=np.int32), accepting)


def _minimise(table: np.ndarray, accepting: list[str]) -> Automaton:
    """Moore partition refinement: merge states with the same future (121 -> ~50 states),
    which makes the Viterbi trellis proportionally cheaper."""
    block = [accepting.index(a) for a in accepting]  # initial partition: by accepted format
    while True:
        signatures = [(block[i], *(block[j] if j >= 0 else -1 for j in table[i, 1:])) for i in range(len(table))]
        ids: dict[tuple[int, ...], int] = {}
        refined = [ids.setdefault(sig, len(ids)) for sig in signatures]  # state 0 stays block 0
        if len(ids) == len(set(block)):
            break
        block = refined
    block = refined
    n_blocks = len(ids)
    merged = np.full((n_blocks, NUM_CLASSES), -1, dtype=np.int32)
    merged_accepting = [""] * n_blocks
    for i, b in enumerate(block):
        merged[b] = [block[j] if j >= 0 else -1 for j in table[i]]
        merged_accepting[b] = accepting[i]
    return Automaton(merged, tuple(merged_accepting))
