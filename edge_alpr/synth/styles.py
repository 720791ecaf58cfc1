"""How Indian number plates look: their colour schemes and the other features (HSRP, borders,
screws, frames, separators, lettering, wear) a rendered plate is drawn with, in real-world
frequencies. ``render`` draws a plate in a style; this module only describes and draws styles.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from edge_alpr.synth.lettering import LETTERINGS, Lettering

Background = Literal["white", "yellow", "green", "black", "red"]
BGR = tuple[int, int, int]


BLACK: BGR = (25, 25, 25)
WHITE: BGR = (240, 242, 242)
YELLOW: BGR = (20, 200, 245)
GREEN: BGR = (60, 135, 25)
NEAR_BLACK: BGR = (30, 30, 30)
RED: BGR = (40, 35, 190)


@dataclass(frozen=True)
class PlateStyle:
    """How a plate looks. ``random_style`` draws one with real-world frequencies."""

    background: Background  # white: private; yellow: commercial; green: electric; black: rental; red: trade
    background_colour: BGR
    text_colour: BGR
    hsrp: bool = True  # chakra hologram + blue "IND" on the left, embossed border and characters
    border: Literal["none", "line", "embossed"] = "embossed"
    screws: bool = False
    frame: bool = False  # a dealer's plastic frame around the plate
    dealer_text: bool = False  # small dealer name: on the frame if there is one, else on the plate
    separator: Literal["", "-", "."] = ""  # printed between groups on some non-HSRP plates
    spacing: Literal["grouped", "even"] = "grouped"  # gaps between groups, or evenly spaced characters
    font: str | None = None  # a TrueType path; None picks one of fonts.FONTS at random
    divider: Literal["none", "ink", "red"] = "none"  # a painted line between the lines of a two-line plate
    holder: bool = False  # two-line plates only: in a motorcycle's dark holder under the tail lamp
    lettering: Lettering = "printed"  # or painted by hand, or through a stencil (older plates only)
    worn: bool = False  # faded, scuffed and dirty sheeting (older plates only)


#: The real plate colour schemes, as (background, background colour, text colour, share).
_SCHEMES: tuple[tuple[Background, BGR, BGR, float], ...] = (
    ("white", WHITE, BLACK, 0.62),
    ("yellow", YELLOW, BLACK, 0.24),
    ("green", GREEN, WHITE, 0.05),  # private EV
    ("green", GREEN, YELLOW, 0.03),  # commercial EV
    ("black", NEAR_BLACK, YELLOW, 0.06),  # self-drive rental
    # Dealers' trade-certificate plates ("MH 14 TC ..."), on new cars before registration. Rare,
    # but in grey their text is brighter than the plate, as on black and green ones.
    ("red", RED, WHITE, 0.02),
)


def random_style(rng: np.random.Generator, *, background: Background | None = None) -> PlateStyle:
    """A plate style drawn with rough real-world frequencies (HSRP on ~70% of plates)."""
    schemes = [s for s in _SCHEMES if background is None or s[0] == background]
    if not schemes:
        raise ValueError(f"random_style: background must be one of {'/'.join(get_args(Background))}, got {background!r}")
    weights = np.array([s[3] for s in schemes])
    name, bg, fg, _ = schemes[int(rng.choice(len(schemes), p=weights / weights.sum()))]
    hsrp = rng.random() < 0.7
    frame = rng.random() < 0.12
    # HSRP forbids anything printed on the plate but the number; older plates often carry
    # the dealer's name in small print.
    dealer_text = rng.random() < (0.5 if frame else 0.0 if hsrp else 0.1)
    return PlateStyle(
        background=name,
        background_colour=bg,
        text_colour=fg,
        hsrp=hsrp,
        border="embossed" if hsrp else rng.choice(["none", "line", "embossed"], p=[0.4, 0.45, 0.15]).item(),
        screws=rng.random() < 0.35,
        frame=frame,
        dealer_text=dealer_text,
        separator="" if hsrp or rng.random() < 0.8 else str(rng.choice(["-", "."])),  # type: ignore[arg-type]
        spacing="even" if rng.random() < (0.35 if hsrp else 0.25) else "grouped",
        # Painted lines and holders were seen on the real two-line crops, on older plates only.
        divider="none" if hsrp or rng.random() < 0.85 else str(rng.choice(["ink", "red"])),  # type: ignore[arg-type]
        holder=not hsrp and not frame and rng.random() < 0.3,
        # Seen on the real two-wheeler, auto and truck crops: sign-painted or stencilled characters.
        lettering="printed" if hsrp else str(rng.choice(LETTERINGS, p=[0.55, 0.35, 0.1])),  # type: ignore[arg-type]
        worn=not hsrp and rng.random() < 0.35,
    )
