"""Indian plate grammar and grammar-constrained CTC decoding."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from edge_alpr import plates
from edge_alpr.types import ALPHABET

CLASS = {ch: i + 1 for i, ch in enumerate(ALPHABET)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KA01AB1234", "standard"),
        ("KA 01 AB 1234", "standard"),
        ("ka-01-ab.1234", "standard"),
        ("DL3CAB1234", "standard"),  # Delhi: RTO digit + category letter + series
        ("DL 10 C 4567", "standard"),
        ("MH12DE1433", "standard"),
        ("TN09Z0012", "standard"),  # HSRP zero-padded number
        ("UP16A12", "standard"),  # pre-HSRP short number
        ("GJ051234", "standard"),  # old plate without series letters
        ("OR02AB1234", "standard"),  # historical state code
        ("TG09AB1234", "standard"),
        ("22BH1234AA", "bh"),
        ("21 BH 0001 A", "bh"),
        ("KA01AB0000", "unknown"),  # number all zeros
        ("KA00AB1234", "unknown"),  # RTO 00
        ("KA01ABCD1234", "unknown"),  # four series letters
        ("KA01AB12345", "unknown"),  # five digits
        ("KA01AO1234", "unknown"),  # O is never a series letter
        ("KA01AI1234", "unknown"),  # nor I
        ("XX01AB1234", "unknown"),  # not a state code
        ("KA01AB", "unknown"),  # no number
        ("K01AB1234", "unknown"),
        ("20BH1234AA", "unknown"),  # BH series started in 2021
        ("99BH1234AA", "unknown"),  # a future year
        ("22BH123AA", "unknown"),  # BH needs four digits
        ("22BH1234ABC", "unknown"),
        ("", "unknown"),
        ("KA01AB1234/", "unknown"),
    ],
)
def test_plate_format(text: str, expected: str) -> None:
    assert plates.plate_format(text) == expected
    assert plates.is_valid(text) == (expected != "unknown")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ka 01 ab 1234", "KA01AB1234"), ("KA-01-AB-1234", "KA01AB1234"), ("k.a.01\tab\n1234", "KA01AB1234"), ("", "")],
)
def test_normalise(raw: str, expected: str) -> None:
    assert plates.normalise(raw) == expected


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("KA01AB1234", ("KA", "01", "AB", "1234")),
        ("DL3CAB1234", ("DL", "3", "CAB", "1234")),
        ("KA11234", ("KA", "1", "", "1234")),  # ambiguous: prefer the 4-digit number
        ("22BH1234AA", ("22", "BH", "1234", "AA")),
    ],
)
def test_parse_groups(text: str, groups: tuple[str, ...]) -> None:
    parts = plates.parse(text)
    assert parts is not None and parts.groups == groups
    assert parts.display == " ".join(g for g in groups if g)


def test_parse_rejects_invalid() -> None:
    assert plates.parse("HELLO") is None


def test_every_state_code_is_accepted_and_only_those() -> None:
    codes = set(plates.STATE_CODES)
    for a, b in itertools.product(ALPHABET[10:], repeat=2):
        assert plates.is_valid(f"{a}{b}01AB1234") == (a + b in codes)


def _automaton_accepts(text: str) -> str:
    automaton = plates._automaton()
    state = 0
    for ch in text:
        state = int(automaton.next_state[state, CLASS[ch]])
        if state < 0:
            return "unknown"
    return automaton.accepting[state] or "unknown"


def _mutations(text: str, rng: np.random.Generator) -> list[str]:
    """Single-character substitutions, deletions and insertions of ``text``."""
    out = []
    for _ in range(20):
        i = int(rng.integers(len(text) + 1))
        ch = ALPHABET[int(rng.integers(len(ALPHABET)))]
        out += [text[:i] + ch + text[i + 1 :], text[:i] + text[i + 1 :], text[:i] + ch + text[i:]]
    return out


def test_automaton_agrees_with_regex() -> None:
    """The decoder's automaton and is_valid come from one spec; check they accept the same strings."""
    rng = np.random.default_rng(1)
    seeds = ["KA01AB1234", "DL3CAB1234", "22BH1234AA", "MH12A1", "TN091234", "25BH0007Z"]
    samples = [s for seed in seeds for s in _mutations(seed, rng)]
    samples += ["".join(rng.choice(list(ALPHABET), size=int(rng.integers(4, 12)))) for _ in range(300)]
    for text in samples:
        assert _automaton_accepts(text) == plates.plate_format(text), text


# --- decoding -----------------------------------------------------------------------------


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
    decoded = plates.decode_ctc(probs)
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
    assert plates.decode_ctc(probs).text == "LA01AB1234"


def test_valid_read_is_returned_unchanged() -> None:
    probs = make_probs("KA01AB1234")
    decoded = plates.decode_ctc(probs)
    assert decoded.text == decoded.unconstrained_text == "KA01AB1234"
    assert decoded.plate_format == "standard"
    assert 0.5 < decoded.sequence_probability <= 1.0


def test_confident_non_plate_falls_back_to_unknown() -> None:
    probs = make_probs("HELLOWORLD")
    decoded = plates.decode_ctc(probs)
    assert decoded.text == "HELLOWORLD"
    assert decoded.plate_format == "unknown"


@pytest.mark.parametrize(("ratio", "corrected"), [(1e-3, True), (0.9, False)])
def test_fallback_ratio_is_the_rule(ratio: float, corrected: bool) -> None:
    # The correction costs a factor of (0.3 / 0.7) in probability: allowed at 1e-3, not at 0.9.
    probs = make_probs("KA01AB1234", confusions={4: ("0", 0.7)})
    decoded = plates.decode_ctc(probs, min_probability_ratio=ratio)
    assert (decoded.text == "KA01AB1234") is corrected
    assert decoded.plate_format == ("standard" if corrected else "unknown")


def test_grammar_any_returns_the_unconstrained_read_with_its_format() -> None:
    probs = make_probs("KA01AB1234", confusions={4: ("0", 0.7)})
    decoded = plates.decode_ctc(probs, grammar="any")
    assert decoded.text == "KA010B1234"
    assert decoded.plate_format == "unknown"
    assert plates.decode_ctc(make_probs("22BH1234AA"), grammar="any").plate_format == "bh"


@pytest.mark.parametrize("ratio", [0.0, 1e-3])
def test_repeated_characters_need_a_blank_between(ratio: float) -> None:
    """A BH number needs four digits; the model saw three. Holding "3" for two frames must
    not count as "33": CTC only repeats a character across a blank."""
    probs = make_probs("22BH123AA")
    decoded = plates.decode_ctc(probs, min_probability_ratio=ratio)
    if ratio == 0.0:  # forced into the grammar: a real CTC reading of some valid plate
        assert decoded.plate_format == "bh"
        assert decoded.sequence_probability > 0.0
    else:  # every valid plate needs an unlikely extra character: keep the read as it is
        assert (decoded.text, decoded.plate_format) == ("22BH123AA", "unknown")


def test_empty_output() -> None:
    probs = np.zeros((64, 37))
    probs[:, 0] = 1.0
    decoded = plates.decode_ctc(probs)
    assert decoded.text == "" and decoded.plate_format == "unknown" and decoded.char_confidences == ()


def test_rows_restricted_from_a_larger_alphabet_are_renormalised() -> None:
    probs = make_probs("KA01AB1234") * 0.5  # as if half the mass went to characters we dropped
    decoded = plates.decode_ctc(probs)
    assert decoded.text == "KA01AB1234"
    assert decoded.sequence_probability == pytest.approx(plates.decode_ctc(probs * 2).sequence_probability)


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
        plates.decode_ctc(probs)


def test_unknown_grammar_is_rejected() -> None:
    with pytest.raises(ValueError, match="grammar"):
        plates.decode_ctc(make_probs("KA01AB1234"), grammar="us")  # type: ignore[arg-type]


def test_batch_axis_of_one_is_accepted() -> None:
    assert plates.decode_ctc(make_probs("KA01AB1234")[None]).text == "KA01AB1234"


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
    path = plates._constrained_viterbi(probs, blank_skip=1.0)
    assert path is not None
    assert plates.is_valid(_collapse(tuple(path)))
    assert math.log(np.prod(probs[frames, path])) == pytest.approx(best_score)
    # The forward algorithm agrees with the enumerated labelling probabilities.
    for text, total in labelling_sums.items():
        assert plates._labelling_probability(probs, text) == pytest.approx(total, rel=1e-9)


def test_forward_algorithm_drops_repeated_near_certain_blanks_without_changing_the_answer() -> None:
    """The int8 reader's blank frames read 1 - 4e-6, not 1: runs of them are still collapsed,
    and the labelling probability stays within the tolerance of the full sum."""
    probs, _ = _blank_run_problem(0)
    for t in range(len(probs)):
        if probs[t, 0] == 1.0:  # turn certain blanks into near-certain ones, as the int8 model gives
            probs[t, 0] = 1.0 - 4e-6
            probs[t, CLASS["7"]] = 4e-6
    keep = plates._informative_frames(probs)
    assert keep.tolist() == [True, True, False, True, True, False, False, True, True, True, True]
    frames = np.arange(len(probs))
    for text in ("KA11", "XA1L", "K41"):
        exact = 0.0
        for path in itertools.product(*[np.nonzero(row)[0].tolist() for row in probs]):
            if _collapse(path) == text:
                exact += float(np.prod(probs[frames, path]))
        assert exact > 0
        assert plates._labelling_probability(probs, text) == pytest.approx(exact, rel=len(probs) * 1e-5)



@pytest.mark.parametrize(("top", "bottom", "expected"), [
    ("KA 01", "AB 1234", "standard"),   # state and RTO over series and number
    ("KA", "01 AB 1234", "standard"),   # the state alone on top
    ("KA 01 AB", "1234", "standard"),   # all but the number on top (scooters)
    ("TN-22", "C-123", "standard"),     # hand-painted, with dashes
    ("MH.12", "DE.1433", "standard"),   # with dots
    ("22 BH", "1234 AA", "bh"),         # a BH plate on two lines
    ("1234", "KA 01 AB", "unknown"),    # bottom line first is not a plate: the order matters
])
def test_two_line_orders_read_top_line_first_are_one_grammar(top: str, bottom: str, expected: str) -> None:
    assert plates.plate_format(f"{top}\n{bottom}") == expected
    assert plates.plate_format(f"{top} {bottom}") == expected
