"""Indian number-plate grammar and grammar-constrained CTC decoding.

Formats accepted (after :func:`normalise`, i.e. no spaces):

``standard`` — ``SS NN L{0,3} N{1,4}``
    ``SS`` a state/UT code from :data:`STATE_CODES`; ``NN`` the RTO number, 1-2 digits, not
    ``0``/``00`` (``KA 01``, ``DL 3``); 0-3 series letters from :data:`SERIES_LETTERS`; the
    vehicle number, 1-4 digits, not all zeros. High-security plates (HSRP, mandatory since
    2019) always print four digits (``0012``), but older plates print ``12``, so 1-4 digits
    are accepted (:data:`MIN_NUMBER_DIGITS`). Delhi's ``DL 3C AB 1234`` (RTO digit followed
    by a vehicle-category letter) is this same pattern with three series letters.
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

Both :func:`is_valid` and :func:`decode_ctc` derive from one spec (:data:`_FORMATS`): the
regular expression used for parsing and the automaton used for decoding are generated
from it, so they cannot drift apart.
"""
from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from typing import Literal

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
    """``"standard"``, ``"bh"`` or ``"unknown"`` for a plate text (normalised first)."""
    text = normalise(text)
    for fmt, regex in _REGEXES.items():
        if regex.fullmatch(text):
            return fmt  # type: ignore[return-value]
    return "unknown"


def is_valid(text: str) -> bool:
    """True when the text is a standard or BH plate."""
    return plate_format(text) != "unknown"


@dataclass(frozen=True)
class PlateParts:
    """A valid plate split into its printed groups, e.g. ``("KA", "01", "AB", "1234")``."""

    plate_format: PlateFormat
    groups: tuple[str, ...]  # standard: state, rto, series ("" when none), number; bh: year, "BH", number, letters

    @property
    def display(self) -> str:
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

_NUM_CLASSES = len(ALPHABET) + 1  # CTC blank + characters


@dataclass(frozen=True)
class _Automaton:
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
def _automaton() -> _Automaton:
    """Subset construction from the grammar spec, then minimisation; built once, on first use."""
    start = _closure({(fmt, 0, j, 0) for fmt, pieces in _FORMATS.items() for j in range(len(pieces[0].templates))})
    index = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    while len(rows) < len(order):
        state = order[len(rows)]
        row = [-1] * _NUM_CLASSES
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


def _minimise(table: np.ndarray, accepting: list[str]) -> _Automaton:
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
    merged = np.full((n_blocks, _NUM_CLASSES), -1, dtype=np.int32)
    merged_accepting = [""] * n_blocks
    for i, b in enumerate(block):
        merged[b] = [block[j] if j >= 0 else -1 for j in table[i]]
        merged_accepting[b] = accepting[i]
    return _Automaton(merged, tuple(merged_accepting))


# --- CTC decoding -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """A decoded plate string.

    ``char_confidences`` holds, per character, the highest posterior of that character over
    the frames its alignment spends on it. ``sequence_probability`` is the CTC probability of
    the labelling ``text`` (summed over all its alignments). ``unconstrained_text`` is the
    best-path read without the grammar, for logs and debugging.
    """

    text: str
    char_confidences: tuple[float, ...]
    sequence_probability: float
    plate_format: PlateFormat
    unconstrained_text: str


_LOG_FLOOR = 1e-12


def decode_ctc(
    probs: np.ndarray,
    grammar: Literal["indian", "any"] = "indian",
    *,
    min_probability_ratio: float = 1e-3,
    blank_skip: float = 0.999,
) -> Decoded:
    """Decode a recognizer's softmax ``[T, 37]`` (class 0 = blank, 1..36 = ``ALPHABET``).

    With ``grammar="indian"`` the answer is the string of the most probable CTC alignment
    that spells a valid Indian plate: an exact Viterbi search over the CTC trellis crossed
    with the grammar automaton (so "0" in a series position becomes the likeliest letter,
    judged by the model's own per-frame probabilities, not by a look-alike table). If the
    best valid plate is less than ``min_probability_ratio`` times as probable as the
    unconstrained best read, the plate is probably not an Indian one (or the read is
    poor) and the unconstrained read is returned with format ``"unknown"``. Raising the
    ratio trusts the grammar less; lowering it forces more reads into the grammar.

    With ``grammar="any"`` the unconstrained best-path read is returned, with the format it
    happens to match.

    Frames whose blank probability exceeds ``blank_skip`` are treated as blank-only for the
    grammar search (a character there would be less likely than 1 - ``blank_skip``), which
    skips most of the work on a well-trained, peaky model. Rows that do not sum to one (a table cut
    down from a larger alphabet) are renormalised.
    """
    if grammar not in ("indian", "any"):
        raise ValueError(f"decode_ctc: grammar must be 'indian' or 'any', got {grammar!r}")
    probs = _checked_probs(probs)
    free_path = probs.argmax(axis=1)
    free_text, free_conf = _collapse(free_path, probs)
    free_format = plate_format(free_text)
    if grammar == "any" or free_format != "unknown":
        # The best path already fits the grammar: the constrained search would find it again.
        return Decoded(free_text, free_conf, _labelling_probability(probs, free_text), free_format, free_text)
    free_probability = _labelling_probability(probs, free_text)
    path = _constrained_viterbi(probs, blank_skip)
    if path is not None:
        text, conf = _collapse(path, probs)
        probability = _labelling_probability(probs, text)
        if probability >= min_probability_ratio * free_probability:
            return Decoded(text, conf, probability, plate_format(text), free_text)
    return Decoded(free_text, free_conf, free_probability, "unknown", free_text)


def _checked_probs(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 3 and probs.shape[0] == 1:
        probs = probs[0]
    if probs.ndim != 2 or probs.shape[1] != _NUM_CLASSES or probs.shape[0] == 0:
        raise ValueError(
            f"decode_ctc expects probabilities of shape [T, {_NUM_CLASSES}] (blank + {ALPHABET}), got {probs.shape}"
        )
    if not np.all(np.isfinite(probs)) or probs.min() < 0:
        raise ValueError("decode_ctc expects non-negative finite probabilities (a softmax output)")
    sums = probs.sum(axis=1, keepdims=True)
    return probs / np.maximum(sums, _LOG_FLOOR)


def _collapse(path: np.ndarray, probs: np.ndarray) -> tuple[str, tuple[float, ...]]:
    """CTC collapse of a frame-wise class path, with each character's peak posterior."""
    text: list[str] = []
    confidences: list[float] = []
    previous = 0
    for t, cls in enumerate(path.tolist()):
        if cls != 0 and cls == previous:
            confidences[-1] = max(confidences[-1], float(probs[t, cls]))
        elif cls != 0:
            text.append(ALPHABET[cls - 1])
            confidences.append(float(probs[t, cls]))
        previous = cls
    return "".join(text), tuple(confidences)


#: A frame whose blank probability is within this of 1 counts as certainly blank. The reader's
#: int8 log-softmax gives such frames about 1 - 4e-6, never exactly 1.
_CERTAIN_BLANK_TOLERANCE = 1e-5


def _informative_frames(probs: np.ndarray) -> np.ndarray:
    """Mask of the frames the forward algorithm needs. A certainly-blank frame right after
    another changes almost nothing: the first already moved nearly all mass to blank states.
    Trained models give long runs of them (two thirds of the reader's frames). Dropping the
    repeats changes a labelling's probability by about the tolerance per dropped frame, relative,
    or zeroes one that needs characters in those frames, which was negligible anyway."""
    certain_blank = probs[:, 0] >= 1.0 - _CERTAIN_BLANK_TOLERANCE
    keep = np.ones(len(probs), dtype=bool)
    keep[1:] = ~(certain_blank[1:] & certain_blank[:-1])
    return keep


def _labelling_probability(probs: np.ndarray, text: str) -> float:
    """CTC forward algorithm: P(text | probs), summed over all alignments."""
    labels = [ALPHABET.index(ch) + 1 for ch in text]
    extended = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    extended[1::2] = labels
    # A state may skip the blank before it only when it differs from the label two back.
    can_skip = np.zeros(len(extended), dtype=bool)
    can_skip[3::2] = np.asarray(labels[1:], dtype=np.int64) != np.asarray(labels[:-1], dtype=np.int64)
    skip_weight = can_skip[2:].astype(np.float64)
    emissions = probs[_informative_frames(probs)][:, extended]
    alpha = np.zeros(len(extended))
    alpha[:2] = emissions[0, :2]
    log_scale = 0.0
    for t in range(1, len(emissions)):
        previous = alpha
        alpha = previous.copy()
        alpha[1:] += previous[:-1]
        alpha[2:] += previous[:-2] * skip_weight
        alpha *= emissions[t]
        if t % 8 == 0:  # rescale now and then so long sequences do not underflow
            total = alpha.sum()
            if total <= 0.0:
                return 0.0
            alpha /= total
            log_scale += np.log(total)
    final = alpha[-1] + (alpha[-2] if len(extended) > 1 else 0.0)
    if final <= 0.0:
        return 0.0
    return float(min(1.0, np.exp(log_scale + np.log(final))))


@dataclass(frozen=True)
class _Edges:
    """The automaton's transitions, sorted by the trellis cell they lead to.

    Cells are flat indices into a [S, 37] table (automaton state, class held). Sorting lets
    one ``np.maximum.reduceat`` find the best way into every cell.
    """

    source_cell: np.ndarray  # flat cell (s, c): the best way to start c in s excludes holding c
    char: np.ndarray  # class 1..36 the edge reads
    starts: np.ndarray  # first edge of each target cell's run
    target_cell: np.ndarray  # the target cell of each run
    sources_of: dict[int, np.ndarray]  # target cell -> states with an edge into it, for the backtrace


@functools.cache
def _edges() -> _Edges:
    table = _automaton().next_state
    source, char = np.nonzero(table >= 0)
    target = table[source, char].astype(np.int64) * _NUM_CLASSES + char
    order = np.argsort(target, kind="stable")
    source, char, target = source[order], char[order], target[order]
    unique, starts = np.unique(target, return_index=True)
    sources_of = {int(cell): source[target == cell] for cell in unique}
    return _Edges(source * _NUM_CLASSES + char, char, starts, unique, sources_of)


def _constrained_viterbi(probs: np.ndarray, blank_skip: float) -> np.ndarray | None:
    """Best frame-wise class path whose CTC collapse is a valid plate, or None.

    Trellis cell (s, x): automaton state ``s`` after the characters emitted so far, and
    ``x`` the class of the current frame (0 = blank, else the character being held). A new
    character ``c`` may start from (s, x) when ``x != c`` (CTC needs a blank between
    repeats) and moves to (next_state[s, c], c). Only the score tables are kept per frame;
    the single best path is recovered afterwards by re-deriving each step's predecessor,
    which costs far less than recording back-pointers for every cell.
    """
    automaton, edges = _automaton(), _edges()
    n_states = len(automaton.accepting)
    log_probs = np.log(np.maximum(probs, _LOG_FLOOR))
    scores = np.empty((len(probs), n_states, _NUM_CLASSES))
    score = np.full((n_states, _NUM_CLASSES), -np.inf)
    score[0, 0] = 0.0  # before the first frame: start state, nothing held
    emitting = (probs[:, 0] <= blank_skip).tolist()
    for t, lp in enumerate(log_probs):
        best = score.max(axis=1)
        new = score + lp  # hold the current class (or stay blank)
        np.maximum(new[:, 0], best + lp[0], out=new[:, 0])  # drop to blank
        if emitting[t]:
            _start_characters(score, best, lp, edges, new)
        scores[t] = score = new
    accepting = np.asarray([bool(fmt) for fmt in automaton.accepting])
    final = np.where(accepting[:, None], score, -np.inf)
    cell = int(final.argmax())
    if not np.isfinite(final.flat[cell]):
        return None
    return _backtrace(scores, log_probs, cell, edges)


_COLUMNS = np.arange(_NUM_CLASSES)


def _start_characters(score: np.ndarray, best: np.ndarray, lp: np.ndarray, edges: _Edges, new: np.ndarray) -> None:
    """Start a new character along every automaton edge, keeping the best way into each cell."""
    best_x = score.argmax(axis=1)
    masked = score.copy()
    masked[np.arange(len(score)), best_x] = -np.inf
    second = masked.max(axis=1)
    # The best cell of s from which to start c: the best one, unless it holds c itself.
    excluded = np.where(best_x[:, None] == _COLUMNS, second[:, None], best[:, None])
    value = excluded.reshape(-1)[edges.source_cell] + lp[edges.char]
    flat = new.reshape(-1)
    flat[edges.target_cell] = np.maximum(flat[edges.target_cell], np.maximum.reduceat(value, edges.starts))


def _backtrace(scores: np.ndarray, log_probs: np.ndarray, cell: int, edges: _Edges) -> np.ndarray:
    """Walk back from the final cell, at each frame picking the predecessor that produced
    the stored score (hold, drop to blank, or start a character along an edge)."""
    path = np.empty(len(scores), dtype=np.int64)
    for t in range(len(scores) - 1, 0, -1):
        state, held = divmod(cell, _NUM_CLASSES)
        path[t] = held
        prev = scores[t - 1]
        target = scores[t, state, held] - log_probs[t, held]
        if held == 0:
            cell = state * _NUM_CLASSES + int(prev[state].argmax())
            continue
        if np.isclose(prev[state, held], target, rtol=0.0, atol=1e-9):
            continue  # held the same character
        candidates = edges.sources_of[cell]
        # The best cell of each source state that does not hold `held` itself.
        rows = prev[candidates].copy()
        rows[:, held] = -np.inf
        flat_best = rows.argmax()
        cell = int(candidates[flat_best // _NUM_CLASSES]) * _NUM_CLASSES + int(flat_best % _NUM_CLASSES)
    path[0] = cell % _NUM_CLASSES
    return path
