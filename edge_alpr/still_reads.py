"""What a still photo's user is shown (``edge-alpr detect``, ``edge-alpr eval``): each detector box
with its read, whether that read looks like a plate at all, and the low-scored boxes a sure read
confirms as plates.

A photo is seen once: a plate the detector scores a little under its threshold (small, dim, in an
odd holder) is lost for good, where a video gives the daemon other frames to find it in. The
reader is the better judge of such a box, so on stills a box from ``detector.confirm_floor`` up
to the threshold is read too and kept when the read is a sure plate.
"""
from __future__ import annotations

import numpy as np

from edge_alpr.ocr import Grammar, PlateReader, crop_plate
from edge_alpr.types import Detections, PlateRead

#: A box whose read is less likely than this to be exactly right reads as nothing plate-like.
#: Chosen on the detector boxes of in_olx_scenes and openalpr_us (detector-val, auto and tiles):
#: floors 0.01-0.02 give the best F1 there (default strategy: false boxes 20 -> 4, true plates
#: 144 -> 141). On openalpr_br, in_odisha_traffic and in_twowheelers, never looked at for the
#: choice, false boxes 147 -> 38, and to 32 with the Indian grammar's format check below on the
#: Indian sets (docs/figures.md, "Plate-like boxes"). Chosen again for the square reader
#: 2026.12.06, whose calibration puts garbage higher (up to ~0.17), the same way (auto only): on
#: in_olx_scenes and openalpr_us the best F1 is from 0.2 (false boxes 9 at 0.02 -> 2, true
#: plates 142 -> 141). Still far below ``reader.min_confidence``: a plate read a little unsurely
#: still shows.
PLATE_LIKE_MIN_CONFIDENCE = 0.2

#: A box under the detector's threshold is kept when its read is at least this likely to be right.
#: Chosen on the boxes from 0.05 up of in_olx_scenes, openalpr_us and openalpr_br (detector-val,
#: the US and Brazilian plates with grammar "any", where no format check helps): at 0.5 (the
#: reader's own acceptance) lettering on vehicles adds 3 false boxes, at 0.8 none, and no true
#: plate is lost (docs/figures.md, "Boxes a sure read confirms").
CONFIRM_MIN_CONFIDENCE = 0.8


def plate_like(read: PlateRead, grammar: Grammar = "indian") -> bool:
    """Whether a detector box read as ``read`` looks like a plate at all. Textures and edges the
    detector fires on read as garbage the reader gives no chance of being right; signboards and
    lettering on vehicles can read clearly, but as no Indian plate (with ``grammar="indian"``)."""
    if not read.text or read.confidence < PLATE_LIKE_MIN_CONFIDENCE:
        return False
    return grammar == "any" or read.plate_format != "unknown"


def confirms(read: PlateRead, grammar: Grammar = "indian") -> bool:
    """Whether a read is sure enough to make a plate of a box the detector scored under its threshold."""
    return plate_like(read, grammar) and read.confidence >= CONFIRM_MIN_CONFIDENCE


def lowest_shown_score(threshold: float, confirm_floor: float | None) -> float:
    """The lowest detector score a still can show a box at: ``confirm_floor`` where it is set (and
    under ``threshold``), else ``threshold``."""
    return threshold if confirm_floor is None else min(threshold, confirm_floor)


def read_boxes(image: np.ndarray, found: Detections, reader: PlateReader, *, threshold: float,
               confirm_floor: float | None, grammar: Grammar = "indian", margin: float = 0.1) -> dict[int, PlateRead]:
    """The reads of the boxes a still shows, by index into ``found``: every box scoring at least
    ``threshold``, and a box scoring from ``confirm_floor`` up to it only when its read
    ``confirms`` it (None: no such boxes). A degenerate box on the image's edge is skipped."""
    reads = {}
    for i in np.flatnonzero(found.scores >= lowest_shown_score(threshold, confirm_floor)).tolist():
        try:
            read = reader.read(crop_plate(image, found.boxes[i], margin))
        except ValueError:  # a box with no pixels inside the image: nothing to read
            continue
        if found.scores[i] >= threshold or confirms(read, grammar):
            reads[i] = read
    return reads
