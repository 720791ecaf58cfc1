"""``edge-alpr eval``: the still-image pipeline (detector -> reader -> grammar) scored against a
manifest, or the reader alone scored against plate crops (``--reader-only``).

    edge-alpr eval --manifest DATASET/manifest.jsonl [--split val | --holdout detector-val]
                   [--config FILE] [--detector PATH] [--reader PATH | --reader-backend rapidocr]
                   [--grammar any] [--json] [--errors DIR] [--plots DIR] [--limit N]
    edge-alpr eval --reader-only --manifest in_plates/labels.jsonl --split val [...]

What is reported, and why it is counted that way:

* Detection: AP50 over the whole precision-recall curve, and precision/recall at the score
  threshold the daemon uses (the config's, else the model card's), for all plates and for
  plates at least 16 px high (smaller ones are ignored: neither found nor missed). The
  detector runs with a low score floor so the curve extends below the operating point; greedy
  matching by score makes the figures at the operating point the same as if it had not.
* Plate text: every ground-truth plate with a known text counts; a plate the detector missed
  (or found only below the operating threshold) counts as wrong. Character accuracy is over
  the plates that were found. Both are split by plate height (<20, 20-40, >40 px), layout
  (one/two lines) and plate width as a share of the image width (<3 %, 3-6 %, >6 %).
* Latency: milliseconds per image for detection, reading (all plates of the image) and both.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from edge_alpr.cli import run_subcommand
from edge_alpr.config import AppConfig, load_config
from edge_alpr.datasets.kept import apply_kept
from edge_alpr.datasets.manifest import ManifestRow, PlateBox, load_manifest, normalise_plate_text
from edge_alpr.errors import InputError, ModelError
from edge_alpr.evaluation.metrics import (
    DetectionAccumulator,
    PlateTextAccumulator,
    TextSummary,
    height_bucket,
    latency_summary,
    small_box_mask,
)
from edge_alpr.ocr import PlateReader, crop_plate
from edge_alpr.service import build_reader
from edge_alpr.types import Detections, PlateRead

Layout = Literal["one", "two"]

#: Plates less high than this are ignored in the second set of detection figures.
SMALL_PLATE_PX = 16
#: The detector runs with at most this score threshold during evaluation, so the PR curve
#: (and AP) covers low-scored boxes too; the operating point is reported separately.
AP_SCORE_FLOOR = 0.05
#: A plate box narrower than this many heights is taken to be two-line where the manifest
#: does not say (an Indian one-line plate is 500x120 mm, ~4.2; a two-line one 340x200, ~1.7).
TWO_LINE_MAX_ASPECT = 2.2
#: Margin around a box when cutting a crop to read, as the daemon does (``crop_plate``'s default).
CROP_MARGIN = 0.1

#: The order buckets are shown in (the accumulator sorts them alphabetically).
BUCKET_ORDER: dict[str, tuple[str, ...]] = {
    "height": ("<20", "20-40", ">40"),
    "layout": ("one", "two"),
    "width": ("<3%", "3-6%", ">6%"),
    "background": ("white", "yellow", "green", "black", "red", "blue", "other"),
}
_BUCKET_TITLES = {"height": "plate height (px)", "layout": "layout", "width": "plate width / image width",
                  "background": "plate colour"}


class Detector(Protocol):
    model_info: dict

    def detect(self, image_bgr: np.ndarray) -> Detections: ...


# --- buckets --------------------------------------------------------------------------------


def plate_layout(plate: PlateBox) -> Layout:
    """The manifest's ``layout`` where given, else a guess from the box's aspect ratio."""
    if plate.layout in ("one", "two"):
        return plate.layout  # type: ignore[return-value]
    x1, y1, x2, y2 = plate.box
    width, height = x2 - x1, y2 - y1
    return "two" if height > 0 and width / height < TWO_LINE_MAX_ASPECT else "one"


def width_bucket(plate_width: float, image_width: float) -> str:
    """Plate width as a share of the image width: ``"<3%"``, ``"3-6%"``, ``">6%"``. A plate
    filling under 3 % of a 1280 px frame is under 38 px wide: far, or a wide-angle camera."""
    share = plate_width / image_width if image_width > 0 else 0.0
    if share < 0.03:
        return "<3%"
    return "3-6%" if share <= 0.06 else ">6%"


def plate_buckets(plate: PlateBox, image_width: float) -> dict[str, str]:
    x1, y1, x2, y2 = plate.box
    buckets = {
        "height": height_bucket(y2 - y1),
        "layout": plate_layout(plate),
        "width": width_bucket(x2 - x1, image_width),
    }
    if plate.background:  # only labelled sets say; a guess from pixels would be the thing measured
        buckets["background"] = plate.background
    return buckets


def ordered_buckets(by_bucket: dict[str, dict[str, TextSummary]]) -> dict[str, dict[str, TextSummary]]:
    """The accumulator's buckets in reading order (small to large), unknown names last."""
    out = {}
    keys = [k for k in BUCKET_ORDER if k in by_bucket] + sorted(k for k in by_bucket if k not in BUCKET_ORDER)
    for key in keys:
        values = by_bucket[key]
        order = BUCKET_ORDER.get(key, ())
        names = [n for n in order if n in values] + sorted(n for n in values if n not in order)
        out[key] = {n: values[n] for n in names}
    return out


# --- --errors -------------------------------------------------------------------------------


class ErrorWriter:
    """``--errors DIR``: every wrong or missed read as a JPEG crop named
    ``<index>_<truth>_<prediction>.jpg`` (``MISSED`` when no plate was found there, ``EMPTY``
    when the reader returned nothing), and ``index.json`` listing them with their source image."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{out_dir}: cannot create the errors folder ({error.strerror})") from None
        self.entries: list[dict] = []

    def add(self, crop: np.ndarray, *, truth: str, read: PlateRead | None, source: str,
            box: Sequence[float]) -> Path:
        prediction = None if read is None else read.text
        name = f"{len(self.entries):05d}_{_file_safe(truth)}_{_prediction_label(prediction)}.jpg"
        path = self.out_dir / name
        if not cv2.imwrite(str(path), crop):
            raise InputError(f"{path}: could not write the crop")
        self.entries.append({
            "file": name,
            "kind": "missed" if read is None else "wrong",
            "truth": truth,
            "prediction": prediction,
            "confidence": None if read is None else round(float(read.confidence), 4),
            "accepted": None if read is None else read.accepted,
            "source": source,
            "box": [round(float(v), 1) for v in box],
        })
        return path

    def close(self) -> Path:
        index = self.out_dir / "index.json"
        index.write_text(json.dumps(self.entries, indent=1) + "\n", encoding="utf-8")
        return index


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", normalise_plate_text(text)) or "NOTEXT"


def _prediction_label(prediction: str | None) -> str:
    if prediction is None:
        return "MISSED"
    return _file_safe(prediction) if prediction else "EMPTY"


# --- still images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectionFigures:
    ap50: float
    precision: float  # at the operating score threshold
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int
    plates: int  # ground-truth plates that count (not ignored)

    @classmethod
    def from_accumulator(cls, acc: DetectionAccumulator, score_threshold: float) -> DetectionFigures:
        pr = acc.precision_recall(score_threshold)
        return cls(acc.ap50(), pr.precision, pr.recall, pr.true_positives, pr.false_positives,
                   pr.false_negatives, acc.num_gt)


@dataclass(frozen=True)
class AcceptedFigures:
    """The reads the daemon would trust (confidence over the reader's threshold): how many of
    the found plates were accepted, and how many of those were right."""

    reads: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.reads if self.reads else 0.0


@dataclass(frozen=True)
class StillsReport:
    images: int
    score_threshold: float
    detection: dict[str, DetectionFigures]  # "all", and "min_height_16" with small plates ignored
    text: TextSummary
    text_by: dict[str, dict[str, TextSummary]]  # "height" | "layout" | "width" -> bucket -> summary
    accepted: AcceptedFigures
    latency_ms: dict[str, dict[str, float]]  # "detect" | "read" | "total" -> mean/p50/p95 per image
    pr_precision: np.ndarray  # the curve of the "all" figures, for the plot
    pr_recall: np.ndarray

    def to_json(self) -> dict:
        return {
            "mode": "stills",
            "images": self.images,
            "score_threshold": self.score_threshold,
            "detection": {k: asdict(v) for k, v in self.detection.items()},
            "text": asdict(self.text),
            "text_by": {k: {b: asdict(s) for b, s in v.items()} for k, v in self.text_by.items()},
            "accepted": {"reads": self.accepted.reads, "correct": self.accepted.correct,
                         "precision": self.accepted.precision},
            "latency_ms": self.latency_ms,
        }


@dataclass
class _Timings:
    detect: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: latency_summary(values) for name, values in asdict(self).items() if values}


class StillsEvaluator:
    """Runs detector and reader on one image at a time and keeps the tallies."""

    def __init__(self, detector: Detector, reader: PlateReader, *, score_threshold: float,
                 errors: ErrorWriter | None = None) -> None:
        self.detector = detector
        self.reader = reader
        self.score_threshold = score_threshold
        self.errors = errors
        self._all = DetectionAccumulator(0.5)
        self._not_small = DetectionAccumulator(0.5)
        self._text = PlateTextAccumulator()
        self._timings = _Timings()
        self._accepted = 0
        self._accepted_correct = 0

    def add(self, image: np.ndarray, plates: Sequence[PlateBox], source: str) -> None:
        """Score one image. ``source`` names it in ``--errors``' index."""
        started = time.perf_counter()
        found = self.detector.detect(image)
        detected = time.perf_counter()
        reads = self._read_all(image, found)
        finished = time.perf_counter()
        self._timings.detect.append((detected - started) * 1000)
        self._timings.read.append((finished - detected) * 1000)
        self._timings.total.append((finished - started) * 1000)

        gt_boxes = np.array([p.box for p in plates], dtype=np.float64).reshape(-1, 4)
        match = self._all.add(found.boxes, found.scores, gt_boxes)
        self._not_small.add(found.boxes, found.scores, gt_boxes, small_box_mask(gt_boxes, SMALL_PLATE_PX))
        matched = {int(g): int(p) for p, g in match.pairs}
        for g, plate in enumerate(plates):
            if not plate.text:
                continue  # a plate without known text counts for detection only
            p = matched.get(g)
            read = reads.get(p) if p is not None else None
            self._score_text(image, plate, found.boxes[p] if read is not None else None, read, source)

    def _read_all(self, image: np.ndarray, found: Detections) -> dict[int, PlateRead]:
        """Read every box the daemon would read (score at or above the operating threshold)."""
        reads = {}
        for i in np.flatnonzero(found.scores >= self.score_threshold):
            try:
                crop = crop_plate(image, found.boxes[i], CROP_MARGIN)
            except ValueError:  # a degenerate box on the image border: nothing to read
                continue
            reads[int(i)] = self.reader.read(crop)
        return reads

    def _score_text(self, image: np.ndarray, plate: PlateBox, read_box: np.ndarray | None,
                    read: PlateRead | None, source: str) -> None:
        truth = normalise_plate_text(plate.text or "")
        self._text.add(None if read is None else read.text, truth, plate_buckets(plate, image.shape[1]))
        right = read is not None and normalise_plate_text(read.text) == truth
        if read is not None and read.accepted:
            self._accepted += 1
            self._accepted_correct += int(right)
        if self.errors is not None and not right:
            # A wrong read is shown as the reader saw it; a missed plate where it really is.
            box = read_box if read_box is not None else np.asarray(plate.box)
            try:
                crop = crop_plate(image, box, CROP_MARGIN)
            except ValueError:
                return
            self.errors.add(crop, truth=truth, read=read, source=source, box=box)

    def report(self) -> StillsReport:
        if not self._timings.total:
            raise InputError("no images to evaluate (is the manifest empty, or did --split/--holdout/--limit select nothing?)")
        precision, recall, _ = self._all.pr_curve()
        return StillsReport(
            images=self._all.num_images,
            score_threshold=self.score_threshold,
            detection={
                "all": DetectionFigures.from_accumulator(self._all, self.score_threshold),
                f"min_height_{SMALL_PLATE_PX}": DetectionFigures.from_accumulator(self._not_small, self.score_threshold),
            },
            text=self._text.summary(),
            text_by=ordered_buckets(self._text.by_bucket()),
            accepted=AcceptedFigures(self._accepted, self._accepted_correct),
            latency_ms=self._timings.summary(),
            pr_precision=precision,
            pr_recall=recall,
        )


def read_image(row: ManifestRow, manifest: Path) -> np.ndarray:
    """The row's image, checked against the size the manifest gives (boxes are in its pixels)."""
    image = cv2.imread(str(row.image), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{row.image}: missing or not a readable image (listed in {manifest})")
    h, w = image.shape[:2]
    if (w, h) != (row.width, row.height):
        raise InputError(f"{row.image}: is {w}x{h} but {manifest} says {row.width}x{row.height}, so its boxes "
                         "would not match (run 'edge-alpr data check')")
    return image


# --- reader only ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CropLabel:
    """One line of an ``in_plates``-style ``labels.jsonl``."""

    crop: Path  # absolute
    text: str
    status: str  # "ok" | "partial" | "unreadable": only "ok" crops are scored
    layout: Layout
    split: str | None


def load_labels(path: Path) -> list[CropLabel]:
    """Read ``labels.jsonl``; errors name the file and line."""
    if not path.is_file():
        raise InputError(f"{path}: labels file not found")
    labels = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
                crop, text = obj["crop"], obj["text"]
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
            except (KeyError, TypeError):
                raise InputError(f"{where}: expected an object with keys crop, text, status, layout, split") from None
            layout = obj.get("layout", "one")
            if layout not in ("one", "two"):
                raise InputError(f"{where}: layout must be 'one' or 'two', got {layout!r}")
            labels.append(CropLabel((path.parent / crop).resolve(), str(text or ""), str(obj.get("status", "ok")),
                                    layout, obj.get("split")))
    return labels


@dataclass(frozen=True)
class ReaderReport:
    crops: int
    text: TextSummary
    text_by: dict[str, dict[str, TextSummary]]  # "layout" | "height" -> bucket -> summary
    accepted: AcceptedFigures
    latency_ms: dict[str, dict[str, float]]  # "read": per crop

    def to_json(self) -> dict:
        return {
            "mode": "reader-only",
            "crops": self.crops,
            "text": asdict(self.text),
            "text_by": {k: {b: asdict(s) for b, s in v.items()} for k, v in self.text_by.items()},
            "accepted": {"reads": self.accepted.reads, "correct": self.accepted.correct,
                         "precision": self.accepted.precision},
            "latency_ms": self.latency_ms,
        }


def evaluate_reader(labels: Sequence[CropLabel], reader: PlateReader, errors: ErrorWriter | None = None) -> ReaderReport:
    """Exact and character accuracy of ``reader`` on the crops with status ``ok``."""
    text = PlateTextAccumulator()
    times: list[float] = []
    accepted = accepted_correct = 0
    for label in labels:
        if label.status != "ok" or not label.text:
            continue  # uncertain or unreadable truth would blur the figures
        crop = cv2.imread(str(label.crop), cv2.IMREAD_COLOR)
        if crop is None:
            raise InputError(f"{label.crop}: missing or not a readable image")
        started = time.perf_counter()
        read = reader.read(crop)
        times.append((time.perf_counter() - started) * 1000)
        truth = normalise_plate_text(label.text)
        text.add(read.text, truth, {"layout": label.layout, "height": height_bucket(crop.shape[0])})
        right = normalise_plate_text(read.text) == truth
        if read.accepted:
            accepted += 1
            accepted_correct += int(right)
        if errors is not None and not right:
            errors.add(crop, truth=truth, read=read, source=str(label.crop), box=(0, 0, crop.shape[1], crop.shape[0]))
    if not times:
        raise InputError("no crops with status 'ok' to evaluate (check --split and --limit)")
    return ReaderReport(len(times), text.summary(), ordered_buckets(text.by_bucket()),
                        AcceptedFigures(accepted, accepted_correct), {"read": latency_summary(times)})


# --- models ---------------------------------------------------------------------------------


def operating_threshold(cfg: AppConfig, detector_path: Path) -> float:
    """The score threshold the daemon uses: the config's, else the model card's."""
    if cfg.detector.score_threshold is not None:
        return cfg.detector.score_threshold
    from edge_alpr.runtime import load_model_card

    try:
        return float(load_model_card(detector_path)["score_threshold"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{detector_path}: its model card has no usable score_threshold") from None


def build_detector(cfg: AppConfig) -> tuple[Detector, float]:
    """The configured detector, run with a score floor for the PR curve, and the operating threshold."""
    from edge_alpr.detector import PlateDetector
    from edge_alpr.pipeline import with_strategy

    path = cfg.detector.resolved_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: detector model not found (give --detector, or set detector.model_path "
                         "in --config or $EDGE_ALPR_MODELS)")
    threshold = operating_threshold(cfg, path)
    detector = PlateDetector(path, num_threads=cfg.detector.num_threads,
                             score_threshold=min(threshold, AP_SCORE_FLOOR), iou_threshold=cfg.detector.iou_threshold)
    return with_strategy(detector, cfg), threshold



def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The config and model choices ``eval`` and ``eval-video`` share (see ``config_from_args``)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="the daemon's YAML config (models, thresholds, grammar)")
    parser.add_argument("--detector", metavar="PATH", help="detector .tflite (overrides the config)")
    reader = parser.add_mutually_exclusive_group()
    reader.add_argument("--reader", metavar="PATH", help="reader .tflite (overrides the config)")
    reader.add_argument("--reader-backend", choices=("edge", "rapidocr"), help="reader backend (overrides the config)")
    parser.add_argument("--grammar", choices=("indian", "any"),
                        help="plate grammar (overrides the config); 'any' for non-Indian plates such as openalpr_us")


def config_from_args(args: argparse.Namespace) -> AppConfig:
    """``--config`` with the command line's model and grammar choices on top."""
    cfg = load_config(args.config)
    if getattr(args, "detector", None):
        cfg.detector.model_path = Path(args.detector)
    if getattr(args, "reader_backend", None):
        cfg.reader.backend = args.reader_backend
    if getattr(args, "reader", None):
        cfg.reader.backend = "edge"
        cfg.reader.model_path = Path(args.reader)
    if getattr(args, "grammar", None):
        cfg.reader.grammar = args.grammar
    return cfg


# --- selecting rows -------------------------------------------------------------------------


def select_rows(rows: list[ManifestRow], manifest: Path, *, split: str | None, holdout: str | None,
                limit: int | None) -> list[ManifestRow]:
    """``--split``, ``--holdout detector-val`` and ``--limit``, in that order."""
    if split is not None:
        rows = [r for r in rows if r.split == split]
    if holdout == "detector-val":
        rows = detector_val_rows(rows, manifest)
    return rows[:limit] if limit is not None else rows


def detector_val_rows(rows: list[ManifestRow], manifest: Path) -> list[ManifestRow]:
    """Exactly the rows the detector was validated on (never trained on). The dataset name is
    the manifest's folder (``openalpr_us``) and the datasets folder the one above it, as in
    ``../shared/datasets/openalpr_us/manifest.jsonl``."""
    from edge_alpr.training.detector_data import is_val, reader_val_texts  # no torch needed

    dataset_dir = manifest.resolve().parent
    held_out = reader_val_texts(dataset_dir.parent)
    return [r for r in rows if is_val(r, dataset_dir.name, held_out)]


# --- output ---------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def _text_lines(text: TextSummary, text_by: dict[str, dict[str, TextSummary]]) -> list[str]:
    lines = [f"{'plate text':<26}{'plates':>7}{'found':>7}{'exact':>8}{'char':>8}",
             f"  {'all':<24}{text.plates:>7}{text.read:>7}{_pct(text.exact_accuracy):>8}{_pct(text.char_accuracy):>8}"]
    for key, buckets in text_by.items():
        for name, s in buckets.items():
            label = f"{key} {name}"
            lines.append(f"  {label:<24}{s.plates:>7}{s.read:>7}{_pct(s.exact_accuracy):>8}{_pct(s.char_accuracy):>8}")
    return lines


def _latency_lines(latency: dict[str, dict[str, float]], unit: str) -> list[str]:
    lines = [f"{'latency (ms ' + unit + ')':<26}{'mean':>8}{'p95':>8}"]
    for stage, s in latency.items():
        lines.append(f"  {stage:<24}{s['mean']:>8.1f}{s['p95']:>8.1f}")
    return lines


def format_stills(report: StillsReport, header: str) -> str:
    lines = [header, "",
             f"{'detection (IoU 0.5)':<26}{'AP50':>7}{'prec.':>8}{'recall':>8}  at score >= {report.score_threshold:g}"]
    for name, d in report.detection.items():
        label = "all plates" if name == "all" else f"plates >= {SMALL_PLATE_PX} px high"
        lines.append(f"  {label:<24}{d.ap50:>7.3f}{_pct(d.precision):>8}{_pct(d.recall):>8}  "
                     f"({d.true_positives} TP, {d.false_positives} FP, {d.false_negatives} FN)")
    lines += ["", *_text_lines(report.text, report.text_by), "",
              f"accepted reads: {report.accepted.reads}, of which right {_pct(report.accepted.precision).strip()}", "",
              *_latency_lines(report.latency_ms, "per image")]
    return "\n".join(lines)


def format_reader(report: ReaderReport, header: str) -> str:
    lines = [header, "", *_text_lines(report.text, report.text_by), "",
             f"accepted reads: {report.accepted.reads}, of which right {_pct(report.accepted.precision).strip()}", "",
             *_latency_lines(report.latency_ms, "per crop")]
    return "\n".join(lines)


def save_plots(report: StillsReport | ReaderReport, out_dir: Path) -> list[Path]:
    """PR curve (stills only) and accuracy per bucket; [] with a note when matplotlib is missing."""
    from edge_alpr.evaluation import plots

    if plots.pyplot() is None:
        print(plots.MATPLOTLIB_MISSING, file=sys.stderr)
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if isinstance(report, StillsReport):
        written.append(plots.save_pr_curve(report.pr_precision, report.pr_recall, report.detection["all"].ap50,
                                           out_dir / "pr_curve.png", title="plate detection, IoU 0.5"))
    for key, buckets in report.text_by.items():
        written.append(plots.save_accuracy_by_bucket(
            buckets, BUCKET_ORDER.get(key, ()), out_dir / f"accuracy_by_{key}.png",
            title=f"plate accuracy by {_BUCKET_TITLES.get(key, key)}", xlabel=_BUCKET_TITLES.get(key, key)))
    return written


# --- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-alpr eval",
        description="Score the still-image pipeline (detector -> reader -> grammar) on a manifest, or the "
        "reader alone on plate crops (--reader-only). A missed plate counts as a wrong read.")
    parser.add_argument("--manifest", required=True, type=Path, metavar="FILE",
                        help="a manifest.jsonl, or with --reader-only an in_plates-style labels.jsonl")
    parser.add_argument("--reader-only", action="store_true",
                        help="score the reader on the crops of a labels.jsonl (status 'ok' only)")
    add_model_arguments(parser)
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--split", metavar="NAME", help="only rows whose 'split' is NAME (e.g. val)")
    selection.add_argument("--holdout", choices=("detector-val",),
                           help="only the photos the detector was validated on (needs the manifest inside "
                           "the datasets folder, e.g. ../shared/datasets/openalpr_us/manifest.jsonl)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N rows (after the selection)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--errors", type=Path, metavar="DIR", help="write each wrong or missed read as a crop JPEG + index.json")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="save PNG plots (needs matplotlib)")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_subcommand(_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        print(f"error: --limit must be at least 1, got {args.limit}", file=sys.stderr)
        return 2
    cfg = config_from_args(args)
    errors = ErrorWriter(args.errors) if args.errors else None
    run = _run_reader_only if args.reader_only else _run_stills
    report, table, models = run(args, cfg, errors)
    if errors is not None:
        errors.close()
    if args.json:
        out = report.to_json()
        out.update(manifest=str(args.manifest), split=args.split, holdout=args.holdout, grammar=cfg.reader.grammar,
                   models=models)
        print(json.dumps(out, indent=1))
    else:
        print(table)
    if errors is not None:
        print(f"{len(errors.entries)} wrong or missed reads written to {errors.out_dir}", file=sys.stderr)
    if args.plots:
        for path in save_plots(report, args.plots):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _run_stills(args: argparse.Namespace, cfg: AppConfig,
                errors: ErrorWriter | None) -> tuple[StillsReport, str, dict[str, dict]]:
    # The texts, layouts, colours and split this project keeps for a shared set it labelled by eye.
    rows = select_rows(apply_kept(load_manifest(args.manifest), args.manifest), args.manifest, split=args.split,
                       holdout=args.holdout, limit=args.limit)
    detector, threshold = build_detector(cfg)
    reader = build_reader(cfg)
    evaluator = StillsEvaluator(detector, reader, score_threshold=threshold, errors=errors)
    for row in rows:
        evaluator.add(read_image(row, args.manifest), row.plates, str(row.image))
    report = evaluator.report()
    header = (f"edge-alpr eval: {report.images} images, {report.detection['all'].plates} plates from "
              f"{args.manifest}{_selection(args)}\ndetector {_model_name(detector.model_info)}, "
              f"reader {_model_name(reader.model_info)}, grammar {cfg.reader.grammar}")
    models = {"detector": dict(detector.model_info), "reader": dict(reader.model_info)}
    return report, format_stills(report, header), models


def _run_reader_only(args: argparse.Namespace, cfg: AppConfig,
                     errors: ErrorWriter | None) -> tuple[ReaderReport, str, dict[str, dict]]:
    if args.holdout:
        raise InputError("--holdout applies to photo manifests; for crops use --split val")
    labels = load_labels(args.manifest)
    labels = [label for label in labels if label.status == "ok" and (args.split is None or label.split == args.split)]
    reader = build_reader(cfg)
    report = evaluate_reader(labels[: args.limit] if args.limit else labels, reader, errors)
    header = (f"edge-alpr eval --reader-only: {report.crops} crops from {args.manifest}{_selection(args)}\n"
              f"reader {_model_name(reader.model_info)}, grammar {cfg.reader.grammar}")
    return report, format_reader(report, header), {"reader": dict(reader.model_info)}


def _selection(args: argparse.Namespace) -> str:
    parts = [f"split {args.split}" if args.split else "", f"holdout {args.holdout}" if args.holdout else "",
             f"first {args.limit}" if args.limit else ""]
    chosen = ", ".join(p for p in parts if p)
    return f" ({chosen})" if chosen else ""


def _model_name(info: dict) -> str:
    return f"{info.get('name', '?')} {info.get('version', '')}".strip()


if __name__ == "__main__":
    raise SystemExit(main())
