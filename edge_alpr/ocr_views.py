"""The views of a plate crop the reader looks at: the crop itself, a two-line plate as one line,
a stacked plate as one line, a little tighter and looser, windows inside a loose crop, and a
tilted plate turned level.

Every view is plain image slicing and resizing; which views are read, and which reading is
kept, is the reader's business (``ocr.EdgePlateReader.read``). Training draws two-line and
stacked plates in the same forms, so the recognizer learns what the reader will show it.
"""
from __future__ import annotations

import cv2
import numpy as np

#: Crops narrower than this (width / height) may hold a two-line plate; real Indian crops of
#: both layouts overlap between ~2 and ~3.3, so the reader tries both readings there.
TWO_LINE_MAX_ASPECT = 3.4

#: Crops at least this wide (width / height) may hold a stacked plate: a car-sized plate with
#: state and RTO over the series at the left and the number beside both lines.
STACKED_MIN_ASPECT = 2.0

#: The second looks at an unsure crop: (fraction of the width, of the height) cut from each side,
#: negative to add. A detector's box is never exact: a tighter one drops a frame or screw that
#: reads as a character, a looser one gives back an edge character the box clipped.
RETRY_VIEWS = ((0.04, 0.08), (-0.033, -0.1))


def split_two_lines(crop_bgr: np.ndarray) -> np.ndarray:
    """A two-line plate as one line: the top half, then the bottom half beside it.

    The cut is the quietest row (least horizontal edge energy) in the middle band, which is
    the gap between the lines. The recognizer is trained on two-line plates in this form, so
    it reads the top line before the bottom one.
    """
    grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    if h < 8:
        return crop_bgr
    edges = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)).mean(axis=1)
    lo, hi = int(h * 0.35), max(int(h * 0.35) + 1, int(h * 0.65))
    cut = lo + int(np.argmin(np.convolve(edges[lo:hi], np.ones(3) / 3, mode="same")))
    top, bottom = crop_bgr[:cut], crop_bgr[cut:]
    bottom = cv2.resize(bottom, (w, top.shape[0]), interpolation=cv2.INTER_AREA)
    return np.hstack([top, bottom])


def stacked_as_line(crop_bgr: np.ndarray) -> np.ndarray:
    """A stacked plate (state and RTO over the series at the left, the number as tall as both
    beside them) as one line: the left block's two lines side by side, then the number.

    The cut between block and number is the quietest column (least vertical edge energy) in
    the left 15-60 % of the crop; the block is then split like a two-line plate. Any crop gives
    some picture; the reader keeps this reading only if it is sure of it."""
    grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    if w < 16 or h < 8:
        return crop_bgr
    edges = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)).mean(axis=0)
    lo, hi = int(w * 0.15), int(w * 0.6)
    cut = lo + int(np.argmin(np.convolve(edges, np.ones(5) / 5, mode="same")[lo:hi]))
    block = split_two_lines(crop_bgr[:, :cut])
    block = cv2.resize(block, (max(1, round(block.shape[1] * h / block.shape[0])), h), interpolation=cv2.INTER_LINEAR)
    return np.hstack([block, crop_bgr[:, cut:]])


def retry_views(crop_bgr: np.ndarray) -> list[np.ndarray]:
    """The tighter and looser looks at a crop (``RETRY_VIEWS``)."""
    h, w = crop_bgr.shape[:2]
    views = []
    for fx, fy in RETRY_VIEWS:
        dx, dy = int(round(abs(fx) * w)), int(round(abs(fy) * h))
        if fx >= 0:
            if w - 2 * dx >= 8 and h - 2 * dy >= 8:
                views.append(crop_bgr[dy : h - dy, dx : w - dx])
        else:  # the pixels beyond the crop are unknown: repeat its edges
            views.append(cv2.copyMakeBorder(crop_bgr, dy, dy, dx, dx, cv2.BORDER_REPLICATE))
    return views


#: Windows inside a squarish crop, as (share of the width, share of the height), centred. Boxes
#: around two-wheelers' plates are loose (a holder, the mudguard, the lamp), so the plate often
#: fills only the middle half of the crop; the line split and the stretch to the recognizer's
#: input then go wrong. The set was chosen on the training crops of the hand-labelled sets
#: (in_twowheelers, in_odisha_traffic): of 4 widths x 4 heights x 9 placements, centred
#: windows of these sizes found as many plates as all 100 (75 against 72 of 106).
PLATE_WINDOWS = ((0.85, 0.65), (0.85, 0.5), (0.7, 0.65), (0.7, 0.5), (0.55, 0.65), (0.55, 0.5))


def plate_windows(crop_bgr: np.ndarray, windows=PLATE_WINDOWS) -> list[np.ndarray]:
    """Centred windows of ``crop_bgr`` (``PLATE_WINDOWS``), those at least 16x8 px."""
    h, w = crop_bgr.shape[:2]
    views = []
    for fw, fh in windows:
        ww, hh = int(w * fw), int(h * fh)
        if ww >= 16 and hh >= 8:
            x0, y0 = (w - ww) // 2, (h - hh) // 2
            views.append(crop_bgr[y0 : y0 + hh, x0 : x0 + ww])
    return views


#: Tilts the reader turns level, in degrees. Training tilts crops by a normal 2.5 degrees
#: (``training.reader_data.jitter_crop``), so the recognizer knows plates within about twice that;
#: a rider's plate hangs at 10-25 degrees. Beyond ``LEVEL_MAX_ANGLE`` a box is rarely a plate.
LEVEL_MIN_ANGLE, LEVEL_MAX_ANGLE = 5.0, 30.0


def tilt_angle(crop_bgr: np.ndarray, max_angle: float = LEVEL_MAX_ANGLE) -> float:
    """The plate's tilt in degrees (counter-clockwise positive, as ``cv2.getRotationMatrix2D``
    takes it), found as the rotation that makes the rows of horizontal edges sharpest: at the
    right angle the tops and bottoms of the characters and the plate's edges each fall on few
    rows. Searched every 3 degrees, then every degree around the best."""
    grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape[:2]
    if h < 8 or w < 8:
        return 0.0
    scale = 128.0 / max(h, w)
    small = cv2.resize(grey, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    edges = np.abs(cv2.Sobel(small.astype(np.float32), cv2.CV_32F, 0, 1, ksize=3))
    sh, sw = edges.shape

    def sharpness(angle: float) -> float:
        turned = cv2.warpAffine(edges, cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0), (sw, sh))
        return float(np.sum(np.diff(turned.sum(axis=1)) ** 2))

    scores = {float(a): sharpness(a) for a in np.arange(-max_angle, max_angle + 1e-6, 3.0)}
    coarse = max(scores, key=scores.get)
    for a in (coarse - 2, coarse - 1, coarse + 1, coarse + 2):
        if abs(a) <= max_angle:
            scores[a] = sharpness(a)
    return max(scores, key=scores.get)


def level(crop_bgr: np.ndarray, angle: float) -> np.ndarray:
    """``crop_bgr`` turned by ``angle`` degrees about its centre, cut to the plate when the crop
    is its tilted box: a plate w x h tilted by t fills a box W = w cos t + h sin t wide and
    H = w sin t + h cos t high, which gives w and h back. A loose box gives no sensible size;
    the turned crop is then kept whole."""
    h, w = crop_bgr.shape[:2]
    t = np.radians(abs(angle))
    c, s = np.cos(t), np.sin(t)
    plate_w, plate_h = (w * c - h * s) / (c * c - s * s), (h * c - w * s) / (c * c - s * s)
    if plate_h >= 0.25 * h and plate_w >= 0.5 * w:
        # a little room round the plate, as the detector's crop margin gives
        return turn(crop_bgr, angle, (round(plate_w * 1.05), round(min(h, plate_h * 1.15))))
    return turn(crop_bgr, angle, (w, h))


def turn(image: np.ndarray, angle: float, size: tuple[int, int]) -> np.ndarray:
    """``image`` turned by ``angle`` degrees about its centre onto a canvas ``size`` (w, h) centred
    on it; the corners repeat the image's edges."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += ((size[0] - w) / 2, (size[1] - h) / 2)
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
