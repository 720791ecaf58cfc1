"""Recognizer training data: real plate crops with text (in_plates, and the plates of the
openalpr and OLX photos, and the Indian plates of openlpr with this project's own texts) plus
rendered Indian plates, with augmentation that mimics a detector's loose boxes and a roadside
camera's pictures."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.kept import apply_kept, kept_labels_path
from edge_alpr.datasets.manifest import load_manifest
from edge_alpr.ocr import crop_plate, preprocess, split_two_lines, stacked_as_line
from edge_alpr.ocr_views import turn
from edge_alpr.plates import is_valid
from edge_alpr.synth.degrade import line_kernel
from edge_alpr.training.detector_data import is_val, reader_val_texts
from edge_alpr.types import ALPHABET

log = logging.getLogger(__name__)

CHAR_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}  # 0 is the CTC blank
CALIBRATION_FRACTION = 0.15  # of real training crops, held out to fit the confidence calibration
#: openlpr's manifest has boxes but no texts. Its Indian plates were read by this project: the
#: reader proposed a text, a person checked each crop by eye, corrected 9 and dropped foreign,
#: cut-off and doubtful plates. Later, a sample of its other boxes, any country's, was read in two
#: blind passes (``datasets.unread``). Kept in the package (``datasets/kept.py``), keyed by image and box.
OPENLPR_TEXTS = kept_labels_path("openlpr")
#: Sets whose kept labels also read other countries' plates (``datasets.unread``); those train
#: the reader only when asked (``load_real(foreign="two")`` or ``"all"``).
FOREIGN_LABELLED_SETS = ("openlpr",)
#: Which of those foreign plates a training takes: none, the two-line ones, or all.
FOREIGN_CHOICES = ("none", "two", "all")
#: Real sets with boxes only whose texts were read by eye for this project, two passes each
#: (``datasets/labels/``); the ``val`` split of each is fixed by source image.
LABELLED_SETS = ("in_twowheelers", "in_odisha_traffic")
#: How far ``ReaderDataset``'s tilted share is turned, either way: past what ``jitter_crop``'s
#: small rotations cover, up to a rider's plate hanging from its holder.
TILT_DEGREES = (6.0, 25.0)
#: The margin round a labelled (loose) box, and round a ``tight_box``: about what a window round the plate leaves.
LOOSE_MARGIN, TIGHT_MARGIN = 0.15, 0.05


@dataclass
class Crop:
    image: np.ndarray  # BGR, the plate with a little context
    text: str
    layout: str  # "one" | "two" | "stacked" (the last two are read rearranged into one line)
    source: str
    background: str | None = None  # the plate's colour, where labelled


def _ok_text(text: str | None) -> bool:
    return bool(text) and all(c in CHAR_INDEX for c in text) and 2 <= len(text) <= 12


def load_real(datasets_dir: Path, agreed_partials: bool = False, foreign: str = "none"
              ) -> tuple[list[Crop], list[Crop], list[Crop]]:
    """(train, calibration, val) real crops. Validation is in_plates' own val split with status
    ok; calibration a fixed slice of the rest; photos in the detector's validation split and
    plates whose text is in the reader's validation set are never used for training. With
    ``agreed_partials`` the training crops also take the labelled sets' ``agreed`` partials
    (``datasets.kept``); calibration never does, since it measures how often a read is right.
    With ``foreign`` ``"two"`` (or ``"all"``) they also take the two-line (or all) plates of other
    countries read by eye in ``openlpr`` (``datasets.unread``): real lettering and real two-line
    layouts, but not Indian plates, so they never calibrate the confidence of a reader that
    decodes Indian ones."""
    if foreign not in FOREIGN_CHOICES:
        raise ValueError(f"foreign must be one of {', '.join(FOREIGN_CHOICES)}, got {foreign!r}")
    train, calib, val = [], [], []
    held = reader_val_texts(datasets_dir)
    labels = datasets_dir / "in_plates" / "labels.jsonl"
    if labels.is_file():
        for line in labels.read_text().splitlines():
            r = json.loads(line)
            if r.get("status") != "ok" or not _ok_text(r.get("text")):
                continue
            image = cv2.imread(str(labels.parent / r["crop"]))
            if image is None:
                continue
            crop = Crop(image, r["text"], r.get("layout", "one"), "in_plates")
            if r.get("split") == "val":
                val.append(crop)
            else:
                (calib if _in_calibration(r["crop"]) else train).append(crop)
    for name in ("openalpr_us", "openalpr_br", "in_olx_scenes", "openlpr", *LABELLED_SETS):
        manifest = datasets_dir / name / "manifest.jsonl"
        if not manifest.is_file():
            continue
        for row, with_agreed in _kept_rows(manifest, agreed_partials):
            if is_val(row, name, held):
                continue
            calibrating = _in_calibration(row.image.name)
            crops = row_crops(row if calibrating else with_agreed, name, held)
            if name in FOREIGN_LABELLED_SETS:
                train.extend(c for c in crops if not is_valid(c.text) and foreign in ("all", c.layout))
                crops = [c for c in crops if is_valid(c.text)]
            (calib if calibrating else train).extend(crops)
    return train, calib, val


def _kept_rows(manifest: Path, agreed: bool) -> list[tuple]:
    """Each manifest row with the kept ``ok`` texts, beside the same row with the ``agreed``
    partials' texts too (``datasets.kept.with_kept``); without ``agreed``, the row twice."""
    rows = load_manifest(manifest)
    kept = apply_kept(rows, manifest)
    return list(zip(kept, apply_kept(rows, manifest, agreed=True) if agreed else kept))


def load_labelled_val(datasets_dir: Path) -> dict[str, list[Crop]]:
    """The validation crops of the sets whose texts this project read by eye (``LABELLED_SETS``):
    their ``ok`` plates on the source images of the fixed ``val`` split, never trained on."""
    out = {}
    for name in LABELLED_SETS:
        manifest = datasets_dir / name / "manifest.jsonl"
        if manifest.is_file():
            rows = [r for r in apply_kept(load_manifest(manifest), manifest) if r.split == "val"]
            out[name] = [crop for row in rows for crop in row_crops(row, name)]
    return out


def load_agreed_val(datasets_dir: Path) -> list[Crop]:
    """The labelled sets' validation plates whose label is an ``agreed`` partial (``datasets.kept``):
    three readers' shared best guess, a softer measure than the ``ok`` plates, reported apart."""
    out = []
    for name in LABELLED_SETS:
        manifest = datasets_dir / name / "manifest.jsonl"
        if not manifest.is_file():
            continue
        for row, with_agreed in _kept_rows(manifest, agreed=True):
            if row.split == "val":
                agreed_only = tuple(q for p, q in zip(row.plates, with_agreed.plates) if q.text and not p.text)
                out.extend(row_crops(replace(with_agreed, plates=agreed_only), name))
    return out


def row_crops(row, source: str, skip_texts: frozenset[str] = frozenset()) -> list[Crop]:
    """The plates with usable text of one manifest row, cut out with a little context."""
    plates = [p for p in row.plates if _ok_text(p.text) and p.text not in skip_texts]
    if not plates:
        return []
    image = cv2.imread(str(row.image))
    if image is None:
        log.warning("%s: unreadable image, skipped", row.image)
        return []
    # A loose box (a two-wheeler's plate with its holder) is read from the plate's own box where
    # the labels know it (``tight_box``): the reader reads a loose crop through windows as tight.
    crops = []
    for p in plates:
        box, margin = (p.tight_box, TIGHT_MARGIN) if p.tight_box else (p.box, LOOSE_MARGIN)
        crops.append(Crop(crop_plate(image, box, margin=margin), p.text, p.layout or "one", source, p.background))
    return crops


def data_version(train: list[Crop], calib: list[Crop], val: list[Crop]) -> str:
    """A short hash of the real crops' texts, sources and split, for the model card: it changes
    when a dataset or the texts kept beside one change."""
    blob = json.dumps([sorted((c.source, c.text, c.layout) for c in part) for part in (train, calib, val)])
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _in_calibration(name: str) -> bool:
    return hashlib.sha1(name.encode()).digest()[1] / 256.0 < CALIBRATION_FRACTION


#: Rendered plates per worker task. Fixed, so that a bank depends on its seed and size only,
#: never on how many processes drew it.
RENDER_CHUNK = 500


def render_bank(n: int, seed: int, two_line_fraction: float = 0.0, stacked_fraction: float = 0.0,
                workers: int = 1, typefaces: str = "standard") -> list[Crop]:
    """Rendered Indian plates: every state code, BH series, one- and two-line, all colours.
    ``two_line_fraction`` forces that share to two-line layouts (on top of the renderer's own
    mix): CTC may place a top line's characters on either feature row, and only enough two-line
    examples teach it to read the top line on the top row. ``stacked_fraction`` of the rest
    (those with a series) get the stacked layout; ``typefaces`` as ``synth.fonts.pick_font``. A
    render costs ~50-100 ms, so a bank of thousands is drawn in ``workers`` processes, chunk by
    chunk, each chunk with its own seed."""
    sizes = [min(RENDER_CHUNK, n - start) for start in range(0, n, RENDER_CHUNK)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    jobs = [(size, s, two_line_fraction, stacked_fraction, typefaces) for size, s in zip(sizes, seeds)]
    if workers <= 1 or len(jobs) == 1:
        return [crop for job in jobs for crop in _render_chunk(*job)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: a training process already runs torch's and OpenCV's thread pools, and
    # a forked child can inherit one of their locks held.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        return [crop for chunk in pool.map(_render_chunk, *zip(*jobs)) for crop in chunk]


def _render_chunk(n: int, seed, two_line_fraction: float, stacked_fraction: float, typefaces) -> list[Crop]:
    from edge_alpr.synth.degrade import degrade
    from edge_alpr.synth.render import render_plate, stacked_groups
    from edge_alpr.synth.texts import random_plate_text

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        layout = "two" if rng.random() < two_line_fraction else None
        text = random_plate_text(rng)
        if layout is None and stacked_fraction and rng.random() < stacked_fraction and stacked_groups(text):
            layout = "stacked"
        plate = render_plate(text, rng, layout=layout, typefaces=typefaces)
        image = degrade(plate.image, rng, strength=float(rng.uniform(0.3, 1.2)))
        out.append(Crop(image, plate.text, plate.layout, "synthetic"))
    return out


def jitter_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A detector's box is never tight: shift, grow or shrink the crop a little, rotate slightly."""
    h, w = image.shape[:2]
    dx1, dx2 = rng.uniform(-0.06, 0.06, 2) * w
    dy1, dy2 = rng.uniform(-0.08, 0.1, 2) * h
    angle = rng.normal(0, 2.5)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    src = np.float32([[dx1, dy1], [w - dx2, dy1], [w - dx2, h - dy2], [dx1, h - dy2]])
    src += rng.normal(0, 0.015, (4, 2)).astype(np.float32) * [w, h]
    if rng.random() < 0.25:  # italic and hand-painted lettering, or a camera looking up or down
        shear = rng.uniform(-0.2, 0.2) * h
        src[:2, 0] += shear
        src[2:, 0] -= shear
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    persp = cv2.getPerspectiveTransform(src, dst)
    rot = np.vstack([m, [0, 0, 1]])
    return cv2.warpPerspective(image, rot @ persp, (w, h), borderMode=cv2.BORDER_REPLICATE)


def tilt(image: np.ndarray, angle: float) -> np.ndarray:
    """``image`` turned by ``angle`` degrees inside its new upright box, as a detector boxes a
    tilted plate (a rider's plate hangs at 10-25 degrees); the corners repeat the image's edges."""
    h, w = image.shape[:2]
    t = np.radians(abs(angle))
    return turn(image, angle, (int(np.ceil(w * np.cos(t) + h * np.sin(t))), int(np.ceil(w * np.sin(t) + h * np.cos(t)))))


#: Length of a motion smear as a share of the crop's width. A plate approaching a camera at
#: 30 fps moves about a quarter of its width down the frame between frames; with the shutter
#: open a third of the frame that is ~8 %, more at dusk, less in bright sun. Beyond ~10 % a
#: person no longer reads the plate, and a label the pixels do not hold teaches guessing.
MOTION_BLUR_SHARE = (0.02, 0.10)


def motion_blur(image: np.ndarray, rng: np.random.Generator, share: float | None = None) -> np.ndarray:
    """The crop smeared as a moving vehicle's plate is during the exposure: mostly down the
    frame (a vehicle coming towards the camera), sometimes across it (one passing by); the
    smear is ``share`` of the width, or drawn from ``MOTION_BLUR_SHARE``."""
    w = image.shape[1]
    length = max(2, round((rng.uniform(*MOTION_BLUR_SHARE) if share is None else share) * w))
    angle = np.radians(rng.normal(90, 20) if rng.random() < 0.7 else rng.normal(0, 15))
    kernel = line_kernel(length, float(np.cos(angle)), float(np.sin(angle)))
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)


#: ``shape_jitter``'s limits at the recognizer's input (64 px high): how far the lettering is
#: bent (px) and over what distance the bend changes (px, the field's smoothing). Hand-painted
#: and stencilled characters differ from any typeface by a wobble about a stroke wide (~5 px
#: here) over half a character; more than that and a 1 or 7 bends into another character.
SHAPE_BEND_PX, SHAPE_BEND_SCALE_PX = (1.0, 3.0), (5.0, 9.0)


def shape_jitter(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The lettering of a recognizer-sized grey crop drawn by another hand: strokes bent by a
    smooth random field (as elastic distortion does for handwriting) and made thicker or thinner
    by a pixel. Either polarity works: a min filter thickens dark strokes and thins light ones."""
    h, w = grey.shape
    scale = rng.uniform(*SHAPE_BEND_SCALE_PX)
    field = rng.uniform(-1, 1, (2, h, w)).astype(np.float32)
    field = np.stack([cv2.GaussianBlur(f, (0, 0), scale) for f in field])
    field *= rng.uniform(*SHAPE_BEND_PX) / max(float(np.abs(field).max()), 1e-6)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    bent = cv2.remap(grey, xs + field[0], ys + field[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    op = int(rng.integers(3))  # thicker, thinner, as drawn
    if op == 2:
        return bent
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2) if rng.random() < 0.6 else (3, 3))
    return cv2.erode(bent, kernel) if op == 0 else cv2.dilate(bent, kernel)


def photometric(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = grey.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.5, 1.4) + x.mean() + rng.uniform(-40, 40)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.3:
        x += rng.normal(0, rng.uniform(2, 10), x.shape)
    if rng.random() < 0.35:  # low resolution, as far plates arrive, sometimes upscaled blockily
        f = rng.uniform(0.3, 0.7)
        small = cv2.resize(x, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        up = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
        x = cv2.resize(small, (x.shape[1], x.shape[0]), interpolation=up)
    x = x.clip(0, 255).astype(np.uint8)
    if rng.random() < 0.25:  # web photos and video frames arrive JPEG-compressed
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(15, 70))])
        if ok:
            x = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return x


def encode_text(text: str) -> list[int]:
    return [CHAR_INDEX[c] for c in text]


class ReaderDataset:
    """Mixes real and rendered crops; ``synthetic_fraction`` of each batch is rendered."""

    def __init__(self, real: list[Crop], synthetic: list[Crop], synthetic_fraction: float, seed: int = 0,
                 two_line_whole: float = 0.0, context=None, context_fraction: float = 0.0,
                 tilt_fraction: float = 0.0, motion_blur_fraction: float = 0.0, shape_jitter_fraction: float = 0.0):
        self.real, self.synthetic = real, synthetic
        self.shape_jitter_fraction = shape_jitter_fraction
        self.tilt_fraction = tilt_fraction
        self.motion_blur_fraction = motion_blur_fraction
        self.fraction = synthetic_fraction if real and synthetic else (1.0 if synthetic else 0.0)
        self.seed, self.epoch = seed, 0
        self.two_line_whole = two_line_whole
        # ``context`` (a reader_context.ContextBank): that share of rendered plates is shown in
        # real surroundings, cut loosely, as the detector's boxes around two-wheelers are.
        self.context, self.context_fraction = context, context_fraction if context else 0.0

    def sample(self, i: int) -> tuple[np.ndarray, list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        pool = self.synthetic if rng.random() < self.fraction else self.real
        crop = pool[int(rng.integers(len(pool)))]
        image = crop.image
        if pool is self.synthetic and rng.random() < self.context_fraction:
            image = self.context.place(image, rng)
        if rng.random() < self.tilt_fraction:
            image = tilt(image, float(rng.choice([-1.0, 1.0]) * rng.uniform(*TILT_DEGREES)))
        image = jitter_crop(image, rng)
        # Drawn only when asked for, so a seed without it gives the batches it always gave.
        if self.motion_blur_fraction and rng.random() < self.motion_blur_fraction:
            image = motion_blur(image, rng)
        # The forms the reader gives two-line and stacked plates (ocr.split_two_lines, ocr.stacked_as_line).
        # ``two_line_whole`` of two-line plates are shown whole: the network's two feature rows
        # read the top line, then the bottom one, with no cut between the lines to get wrong.
        if crop.layout == "two" and rng.random() >= self.two_line_whole:
            image = split_two_lines(image)
        elif crop.layout == "stacked" and i % 2:
            # Every other time whole, with the same text: read whole, a stacked plate cannot come
            # out in reading order, so the model learns to be unsure of it, which is what sends
            # the reader to the rearranged look (a reader trained without them is sure of a wrong
            # whole reading on 18 of 200 rendered stacked plates, one trained with them on none).
            image = stacked_as_line(image)
        grey = preprocess(image)[..., 0]
        if self.shape_jitter_fraction and rng.random() < self.shape_jitter_fraction:
            grey = shape_jitter(grey, rng)
        return photometric(grey, rng), encode_text(crop.text)


def load_manifest_crops(manifest: Path) -> list[Crop]:
    """Plate crops with text from any manifest (a site's own images, or a corrected review folder)."""
    return [crop for row in load_manifest(manifest) for crop in row_crops(row, manifest.parent.name)]
