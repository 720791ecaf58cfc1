"""Outline the plate itself inside a loose label box, for the detector's training and scoring.

``in_twowheelers`` and ``in_odisha_traffic`` box a plate with its holder, mudguard or bumper
(our detector's box has a median IoU of ~0.4 with theirs), so IoU-0.5 matching counts right
detections as misses plus false boxes, and training on those boxes teaches the detector to draw
loose boxes on two-wheelers. This proposes an outline for every label (any split, any status):
the float detector run on a zoomed window round the label's box, where the plate is big, keeps
the surest box centred inside the label's box. The proposals are then checked by eye, page by
page, and only accepted ones go into the labels file as ``plate_box``; a rejected or missing
one leaves the label with its loose box.

    python -m edge_alpr.datasets.plate_boxes propose --dataset in_twowheelers --out /tmp/pb
    # look at /tmp/pb/in_twowheelers_page*.png; list the numbers whose green box is wrong
    python -m edge_alpr.datasets.plate_boxes accept --dataset in_twowheelers --out /tmp/pb --reject 3 17 42

Proposed by the detector being measured, but on a zoom it never sees in the pipeline (the
daemon runs it on whole frames, tiles or motion regions), and kept only where the eye agrees.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.config import default_model_dir
from edge_alpr.datasets import DEFAULT_DATASETS
from edge_alpr.datasets.kept import kept_labels_path
from edge_alpr.datasets.tight_boxes import montage
from edge_alpr.detector import PlateDetector

log = logging.getLogger(__name__)

#: The window round a label's box, as a multiple of its longer side: the plate fills a good part of
#: the detector's 320 px input, with enough vehicle round it to look like the scenes it learnt.
WINDOW = 2.0
SCORE_FLOOR = 0.05
PAGE = 30  # tiles per montage page, 6 x 5: small enough to judge every box


def zoom_window(box, width: int, height: int) -> tuple[int, int, int, int]:
    """The square window (clipped to the image) centred on ``box``, WINDOW times its longer side."""
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1, 32) * WINDOW / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (int(max(0, cx - half)), int(max(0, cy - half)), int(min(width, cx + half)), int(min(height, cy + half)))


def pick_outline(boxes: np.ndarray, scores: np.ndarray, label_box) -> np.ndarray | None:
    """The surest box whose centre lies in ``label_box`` and that lies mostly inside it (a loose
    box contains its plate), or None."""
    x1, y1, x2, y2 = label_box
    mx, my = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    best = None
    for box, score in zip(boxes, scores):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if not (x1 <= cx <= x2 and y1 <= cy <= y2):
            continue
        ix = max(0.0, min(box[2], x2 + mx) - max(box[0], x1 - mx))
        iy = max(0.0, min(box[3], y2 + my) - max(box[1], y1 - my))
        area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
        if ix * iy / area >= 0.8 and (best is None or score > best[1]):
            best = (box, score)
    return None if best is None else np.asarray(best[0], np.float32)


def propose(dataset: str, datasets_dir: Path, detector: PlateDetector) -> list[dict]:
    """One proposal per label of ``dataset``: {n, image, box, plate_box or None, window}."""
    out = []
    for n, line in enumerate(kept_labels_path(dataset).read_text().splitlines()):
        r = json.loads(line)
        image = cv2.imread(str(datasets_dir / dataset / r["image"]))
        if image is None:
            raise FileNotFoundError(f"{datasets_dir / dataset / r['image']}: not readable")
        wx1, wy1, wx2, wy2 = zoom_window(r["box"], image.shape[1], image.shape[0])
        found = detector.detect(image[wy1:wy2, wx1:wx2])
        shifted = found.boxes + np.array([wx1, wy1, wx1, wy1], np.float32)
        outline = pick_outline(shifted, found.scores, r["box"])
        out.append({"n": n, "image": r["image"], "box": r["box"], "window": [wx1, wy1, wx2, wy2],
                    "plate_box": None if outline is None else [int(round(float(v))) for v in outline]})
    return out


def _tile(image: np.ndarray, p: dict, size: int = 220) -> np.ndarray:
    wx1, wy1, wx2, wy2 = p["window"]
    crop = image[wy1:wy2, wx1:wx2]
    scale = size / max(crop.shape[:2])
    tile = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_CUBIC)
    tile = cv2.copyMakeBorder(tile, 0, size - tile.shape[0] + 20, 0, size - tile.shape[1], cv2.BORDER_CONSTANT,
                              value=(255, 255, 255))

    def draw(box, colour):
        x1, y1, x2, y2 = ((v - o) * scale for v, o in zip(box, (wx1, wy1, wx1, wy1)))
        cv2.rectangle(tile, (int(x1), int(y1)), (int(x2), int(y2)), colour, 1)

    draw(p["box"], (160, 160, 160))
    if p["plate_box"] is not None:
        draw(p["plate_box"], (0, 230, 0))
    cv2.putText(tile, f"#{p['n']}" + ("" if p["plate_box"] else " none"), (3, size + 15), 0, 0.5, (0, 0, 200), 1)
    return tile


def write_pages(proposals: list[dict], dataset: str, datasets_dir: Path, out: Path, columns: int = 6) -> list[Path]:
    """Montage pages of the proposals (grey: the label's box, green: the proposed outline)."""
    paths = []
    for start in range(0, len(proposals), PAGE):
        tiles = [_tile(cv2.imread(str(datasets_dir / dataset / p["image"])), p) for p in proposals[start:start + PAGE]]
        path = out / f"{dataset}_page{start // PAGE + 1:02d}.png"
        cv2.imwrite(str(path), montage(tiles, columns))
        paths.append(path)
    return paths


def accept(dataset: str, proposals: list[dict], rejected: set[int]) -> int:
    """Write the accepted outlines into the labels file as ``plate_box``; returns how many."""
    path = kept_labels_path(dataset)
    by_n = {p["n"]: p for p in proposals}
    lines, accepted = [], 0
    for n, line in enumerate(path.read_text().splitlines()):
        r = json.loads(line)
        r.pop("plate_box", None)
        p = by_n.get(n)
        if p is None or p["image"] != r["image"] or p["box"] != r["box"]:
            raise ValueError(f"{path}:{n + 1}: the labels changed since the proposals were made; propose again")
        if p["plate_box"] is not None and n not in rejected:
            r["plate_box"] = p["plate_box"]
            accepted += 1
        lines.append(json.dumps(r))
    path.write_text("\n".join(lines) + "\n")
    return accepted


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_alpr.datasets.plate_boxes", description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=("propose", "accept"))
    p.add_argument("--dataset", required=True, help="a dataset with kept labels, e.g. in_twowheelers")
    p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--out", type=Path, required=True, help="folder for the proposals and their montage pages")
    p.add_argument("--detector", type=Path, help="detector .tflite (default: the shipped float16 model)")
    p.add_argument("--reject", type=int, nargs="*", default=[], metavar="N", help="numbers judged wrong by eye")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / f"{args.dataset}_proposals.json"
    if args.step == "propose":
        model = args.detector or default_model_dir() / "plate_detector_float16.tflite"
        proposals = propose(args.dataset, args.datasets, PlateDetector(model, score_threshold=SCORE_FLOOR))
        saved.write_text(json.dumps(proposals))
        pages = write_pages(proposals, args.dataset, args.datasets, args.out)
        found = sum(p["plate_box"] is not None for p in proposals)
        log.info("%s: %d of %d labels have a proposed outline; pages: %s", args.dataset, found, len(proposals),
                 " ".join(str(x) for x in pages))
    else:
        n = accept(args.dataset, json.loads(saved.read_text()), set(args.reject))
        log.info("%s: %d outlines accepted into %s", args.dataset, n, kept_labels_path(args.dataset))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
