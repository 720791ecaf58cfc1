"""The typefaces of rendered plates: which system fonts look like HSRP and older plates, and
character glyphs drawn once and scaled into a line of text.

    FONTS: the usable TrueType files found on this machine (empty: Pillow's bundled font)
    pick_font(rng, hsrp, typefaces="standard") -> path | None
    line_mask(groups, font, stroke, separator, rng, *, even=True, lettering="printed") -> mask of one text line
"""
from __future__ import annotations

import functools
import glob
import os
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge_alpr.synth.lettering import Lettering, shape_glyph
from edge_alpr.types import ALPHABET

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
#: More letter shapes from Debian's free font packages (``MORE_FONT_PACKAGES``, installed by
#: ``scripts/setup-dev.sh`` with the train extra), drawn only with ``typefaces="more"``. Real
#: plates are lettered by thousands of shops, and the reader's misses on real two-wheeler plates
#: were confident swaps on shapes no rendered face had (a "4" with an open top read as "2"). Each
#: face is rarer than the ones above; together they are about a third of the non-HSRP plates.
#: A reader trained with them read more two-wheeler plates and fewer car plates (docs/figures.md,
#: "More typefaces"), so they are not the default.
_MORE_FONT_WEIGHTS = {
    # condensed and bold sans, the commonest look of printed plates
    **{name: 0.6 for name in ("RobotoCondensed-Bold.ttf", "OpenSans-CondBold.ttf", "NimbusSansNarrow-Bold.otf",
                              "PTN77F.ttf", "BebasNeue-Bold.otf", "BetecknaGSCondensed-Bold.ttf")},
    **{name: 0.35 for name in (
        "RobotoCondensed-Medium.ttf", "Roboto-Bold.ttf", "Roboto-Black.ttf", "Roboto-Medium.ttf", "OpenSans-Bold.ttf",
        "OpenSans-ExtraBold.ttf", "NimbusSans-Bold.otf", "Carlito-Bold.ttf", "Lato-Black.ttf", "Lato-Bold.ttf",
        "Lato-Heavy.ttf", "Inter-Bold.otf", "Inter-Black.otf", "NotoSans-Bold.ttf", "Cantarell-Bold.otf",
        "Cantarell-ExtraBold.otf", "LeagueSpartan-Bold.otf", "B612-Bold.otf", "Dosis-Bold.otf", "Dosis-ExtraBold.otf",
        "URWGothic-Demi.otf", "BetecknaGS-Bold.ttf", "AerialBd.ttf", "VerandaBd.ttf", "PTS75F.ttf", "PTC75F.ttf",
        "ComicNeue-Bold.otf")},
    # slab and serif faces of older painted plates
    **{name: 0.3 for name in ("RobotoSlab-Bold.otf", "NimbusRoman-Bold.otf", "URWBookman-Demi.otf", "C059-Bold.otf",
                              "P052-Bold.otf", "NotoSerif-Bold.ttf", "PTF75F.ttf", "TymesBd.ttf")},
    # typewriter faces and slanted ones
    **{name: 0.2 for name in ("NimbusMonoPS-Bold.otf", "B612Mono-Bold.otf", "PTM75F.ttf",
                              "RobotoCondensed-BoldItalic.ttf", "Lato-BlackItalic.ttf", "OpenSans-ExtraBoldItalic.ttf",
                              "Inter-BoldItalic.otf", "NimbusSansNarrow-BoldOblique.otf")},
}
#: HSRP makers' condensed sans faces vary; a few of the faces above come close to theirs.
_MORE_HSRP_FONT_WEIGHTS = {name: 0.5 for name in (
    "RobotoCondensed-Bold.ttf", "OpenSans-CondBold.ttf", "NimbusSansNarrow-Bold.otf", "PTN77F.ttf")}
#: The Debian packages of ``_MORE_FONT_WEIGHTS`` (rendering works without them, with fewer shapes).
MORE_FONT_PACKAGES = (
    "fonts-roboto-unhinted", "fonts-roboto-slab", "fonts-open-sans", "fonts-urw-base35", "fonts-paratype",
    "fonts-bebas-neue", "fonts-beteckna", "fonts-crosextra-carlito", "fonts-lato", "fonts-inter", "fonts-noto-core",
    "fonts-cantarell", "fonts-league-spartan", "fonts-b612", "fonts-dosis", "fonts-arkpandora", "fonts-comic-neue",
)
_ALL_FONT_WEIGHTS = {**_OTHER_FONT_WEIGHTS, **_MORE_FONT_WEIGHTS}
#: Which faces rendered plates are drawn in: the standard few, or those and the more of above.
Typefaces = Literal["standard", "more"]
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"), "/Library/Fonts")


def _discover_fonts() -> tuple[str, ...]:
    found: dict[str, str] = {}
    for directory in _FONT_DIRS:
        for pattern in ("*.ttf", "*.otf"):
            for path in sorted(glob.glob(os.path.join(directory, "**", pattern), recursive=True)):
                name = os.path.basename(path)
                if name in _ALL_FONT_WEIGHTS and name not in found:
                    found[name] = path
    return tuple(found[n] for n in _ALL_FONT_WEIGHTS if n in found)


#: TrueType fonts found on this system; empty means Pillow's bundled default font is used.
FONTS: tuple[str, ...] = _discover_fonts()


def _face_weights(hsrp: bool, typefaces: Typefaces) -> dict[str, float]:
    """The faces a plate may be drawn in, by file name, with their weights."""
    if typefaces not in ("standard", "more"):
        raise ValueError(f"typefaces must be 'standard' or 'more', got {typefaces!r}")
    if typefaces == "more":
        return {**_HSRP_FONT_WEIGHTS, **_MORE_HSRP_FONT_WEIGHTS} if hsrp else _ALL_FONT_WEIGHTS
    return _HSRP_FONT_WEIGHTS if hsrp else _OTHER_FONT_WEIGHTS


def pick_font(rng: np.random.Generator, hsrp: bool, typefaces: Typefaces = "standard") -> str | None:
    weights_by_name = _face_weights(hsrp, typefaces)
    pool = [(path, weights_by_name[os.path.basename(path)]) for path in FONTS if os.path.basename(path) in weights_by_name]
    if not pool:
        pool = [(path, 1.0) for path in FONTS]
    if not pool:
        return None
    weights = np.array([w for _, w in pool])
    return pool[int(rng.choice(len(pool), p=weights / weights.sum()))][0]


def face_count(typefaces: Typefaces = "standard") -> int:
    """How many faces found on this machine ``pick_font`` draws from, for a model card (the
    non-HSRP pool, which holds the HSRP one)."""
    names = _face_weights(False, typefaces)
    return sum(os.path.basename(path) in names for path in FONTS)


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


def line_mask(
    groups: tuple[str, ...], font: str | None, stroke: int, separator: str, rng: np.random.Generator, *,
    even: bool = False, lettering: Lettering = "printed",
) -> np.ndarray:
    """One line as a float coverage mask, at glyph size, with jittered spacing. ``even`` spaces
    every character alike, without wider gaps between the groups; ``lettering`` shapes each
    character as a brush or a stencil would (``synth.lettering``)."""
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
            pieces.append(shape_glyph(_glyph(font, ch, stroke), lettering, rng))
    return np.concatenate(pieces, axis=1).astype(np.float32) / 255.0
