"""Rendered Indian number plates, camera degradations, and pasting plates into photos.

These images train the plate detector and the reader, so the point is realism and variety:
the colours, layouts, fonts and furniture of real Indian plates (HSRP and older ones), and
the blur, noise, light and dirt of a roadside camera.

Public API::

    random_plate_text(rng, kind="any") -> str
    render_plate(text, rng, *, layout=None, style=None) -> RenderedPlate
    random_style(rng, *, background=None) -> PlateStyle
    degrade(image, rng, *, strength=1.0, warp=True) -> np.ndarray
    warp_plate_into(image_bgr, plate_bgr, quad, *, rng=None) -> (image, box)
    cover_quad(quad, aspect, *, margin=0.08) -> np.ndarray

Needs Pillow (for TrueType text), which the ``train`` and ``test`` extras install.
"""
from __future__ import annotations

import functools
import glob
import os
from dataclasses import dataclass, replace
from typing import Literal, get_args

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge_alpr import plates
from edge_alpr.types import ALPHABET

#: "stacked": state and RTO over the series at the left, the number in big print beside both
#: lines (an older private-car style, e.g. "MH 02 / EZ" + "2599"). Only for standard plates with a series.
Layout = Literal["one", "two", "stacked"]
Background = Literal["white", "yellow", "green", "black", "red"]
BGR = tuple[int, int, int]

# --- plate texts ----------------------------------------------------------------------------

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


def split_lines(text: str, rng: np.random.Generator) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The printed groups of each line of a two-line plate, the way real ones are split.

    Usually ``KA 01`` / ``AB 1234``; sometimes the series goes on top (``MH 12 AB`` / ``1234``).
    BH plates split as ``22 BH`` / ``1234 AA``.
    """
    parts = plates.parse(text)
    if parts is None:
        half = (len(text) + 1) // 2
        return (text[:half],), (text[half:],)
    a, b, c, d = parts.groups
    if parts.plate_format == "standard" and c and rng.random() < 0.3:
        return (a, b, c), (d,)
    return (a, b), tuple(g for g in (c, d) if g)


# --- styles ---------------------------------------------------------------------------------

_BLACK: BGR = (25, 25, 25)
_WHITE: BGR = (240, 242, 242)
_YELLOW: BGR = (20, 200, 245)
_GREEN: BGR = (60, 135, 25)
_NEAR_BLACK: BGR = (30, 30, 30)
_RED: BGR = (40, 35, 190)


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
    font: str | None = None  # a TrueType path; None picks one of FONTS at random


#: The real plate colour schemes, as (background, background colour, text colour, share).
_SCHEMES: tuple[tuple[Background, BGR, BGR, float], ...] = (
    ("white", _WHITE, _BLACK, 0.62),
    ("yellow", _YELLOW, _BLACK, 0.24),
    ("green", _GREEN, _WHITE, 0.05),  # private EV
    ("green", _GREEN, _YELLOW, 0.03),  # commercial EV
    ("black", _NEAR_BLACK, _YELLOW, 0.06),  # self-drive rental
    # Dealers' trade-certificate plates ("MH 14 TC ..."), on new cars before registration. Rare,
    # but in grey their text is brighter than the plate, as on black and green ones.
    ("red", _RED, _WHITE, 0.02),
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
    )


# --- fonts ----------------------------------------------------------------------------------

#: HSRP plates use one condensed bold sans typeface; these system fonts come closest.
_HSRP_FONT_WEIGHTS = {
    "DejaVuSansCondensed-Bold.ttf": 4.0,
    "LiberationSansNarrow-Bold.ttf": 3.0,
    "DejaVuSans-Bold.ttf": 1.0,
    "LiberationSans-Bold.ttf": 1.0,
    "FreeSansBold.ttf": 1.0,
}
#: Older and home-made plates use anything: regular weights, italics, serif and typewriter faces.
_OTHER_FONT_WEIGHTS = {
    **{name: 1.5 for name in _HSRP_FONT_WEIGHTS},
    "DejaVuSans.ttf": 1.0,
    "DejaVuSansCondensed.ttf": 1.0,
    "LiberationSans-Regular.ttf": 1.0,
    "LiberationSansNarrow-Regular.ttf": 1.0,
    "FreeSans.ttf": 1.0,
    "DejaVuSansCondensed-BoldOblique.ttf": 0.4,
    "LiberationSans-BoldItalic.ttf": 0.4,
    "LiberationSansNarrow-BoldItalic.ttf": 0.3,
    "FreeSansBoldOblique.ttf": 0.3,
    # Serif faces, often with dots between the groups, are common on older painted plates and
    # were among the real crops the reader missed when they were rarer here.
    "DejaVuSerif-Bold.ttf": 0.6,
    "LiberationSerif-Bold.ttf": 0.6,
    "DejaVuSerifCondensed-Bold.ttf": 0.4,
    "FreeSerifBold.ttf": 0.3,
    "DejaVuSerif.ttf": 0.3,
    "LiberationSerif-Regular.ttf": 0.3,
    "DejaVuSerif-BoldItalic.ttf": 0.2,
    "LiberationSerif-BoldItalic.ttf": 0.2,
    "DejaVuSansMono-Bold.ttf": 0.5,
    "LiberationMono-Bold.ttf": 0.3,
    "FreeMonoBold.ttf": 0.3,
}
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"), "/Library/Fonts")


def _discover_fonts() -> tuple[str, ...]:
    found: dict[str, str] = {}
    for directory in _FONT_DIRS:
        for path in sorted(glob.glob(os.path.join(directory, "**", "*.ttf"), recursive=True)):
            name = os.path.basename(path)
            if name in _OTHER_FONT_WEIGHTS and name not in found:
                found[name] = path
    return tuple(found[n] for n in _OTHER_FONT_WEIGHTS if n in found)


#: TrueType fonts found on this system; empty means Pillow's bundled default font is used.
FONTS: tuple[str, ...] = _discover_fonts()


def _pick_font(rng: np.random.Generator, hsrp: bool) -> str | None:
    weights_by_name = _HSRP_FONT_WEIGHTS if hsrp else _OTHER_FONT_WEIGHTS
    pool = [(path, weights_by_name[os.path.basename(path)]) for path in FONTS if os.path.basename(path) in weights_by_name]
    if not pool:
        pool = [(path, 1.0) for path in FONTS]
    if not pool:
        return None
    weights = np.array([w for _, w in pool])
    return pool[int(rng.choice(len(pool), p=weights / weights.sum()))][0]


_GLYPH_SIZE = 96  # glyphs are drawn once at this size, then scaled


@functools.lru_cache(maxsize=16)
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=16)
def _cap_band(path: str | None) -> tuple[int, int]:
    """Rows from the top of the tallest capital/digit to the lowest bottom, so every glyph of
    a font shares one baseline and height."""
    font = _font(path, _GLYPH_SIZE)
    boxes = [font.getbbox(ch) for ch in ALPHABET]
    return min(b[1] for b in boxes), max(b[3] for b in boxes)


@functools.lru_cache(maxsize=4096)
def _glyph(path: str | None, ch: str, stroke: int) -> np.ndarray:
    """A glyph's coverage mask (uint8), cropped to its ink horizontally and the font's cap band vertically."""
    font = _font(path, _GLYPH_SIZE)
    top, bottom = _cap_band(path)
    width = int(font.getlength(ch)) + 4 * stroke + 8
    canvas = Image.new("L", (width, bottom + 2 * stroke + 4), 0)
    ImageDraw.Draw(canvas).text((4 + stroke, 2 + stroke), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    mask = np.asarray(canvas)[top + 2 : bottom + 2 * stroke + 3]
    columns = np.flatnonzero(mask.max(axis=0) > 0)
    if len(columns) == 0:  # a font without this glyph: a blank the width of a digit
        return np.zeros((mask.shape[0], _GLYPH_SIZE // 2), np.uint8)
    return np.ascontiguousarray(mask[:, columns[0] : columns[-1] + 1])


def _line_mask(
    groups: tuple[str, ...], font: str | None, stroke: int, separator: str, rng: np.random.Generator, *, even: bool = False
) -> np.ndarray:
    """One printed line as a float coverage mask, at glyph size, with jittered spacing.
    ``even`` spaces every character alike, without wider gaps between the groups."""
    height = _glyph(font, "0", stroke).shape[0]
    pieces: list[np.ndarray] = []
    for g, group in enumerate(g for g in groups if g):
        if g and even:
            pieces.append(np.zeros((height, max(1, int(height * rng.uniform(0.04, 0.12)))), np.uint8))
        elif g:
            gap = int(height * rng.uniform(0.22, 0.45))
            if separator:
                sep = _glyph(font, separator, stroke)
                sep = np.pad(sep, ((0, max(0, height - sep.shape[0])), (0, 0)))[:height]
                pieces += [np.zeros((height, gap // 3), np.uint8), sep, np.zeros((height, gap // 3), np.uint8)]
            else:
                pieces.append(np.zeros((height, gap), np.uint8))
        for i, ch in enumerate(group):
            if i:
                pieces.append(np.zeros((height, max(1, int(height * rng.uniform(0.04, 0.12)))), np.uint8))
            pieces.append(_glyph(font, ch, stroke))
    return np.concatenate(pieces, axis=1).astype(np.float32) / 255.0


# --- drawing helpers ------------------------------------------------------------------------


def _jitter_colour(colour: BGR, rng: np.random.Generator, amount: float = 6.0) -> np.ndarray:
    """Paint and sheeting vary in brightness more than in hue."""
    shade = rng.uniform(0.85, 1.08)
    return np.clip(np.asarray(colour, np.float32) * shade + rng.normal(0, amount, 3), 0, 255)


def _paint(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """Alpha-blend ``colour`` into ``canvas`` (float32 HxWx3) where ``mask`` (HxW, 0..1) is set."""
    canvas *= 1.0 - mask[..., None]
    canvas += mask[..., None] * colour


def _emboss(canvas: np.ndarray, mask: np.ndarray, depth: float) -> None:
    """Raised characters catch light on one edge and throw shadow on the other."""
    shift = max(1, int(round(mask.shape[0] * 0.012)))
    lit = np.clip(np.roll(mask, (-shift, -shift), axis=(0, 1)) - mask, 0, 1)
    shaded = np.clip(np.roll(mask, (shift, shift), axis=(0, 1)) - mask, 0, 1)
    canvas += (lit * 70.0 * depth)[..., None]
    canvas -= (shaded * 60.0 * depth)[..., None]


def _place(canvas_mask: np.ndarray, line: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Scale a line mask into ``box`` (x, y, w, h) of ``canvas_mask``: full height, and as wide
    as its natural proportions allow, condensed when it is too long (as plate makers do)."""
    x, y, w, h = box
    natural = line.shape[1] * h / line.shape[0]
    stretch = rng.uniform(0.95, 1.2)
    width = int(min(w, natural * stretch))
    if width < 2 or h < 2:
        return
    scaled = cv2.resize(line, (width, h), interpolation=cv2.INTER_AREA)
    x0 = x + (w - width) // 2
    region = canvas_mask[y : y + h, x0 : x0 + width]
    np.maximum(region, scaled[: region.shape[0], : region.shape[1]], out=region)


def _draw_small_text(canvas: np.ndarray, text: str, centre: tuple[int, int], height: int, colour: np.ndarray) -> None:
    """Small print (IND, dealer names, the HSRP serial): nothing the reader should read."""
    font = FONTS[0] if FONTS else None
    mask = _line_mask((text,), font, 0, "", np.random.default_rng(0))
    width = max(1, int(mask.shape[1] * height / mask.shape[0]))
    scaled = cv2.resize(mask, (width, max(1, height)), interpolation=cv2.INTER_AREA)
    x0, y0 = centre[0] - width // 2, centre[1] - height // 2
    h, w = canvas.shape[:2]
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(w, x0 + width), min(h, y0 + height)
    if xe <= xs or ye <= ys:
        return
    sub = canvas[ys:ye, xs:xe]
    _paint(sub, scaled[ys - y0 : ye - y0, xs - x0 : xe - x0], colour)


def _draw_chakra(canvas: np.ndarray, centre: tuple[int, int], radius: int, rng: np.random.Generator) -> None:
    """The HSRP hologram: a silvery-blue disc with the Ashoka chakra's 24 spokes."""
    if radius < 2:
        return
    tint = np.array([200, 150, 90], np.float32) + rng.normal(0, 20, 3)  # iridescent blue-silver
    disc = np.zeros(canvas.shape[:2], np.float32)
    cv2.circle(disc, centre, radius, 1.0, -1, lineType=cv2.LINE_AA)
    _paint(canvas, disc * 0.85, np.clip(tint, 0, 255))
    spokes = np.zeros_like(disc)
    cv2.circle(spokes, centre, int(radius * 0.8), 1.0, max(1, radius // 8), lineType=cv2.LINE_AA)
    for k in range(24):
        angle = 2 * np.pi * k / 24
        end = (int(centre[0] + 0.8 * radius * np.cos(angle)), int(centre[1] + 0.8 * radius * np.sin(angle)))
        cv2.line(spokes, centre, end, 1.0, 1, lineType=cv2.LINE_AA)
    _paint(canvas, spokes * 0.6, np.array([120, 70, 20], np.float32))


def _draw_screw(canvas: np.ndarray, centre: tuple[int, int], radius: int, rng: np.random.Generator) -> None:
    metal = np.full(3, rng.uniform(120, 200), np.float32)
    mask = np.zeros(canvas.shape[:2], np.float32)
    cv2.circle(mask, centre, radius, 1.0, -1, lineType=cv2.LINE_AA)
    _paint(canvas, mask, metal)
    slot = np.zeros_like(mask)
    angle = rng.uniform(0, np.pi)
    d = np.array([np.cos(angle), np.sin(angle)]) * radius * 0.8
    start, end = (int(centre[0] - d[0]), int(centre[1] - d[1])), (int(centre[0] + d[0]), int(centre[1] + d[1]))
    cv2.line(slot, start, end, 1.0, max(1, radius // 3))
    _paint(canvas, slot * 0.7, metal * 0.4)


_DEALER_WORDS = (
    "MOTORS", "AUTOMOBILES", "AUTO", "SERVICE", "CARS", "AGENCIES", "WHEELS", "TRADERS",
    "PUNE", "CHENNAI", "BENGALURU", "DELHI", "KOCHI", "JAIPUR", "INDORE", "SURAT", "NAGPUR",
)


def _dealer_name(rng: np.random.Generator) -> str:
    return " ".join(str(w) for w in rng.choice(_DEALER_WORDS, size=int(rng.integers(1, 3)), replace=False))


# --- the plate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPlate:
    """A flat (unwarped) plate image, cropped tight around the plate (and its frame, if any)."""

    image: np.ndarray  # BGR uint8
    text: str  # normalised; exactly the characters printed, in reading order (top line first)
    layout: Layout
    background: Background
    style: PlateStyle


def render_plate(
    text: str | None,
    rng: np.random.Generator,
    *,
    layout: Layout | None = None,
    style: PlateStyle | None = None,
) -> RenderedPlate:
    """Render a plate. ``text`` None draws a random plate; layout and style are drawn at
    random unless given (one-line on ~75% of plates, the rest two-line; stacked only when
    asked for). Two-line plates read top line first, as the recognizer's sequence does; a
    stacked plate reads state, RTO, series, number like any other.
    """
    if text is None:
        text = random_plate_text(rng)
        while layout == "stacked" and stacked_groups(text) is None:
            text = random_plate_text(rng, "standard")
    else:
        text = plates.normalise(text)
    if not text or any(ch not in ALPHABET for ch in text):
        raise ValueError(f"render_plate: text must be letters A-Z and digits only, got {text!r}")
    layout = layout or ("one" if rng.random() < 0.75 else "two")
    if layout not in get_args(Layout):
        raise ValueError(f"render_plate: layout must be one of {'/'.join(get_args(Layout))}, got {layout!r}")
    stacked = stacked_groups(text) if layout == "stacked" else None
    if layout == "stacked" and stacked is None:
        raise ValueError(f"render_plate: a stacked layout needs a standard plate with a series, got {text!r}")
    if style is None:
        style = random_style(rng)
        if layout == "stacked":  # the layout predates HSRP plates, which allow no such print
            style = replace(style, hsrp=False)
    font = style.font or _pick_font(rng, style.hsrp)

    if layout == "one":
        width = int(rng.uniform(470, 530))
        height = int(width / rng.uniform(3.9, 5.0))
    elif layout == "stacked":
        width = int(rng.uniform(470, 530))
        height = int(width / rng.uniform(3.3, 4.5))
    else:
        width = int(rng.uniform(270, 320))
        height = int(width / rng.uniform(1.4, 1.8))
    canvas = _background(height, width, style, rng)
    _draw_border(canvas, style, rng)

    inset = int(height * (0.06 if layout == "one" else 0.045)) + 2
    left = inset + int(width * rng.uniform(0.0, 0.03))
    if style.hsrp:
        left = _draw_hsrp_strip(canvas, layout, inset, rng)
    # Stroke thickness: bold faces thicken further now and then; regular ones only a little.
    bold = font is not None and "Bold" in os.path.basename(font)
    stroke = int(rng.choice([0, 1, 2, 3], p=[0.3, 0.35, 0.25, 0.1] if bold else [0.5, 0.35, 0.15, 0.0]))
    even = style.spacing == "even"
    text_mask = np.zeros((height, width), np.float32)
    right = width - inset - int(width * rng.uniform(0.0, 0.03))
    # Small print on the plate itself takes a band at the top or bottom from the characters.
    print_band = int(height * (0.16 if layout == "one" else 0.1)) if style.dealer_text and not style.frame else 0
    print_on_top = rng.random() < 0.5
    band_top = print_band if print_on_top else 0
    usable = height - print_band
    if layout == "one":
        char_h = int(usable * rng.uniform(0.62, 0.74))
        top = band_top + (usable - char_h) // 2 + int(rng.integers(-2, 3))
        line = _line_mask(_groups(text), font, stroke, style.separator, rng, even=even)
        _place(text_mask, line, (left, top, right - left, char_h), rng)
    elif stacked is not None:
        _place_stacked(text_mask, stacked, font, stroke, style, (left, band_top, right - left, usable), inset, rng)
    else:
        upper, lower = split_lines(text, rng)
        gap = int(usable * rng.uniform(0.05, 0.09))
        char_h = int((usable - 2 * inset - gap) / 2 * rng.uniform(0.86, 0.95))
        top = band_top + (usable - 2 * char_h - gap) // 2
        upper_line = _line_mask(upper, font, stroke, style.separator, rng, even=even)
        lower_line = _line_mask(lower, font, stroke, style.separator, rng, even=even)
        _place(text_mask, upper_line, (left, top, right - left, char_h), rng)
        _place(text_mask, lower_line, (inset, top + char_h + gap, right - inset, char_h), rng)
    _paint(canvas, text_mask, _jitter_colour(style.text_colour, rng))
    if print_band:
        centre_y = print_band // 2 + inset // 2 if print_on_top else height - print_band // 2 - inset // 2
        print_h = max(3, int(print_band * 0.55))
        _draw_small_text(canvas, _dealer_name(rng), (width // 2, centre_y), print_h, _jitter_colour(style.text_colour, rng))
    if style.hsrp or style.border == "embossed":
        _emboss(canvas, text_mask, rng.uniform(0.4, 1.0))
    if style.screws:
        _draw_screws(canvas, layout, text_mask, (left, right), rng)
    if style.frame:
        canvas = _add_frame(canvas, style, rng)
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    return RenderedPlate(image, text, layout, style.background, replace(style, font=font))


def stacked_groups(text: str) -> tuple[tuple[str, ...], tuple[str, ...], str] | None:
    """A standard plate's ((state, RTO), (series,), number) for the stacked layout; None for
    plates without a series and BH plates, which are never printed that way."""
    parts = plates.parse(text)
    if parts is None or parts.plate_format != "standard" or not parts.groups[2]:
        return None
    state, rto, series, number = parts.groups
    return (state, rto), (series,), number


def _place_stacked(
    text_mask: np.ndarray,
    groups: tuple[tuple[str, ...], tuple[str, ...], str],
    font: str | None,
    stroke: int,
    style: PlateStyle,
    box: tuple[int, int, int, int],
    inset: int,
    rng: np.random.Generator,
) -> None:
    """The stacked layout into ``box`` (x, y, w, h): two small lines at the left, the number
    as tall as both beside them."""
    x, y, w, h = box
    upper, lower, number = groups
    even = style.spacing == "even"
    gap = int(h * rng.uniform(0.05, 0.1))
    small_h = int((h - 2 * inset - gap) / 2 * rng.uniform(0.86, 0.95))
    top = y + (h - 2 * small_h - gap) // 2
    lines = [_line_mask(g, font, stroke, style.separator, rng, even=even) for g in (upper, lower)]
    prefix_w = int(max(m.shape[1] * small_h / m.shape[0] for m in lines) * rng.uniform(1.0, 1.15))
    prefix_w = min(prefix_w, int(w * 0.45))
    for i, line in enumerate(lines):
        _place(text_mask, line, (x, top + i * (small_h + gap), prefix_w, small_h), rng)
    big_h = int((2 * small_h + gap) * rng.uniform(0.9, 1.05))
    number_x = x + prefix_w + int(small_h * rng.uniform(0.3, 0.8))
    big = _line_mask((number,), font, stroke, "", rng)
    _place(text_mask, big, (number_x, y + (h - big_h) // 2, x + w - number_x, min(big_h, h)), rng)


def _groups(text: str) -> tuple[str, ...]:
    parts = plates.parse(text)
    return parts.groups if parts else (text,)


def _background(height: int, width: int, style: PlateStyle, rng: np.random.Generator) -> np.ndarray:
    """Retro-reflective sheeting: the base colour with a soft gradient and a faint texture."""
    base = _jitter_colour(style.background_colour, rng)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.normal(size=2)
    gradient = (xs / width * direction[0] + ys / height * direction[1]) * rng.uniform(0, 18)
    canvas = base[None, None, :] + gradient[..., None]
    canvas += rng.normal(0, rng.uniform(0.5, 3.0), (height, width, 1)).astype(np.float32)
    return canvas.astype(np.float32)


def _draw_border(canvas: np.ndarray, style: PlateStyle, rng: np.random.Generator) -> None:
    if style.border == "none":
        return
    height, width = canvas.shape[:2]
    offset = int(height * rng.uniform(0.02, 0.04)) + 1
    thickness = max(1, int(height * rng.uniform(0.012, 0.025)))
    mask = np.zeros((height, width), np.float32)
    cv2.rectangle(mask, (offset, offset), (width - 1 - offset, height - 1 - offset), 1.0, thickness, lineType=cv2.LINE_AA)
    _paint(canvas, mask, _jitter_colour(style.text_colour, rng))
    if style.border == "embossed":
        _emboss(canvas, mask, 0.8)


def _draw_hsrp_strip(canvas: np.ndarray, layout: Layout, inset: int, rng: np.random.Generator) -> int:
    """Chakra hologram top-left, blue "IND" below it; returns where the characters may start."""
    height, width = canvas.shape[:2]
    strip = int(width * (rng.uniform(0.075, 0.095) if layout == "one" else rng.uniform(0.13, 0.16)))
    radius = int(min(strip * 0.42, height * (0.16 if layout == "one" else 0.09)))
    cx = inset + strip // 2
    _draw_chakra(canvas, (cx, inset + radius + int(height * 0.04)), radius, rng)
    blue = np.array([160, 70, 10], np.float32) + rng.normal(0, 10, 3)
    ind_h = max(3, int(height * (0.17 if layout == "one" else 0.09)))
    ind_y = height - inset - ind_h // 2 - int(height * 0.06) if layout == "one" else inset + 2 * radius + ind_h
    _draw_small_text(canvas, "IND", (cx, ind_y), ind_h, np.clip(blue, 0, 255))
    if rng.random() < 0.3:  # the laser-etched serial, tiny along the bottom-left
        serial = "".join(rng.choice(list("0123456789"), size=10))
        centre = (inset + strip * 2, height - inset // 2 - 1)
        _draw_small_text(canvas, serial, centre, max(2, int(height * 0.05)), np.full(3, 90, np.float32))
    return inset + strip + int(width * 0.01)


def _draw_screws(
    canvas: np.ndarray, layout: Layout, text_mask: np.ndarray, bounds: tuple[int, int], rng: np.random.Generator
) -> None:
    """Two fixing screws where the plate maker left room: in blank columns within ``bounds``
    (the side margins if wide enough, else the gaps between groups), level with the (top)
    line of characters, never over a character."""
    height, width = canvas.shape[:2]
    radius = max(2, int(height * (0.05 if layout == "one" else 0.03)))
    rows = np.flatnonzero(text_mask.max(axis=1) > 0.05)
    if len(rows) == 0:
        return
    if layout == "one":
        y = int(rows[0] + (rows[-1] - rows[0]) * rng.uniform(0.2, 0.5))
    else:
        line_rows = rows[: np.argmax(np.diff(rows) > 1) + 1] if np.any(np.diff(rows) > 1) else rows
        y = int((line_rows[0] + line_rows[-1]) / 2)
    band = text_mask[max(0, y - radius - 2) : y + radius + 3]
    blank = band.max(axis=0) < 0.05
    blank[: bounds[0]] = False
    blank[bounds[1] :] = False
    edges = np.flatnonzero(np.diff(np.concatenate(([False], blank, [False])).astype(np.int8)))
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2 * radius + 6]
    if not runs:
        return
    for a, b in {runs[0], runs[-1]}:
        _draw_screw(canvas, ((a + b) // 2, y), radius, rng)


def _add_frame(canvas: np.ndarray, style: PlateStyle, rng: np.random.Generator) -> np.ndarray:
    """A dealer's frame: a band round the plate, wider at the bottom when it carries a name."""
    height, width = canvas.shape[:2]
    side = max(2, int(height * rng.uniform(0.04, 0.08)))
    bottom = int(height * rng.uniform(0.16, 0.22)) if style.dealer_text else side
    colour = _jitter_colour((20, 20, 20) if rng.random() < 0.7 else (170, 170, 170), rng)
    framed = np.empty((height + side + bottom, width + 2 * side, 3), np.float32)
    framed[:] = colour
    framed += rng.normal(0, 2.0, framed.shape[:2] + (1,)).astype(np.float32)
    framed[side : side + height, side : side + width] = canvas
    if style.dealer_text:
        name = _dealer_name(rng)
        text_colour = np.full(3, 235.0 if colour.mean() < 128 else 20.0, np.float32)
        # Small print: about a quarter of the plate's character height.
        centre = (framed.shape[1] // 2, side + height + bottom // 2)
        _draw_small_text(framed, name, centre, max(3, int(bottom * 0.6)), text_colour)
    return framed


# --- camera degradations ---------------------------------------------------------------------


def degrade(image: np.ndarray, rng: np.random.Generator, *, strength: float = 1.0, warp: bool = True) -> np.ndarray:
    """Roadside-camera effects, each applied independently at random; returns a new image of
    the same size. ``strength`` 0 returns an unchanged copy, 1 is typical of real footage.

    Geometry (rotation, shear, keystone) only with ``warp``; pass ``warp=False`` when the
    plate will be pasted with :func:`warp_plate_into`, which does its own perspective.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"degrade expects a BGR uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    if not 0.0 <= strength <= 2.0:
        raise ValueError(f"degrade: strength must be within 0..2, got {strength}")
    out = image.astype(np.float32)
    if strength == 0.0:
        return image.copy()

    def chance(p: float) -> bool:
        return rng.random() < min(1.0, p * strength)

    if warp and chance(0.6):
        out = _perspective(out, rng, strength)
    if chance(0.2):
        out = _dirt(out, rng, strength)
    if chance(0.2):
        out = _shadow(out, rng, strength)
    if chance(0.15):
        out = _glare(out, rng, strength)
    if chance(0.5):
        out = _lighting(out, rng, strength)
    if chance(0.12):
        out = _night(out, rng, strength)
    if chance(0.3):
        out = _motion_blur(out, rng, strength)
    if chance(0.3):
        sigma = rng.uniform(0.3, 1.2) * strength * max(1.0, out.shape[0] / 60)
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if chance(0.45):
        out = _low_resolution(out, rng, strength)
    if chance(0.5):
        out += rng.normal(0, rng.uniform(1.5, 9.0) * strength, out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if chance(0.55):
        quality = int(rng.uniform(max(10, 90 - 60 * strength), 95))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def _perspective(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Small rotation, shear and keystone, keeping the plate inside the frame."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-1, 1, (4, 2)) * np.float32([w, h]) * 0.05 * strength
    angle = np.deg2rad(rng.normal(0, 3.0) * strength)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    centre = np.float32([w / 2, h / 2])
    dst = ((src - centre) @ rot.T + centre + jitter).astype(np.float32)
    # Shrink about the centre so the rotated corners stay in view.
    span = dst.max(axis=0) - dst.min(axis=0)
    scale = min(1.0, w / span[0], h / span[1])
    dst = ((dst - dst.mean(axis=0)) * scale + centre).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _soft_blobs(shape: tuple[int, int], rng: np.random.Generator, count: int, size: float) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    for _ in range(count):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (max(1, int(w * size * rng.uniform(0.3, 1))), max(1, int(h * size * rng.uniform(0.3, 1))))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, rng.uniform(0.4, 1.0), -1)
    return cv2.GaussianBlur(mask, (0, 0), max(1.0, min(h, w) * 0.05))


def _dirt(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Mud splashes and faded paint."""
    h, w = img.shape[:2]
    mud = _soft_blobs((h, w), rng, int(rng.integers(1, 6)), 0.15) * rng.uniform(0.2, 0.6) * min(1.0, strength)
    colour = np.float32([40, 60, 80]) + rng.normal(0, 15, 3).astype(np.float32)  # brownish grey
    out = img * (1 - mud[..., None]) + colour * mud[..., None]
    if rng.random() < 0.5:  # faded: pull everything towards the mean
        fade = rng.uniform(0.0, 0.35) * strength
        out = out * (1 - fade) + out.mean(axis=(0, 1)) * fade
    return out


def _shadow(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A soft-edged shadow (a bumper, a tree) over part of the plate."""
    h, w = img.shape[:2]
    points = np.stack([rng.uniform(-0.2, 1.2, 4) * w, rng.uniform(-0.2, 1.2, 4) * h], axis=1).astype(np.int32)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(points), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(h, w) * rng.uniform(0.02, 0.15)))
    darkness = rng.uniform(0.25, 0.65) * min(1.0, strength)
    return img * (1 - darkness * mask[..., None])


def _glare(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Sun or headlight reflection: a bright elliptical gradient."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = w * rng.uniform(0.1, 0.5), h * rng.uniform(0.3, 1.0)
    falloff = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2))
    return img + falloff[..., None] * rng.uniform(60, 200) * min(1.0, strength)


def _lighting(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Exposure, contrast, gamma and a colour cast (sodium lamps, low sun)."""
    gain = np.exp(rng.normal(0, 0.25 * strength))
    contrast = np.exp(rng.normal(0, 0.2 * strength))
    cast = np.exp(rng.normal(0, 0.05 * strength, 3)).astype(np.float32)
    mean = img.mean()
    out = ((img - mean) * contrast + mean) * gain * cast
    gamma = np.exp(rng.normal(0, 0.2 * strength))
    return 255.0 * (np.clip(out, 0, 255) / 255.0) ** gamma


def _night(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Dark, noisy, with bloom around the brightest parts (a lit plate, headlights)."""
    dark = img * rng.uniform(0.12, 0.45)
    bright = np.clip(img - 200, 0, None)
    bloom = cv2.GaussianBlur(bright, (0, 0), max(1.0, img.shape[0] * 0.08)) * rng.uniform(0.5, 2.0)
    noise = rng.normal(0, rng.uniform(3, 10) * strength, img.shape).astype(np.float32)
    tint = np.float32([1.0, 1.0, 1.0]) if rng.random() < 0.5 else np.float32([0.8, 0.95, 1.15])  # sodium lamps
    return (dark + bloom) * tint + noise


def _motion_blur(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    length = int(max(3, rng.uniform(2, 0.04 * w + 3) * strength)) | 1  # odd: centred on the pixel
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    # Mostly vertical motion (a vehicle approaching the camera) or horizontal (passing by).
    angle = rng.choice([0.0, 90.0]) + rng.normal(0, 15)
    rotation = cv2.getRotationMatrix2D((length // 2, length // 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def _low_resolution(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Down to as few as ~12 px of plate height and back up: a far or small plate."""
    h, w = img.shape[:2]
    scale = np.clip(rng.uniform(12.0 / h, 0.8) ** strength, 12.0 / h, 1.0)
    small = cv2.resize(img, (max(2, int(w * scale)), max(2, int(h * scale))), interpolation=cv2.INTER_AREA)
    interpolation = cv2.INTER_NEAREST if rng.random() < 0.2 else cv2.INTER_LINEAR
    return cv2.resize(small, (w, h), interpolation=interpolation)


# --- pasting plates into photos --------------------------------------------------------------


def cover_quad(quad: np.ndarray, aspect: float, *, margin: float = 0.08) -> np.ndarray:
    """A quadrilateral in the same plane as ``quad`` (4x2, TL, TR, BR, BL) that covers it with
    ``margin`` to spare on each side and has the width/height ratio ``aspect`` in the plate's
    own plane, for pasting a rendered plate of that aspect over a real one. A box
    ``(x1, y1, x2, y2)`` is accepted too."""
    quad = _as_quad(quad)
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    if width < 1e-6 or height < 1e-6 or aspect <= 0:
        raise ValueError(f"cover_quad: needs a non-degenerate quad and a positive aspect, got {quad.tolist()} and {aspect}")
    plane = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    to_image = cv2.getPerspectiveTransform(plane, quad)
    new_w, new_h = width * (1 + 2 * margin), height * (1 + 2 * margin)
    if new_w / new_h < aspect:
        new_w = new_h * aspect
    else:
        new_h = new_w / aspect
    cx, cy = width / 2, height / 2
    half_w, half_h = new_w / 2, new_h / 2
    corners = np.float32([[cx - half_w, cy - half_h], [cx + half_w, cy - half_h],
                          [cx + half_w, cy + half_h], [cx - half_w, cy + half_h]])
    return cv2.perspectiveTransform(corners[None], to_image)[0].astype(np.float32)


def _as_quad(quad: np.ndarray) -> np.ndarray:
    quad = np.asarray(quad, np.float32)
    if quad.shape == (4,):
        x1, y1, x2, y2 = quad
        quad = np.float32([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ValueError(
            f"expected a quadrilateral of shape (4, 2) (TL, TR, BR, BL) or a box (x1, y1, x2, y2), got {quad.shape}"
        )
    return quad


def _luma(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.114 + img[..., 1] * 0.587 + img[..., 2] * 0.299


def _sharpness(gray: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    inside = mask > 0.99
    return float(lap[inside].var()) if inside.sum() > 16 else 0.0


def warp_plate_into(
    image_bgr: np.ndarray,
    plate_bgr: np.ndarray,
    quad: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Paste ``plate_bgr`` into a copy of ``image_bgr`` over ``quad`` (4x2 float, TL, TR, BR,
    BL, in image pixels; or a box x1, y1, x2, y2).

    The plate is perspective-warped onto the quad, its brightness and colour are pulled
    towards those of the region it covers (the real plate's lighting is the best guess for
    ours), it is blurred until no sharper than that region, optionally given the camera's
    noise (with ``rng``), and its edges are feathered. Returns the new image and the
    axis-aligned box of the pasted plate, clipped to the image.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or plate_bgr.ndim != 3 or plate_bgr.shape[2] != 3:
        raise ValueError(f"warp_plate_into expects BGR images, got image {image_bgr.shape} and plate {plate_bgr.shape}")
    quad = _as_quad(quad)
    h, w = image_bgr.shape[:2]
    ph, pw = plate_bgr.shape[:2]
    x1, y1 = np.floor(quad.min(axis=0)).astype(int)
    x2, y2 = np.ceil(quad.max(axis=0)).astype(int)
    bx1, by1, bx2, by2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    out = image_bgr.copy()
    if bx2 - bx1 < 2 or by2 - by1 < 2:
        raise ValueError(f"warp_plate_into: the quad {quad.tolist()} lies outside the {w}x{h} image")
    # Work in the quad's bounding box only: cheap on big photos.
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    matrix = cv2.getPerspectiveTransform(src, quad - np.float32([bx1, by1]))
    size = (bx2 - bx1, by2 - by1)
    # Shrinking a plate a lot with one bilinear warp aliases; pre-shrink it to about the target size.
    target_w = max(np.linalg.norm(quad[1] - quad[0]), 2.0)
    plate = plate_bgr.astype(np.float32)
    if target_w < pw / 2:
        factor = max(target_w * 1.5 / pw, 1e-3)
        plate = cv2.resize(plate, (max(2, int(pw * factor)), max(2, int(ph * factor))), interpolation=cv2.INTER_AREA)
        matrix = matrix @ np.diag([pw / plate.shape[1], ph / plate.shape[0], 1.0])
    warped = cv2.warpPerspective(plate, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(np.ones(plate.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    region = out[by1:by2, bx1:bx2].astype(np.float32)
    warped = _match_region(warped, region, alpha)
    if rng is not None:
        noise_level = float(np.std(region - cv2.GaussianBlur(region, (0, 0), 1.0)))
        warped += rng.normal(0, min(noise_level, 8.0) * 0.7, warped.shape).astype(np.float32)
    feather = cv2.GaussianBlur(alpha, (0, 0), 0.7)[..., None]
    out[by1:by2, bx1:bx2] = np.clip(region * (1 - feather) + warped * feather, 0, 255).astype(np.uint8)
    return out, (float(bx1), float(by1), float(bx2), float(by2))


def _match_region(plate: np.ndarray, region: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Pull the plate's brightness and colour towards the covered region's, then blur the
    plate until it is no sharper than the region."""
    inside = alpha > 0.99
    if inside.sum() < 16:
        return plate
    # The brightest parts (the plate's background vs. what it covers) set the exposure.
    target = np.percentile(_luma(region)[inside], 90)
    current = np.percentile(_luma(plate)[inside], 90)
    gain = float(np.clip(target / max(current, 1.0), 0.3, 1.4))
    region_mean = region[inside].mean(axis=0)
    cast = np.clip(region_mean / max(region_mean.mean(), 1.0), 0.85, 1.15)
    plate = plate * gain * (0.5 + 0.5 * cast)
    target_sharpness = _sharpness(_luma(region), alpha) * 1.2
    if _sharpness(_luma(plate), alpha) <= target_sharpness:
        return plate
    for sigma in (0.5, 0.8, 1.2, 1.8, 2.5):
        blurred = cv2.GaussianBlur(plate, (0, 0), sigma)
        if _sharpness(_luma(blurred), alpha) <= target_sharpness:
            break
    return blurred
