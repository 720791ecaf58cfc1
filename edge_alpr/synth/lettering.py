"""How characters were put on older plates, glyph by glyph: by a sign painter's brush or
through a stencil, as on many real two-wheeler, auto and truck plates (in_twowheelers,
in_odisha_traffic). Printed and embossed plates use the font's glyphs unchanged.

    shape_glyph(glyph, lettering, rng) -> glyph mask of the same height
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Lettering = Literal["printed", "painted", "stencil"]
LETTERINGS: tuple[Lettering, ...] = ("printed", "painted", "stencil")


def shape_glyph(glyph: np.ndarray, lettering: Lettering, rng: np.random.Generator) -> np.ndarray:
    """``glyph`` (uint8 coverage, the font's cap band high) as the given lettering draws it.
    The height is kept so that every character of a line still shares one band."""
    if lettering == "printed":
        return glyph
    if lettering == "painted":
        return _painted(glyph, rng)
    if lettering == "stencil":
        return _stencil(glyph, rng)
    raise ValueError(f"lettering must be one of {'/'.join(LETTERINGS)}, got {lettering!r}")


def _painted(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A brush's character: each one a little wider or narrower, leaning, off the baseline and
    heavier or lighter in stroke than its neighbours, with ragged edges."""
    h, w = glyph.shape
    g = cv2.resize(glyph, (max(1, int(w * rng.uniform(0.85, 1.2))), h), interpolation=cv2.INTER_LINEAR)
    h, w = g.shape
    lean = rng.normal(0, 0.06) * h
    shift = rng.uniform(-0.05, 0.05) * h
    scale = rng.uniform(0.9, 1.0)
    pad = int(abs(lean)) + 2
    src = np.float32([[0, 0], [w, 0], [0, h]])
    dst = np.float32([[pad + lean, shift + (1 - scale) * h / 2], [pad + lean + w, shift + (1 - scale) * h / 2],
                      [pad, shift + h - (1 - scale) * h / 2]])
    g = cv2.warpAffine(g, cv2.getAffineTransform(src, dst), (w + 2 * pad, h), flags=cv2.INTER_LINEAR)
    k = max(1, int(round(h * rng.uniform(0.02, 0.06))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    if rng.random() < 0.5:
        g = cv2.dilate(g, kernel)
    elif rng.random() < 0.5:
        g = cv2.erode(g, np.ones((3, 3), np.uint8))  # lighter, never so thin that a stroke breaks
    # Ragged brush edges: about a sixth of the stroke's outer ring is nibbled away, in patches.
    ring = (g > 0) & (cv2.erode(g, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 2, k + 2))) == 0)
    noise = cv2.GaussianBlur(rng.random(g.shape).astype(np.float32), (0, 0), max(1.0, h * 0.02))
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    g = np.where(ring & (noise < -1.0), 0, g).astype(np.uint8)
    columns = np.flatnonzero(g.max(axis=0) > 0)
    return np.ascontiguousarray(g[:, columns[0] : columns[-1] + 1]) if len(columns) else glyph


def _stencil(glyph: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stencil's character: thin bridges cut through the strokes, where the stencil held its
    islands (one or two horizontal cuts, sometimes a vertical one), and blunt stroke ends."""
    g = glyph.copy()
    h, w = g.shape
    bridge = max(1, int(round(h * rng.uniform(0.04, 0.07))))
    for y in rng.choice(np.arange(int(h * 0.3), int(h * 0.7) + 1), size=int(rng.integers(1, 3)), replace=False):
        g[int(y) : int(y) + bridge] = 0
    if rng.random() < 0.3:
        x = int(w * rng.uniform(0.4, 0.6))
        g[: int(h * 0.25), x : x + bridge] = 0
    return g
