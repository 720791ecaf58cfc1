"""Plate colour and vehicle category from plate crops, by the Indian colour rules.

    crop -> ColourFeatures -> PlateColour (plate and text colour) -> vote over a track's crops
         -> VehicleCategory

The crop's inner part (borders and the car around a loose box cut off) is split into plate
and print by Otsu's threshold on lightness: the larger class is the plate. Each side is
summed up by its median colour in CIELAB, whose a*/b* axes separate the plate colours better
than HSV hue does at the low saturations of worn or dim plates. A short list of rules with
three thresholds, fitted on labelled real crops (``python -m edge_alpr.bench.colour --fit``),
names the colours. A print brighter than its plate means a dark plate: black, green, red or
blue; a bright plate is white or yellow.

Indian rules (Motor Vehicles Act and the EV / rental notifications):

| plate | text | vehicle |
|---|---|---|
| white | black | private |
| yellow | black | commercial (taxi, goods) |
| green | white | electric, private |
| green | yellow | electric, commercial |
| black | yellow | self-drive rental |
| red | white | temporary or trade certificate (dealer) |
| blue | white | diplomatic |
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np

Background = Literal["white", "yellow", "green", "black", "red", "blue"]
TextColour = Literal["black", "white", "yellow"]
BACKGROUNDS: tuple[str, ...] = get_args(Background)
VehicleCategory = Literal[
    "private", "commercial", "electric_private", "electric_commercial", "rental", "temporary", "diplomatic", "unknown"
]

# Share of the crop's height and width cut off each side: the frame, screws, the bumper.
_TRIM_Y, _TRIM_X = 0.12, 0.05
# Crops are measured at most this wide: colour needs no detail, and a Pi has little time.
_MAX_WIDTH = 160
# Lab hue angles (degrees, atan2(b*, a*)) that bound the colours of dark plates: below
# _RED_TO_BROWN a dark plate is red; up to _BROWN_TO_GREEN it is a black plate under warm
# light (dark yellow-brown); then green up to _GREEN_TO_BLUE, blue up to _BLUE_TO_RED, red after.
_RED_TO_BROWN, _BROWN_TO_GREEN, _GREEN_TO_BLUE, _BLUE_TO_RED = 60.0, 110.0, 210.0, 300.0
# A character blob's height as a share of the inner crop's (two-line plates' are ~0.4) and its
# widest share of the crop's width.
_CHAR_MIN_HEIGHT, _CHAR_MAX_HEIGHT, _CHAR_MAX_WIDTH = 0.25, 0.95, 0.3
# Strokes cover well under this share of their blob's box (a solid block is plate, not print).
_CHAR_MAX_FILL = 0.8


@dataclass(frozen=True)
class ColourFeatures:
    """What the rules look at. Lab as OpenCV's 8-bit Lab: L 0..255, a* and b* centred on 0."""

    plate_lab: tuple[float, float, float]  # median of the plate's pixels
    text_lab: tuple[float, float, float]  # median of the print's pixels
    plate_chroma: float  # 75th percentile of the plate pixels' chroma: a red plate's red survives dark corners
    dark_plate: bool  # the print is brighter than the plate

    @property
    def plate_hue(self) -> float:
        """Lab hue angle of the plate in degrees, 0..360."""
        return math.degrees(math.atan2(self.plate_lab[2], self.plate_lab[1])) % 360.0


@dataclass(frozen=True)
class ColourThresholds:
    """The rules' three numbers, fitted on the labelled ``in_plates`` training crops."""

    yellow_b: float = 14.0  # a bright plate with b* above this is yellow, else white
    black_chroma: float = 16.0  # a dark plate with chroma under this is black
    yellow_text_b: float = 20.0  # bright print with b* above this is yellow, else white


THRESHOLDS = ColourThresholds()


@dataclass(frozen=True)
class PlateColour:
    background: Background
    text: TextColour

    @property
    def category(self) -> VehicleCategory:
        return vehicle_category(self.background, self.text)


_CATEGORIES: dict[tuple[str, str], VehicleCategory] = {
    ("white", "black"): "private",
    ("yellow", "black"): "commercial",
    ("green", "white"): "electric_private",
    ("green", "yellow"): "electric_commercial",
    ("black", "yellow"): "rental",
    ("red", "white"): "temporary",
    ("red", "yellow"): "temporary",
    ("blue", "white"): "diplomatic",
}


def vehicle_category(background: str, text: str) -> VehicleCategory:
    """The vehicle category the colour pair stands for; ``unknown`` for pairs the rules do not name."""
    return _CATEGORIES.get((background, text), "unknown")


def measure(crop_bgr: np.ndarray) -> ColourFeatures:
    """Plate and print colours of a BGR plate crop."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3 or min(crop_bgr.shape[:2]) < 4:
        raise ValueError(f"colour.measure: expected a BGR crop of at least 4x4 pixels, got shape {crop_bgr.shape}")
    h, w = crop_bgr.shape[:2]
    inner = crop_bgr[int(h * _TRIM_Y): h - int(h * _TRIM_Y), int(w * _TRIM_X): w - int(w * _TRIM_X)]
    if inner.shape[1] > _MAX_WIDTH:
        scale = _MAX_WIDTH / inner.shape[1]
        inner = cv2.resize(inner, (_MAX_WIDTH, max(2, round(inner.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(inner, cv2.COLOR_BGR2LAB)
    dark_plate, print_mask, box = _split(lab)
    x0, y0, x1, y1 = box or (0, 0, lab.shape[1], lab.shape[0])
    region, region_print = lab[y0:y1, x0:x1].reshape(-1, 3), print_mask[y0:y1, x0:x1].reshape(-1).astype(bool)
    plate, text = region[~region_print], region[region_print]
    if len(plate) == 0:
        plate = region
    if len(text) == 0:  # a blank, flat crop: no print to see
        text = plate
    plate_ab = plate[:, 1:].astype(np.float32) - 128.0
    return ColourFeatures(
        plate_lab=_centred_median(plate),
        text_lab=_centred_median(text),
        plate_chroma=float(np.percentile(np.hypot(plate_ab[:, 0], plate_ab[:, 1]), 75)),
        dark_plate=bool(dark_plate),
    )


def _split(lab: np.ndarray) -> tuple[bool, np.ndarray, tuple[int, int, int, int] | None]:
    """Which pixels are print: (print brighter than plate, print mask, box around the characters).

    Lightness thresholds are taken from the crop's middle, which is plate and print even in a
    loose box. A loose box has three levels (the car, the plate, the print), so besides the
    middle's Otsu threshold the Otsu thresholds of each of its two sides are tried too; the
    split whose print looks most like characters wins. Without characters on any split, the
    plate is the larger side of the first.
    """
    h, w = lab.shape[:2]
    lightness = lab[..., 0]
    middle = np.ascontiguousarray(lightness[h // 4: h - h // 4, w // 5: w - w // 5]).reshape(-1, 1)
    first = _otsu(middle)
    thresholds = [first] + [_otsu(side) for side in (middle[middle > first], middle[middle <= first]) if side.size >= 16]
    best: tuple[int, bool, np.ndarray, tuple[int, int, int, int] | None] | None = None
    for threshold in thresholds:
        bright = (lightness > threshold).astype(np.uint8)
        for dark_plate, mask in ((True, bright), (False, 1 - bright)):
            count, box = _characters(mask)
            if count and (best is None or count > best[0]):
                best = (count, dark_plate, mask, box)
    if best is None:
        bright = (lightness > first).astype(np.uint8)
        dark_plate = bool(bright.mean() < 0.5)
        return dark_plate, bright if dark_plate else 1 - bright, None
    return best[1], best[2], best[3]


def _otsu(values: np.ndarray) -> float:
    threshold, _ = cv2.threshold(np.ascontiguousarray(values.reshape(-1, 1)), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(threshold)


def _characters(mask: np.ndarray) -> tuple[int, tuple[int, int, int, int] | None]:
    """How many blobs of ``mask`` are shaped like plate characters, and the box around them.

    Which side of the threshold is print is told by shape, not area: a loose crop of a white
    plate on a dark car has more dark pixels than bright ones, but only its dark characters
    are blobs a quarter to nine tenths of the crop high and narrower than tall."""
    h, w = mask.shape
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    tall = stats[1:, cv2.CC_STAT_HEIGHT]
    wide = stats[1:, cv2.CC_STAT_WIDTH]
    top = stats[1:, cv2.CC_STAT_TOP]
    fill = stats[1:, cv2.CC_STAT_AREA] / np.maximum(tall * wide, 1)
    # The plate showing between characters is tall and narrow too, but solid and reaching
    # from the top of the crop to its bottom; strokes fill well under their box.
    spans = (top == 0) & (top + tall == h)
    chars = ((tall >= _CHAR_MIN_HEIGHT * h) & (tall <= _CHAR_MAX_HEIGHT * h) & (wide >= 2)
             & (wide <= _CHAR_MAX_WIDTH * w) & (tall >= 0.8 * wide) & (fill < _CHAR_MAX_FILL) & ~spans)
    if not chars.any():
        return 0, None
    boxes = stats[1:][chars]
    x0, y0 = int(boxes[:, cv2.CC_STAT_LEFT].min()), int(boxes[:, cv2.CC_STAT_TOP].min())
    x1 = int((boxes[:, cv2.CC_STAT_LEFT] + boxes[:, cv2.CC_STAT_WIDTH]).max())
    y1 = int((boxes[:, cv2.CC_STAT_TOP] + boxes[:, cv2.CC_STAT_HEIGHT]).max())
    return int(chars.sum()), (x0, y0, x1, y1)


def _centred_median(pixels: np.ndarray) -> tuple[float, float, float]:
    lightness, a, b = np.median(pixels, axis=0).astype(float)
    return (lightness, a - 128.0, b - 128.0)


def classify(features: ColourFeatures, thresholds: ColourThresholds = THRESHOLDS) -> PlateColour:
    """The rules: bright plates are white or yellow by b*; dark ones black by low chroma, else by hue."""
    if not features.dark_plate:
        return PlateColour("yellow" if features.plate_lab[2] > thresholds.yellow_b else "white", "black")
    text: TextColour = "yellow" if features.text_lab[2] > thresholds.yellow_text_b else "white"
    if features.plate_chroma < thresholds.black_chroma:
        return PlateColour("black", text)
    hue = features.plate_hue
    if hue < _RED_TO_BROWN or hue >= _BLUE_TO_RED:
        return PlateColour("red", text)
    if hue < _BROWN_TO_GREEN:
        return PlateColour("black", text)
    if hue < _GREEN_TO_BLUE:
        return PlateColour("green", text)
    return PlateColour("blue", text)


def plate_colour(crop_bgr: np.ndarray, thresholds: ColourThresholds = THRESHOLDS) -> PlateColour:
    return classify(measure(crop_bgr), thresholds)


def vote(colours: Sequence[PlateColour]) -> PlateColour | None:
    """The track's colour: the most frequent background, then the most frequent text colour
    among its crops with that background (ties go to the earlier crop). None without crops."""
    if not colours:
        return None
    background = Counter(c.background for c in colours).most_common(1)[0][0]
    text = Counter(c.text for c in colours if c.background == background).most_common(1)[0][0]
    return PlateColour(background, text)
