"""Evaluation metrics: box matching and AP, plate-text accuracy, latency (video events: ``events``).

Pure numpy and plain Python: no model code, so every number can be checked by hand.

Boxes are ``[N, 4]`` arrays of pixel corners ``x1, y1, x2, y2`` as everywhere in the project.
Plate texts are compared after ``normalise_text`` (the manifest's normalisation: uppercase,
spaces, dashes and line breaks removed), so a two-line plate written ``"MH12\\nAB1234"`` is
``"MH12AB1234"``: top line first, then the bottom line, which is also what the reader emits.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_alpr.datasets.manifest import normalise_plate_text as normalise_text

# --------------------------------------------------------------------------- boxes


def _as_boxes(boxes: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (x1, y1, x2, y2), got {arr.shape}")
    return arr


def iou_matrix(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> np.ndarray:
    """Intersection over union of every box in ``a`` [N, 4] with every box in ``b`` [M, 4] -> [N, M].

    Degenerate boxes (zero area) have IoU 0 with everything, never NaN.
    """
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class Match:
    """Result of :func:`match_boxes`. Index arrays refer to the inputs' rows."""

    pairs: np.ndarray  # int [K, 2]: (pred index, gt index)
    ious: np.ndarray  # float [K]: IoU of each pair
    unmatched_preds: np.ndarray  # int: false positives (including duplicates)
    unmatched_gts: np.ndarray  # int: missed ground truth


def match_boxes(
    pred_boxes: np.ndarray | Sequence,
    pred_scores: np.ndarray | Sequence,
    gt_boxes: np.ndarray | Sequence,
    iou_threshold: float = 0.5,
    gt_ignore: np.ndarray | Sequence | None = None,
) -> Match:
    """Greedy one-to-one matching, highest score first (the COCO/VOC rule).

    Each prediction takes the still-free ground truth it overlaps most (IoU >= ``iou_threshold``);
    a second prediction on an already-taken plate stays unmatched, i.e. a duplicate counts as a
    false positive. With ``gt_ignore``, a prediction prefers a free non-ignored ground truth and
    only falls back to an ignored one, so a small ignored plate never steals a real match.
    """
    preds = _as_boxes(pred_boxes, "pred_boxes")
    gts = _as_boxes(gt_boxes, "gt_boxes")
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(preds):
        raise ValueError(f"pred_scores has {len(scores)} values for {len(preds)} pred_boxes")
    ignore = _ignore_mask(gt_ignore, len(gts))

    ious = iou_matrix(preds, gts)
    taken = np.zeros(len(gts), dtype=bool)
    pairs: list[tuple[int, int]] = []
    pair_ious: list[float] = []
    unmatched: list[int] = []
    # Stable sort so equal scores keep input order: results do not depend on the sort algorithm.
    for p in np.argsort(-scores, kind="stable"):
        candidates = (~taken) & (ious[p] >= iou_threshold)
        preferred = candidates & ~ignore
        pool = preferred if preferred.any() else candidates
        if not pool.any():
            unmatched.append(int(p))
            continue
        g = int(np.argmax(np.where(pool, ious[p], -1.0)))
        taken[g] = True
        pairs.append((int(p), g))
        pair_ious.append(float(ious[p, g]))
    return Match(
        pairs=np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        ious=np.asarray(pair_ious, dtype=np.float64),
        unmatched_preds=np.asarray(sorted(unmatched), dtype=np.int64),
        unmatched_gts=np.flatnonzero(~taken).astype(np.int64),
    )


def _ignore_mask(gt_ignore: np.ndarray | Sequence | None, n: int) -> np.ndarray:
    if gt_ignore is None:
        return np.zeros(n, dtype=bool)
    mask = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if len(mask) != n:
        raise ValueError(f"gt_ignore has {len(mask)} values for {n} gt_boxes")
    return mask


def small_box_mask(boxes: np.ndarray | Sequence, min_height: float) -> np.ndarray:
    """True for boxes less than ``min_height`` pixels high: the usual ``gt_ignore`` mask."""
    arr = _as_boxes(boxes, "boxes")
    return (arr[:, 3] - arr[:, 1]) < min_height


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # 1.0 when nothing was predicted (no false positives were made)
    recall: float  # 1.0 when there is no ground truth to find
    true_positives: int
    false_positives: int
    false_negatives: int


class DetectionAccumulator:
    """Collects per-image matches, then gives precision/recall at a threshold, the PR curve and AP.

    Ground truth marked ``ignore`` (e.g. plates under 16 px high) is left out of recall, and a
    prediction matched to it is neither a true nor a false positive, so the figures read as
    "for plates that are not ignored".
    """

    def __init__(self, iou_threshold: float = 0.5) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.iou_threshold = iou_threshold
        self._scores: list[np.ndarray] = []
        self._is_tp: list[np.ndarray] = []
        self._counted: list[np.ndarray] = []  # False for predictions matched to ignored gt
        self.num_gt = 0  # ground-truth boxes that count (not ignored)
        self.num_images = 0

    def add(
        self,
        pred_boxes: np.ndarray | Sequence,
        pred_scores: np.ndarray | Sequence,
        gt_boxes: np.ndarray | Sequence,
        gt_ignore_mask: np.ndarray | Sequence | None = None,
    ) -> Match:
        """Match one image's predictions to its ground truth and keep the outcome."""
        gts = _as_boxes(gt_boxes, "gt_boxes")
        ignore = _ignore_mask(gt_ignore_mask, len(gts))
        match = match_boxes(pred_boxes, pred_scores, gts, self.iou_threshold, ignore)
        scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
        is_tp = np.zeros(len(scores), dtype=bool)
        counted = np.ones(len(scores), dtype=bool)
        for p, g in match.pairs:
            if ignore[g]:
                counted[p] = False
            else:
                is_tp[p] = True
        self._scores.append(scores)
        self._is_tp.append(is_tp)
        self._counted.append(counted)
        self.num_gt += int((~ignore).sum())
        self.num_images += 1
        return match

    def _ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """Counted predictions' scores and TP flags, highest score first."""
        if not self._scores:
            return np.zeros(0), np.zeros(0, dtype=bool)
        counted = np.concatenate(self._counted)
        scores = np.concatenate(self._scores)[counted]
        is_tp = np.concatenate(self._is_tp)[counted]
        order = np.argsort(-scores, kind="stable")
        return scores[order], is_tp[order]

    def precision_recall(self, score_threshold: float) -> PrecisionRecall:
        """Precision and recall over predictions with score >= ``score_threshold``.

        Matching is greedy by score, so dropping low-scored predictions afterwards gives the
        same matches as if they had never been made.
        """
        scores, is_tp = self._ranked()
        keep = scores >= score_threshold
        tp = int(is_tp[keep].sum())
        fp = int(keep.sum()) - tp
        fn = self.num_gt - tp
        return PrecisionRecall(
            precision=tp / (tp + fp) if tp + fp else 1.0,
            recall=tp / self.num_gt if self.num_gt else 1.0,
            true_positives=tp,
            false_positives=fp,
            false_negatives=fn,
        )

    def pr_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(precision, recall, scores)``: one point per counted prediction, highest score first."""
        scores, is_tp = self._ranked()
        tp = np.cumsum(is_tp)
        fp = np.cumsum(~is_tp)
        precision = tp / np.maximum(tp + fp, 1)
        recall = tp / self.num_gt if self.num_gt else np.zeros(len(tp))
        return precision.astype(np.float64), np.asarray(recall, dtype=np.float64), scores

    def average_precision(self) -> float:
        """All-point interpolated AP (VOC 2010+): area under the PR curve after making precision
        monotonically non-increasing. 0.0 when there is no ground truth that counts."""
        if self.num_gt == 0:
            return 0.0
        precision, recall, _ = self.pr_curve()
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        steps = np.flatnonzero(mrec[1:] != mrec[:-1])
        return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))

    def ap50(self) -> float:
        """AP at IoU 0.5; the accumulator must have been made with ``iou_threshold=0.5``."""
        if self.iou_threshold != 0.5:
            raise ValueError(f"ap50 needs iou_threshold 0.5, this accumulator uses {self.iou_threshold}")
        return self.average_precision()


# --------------------------------------------------------------------------- text


def levenshtein(a: str, b: str) -> int:
    """Edit distance: insertions, deletions and substitutions each cost 1."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate (95 % with the default ``z``): where the true rate
    plausibly lies given ``successes`` of ``trials``. On the few dozen plates of a validation
    set one plate moves the rate by several points, so a few points between two models is often
    noise; pairing their runs plate by plate (``evaluation.compare``) tells them apart better
    than comparing two intervals. (0, 1) for no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def interval_text(successes: int, trials: int) -> str:
    """``wilson_interval`` as the reports print it: ``57-85%``."""
    lo, hi = wilson_interval(successes, trials)
    return f"{100 * lo:.0f}-{100 * hi:.0f}%"


def char_accuracy(pred: str, truth: str) -> float:
    """``1 - levenshtein(pred, truth) / len(truth)``, clipped to [0, 1] (both normalised first)."""
    pred, truth = normalise_text(pred), normalise_text(truth)
    if not truth:
        return 1.0 if not pred else 0.0
    return max(0.0, 1.0 - levenshtein(pred, truth) / len(truth))


@dataclass(frozen=True)
class TextSummary:
    plates: int  # ground-truth plates seen
    read: int  # plates for which there was a prediction (not None)
    exact: int  # predictions equal to the truth
    exact_accuracy: float  # exact / plates: a missed plate counts as wrong
    char_accuracy: float  # mean char_accuracy over plates that were read; 0.0 when none


@dataclass
class _TextTally:
    plates: int = 0
    exact: int = 0
    char_scores: list[float] = field(default_factory=list)

    def add(self, pred: str | None, truth: str) -> None:
        self.plates += 1
        if pred is None:
            return
        self.exact += int(normalise_text(pred) == normalise_text(truth))
        self.char_scores.append(char_accuracy(pred, truth))

    def summary(self) -> TextSummary:
        return TextSummary(
            plates=self.plates,
            read=len(self.char_scores),
            exact=self.exact,
            exact_accuracy=self.exact / self.plates if self.plates else 0.0,
            char_accuracy=float(np.mean(self.char_scores)) if self.char_scores else 0.0,
        )


class PlateTextAccumulator:
    """Exact and character accuracy of plate reads, overall and split by bucket.

    ``bucket`` labels each plate, e.g. ``{"height": "20-40", "layout": "two"}``;
    :meth:`by_bucket` then gives a summary per key and value.
    """

    def __init__(self) -> None:
        self._all = _TextTally()
        self._buckets: dict[str, dict[str, _TextTally]] = defaultdict(lambda: defaultdict(_TextTally))

    def add(self, pred_text: str | None, truth_text: str, bucket: Mapping[str, str] | None = None) -> None:
        """``pred_text`` is None when the plate was not found or not read at all."""
        self._all.add(pred_text, truth_text)
        for key, value in (bucket or {}).items():
            self._buckets[key][value].add(pred_text, truth_text)

    def summary(self) -> TextSummary:
        return self._all.summary()

    def by_bucket(self) -> dict[str, dict[str, TextSummary]]:
        return {key: {value: t.summary() for value, t in sorted(vals.items())} for key, vals in self._buckets.items()}


def height_bucket(height_px: float) -> str:
    """The plate-height buckets used in reports: ``"<20"``, ``"20-40"``, ``">40"``."""
    if height_px < 20:
        return "<20"
    return "20-40" if height_px <= 40 else ">40"


# --------------------------------------------------------------------------- latency


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """Mean, median and 95th percentile of per-frame latencies in milliseconds."""
    values = np.asarray(ms, dtype=np.float64)
    if values.size == 0:
        raise ValueError("latency_summary needs at least one measurement, got none")
    return {
        "mean": float(values.mean()),
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
    }
