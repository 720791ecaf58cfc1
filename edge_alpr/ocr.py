"""Plate reading: from a plate crop to text, per-character confidences, a calibrated plate
confidence and the plate format.

Backends share one interface (``PlateReader.read``): the project's own int8 CTC recognizer
(default) and PP-OCRv4 from the ``rapidocr-onnxruntime`` wheel (optional extra ``rapidocr``),
both decoded with the same grammar-constrained CTC search (``ctc.decode_ctc``).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from edge_alpr.ctc import Decoded, decode_ctc
from edge_alpr.errors import ModelError
from edge_alpr.ocr_views import (  # noqa: F401  (re-exported: the training draws these views)
    LEVEL_MIN_ANGLE,
    RETRY_VIEWS,
    STACKED_MIN_ASPECT,
    TWO_LINE_MAX_ASPECT,
    level,
    plate_windows,
    retry_views,
    split_two_lines,
    stacked_as_line,
    tilt_angle,
)
from edge_alpr.plates import parse
from edge_alpr.runtime import TFLiteModel, load_model_card, model_card_path
from edge_alpr.types import ALPHABET, PlateRead

log = logging.getLogger(__name__)

#: The recognizer's input height, and the width the training uses. The reader takes its width from
#: the model file, so a reader trained at another width loads and reads as well.
INPUT_H, INPUT_W = 64, 192
Grammar = Literal["indian", "any"]


class PlateReader(Protocol):
    model_info: dict

    def read(self, crop_bgr: np.ndarray) -> PlateRead: ...


def crop_rect(image: np.ndarray, box, margin: float = 0.1) -> tuple[int, int, int, int]:
    """The pixels ``crop_plate`` cuts: ``box`` (x1, y1, x2, y2) with ``margin`` x its size around
    it, inside the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    xa, ya = max(0, int(math.floor(x1 - mx))), max(0, int(math.floor(y1 - my)))
    xb, yb = min(w, int(math.ceil(x2 + mx))), min(h, int(math.ceil(y2 + my)))
    if xb <= xa or yb <= ya:
        raise ValueError(f"box {box} lies outside the {w}x{h} image")
    return xa, ya, xb, yb


def crop_plate(image: np.ndarray, box, margin: float = 0.1) -> np.ndarray:
    """Cut ``box`` (x1, y1, x2, y2) out of ``image`` with ``margin`` × its size around it, so
    a slightly tight detection does not clip the first or last character."""
    xa, ya, xb, yb = crop_rect(image, box, margin)
    return image[ya:yb, xa:xb]


def preprocess(crop_bgr: np.ndarray, width: int = INPUT_W) -> np.ndarray:
    """A crop -> the recognizer's grey (64, ``width``, 1) uint8 input. The whole plate is
    stretched to the input (two-line plates included); contrast is normalised per crop so
    night and day plates look alike."""
    if crop_bgr is None or crop_bgr.size == 0:
        raise ValueError("empty plate crop")
    grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    interp = cv2.INTER_AREA if (h > INPUT_H or w > width) else cv2.INTER_CUBIC
    grey = cv2.resize(grey, (width, INPUT_H), interpolation=interp)
    lo, hi = _percentiles(grey, (2.0, 98.0))
    if hi - lo > 8:
        lut = ((np.arange(256, dtype=np.float64) - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)
        grey = cv2.LUT(grey, lut)
    return grey[..., None]


def _percentiles(grey: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """``np.percentile(grey, qs)`` (linear interpolation) from the 256-bin histogram: the same
    numbers at a third of the cost, which matters at one crop per few milliseconds."""
    cumulative = np.bincount(grey.ravel(), minlength=256).cumsum()
    n = int(cumulative[-1])
    out = []
    for q in qs:
        position = q / 100.0 * (n - 1)
        k = int(position)
        below = int(np.searchsorted(cumulative, k, side="right"))  # the k-th smallest value
        above = int(np.searchsorted(cumulative, min(k + 1, n - 1), side="right"))
        out.append(below + (position - k) * (above - below))
    return out


#: A reading that fits the grammar at this calibrated confidence is taken as it is. Below it the
#: reader looks again: a squarish crop side by side (two-line plates read whole come out far
#: below it, rendered ones all under 0.8), and, with ``retry_unsure``, any crop a little tighter
#: and a little looser.
CONFIDENT_FIRST_READ = 0.9


class Calibration:
    """Maps a decode's raw evidence to the probability that the whole plate is right (Platt
    scaling, fitted on held-out real crops at training time; stored in the model card)."""

    def __init__(self, a: float = 1.0, b: float = 0.0, c: float = 0.0):
        self.a, self.b, self.c = a, b, c

    @staticmethod
    def features(decoded: Decoded) -> tuple[float, float]:
        seq = math.log(max(decoded.sequence_probability, 1e-12))
        worst = math.log(max(min(decoded.char_confidences, default=1e-12), 1e-12))
        return seq, worst

    @classmethod
    def fit(cls, features: np.ndarray, right: np.ndarray, l2: float = 1.0) -> Calibration:
        """Logistic regression of ``right`` (0/1 per read) on ``features`` ((N, 2), as
        :meth:`features` gives), by Newton's method with step halving: plain Newton steps
        overshoot when the right reads all sit near log-probability 0 and the wrong ones just
        below it, and the fit then runs off to huge weights that call every read wrong. The two
        features move together, so ``l2`` keeps their weights from cancelling each other out."""
        x = np.column_stack([np.asarray(features, np.float64), np.ones(len(features))])
        y = np.asarray(right, np.float64)
        if x.shape != (len(y), 3):
            raise ValueError(f"Calibration.fit: expected (N, 2) features and N labels, got {np.shape(features)} and {y.shape}")
        penalty = np.array([l2, l2, 0.0])  # the bias is left free

        def loss(w: np.ndarray) -> float:
            z = x @ w
            return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * w * w))

        w = np.array([1.0, 0.0, 0.0])
        current = loss(w)
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
            grad = x.T @ (p - y) + penalty * w
            hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hess, grad)
            t = 1.0
            while t > 1e-6 and loss(w - t * step) > current:
                t /= 2
            if t <= 1e-6:
                break
            w = w - t * step
            previous, current = current, loss(w)
            if previous - current < 1e-10:
                break
        return cls(a=float(w[0]), b=float(w[2]), c=float(w[1]))

    def __call__(self, decoded: Decoded) -> float:
        if not decoded.text:
            return 0.0
        seq, worst = self.features(decoded)
        z = self.a * seq + self.c * worst + self.b
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _to_read(decoded: Decoded, confidence: float, min_confidence: float) -> PlateRead:
    return PlateRead(
        text=decoded.text,
        char_confidences=tuple(float(c) for c in decoded.char_confidences),
        confidence=float(confidence),
        plate_format=decoded.plate_format,
        accepted=bool(decoded.text) and confidence >= min_confidence,
    )


class Recognizer:
    """One int8 CTC recognizer file and its card's calibration: a crop in, its CTC probabilities
    out; the calibration maps a decoded reading to the chance that it is right."""

    def __init__(self, model_path: str | Path, num_threads: int = 1):
        self.model = TFLiteModel(model_path, num_threads=num_threads)
        card = load_model_card(model_path)
        shape = self.model.input.shape
        if len(shape) != 4 or shape[0] != 1 or shape[1] != INPUT_H or shape[3] != 1 or shape[2] % 4:
            raise ModelError(f"{model_path}: input shape {shape}, expected (1, {INPUT_H}, W, 1) with W a multiple of 4")
        self.input_width = shape[2]
        if len(self.model.outputs) != 1:
            raise ModelError(f"{model_path}: expected one output (CTC probabilities), found {len(self.model.outputs)}")
        self._output = next(iter(self.model.outputs))
        # Readers exported before 2026-12 output softmax probabilities; newer ones log-softmax.
        output = card.get("output", "softmax")
        if output not in ("softmax", "log_softmax"):
            raise ModelError(f"{model_card_path(model_path)}: 'output' must be 'softmax' or 'log_softmax', "
                             f"got {output!r}")
        self._log_output = output == "log_softmax"
        cal = card.get("calibration", {})
        try:
            self.calibration = Calibration(*(float(cal.get(k, d)) for k, d in (("a", 1.0), ("b", 0.0), ("c", 0.0))))
        except (AttributeError, TypeError, ValueError):
            raise ModelError(f"{model_card_path(model_path)}: 'calibration' must be an object of numbers a, b, c, "
                             f"got {cal!r}") from None
        self.name, self.version = card.get("name", "plate_reader"), card.get("version", "unknown")

    def probabilities(self, crop_bgr: np.ndarray) -> np.ndarray:
        """(T, 37) CTC probabilities for one crop."""
        x = preprocess(crop_bgr, self.input_width)[None]
        if self.model.input.dtype != np.uint8:
            x = x.astype(np.float32) / 255.0
        out = self.model.run(x)[self._output][0]
        return np.exp(out) if self._log_output else out


def is_squarish(image: np.ndarray) -> bool:
    """Whether an image is narrow enough to hold a two-line plate (or a loose box round a small one)."""
    h, w = image.shape[:2]
    return w < TWO_LINE_MAX_ASPECT * h


class EdgePlateReader:
    """The project's int8 CTC recognizer, run with the same TFLite runtime as the detector.

    With ``square_model_path``, images narrower than ``TWO_LINE_MAX_ASPECT`` (the crop or any view
    of it) go to a second recognizer trained to read two-line plates whole, top row then bottom
    row, and loose two-wheeler boxes; wide images, one-line plates and two-line plates laid side
    by side, stay with the first. Each model is judged by its own calibration. Two models
    rather than one because one recognizer taught both kinds of input lost one-line plates
    (docs/figures.md, "Two-line plates").
    """

    def __init__(self, model_path: str | Path, num_threads: int = 1, grammar: Grammar = "indian",
                 min_confidence: float = 0.5, retry_unsure: bool = True, square_model_path: str | Path | None = None,
                 level_min_angle: float = LEVEL_MIN_ANGLE):
        self.retry_unsure, self.level_min_angle = retry_unsure, level_min_angle
        self.wide = Recognizer(model_path, num_threads)
        self.square = Recognizer(square_model_path, num_threads) if square_model_path else None
        #: Every model this reader runs, for whoever wraps or measures them (``bench pace``).
        self.recognizers = (self.wide,) if self.square is None else (self.wide, self.square)
        self.grammar, self.min_confidence = grammar, min_confidence
        self.model_info = {"name": self.wide.name, "version": self.wide.version, "backend": "edge",
                           "runtime": self.wide.model.backend}
        if self.square is not None:
            self.model_info["square_version"] = self.square.version

    def _recognizer(self, image: np.ndarray) -> Recognizer:
        return self.square if self.square is not None and is_squarish(image) else self.wide

    def probabilities(self, crop_bgr: np.ndarray) -> np.ndarray:
        """(T, 37) CTC probabilities for one crop, from the recognizer for its shape."""
        return self._recognizer(crop_bgr).probabilities(crop_bgr)

    def decode(self, image: np.ndarray) -> tuple[Decoded, float]:
        """One reading of one image, no second looks, and its confidence, each model judged by
        its own calibration."""
        decoded = decode_ctc(self.probabilities(image), self.grammar)
        return decoded, self._recognizer(image).calibration(decoded)

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        decoded, confidence = self._read_views(crop_bgr)
        if self.retry_unsure and not self._sure(decoded, confidence):
            # Riders' plates hang tilted; the recognizer learnt plates within a few degrees of level.
            angle = tilt_angle(crop_bgr)
            if abs(angle) >= self.level_min_angle:
                decoded, confidence = self._surer((decoded, confidence), self._read_views(level(crop_bgr, angle)))
        return _to_read(decoded, confidence, self.min_confidence)

    def _read_views(self, crop_bgr: np.ndarray) -> tuple[Decoded, float]:
        """The surest reading of a crop as it is: whole, as a stacked plate, and, with
        ``retry_unsure``, tighter, looser and through windows."""
        decoded, confidence = self._read_layouts(crop_bgr)
        h, w = crop_bgr.shape[:2]
        if w >= STACKED_MIN_ASPECT * h and not self._sure(decoded, confidence) and _lacks_series(decoded):
            # Maybe a stacked plate. They are rare and any crop can be cut this way, so this
            # reading has to be a sure one on its own, not just better than an unsure one.
            stacked, stacked_confidence = self.decode(stacked_as_line(crop_bgr))
            if self._sure(stacked, stacked_confidence):
                decoded, confidence = stacked, stacked_confidence
        if self.retry_unsure and not self._sure(decoded, confidence):
            for view in retry_views(crop_bgr):
                decoded, confidence = self._surer((decoded, confidence), self._read_layouts(view))
            # A squarish crop is often a loose box round a small plate: look inside it too.
            for view in plate_windows(crop_bgr) if is_squarish(crop_bgr) else ():
                if self._sure(decoded, confidence):
                    break
                decoded, confidence = self._surer((decoded, confidence), self._read_layouts(view))
        return decoded, confidence

    def _surer(self, reading: tuple[Decoded, float], other: tuple[Decoded, float]) -> tuple[Decoded, float]:
        """The surer of two (reading, confidence) pairs: one that fits the grammar first."""
        if (self._fits(other[0]), other[1]) > (self._fits(reading[0]), reading[1]):
            return other
        return reading

    def _read_layouts(self, crop_bgr: np.ndarray) -> tuple[Decoded, float]:
        decoded, confidence = self.decode(crop_bgr)
        if is_squarish(crop_bgr) and not self._sure(decoded, confidence):
            # Squarish: maybe a two-line plate. Read it as one line too and keep the reading that
            # fits the grammar, then the more probable one.
            as_one_line, as_one_line_confidence = self.decode(split_two_lines(crop_bgr))
            if (self._fits(as_one_line), as_one_line.sequence_probability) > (
                    self._fits(decoded), decoded.sequence_probability):
                decoded, confidence = as_one_line, as_one_line_confidence
        return decoded, confidence

    def _fits(self, decoded: Decoded) -> bool:
        """Whether a reading is a plate the configured grammar accepts (with "any", every one is)."""
        return self.grammar == "any" or decoded.plate_format != "unknown"

    def _sure(self, decoded: Decoded, confidence: float) -> bool:
        return self._fits(decoded) and confidence >= CONFIDENT_FIRST_READ


def _lacks_series(decoded: Decoded) -> bool:
    """Whether a reading could be a stacked plate read whole: that loses the series printed
    under the state code (``MH022599`` for ``MH 02 EZ 2599``), blurs the block into one letter
    (``RJA7795``, an old-series plate's shape) or falls outside the grammar. Most plates have a
    series, so most unsure readings skip the stacked look."""
    parts = parse(decoded.text)
    return parts is None or parts.plate_format == "old" or (parts.plate_format == "standard" and not parts.groups[2])


class RapidOcrReader:
    """PP-OCRv4's recognizer from the ``rapidocr-onnxruntime`` wheel, run directly with
    onnxruntime; its 6,625-class output is cut down to 0-9A-Z + blank before the same
    grammar-constrained decoding. Several times slower than the project's reader; for comparison."""

    #: rapidocr's own recognizer input: 48 px high, at least 320 wide, the crop left-aligned
    #: and the rest zero-padded (``rec_img_shape`` in its config.yaml).
    PADDED_WIDTH = 320

    def __init__(self, num_threads: int = 1, grammar: Grammar = "indian", min_confidence: float = 0.5,
                 padded: bool = True):
        """``padded`` feeds crops as rapidocr's pipeline does (48×320 and wider); otherwise the
        input is only as wide as the crop's aspect needs, which runs ~1.5× faster but reads worse
        (82.0 % against 86.5 % exact on the real Indian validation crops)."""
        self.padded = padded
        try:
            import onnxruntime as ort
            import rapidocr_onnxruntime
        except ImportError:
            raise ModelError("the rapidocr backend needs the optional extra: pip install 'edge-alpr[rapidocr]'") from None
        models = Path(rapidocr_onnxruntime.__file__).parent / "models"
        candidates = sorted(models.glob("*rec*.onnx"))
        if not candidates:
            raise ModelError(f"no PP-OCR recognizer (*rec*.onnx) found in {models}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(str(candidates[0]), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        chars = meta.get("character", "").splitlines()
        if not chars:
            raise ModelError(f"{candidates[0]}: no 'character' list in its metadata")
        vocab = ["blank", *chars, " "]
        index = {c: i for i, c in enumerate(vocab)}
        # Column of each of our classes in PP-OCR's output (blank first); lower-case letters add
        # to the upper-case ones since plates are upper case.
        self._columns = [[0]] + [[index[c]] + ([index[c.lower()]] if c.lower() in index and c.isalpha() else [])
                                 for c in ALPHABET]
        self._input = self.session.get_inputs()[0].name
        self.grammar, self.min_confidence = grammar, min_confidence
        self.calibration = Calibration(1.0, 2.0, 0.0)
        self.model_info = {"name": candidates[0].stem, "version": "PP-OCRv4", "backend": "rapidocr",
                           "runtime": "onnxruntime"}

    def probabilities(self, crop_bgr: np.ndarray) -> np.ndarray:
        h, w = crop_bgr.shape[:2]
        width = int(min(320, max(48, round(48 * w / max(h, 1)))))
        if crop_bgr.ndim == 2:
            crop_bgr = cv2.cvtColor(crop_bgr, cv2.COLOR_GRAY2BGR)
        img = cv2.resize(crop_bgr, (width, 48)).astype(np.float32)
        img = (img / 255.0 - 0.5) / 0.5
        if self.padded:
            canvas = np.zeros((48, max(self.PADDED_WIDTH, width), 3), np.float32)
            canvas[:, :width] = img
            img = canvas
        out = self.session.run(None, {self._input: img.transpose(2, 0, 1)[None]})[0][0]  # (T, 6625)
        return np.stack([out[:, cols].sum(1) for cols in self._columns], axis=1)

    def read(self, crop_bgr: np.ndarray) -> PlateRead:
        decoded = decode_ctc(self.probabilities(crop_bgr), self.grammar)
        return _to_read(decoded, self.calibration(decoded), self.min_confidence)


def default_reader_path() -> Path:
    from edge_alpr.config import default_model_dir

    return default_model_dir() / "plate_reader_int8.tflite"


def make_reader(backend: str = "edge", model_path: str | Path | None = None, num_threads: int = 1,
                grammar: Grammar = "indian", min_confidence: float = 0.5, retry_unsure: bool = True,
                square_model_path: str | Path | None = None) -> PlateReader:
    """The configured reader backend."""
    if backend == "edge":
        return EdgePlateReader(model_path or default_reader_path(), num_threads, grammar, min_confidence, retry_unsure,
                               square_model_path)
    if backend == "rapidocr":
        return RapidOcrReader(num_threads, grammar, min_confidence)
    raise ModelError(f"unknown reader backend {backend!r}: expected 'edge' or 'rapidocr'")
