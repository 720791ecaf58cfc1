"""Random Indian plate texts with realistic state, RTO and series frequencies, and how a text
splits into the lines of a two-line plate.

    random_plate_text(rng, kind="any") -> str
    split_lines(text, rng) -> (top groups, bottom groups)
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from edge_alpr import plates

#: Roughly the highest RTO number in use per state (from the states' RTO lists); small UTs
#: have a handful, the big states 50-99.
_RTO_MAX: dict[str, int] = {
    "AN": 2, "AP": 40, "AR": 22, "AS": 34, "BR": 57, "CG": 30, "CH": 4, "DD": 3, "DL": 13,
    "DN": 9, "GA": 12, "GJ": 39, "HP": 99, "HR": 99, "JH": 22, "JK": 22, "KA": 71, "KL": 86,
    "LA": 2, "LD": 9, "MH": 51, "ML": 10, "MN": 7, "MP": 72, "MZ": 8, "NL": 10, "OD": 35,
    "OR": 35, "PB": 99, "PY": 5, "RJ": 58, "SK": 6, "TG": 38, "TN": 99, "TR": 8, "TS": 38,
    "UA": 18, "UK": 18, "UP": 96, "WB": 98,
}
_HISTORICAL = {"DN", "OR", "UA"}
#: Delhi's vehicle-category letters after the RTO digit(s): car, scooter, passenger, electric...
_DELHI_CATEGORIES = "CSPERTVYLG"


def _state_weights() -> np.ndarray:
    # Busier states are commoner on the road; old codes survive only on old vehicles.
    weights = np.array([np.sqrt(_RTO_MAX[s]) * (0.2 if s in _HISTORICAL else 1.0) for s in plates.STATE_CODES])
    return weights / weights.sum()


_STATE_P = _state_weights()


def _letters(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(plates.SERIES_LETTERS), size=n))


def _standard_text(rng: np.random.Generator) -> str:
    state = str(rng.choice(plates.STATE_CODES, p=_STATE_P))
    rto = int(rng.integers(1, _RTO_MAX[state] + 1))
    if state == "DL":
        # DL 3C AB 1234: unpadded RTO, a category letter, then 0-2 series letters.
        rto_text = str(rto)
        series = str(rng.choice(list(_DELHI_CATEGORIES))) + _letters(rng, int(rng.choice([0, 1, 2], p=[0.2, 0.3, 0.5])))
    else:
        rto_text = f"{rto:02d}" if rng.random() < 0.95 else str(rto)
        series = _letters(rng, int(rng.choice([0, 1, 2, 3], p=[0.04, 0.22, 0.7, 0.04])))
    number = int(rng.integers(1, 10000))
    # HSRP prints four digits; a few older plates print the number unpadded.
    number_text = f"{number:04d}" if rng.random() < 0.95 else str(number)
    return state + rto_text + series + number_text


def _bh_text(rng: np.random.Generator) -> str:
    year = int(rng.integers(plates.BH_FIRST_YEAR, plates._bh_last_year() + 1))
    return f"{year:02d}BH{int(rng.integers(1, 10000)):04d}" + _letters(rng, 2 if rng.random() < 0.9 else 1)


def random_plate_text(rng: np.random.Generator, kind: Literal["standard", "bh", "any"] = "any") -> str:
    """A random valid Indian plate, normalised (``KA01AB1234``); ``any`` gives ~10% BH series."""
    if kind not in ("standard", "bh", "any"):
        raise ValueError(f"random_plate_text: kind must be 'standard', 'bh' or 'any', got {kind!r}")
    if kind == "bh" or (kind == "any" and rng.random() < 0.1):
        return _bh_text(rng)
    return _standard_text(rng)


#: How a standard plate with a series splits into two lines, as shares of such plates. Read off
#: the 45 real two-line training crops of in_twowheelers and in_odisha_traffic (montage, 2026-12-06):
#: a third of those with a two-letter series print its first letter on top (``BR 01 C`` / ``F 8627``,
#: ``AP 39 A`` / ``L 7256``), a few print the whole series on top (``AP 07 TC`` / ``8055``), the rest
#: ``KA 01`` / ``AB 1234``. A reader never shown the split series drops the top line's last letter.
SERIES_SPLIT_SHARE = 0.3
SERIES_ON_TOP_SHARE = 0.15
#: The state alone on top (``KL`` / ``7 X 7513``): rare on the roads seen so far.
STATE_ON_TOP_SHARE = 0.05


def split_lines(text: str, rng: np.random.Generator) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The printed groups of each line of a two-line plate, the way real ones are split.

    Usually ``KA 01`` / ``AB 1234``; the first series letter on top (``KA 01 A`` / ``B 1234``),
    the whole series on top (``MH 12 AB`` / ``1234``) or the state alone (``KL`` / ``7 X 7513``)
    now and then (``SERIES_SPLIT_SHARE`` and the shares beside it). BH plates split as
    ``22 BH`` / ``1234 AA``.
    """
    parts = plates.parse(text)
    if parts is None:
        half = (len(text) + 1) // 2
        return (text[:half],), (text[half:],)
    a, b, c, d = parts.groups
    if parts.plate_format != "standard" or not c:
        return (a, b), tuple(g for g in (c, d) if g)
    u = rng.random()
    if u < SERIES_SPLIT_SHARE:  # a one-letter series cannot split: it keeps the usual order
        return ((a, b, c[0]), (c[1:], d)) if len(c) >= 2 else ((a, b), (c, d))
    if u < SERIES_SPLIT_SHARE + SERIES_ON_TOP_SHARE:
        return (a, b, c), (d,)
    if u < SERIES_SPLIT_SHARE + SERIES_ON_TOP_SHARE + STATE_ON_TOP_SHARE:
        return (a,), (b, c, d)
    return (a, b), (c, d)
