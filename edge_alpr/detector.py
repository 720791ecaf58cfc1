"""Plate detection with the project's int8 YOLOv4-tiny TFLite model.

The model outputs, per head (strides 16 and 32), a box tensor ``[1, H, W, A*4]`` and a score
tensor ``[1, H, W, A]``, both already through a sigmoid so int8 quantization keeps a uniform
precision over [0, 1]. Decoding (YOLOv5-style, bounded box sizes) and NMS (each kept box the
score-weighted mean of its cluster) happen here in numpy.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.errors import ModelError
from edge_alpr.runtime import TFLiteModel, load_model_card
from edge_alpr.types import Detections

log = logging.getLogger(__name__)

PAD_VALUE = 114  # grey letterbox padding, as in training


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square model input, to map boxes back."""

    scale: float
    pad_x: int
    pad_y: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        out = boxes.astype(np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        out = boxes.astype(np.float32).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to ``size``×``size`` (centred)."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    out = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    out[pad_y : pad_y + nh, pad_x : pad_x + nw] = resized
    return out, Letterbox(scale, pad_x, pad_y)


def decode_head(
    boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray, stride: int, score_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """One head's sigmoid outputs -> (N, 4) x1y1x2y2 boxes in input pixels and (N,) scores.

    ``boxes`` is (H, W, A*4), ``scores`` (H, W, A), ``anchors`` (A, 2) in input pixels.
    """
    h, w, n_anchor = scores.shape
    keep = scores > score_threshold
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    gy, gx, ga = np.nonzero(keep)
    raw = boxes.reshape(h, w, n_anchor, 4)[gy, gx, ga]
    cx = (raw[:, 0] * 2.0 - 0.5 + gx) * stride
    cy = (raw[:, 1] * 2.0 - 0.5 + gy) * stride
    bw = (raw[:, 2] * 2.0) ** 2 * anchors[ga, 0]
    bh = (raw[:, 3] * 2.0) ** 2 * anchors[ga, 1]
    out = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
    return out, scores[gy, gx, ga].astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between (N, 4) and (M, 4) x1y1x2y2 boxes."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_detections: int = 100) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best = order[0]
        keep.append(int(best))
        if order.size == 1:
            break
        ious = box_iou(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


FUSE_IOU = 0.6


def fuse_clusters(boxes: np.ndarray, scores: np.ndarray, keep: np.ndarray, iou: float = FUSE_IOU) -> np.ndarray:
    """Each kept box replaced by the score-weighted mean of the candidates overlapping it at
    ``iou`` or more (itself included): (len(keep), 4).

    Neighbouring cells and anchors predict the same plate with scores a quantization step or two
    apart, so plain NMS jumps between their boxes (several pixels) when a score moves by one
    step: between frames, and between CPUs whose int8 kernels round differently. The weighted
    mean moves smoothly with the scores and sits closer to the plate than any single guess.
    """
    if len(keep) == 0:
        return np.zeros((0, 4), np.float32)
    member = box_iou(boxes[keep], boxes) >= iou  # (K, N); each kept box is its own member
    weights = member * scores[None, :]
    return ((weights @ boxes) / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def suppress(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The plates among candidate boxes: NMS picks them, ``fuse_clusters`` places their boxes.
    The daemon and the training's validation both decode through here."""
    keep = nms(boxes, scores, iou_threshold)
    return fuse_clusters(boxes, scores, keep), scores[keep]


class PlateDetector:
    """Finds plates in a BGR frame. Thresholds default to the model card's."""

    def __init__(
        self,
        model_path: str | Path,
        num_threads: int = 2,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
    ):
        self.model = TFLiteModel(model_path, num_threads=num_threads)
        card = load_model_card(model_path)
        try:
            self.input_size = int(card["input_size"])
            self.heads = [
                (int(h["stride"]), np.asarray(h["anchors"], dtype=np.float32).reshape(-1, 2))
                for h in card["heads"]
            ]
            self.score_threshold = float(score_threshold if score_threshold is not None else card["score_threshold"])
            self.iou_threshold = float(iou_threshold if iou_threshold is not None else card["nms_iou_threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{model_path}: model card lacks or garbles {exc}") from None
        expected = (1, self.input_size, self.input_size, 3)
        if self.model.input.shape != expected:
            raise ModelError(f"{model_path}: input shape {self.model.input.shape}, expected {expected}")
        self._outputs = self._match_outputs(model_path)
        self.model_info = {
            "name": card.get("name", Path(model_path).stem),
            "version": card.get("version", "unknown"),
            "input_size": self.input_size,
            "runtime": self.model.backend,
        }

    def _match_outputs(self, model_path) -> list[tuple[str, str, int, np.ndarray]]:
        """Pair each head with its box and score tensors by shape: the converter does not keep
        output names, but a head's grid size gives its stride and the channel count its kind."""
        found = []
        for stride, anchors in self.heads:
            grid = self.input_size // stride
            n = len(anchors)
            by_channels = {
                s.shape[-1]: name for name, s in self.model.outputs.items() if s.shape[1:3] == (grid, grid)
            }
            if 4 * n not in by_channels or n not in by_channels:
                raise ModelError(
                    f"{model_path}: no {grid}x{grid} box ({4 * n} ch) and score ({n} ch) outputs for "
                    f"stride {stride}; outputs are {[s.shape for s in self.model.outputs.values()]}"
                )
            found.append((by_channels[4 * n], by_channels[n], stride, anchors))
        return found

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Plates in ``image_bgr`` (H, W, 3 uint8), boxes in its pixels, clipped to the image."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            shape = None if image_bgr is None else image_bgr.shape
            raise ValueError(f"expected a BGR image of shape (H, W, 3), got {shape}")
        inp, lb = letterbox(image_bgr, self.input_size)
        rgb = cv2.cvtColor(inp, cv2.COLOR_BGR2RGB)[None]
        # uint8 input takes pixels as they are (scale 1/255); run() quantizes float for int8 inputs.
        x = rgb if self.model.input.dtype == np.uint8 else rgb.astype(np.float32) / 255.0
        out = self.model.run(x)
        all_boxes, all_scores = [], []
        for box_name, score_name, stride, anchors in self._outputs:
            b, s = decode_head(out[box_name][0], out[score_name][0], anchors, stride, self.score_threshold)
            all_boxes.append(b)
            all_scores.append(s)
        boxes, scores = np.concatenate(all_boxes), np.concatenate(all_scores)
        if len(boxes):
            boxes, scores = suppress(boxes, scores, self.iou_threshold)
            boxes = lb.to_image(boxes)
            h, w = image_bgr.shape[:2]
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return Detections(boxes, scores)
