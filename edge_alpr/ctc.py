"""Grammar-constrained CTC decoding of a plate recognizer's per-frame class probabilities.

The grammar comes from :mod:`edge_alpr.plates` as an automaton (:func:`edge_alpr.plates.automaton`),
generated from the same spec as its parser, so a decoded plate always parses.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge_alpr.plates import NUM_CLASSES, automaton, plate_format
from edge_alpr.types import ALPHABET, PlateFormat


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
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES or probs.shape[0] == 0:
        raise ValueError(
            f"decode_ctc expects probabilities of shape [T, {NUM_CLASSES}] (blank + {ALPHABET}), got {probs.shape}"
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
    table = automaton().next_state
    source, char = np.nonzero(table >= 0)
    target = table[source, char].astype(np.int64) * NUM_CLASSES + char
    order = np.argsort(target, kind="stable")
    source, char, target = source[order], char[order], target[order]
    unique, starts = np.unique(target, return_index=True)
    sources_of = {int(cell): source[target == cell] for cell in unique}
    return _Edges(source * NUM_CLASSES + char, char, starts, unique, sources_of)


def _constrained_viterbi(probs: np.ndarray, blank_skip: float) -> np.ndarray | None:
    """Best frame-wise class path whose CTC collapse is a valid plate, or None.

    Trellis cell (s, x): automaton state ``s`` after the characters emitted so far, and
    ``x`` the class of the current frame (0 = blank, else the character being held). A new
    character ``c`` may start from (s, x) when ``x != c`` (CTC needs a blank between
    repeats) and moves to (next_state[s, c], c). Only the score tables are kept per frame;
    the single best path is recovered afterwards by re-deriving each step's predecessor,
    which costs far less than recording back-pointers for every cell.
    """
    grammar, edges = automaton(), _edges()
    n_states = len(grammar.accepting)
    log_probs = np.log(np.maximum(probs, _LOG_FLOOR))
    scores = np.empty((len(probs), n_states, NUM_CLASSES))
    score = np.full((n_states, NUM_CLASSES), -np.inf)
    score[0, 0] = 0.0  # before the first frame: start state, nothing held
    emitting = (probs[:, 0] <= blank_skip).tolist()
    for t, lp in enumerate(log_probs):
        best = score.max(axis=1)
        new = score + lp  # hold the current class (or stay blank)
        np.maximum(new[:, 0], best + lp[0], out=new[:, 0])  # drop to blank
        if emitting[t]:
            _start_characters(score, best, lp, edges, new)
        scores[t] = score = new
    accepting = np.asarray([bool(fmt) for fmt in grammar.accepting])
    final = np.where(accepting[:, None], score, -np.inf)
    cell = int(final.argmax())
    if not np.isfinite(final.flat[cell]):
        return None
    return _backtrace(scores, log_probs, cell, edges)


_COLUMNS = np.arange(NUM_CLASSES)


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
        state, held = divmod(cell, NUM_CLASSES)
        path[t] = held
        prev = scores[t - 1]
        target = scores[t, state, held] - log_probs[t, held]
        if held == 0:
            cell = state * NUM_CLASSES + int(prev[state].argmax())
            continue
        if np.isclose(prev[state, held], target, rtol=0.0, atol=1e-9):
            continue  # held the same character
        candidates = edges.sources_of[cell]
        # The best cell of each source state that does not hold `held` itself.
        rows = prev[candidates].copy()
        rows[:, held] = -np.inf
        flat_best = rows.argmax()
        cell = int(candidates[flat_best // NUM_CLASSES]) * NUM_CLASSES + int(flat_best % NUM_CLASSES)
    path[0] = cell % NUM_CLASSES
    return path
