"""Rendered Indian number plates: the colours, layouts, fonts and furniture of real Indian
plates (HSRP and older ones). The camera's effects are in ``degrade``, pasting into photos in
``paste`` and the plate texts in ``texts``.

These images train the plate detector and the reader, so the point is realism and variety.

Public API::

    render_plate(text, rng, *, layout=None, style=None) -> RenderedPlate
    random_style(rng, *, background=None) -> PlateStyle
    stacked_groups(text) -> (top groups, bottom groups, number) | None

Needs Pillow (for TrueType text), which the ``train`` and ``test`` extras install.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal, get_args

import cv2
import numpy as np

from edge_alpr import plates
from edge_alpr.synth import fonts, furniture
from edge_alpr.synth.styles import BGR, Background, PlateStyle, random_style  # noqa: F401  (the renderer's API)
from edge_alpr.synth.texts import random_plate_text, split_lines
from edge_alpr.types import ALPHABET

#: "stacked": state and RTO over the series at the left, the number in big print beside both
#: lines (an older private-car style, e.g. "MH 02 / EZ" + "2599"). Only for standard plates with a series.
Layout = Literal["one", "two", "stacked"]
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
    font = fonts.FONTS[0] if fonts.FONTS else None
    mask = fonts.line_mask((text,), font, 0, "", np.random.default_rng(0))
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
    typefaces: fonts.Typefaces = "standard",
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
    if style.divider not in ("none", "ink", "red"):
        raise ValueError(f"render_plate: style.divider must be none/ink/red, got {style.divider!r}")
    font = style.font or fonts.pick_font(rng, style.hsrp, typefaces)

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
        line = fonts.line_mask(_groups(text), font, stroke, style.separator, rng, even=even, lettering=style.lettering)
        _place(text_mask, line, (left, top, right - left, char_h), rng)
    elif stacked is not None:
        _place_stacked(text_mask, stacked, font, stroke, style, (left, band_top, right - left, usable), inset, rng)
    else:
        upper, lower = split_lines(text, rng)
        gap = int(usable * rng.uniform(0.05, 0.09))
        char_h = int((usable - 2 * inset - gap) / 2 * rng.uniform(0.86, 0.95))
        top = band_top + (usable - 2 * char_h - gap) // 2
        upper_line = fonts.line_mask(upper, font, stroke, style.separator, rng, even=even, lettering=style.lettering)
        lower_line = fonts.line_mask(lower, font, stroke, style.separator, rng, even=even, lettering=style.lettering)
        _place(text_mask, upper_line, (left, top, right - left, char_h), rng)
        _place(text_mask, lower_line, (inset, top + char_h + gap, right - inset, char_h), rng)
    _paint(canvas, text_mask, _jitter_colour(style.text_colour, rng))
    if layout == "two" and style.divider != "none":
        ink = furniture.RED_PAINT if style.divider == "red" else _jitter_colour(style.text_colour, rng)
        furniture.draw_divider(canvas, text_mask, ink)
    if print_band:
        centre_y = print_band // 2 + inset // 2 if print_on_top else height - print_band // 2 - inset // 2
        print_h = max(3, int(print_band * 0.55))
        _draw_small_text(canvas, _dealer_name(rng), (width // 2, centre_y), print_h, _jitter_colour(style.text_colour, rng))
    if style.hsrp or style.border == "embossed":
        _emboss(canvas, text_mask, rng.uniform(0.4, 1.0))
    if style.worn:
        furniture.wear(canvas, rng)
    if style.screws:
        _draw_screws(canvas, layout, text_mask, (left, right), rng)
    if style.frame:
        canvas = _add_frame(canvas, style, rng)
    elif style.holder and layout == "two":
        canvas = furniture.add_holder(canvas, rng)
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
    lines = [fonts.line_mask(g, font, stroke, style.separator, rng, even=even, lettering=style.lettering)
             for g in (upper, lower)]
    prefix_w = int(max(m.shape[1] * small_h / m.shape[0] for m in lines) * rng.uniform(1.0, 1.15))
    prefix_w = min(prefix_w, int(w * 0.45))
    for i, line in enumerate(lines):
        _place(text_mask, line, (x, top + i * (small_h + gap), prefix_w, small_h), rng)
    big_h = int((2 * small_h + gap) * rng.uniform(0.9, 1.05))
    number_x = x + prefix_w + int(small_h * rng.uniform(0.3, 0.8))
    big = fonts.line_mask((number,), font, stroke, "", rng, lettering=style.lettering)
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
