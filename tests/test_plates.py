"""Indian plate grammar: formats, parsing, and the automaton the CTC decoder uses."""
from __future__ import annotations

import itertools

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
        ("TNQ 3450", "old"),  # the series before 1989: state code and a letter, one group
        ("APM8896", "old"),
        ("DLC 123", "old"),
        ("MRK1234", "unknown"),  # an old group that is not a state code and a letter
        ("KTM200", "unknown"),  # a motorcycle badge: KT is no state code
        ("UPF19", "unknown"),  # too short for the old series: a fragment of lettering
        ("TNQ0000", "unknown"),
        ("TNQO1234", "unknown"),
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
        ("TNQ3450", ("TN", "Q", "3450")),
    ],
)
def test_parse_groups(text: str, groups: tuple[str, ...]) -> None:
    parts = plates.parse(text)
    assert parts is not None and parts.groups == groups
    printed = (groups[0] + groups[1], groups[2]) if parts.plate_format == "old" else groups  # "TNQ 3450"
    assert parts.display == " ".join(g for g in printed if g)


def test_parse_rejects_invalid() -> None:
    assert plates.parse("HELLO") is None


def test_every_state_code_is_accepted_and_only_those() -> None:
    codes = set(plates.STATE_CODES)
    for a, b in itertools.product(ALPHABET[10:], repeat=2):
        assert plates.is_valid(f"{a}{b}01AB1234") == (a + b in codes)


def _automaton_accepts(text: str) -> str:
    automaton = plates.automaton()
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
    seeds = ["KA01AB1234", "DL3CAB1234", "22BH1234AA", "MH12A1", "TN091234", "25BH0007Z", "TNQ3450", "APM889"]
    samples = [s for seed in seeds for s in _mutations(seed, rng)]
    samples += ["".join(rng.choice(list(ALPHABET), size=int(rng.integers(4, 12)))) for _ in range(300)]
    for text in samples:
        assert _automaton_accepts(text) == plates.plate_format(text), text


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
