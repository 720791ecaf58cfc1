"""The scoring core of ``edge-alpr eval``: detector and reader run on still images (or the reader
alone on plate crops) and tallied into the figures the command reports."""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge_alpr.datasets.manifest import PlateBox, normalise_plate_text
from edge_alpr.errors import InputError
from edge_alpr.evaluation.buckets import Layout, ordered_buckets, plate_buckets
from edge_alpr.evaluation.error_crops import ErrorWriter
from edge_alpr.evaluation.metrics import (
    DetectionAccumulator,
    PlateTextAccumulator,
    TextSummary,
    height_bucket,
    latency_summary,
    match_boxes,
    small_box_mask,
)
from edge_alpr.ocr import Grammar, PlateReader, crop_plate
from edge_alpr.still_reads import lowest_shown_score, plate_like, read_boxes
from edge_alpr.types import Detections, PlateRead

#: Plates less high than this are ignored in the second set of detection figures.
SMALL_PLATE_PX = 16
#: Margin around a box when cutting a crop to read, as the daemon does (``crop_plate``'s default).
CROP_MARGIN = 0.1


class Detector(Protocol):
    model_info: dict

    def detect(self, image_bgr: np.ndarray) -> Detections: ...


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
    # "all"; "min_height_16" with small plates ignored; "plate_like": only the boxes whose read
    # is plate-like (still_reads.plate_like), the ones `edge-alpr detect` shows by default;
    # "plate_like_readable": the same against the plates labelled with text only. The plate-like
    # lines include the boxes under score_threshold that a sure read confirms (detector.confirm_floor).
    detection: dict[str, DetectionFigures]
    text: TextSummary
    text_by: dict[str, dict[str, TextSummary]]  # "height" | "layout" | "width" -> bucket -> summary
    accepted: AcceptedFigures
    latency_ms: dict[str, dict[str, float]]  # "detect" | "read" | "total" -> mean/p50/p95 per image
    pr_precision: np.ndarray  # the curve of the "all" figures, for the plot
    pr_recall: np.ndarray
    confirm_floor: float | None = None
    # Every labelled plate's outcome, in manifest order: what ``edge-alpr eval-compare`` pairs
    # between two runs on the same photos.
    plates: tuple[PlateOutcome, ...] = ()

    def to_json(self) -> dict:
        return {
            "mode": "stills",
            "images": self.images,
            "score_threshold": self.score_threshold,
            "confirm_floor": self.confirm_floor,
            "detection": {k: asdict(v) for k, v in self.detection.items()},
            "text": asdict(self.text),
            "text_by": {k: {b: asdict(s) for b, s in v.items()} for k, v in self.text_by.items()},
            "accepted": {"reads": self.accepted.reads, "correct": self.accepted.correct,
                         "precision": self.accepted.precision},
            "latency_ms": self.latency_ms,
            "plates": [asdict(p) for p in self.plates],
        }


@dataclass(frozen=True)
class PlateOutcome:
    """One labelled plate of an evaluation and what was read for it (None: not found or not read)."""

    source: str  # the photo
    box: tuple[float, ...]  # the label's box, which with ``source`` names the plate
    truth: str
    read: str | None
    layout: str


@dataclass
class _Timings:
    detect: list[float] = field(default_factory=list)
    read: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: latency_summary(values) for name, values in asdict(self).items() if values}


#: A detection at least this share of whose area lies inside a labelled box is that plate's,
#: for text scoring, even below IoU 0.5: some sets were boxed loosely (the plate with its holder
#: or bumper), and a right read inside such a box is a right read.
INSIDE_SHARE = 0.8
#: ...if it covers at least this share of the labelled box: a bolt or a sticker is no plate.
INSIDE_MIN_COVER = 0.1


def inside_matches(boxes: np.ndarray, scores: np.ndarray, gt_boxes: np.ndarray, matched: dict[int, int],
                   readable: set[int]) -> dict[int, int]:
    """{gt index: detection index} for labelled plates that IoU matching left without a read:
    the highest-scoring read detection lying inside each, each detection used once."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    used, out = set(matched.values()), {}
    for g, (x1, y1, x2, y2) in enumerate(gt_boxes):
        if g in matched:
            continue
        best = None
        for p in sorted(readable - used, key=lambda i: -float(scores[i])):
            bx1, by1, bx2, by2 = boxes[p]
            area = max(1e-9, (bx2 - bx1) * (by2 - by1))
            inter = max(0.0, min(bx2, x2) - max(bx1, x1)) * max(0.0, min(by2, y2) - max(by1, y1))
            if inter / area >= INSIDE_SHARE and area >= INSIDE_MIN_COVER * (x2 - x1) * (y2 - y1):
                best = p
                break
        if best is not None:
            out[g] = best
            used.add(best)
    return out


class StillsEvaluator:
    """Runs detector and reader on one image at a time and keeps the tallies."""

    def __init__(self, detector: Detector, reader: PlateReader, *, score_threshold: float,
                 errors: ErrorWriter | None = None, grammar: Grammar = "indian",
                 confirm_floor: float | None = None) -> None:
        self.detector = detector
        self.confirm_floor = confirm_floor
        self.reader = reader
        self.grammar = grammar
        self.score_threshold = score_threshold
        self.errors = errors
        self._all = DetectionAccumulator(0.5)
        self._not_small = DetectionAccumulator(0.5)
        self._plate_like = DetectionAccumulator(0.5)
        self._plate_like_readable = DetectionAccumulator(0.5)
        self._text = PlateTextAccumulator()
        self._timings = _Timings()
        self._accepted = 0
        self._accepted_correct = 0
        self._outcomes: list[PlateOutcome] = []

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

        gt_boxes = np.array([p.outline for p in plates], dtype=np.float64).reshape(-1, 4)
        self._all.add(found.boxes, found.scores, gt_boxes)
        self._not_small.add(found.boxes, found.scores, gt_boxes, small_box_mask(gt_boxes, SMALL_PLATE_PX))
        like = np.array([i for i, read in reads.items() if plate_like(read, self.grammar)], dtype=np.int64)
        like_boxes, like_scores = np.asarray(found.boxes).reshape(-1, 4)[like], np.asarray(found.scores)[like]
        self._plate_like.add(like_boxes, like_scores, gt_boxes)
        # Plates a person could not read (labelled unreadable or partial) can have no plate-like
        # read: they count neither as found nor missed here, nor does a box on them count as false.
        self._plate_like_readable.add(like_boxes, like_scores, gt_boxes, np.array([not p.text for p in plates], bool))
        # Text is matched on the labelled boxes (as before outlines existed) and on read boxes only:
        # a plate is read when a box the daemon reads overlaps it or lies inside it.
        label_boxes = np.array([p.box for p in plates], dtype=np.float64).reshape(-1, 4)
        read_ids = np.array(sorted(reads), dtype=np.int64)
        by_iou = match_boxes(np.asarray(found.boxes).reshape(-1, 4)[read_ids], np.asarray(found.scores)[read_ids],
                             label_boxes)
        matched = {int(g): int(read_ids[p]) for p, g in by_iou.pairs}
        matched.update(inside_matches(found.boxes, found.scores, label_boxes, matched, set(reads)))
        for g, plate in enumerate(plates):
            if not plate.text:
                continue  # a plate without known text counts for detection only
            p = matched.get(g)
            read = reads.get(p) if p is not None else None
            self._score_text(image, plate, found.boxes[p] if read is not None else None, read, source)

    def _read_all(self, image: np.ndarray, found: Detections) -> dict[int, PlateRead]:
        """Read every box a still shows (the operating threshold, and the boxes a sure read confirms)."""
        return read_boxes(image, found, self.reader, threshold=self.score_threshold, confirm_floor=self.confirm_floor,
                          grammar=self.grammar, margin=CROP_MARGIN)

    def _score_text(self, image: np.ndarray, plate: PlateBox, read_box: np.ndarray | None,
                    read: PlateRead | None, source: str) -> None:
        truth = normalise_plate_text(plate.text or "")
        buckets = plate_buckets(plate, image.shape[1])
        read_text = None if read is None else normalise_plate_text(read.text)
        self._text.add(read_text, truth, buckets)
        self._outcomes.append(PlateOutcome(source, tuple(round(float(v), 1) for v in plate.box), truth, read_text,
                                           buckets["layout"]))
        right = read_text == truth
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
        # Every box of the plate-like lines is one a still shows, the confirmed ones under the
        # threshold included: those lines count from the lowest score shown.
        shown = lowest_shown_score(self.score_threshold, self.confirm_floor)
        return StillsReport(
            images=self._all.num_images,
            score_threshold=self.score_threshold,
            detection={
                "all": DetectionFigures.from_accumulator(self._all, self.score_threshold),
                f"min_height_{SMALL_PLATE_PX}": DetectionFigures.from_accumulator(self._not_small, self.score_threshold),
                "plate_like": DetectionFigures.from_accumulator(self._plate_like, shown),
                "plate_like_readable": DetectionFigures.from_accumulator(self._plate_like_readable, shown),
            },
            text=self._text.summary(),
            text_by=ordered_buckets(self._text.by_bucket()),
            accepted=AcceptedFigures(self._accepted, self._accepted_correct),
            latency_ms=self._timings.summary(),
            pr_precision=precision,
            pr_recall=recall,
            confirm_floor=self.confirm_floor,
            plates=tuple(self._outcomes),
        )



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
    plates: tuple[PlateOutcome, ...] = ()  # every scored crop's outcome (box: the whole crop)

    def to_json(self) -> dict:
        return {
            "mode": "reader-only",
            "crops": self.crops,
            "text": asdict(self.text),
            "text_by": {k: {b: asdict(s) for b, s in v.items()} for k, v in self.text_by.items()},
            "accepted": {"reads": self.accepted.reads, "correct": self.accepted.correct,
                         "precision": self.accepted.precision},
            "latency_ms": self.latency_ms,
            "plates": [asdict(p) for p in self.plates],
        }


def evaluate_reader(labels: Sequence[CropLabel], reader: PlateReader, errors: ErrorWriter | None = None) -> ReaderReport:
    """Exact and character accuracy of ``reader`` on the crops with status ``ok``."""
    text = PlateTextAccumulator()
    times: list[float] = []
    accepted = accepted_correct = 0
    outcomes: list[PlateOutcome] = []
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
        outcomes.append(PlateOutcome(str(label.crop), (0.0, 0.0, float(crop.shape[1]), float(crop.shape[0])), truth,
                                     normalise_plate_text(read.text), label.layout))
        if read.accepted:
            accepted += 1
            accepted_correct += int(right)
        if errors is not None and not right:
            errors.add(crop, truth=truth, read=read, source=str(label.crop), box=(0, 0, crop.shape[1], crop.shape[0]))
    if not times:
        raise InputError("no crops with status 'ok' to evaluate (check --split and --limit)")
    return ReaderReport(len(times), text.summary(), ordered_buckets(text.by_bucket()),
                        AcceptedFigures(accepted, accepted_correct), {"read": latency_summary(times)}, tuple(outcomes))
