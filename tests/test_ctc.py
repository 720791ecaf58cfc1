"""Grammar-constrained CTC decoding."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edge_alpr import ctc, plates
from edge_alpr.types import ALPHABET

CLASS = {ch: i + 1 for i, ch in enumerate(ALPHABET)}


def make_probs(
    text: str,
    *,
    frames: int = 64,
    confidence: float = 0.95,
    confusions: dict[int, tuple[str, float]] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A peaky CTC output spelling ``text``: each character held for two frames, blanks between.

    ``confusions[i] = (other, p)`` gives character ``i`` only ``1 - p`` and ``other`` ``p``.
    """
    rng = np.random.default_rng(seed)
    probs = np.full((frames, 37), 1e-5)
    probs[:, 0] = 1.0
    centres = np.linspace(3, frames - 5, len(text)).astype(int)
    for i, (ch, t) in enumerate(zip(text, centres)):
        row = np.full(37, 1e-5)
        if confusions and i in confusions:
            other, p = confusions[i]
            row[CLASS[other]] = p
            row[CLASS[ch]] = 1.0 - p
        else:
            row[CLASS[ch]] = confidence
            row[0] = 1.0 - confidence
        probs[t : t + 2] = row
    probs += rng.random(probs.shape) * 1e-5
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("truth", "confusions", "misread"),
    [
        ("KA01AB1234", {4: ("0", 0.7)}, "KA010B1234"),  # series A read as 0
        ("KA01AB1234", {2: ("D", 0.6)}, "KAD1AB1234"),  # RTO 0 read as D
        ("MH12DE1433", {4: ("0", 0.8)}, "MH120E1433"),  # D read as 0 (O is no series letter)
        ("DL3CAB1234", {0: ("0", 0.55)}, "0L3CAB1234"),
        ("TN09Z0012", {7: ("B", 0.6)}, "TN09Z00B2"),  # 1 read as B in the number
        ("22BH1234AA", {2: ("8", 0.65)}, "228H1234AA"),
        ("KA01AB1234", {0: ("X", 0.6)}, "XA01AB1234"),  # state code: only KA, LA... fit "?A"
    ],
)
def test_grammar_corrects_look_alikes(truth: str, confusions: dict, misread: str) -> None:
    probs = make_probs(truth, confusions=confusions)
    decoded = ctc.decode_ctc(probs)
    assert decoded.unconstrained_text == misread
    assert decoded.text == truth
    assert decoded.plate_format == plates.plate_format(truth)
    assert len(decoded.char_confidences) == len(truth)
    # The corrected character carries the model's low posterior for it, the rest stay high.
    (index,) = confusions
    assert decoded.char_confidences[index] == pytest.approx(1.0 - confusions[index][1], abs=0.01)
    assert min(c for i, c in enumerate(decoded.char_confidences) if i != index) > 0.9


def test_state_code_correction_picks_the_likelier_valid_code() -> None:
    """'?A' could be KA, LA, GA... the model's second choice decides, not a fixed table."""
    probs = make_probs("KA01AB1234", confusions={0: ("X", 0.6)})
    centre = 3
    probs[centre : centre + 2, CLASS["L"]] = 0.3  # L is now likelier than K
    probs[centre : centre + 2, CLASS["K"]] = 0.1
    assert ctc.decode_ctc(probs).text == "LA01AB1234"


def test_valid_read_is_returned_unchanged() -> None:
    probs = make_probs("KA01AB1234")
    decoded = ctc.decode_ctc(probs)
    assert decoded.text == decoded.unconstrained_text == "KA01AB1234"
    assert decoded.plate_format == "standard"
    assert 0.5 < decoded.sequence_probability <= 1.0


def test_confident_non_plate_falls_back_to_unknown() -> None:
    probs = make_probs("HELLOWORLD")
    decoded = ctc.decode_ctc(probs)
    assert decoded.text == "HELLOWORLD"
    assert decoded.plate_format == "unknown"


@pytest.mark.parametrize(("ratio", "corrected"), [(1e-3, True), (0.9, False)])
def test_fallback_ratio_is_the_rule(ratio: float, corrected: bool) -> None:
    # The correction costs a factor of (0.3 / 0.7) in probability: allowed at 1e-3, not at 0.9.
    probs = make_probs("KA01AB1234", confusions={4: ("0", 0.7)})
    decoded = ctc.decode_ctc(probs, min_probability_ratio=ratio)
    assert (decoded.text == "KA01AB1234") is corrected
    assert decoded.plate_format == ("standard" if corrected else "unknown")


def test_grammar_any_returns_the_unconstrained_read_with_its_format() -> None:
    probs = make_probs("KA01AB1234", confusions={4: ("0", 0.7)})
    decoded = ctc.decode_ctc(probs, grammar="any")
    assert decoded.text == "KA010B1234"
    assert decoded.plate_format == "unknown"
    assert ctc.decode_ctc(make_probs("22BH1234AA"), grammar="any").plate_format == "bh"


@pytest.mark.parametrize("ratio", [0.0, 1e-3])
def test_repeated_characters_need_a_blank_between(ratio: float) -> None:
    """A BH number needs four digits; the model saw three. Holding "3" for two frames must
    not count as "33": CTC only repeats a character across a blank."""
    probs = make_probs("22BH123AA")
    decoded = ctc.decode_ctc(probs, min_probability_ratio=ratio)
    if ratio == 0.0:  # forced into the grammar: a real CTC reading of some valid plate
        assert decoded.plate_format == "bh"
        assert decoded.sequence_probability > 0.0
    else:  # every valid plate needs an unlikely extra character: keep the read as it is
        assert (decoded.text, decoded.plate_format) == ("22BH123AA", "unknown")


def test_empty_output() -> None:
    probs = np.zeros((64, 37))
    probs[:, 0] = 1.0
    decoded = ctc.decode_ctc(probs)
    assert decoded.text == "" and decoded.plate_format == "unknown" and decoded.char_confidences == ()


def test_rows_restricted_from_a_larger_alphabet_are_renormalised() -> None:
    probs = make_probs("KA01AB1234") * 0.5  # as if half the mass went to characters we dropped
    decoded = ctc.decode_ctc(probs)
    assert decoded.text == "KA01AB1234"
    assert decoded.sequence_probability == pytest.approx(ctc.decode_ctc(probs * 2).sequence_probability)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.zeros((64, 36)), r"\[T, 37\]"),
        (np.zeros((0, 37)), r"\[T, 37\]"),
        (np.full((64, 37), np.nan), "finite"),
        (-np.ones((64, 37)), "non-negative"),
    ],
)
def test_bad_input_is_rejected(probs: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ctc.decode_ctc(probs)


def test_unknown_grammar_is_rejected() -> None:
    with pytest.raises(ValueError, match="grammar"):
        ctc.decode_ctc(make_probs("KA01AB1234"), grammar="us")  # type: ignore[arg-type]


def test_batch_axis_of_one_is_accepted() -> None:
    assert ctc.decode_ctc(make_probs("KA01AB1234")[None]).text == "KA01AB1234"


# --- exactness against brute force ---------------------------------------------------------


def _small_problem(seed: int) -> tuple[np.ndarray, list[list[int]]]:
    """T=8 frames, each with mass on 3 classes only, so every path can be enumerated.

    The classes are chosen around "KA11": a valid plate of four characters exists but needs
    the right choice at several frames, including a blank between the two 1s.
    """
    rng = np.random.default_rng(seed)
    pools = ["K", "X", "A", "4", "1", "I", "L", "B"]
    required = {0: "K", 2: "A", 4: "1", 6: "1"}
    options = []
    probs = np.zeros((8, 37))
    for t in range(8):
        picks = [str(c) for c in rng.choice(pools, size=2, replace=False)]
        if t in required:
            picks = [required[t], next(c for c in picks if c != required[t])]
        classes = [0] + [CLASS[c] for c in picks]
        probs[t, classes] = rng.dirichlet(np.ones(3))
        options.append(classes)
    return probs, options


def _repeat_problem(_: int) -> tuple[np.ndarray, list[list[int]]]:
    """"KA" then a long "1": the only valid plates need a second 1 after a blank, and a path
    holding "1" for two frames is far likelier but spells "KA1"."""
    probs = np.zeros((6, 37))
    probs[0, CLASS["K"]] = probs[1, CLASS["A"]] = 1.0
    probs[2:, CLASS["1"]] = 0.8
    probs[2:, 0] = 0.2
    return probs, [[CLASS["K"]], [CLASS["A"]]] + [[0, CLASS["1"]]] * 4


def _blank_run_problem(seed: int) -> tuple[np.ndarray, list[list[int]]]:
    """Characters separated by runs of certainly-blank frames, as a quantized model gives them
    (the forward algorithm skips the repeats of such frames)."""
    rng = np.random.default_rng(seed)
    probs, options = np.zeros((11, 37)), []
    for t, chars in enumerate(["KX", "", "", "A4", "", "", "", "1I", "", "1L", ""]):
        classes = [0] + [CLASS[c] for c in chars]
        probs[t, classes] = rng.dirichlet(np.ones(len(classes))) if chars else 1.0
        options.append(classes)
    return probs, options


def _collapse(path: tuple[int, ...]) -> str:
    out, previous = [], 0
    for c in path:
        if c and c != previous:
            out.append(ALPHABET[c - 1])
        previous = c
    return "".join(out)


@pytest.mark.parametrize(("problem", "seed"), [(_small_problem, s) for s in range(8)] + [(_repeat_problem, 0)]
                         + [(_blank_run_problem, s) for s in range(3)])
def test_constrained_viterbi_is_exact(problem, seed: int) -> None:
    probs, options = problem(seed)
    frames = np.arange(len(probs))
    best_score, labelling_sums = -math.inf, {}
    for path in itertools.product(*options):
        p = float(np.prod(probs[frames, path]))
        text = _collapse(path)
        labelling_sums[text] = labelling_sums.get(text, 0.0) + p
        if plates.is_valid(text) and p > 0:
            best_score = max(best_score, math.log(p))
    path = ctc._constrained_viterbi(probs, blank_skip=1.0)
    assert path is not None
    assert plates.is_valid(_collapse(tuple(path)))
    assert math.log(np.prod(probs[frames, path])) == pytest.approx(best_score)
    # The forward algorithm agrees with the enumerated labelling probabilities.
    for text, total in labelling_sums.items():
        assert ctc._labelling_probability(probs, text) == pytest.approx(total, rel=1e-9)


def test_forward_algorithm_drops_repeated_near_certain_blanks_without_changing_the_answer() -> None:
    """The int8 reader's blank frames read 1 - 4e-6, not 1: runs of them are still collapsed,
    and the labelling probability stays within the tolerance of the full sum."""
    probs, _ = _blank_run_problem(0)
    for t in range(len(probs)):
        if probs[t, 0] == 1.0:  # turn certain blanks into near-certain ones, as the int8 model gives
            probs[t, 0] = 1.0 - 4e-6
            probs[t, CLASS["7"]] = 4e-6
    keep = ctc._informative_frames(probs)
    assert keep.tolist() == [True, True, False, True, True, False, False, True, True, True, True]
    frames = np.arange(len(probs))
    for text in ("KA11", "XA1L", "K41"):
        exact = 0.0
        for path in itertools.product(*[np.nonzero(row)[0].tolist() for row in probs]):
            if _collapse(path) == text:
                exact += float(np.prod(probs[frames, path]))
        assert exact > 0
        assert ctc._labelling_probability(probs, text) == pytest.approx(exact, rel=len(probs) * 1e-5)
