"""Find the plate itself inside a loose label box, for the reader's training.

The two-wheeler sets box a plate with its holder, the mudguard or the lamp; cut out and stretched
to the recognizer's input, a two-line plate in such a box is split between its lines in the wrong
place. For each ``ok`` training label this tries windows inside the crop (4 widths x 4 heights x
9 placements), reads each as one line and, when squarish, as two lines side by side, and keeps
the window with the surest reading that spells the label's text. The window goes into the
labels file as ``tight_box`` (image pixels). Labels no window reads keep their loose box only.
Validation labels are never fitted: their figures stay those of the boxes a detector meets.

    python -m edge_alpr.datasets.tight_boxes --dataset in_twowheelers --montage /tmp/tight.jpg

Check the montage by eye (green: the tight box, grey: the label's box) and drop a wrong one
with ``--drop IMAGE`` (every tight box of that image) before training on the result.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets import DEFAULT_DATASETS
from edge_alpr.datasets.kept import kept_labels_path
from edge_alpr.ocr import EdgePlateReader, crop_rect, default_reader_path, is_squarish, split_two_lines
from edge_alpr.training.reader_data import LOOSE_MARGIN

log = logging.getLogger(__name__)

SHARES = (1.0, 0.85, 0.7, 0.55)
PLACES = (0.0, 0.5, 1.0)


def windows(w: int, h: int):
    """(x1, y1, x2, y2) windows inside a w x h crop: every share of the width and height, at the
    start, middle and end of the room left (one place where the share is the whole side)."""
    for sw in SHARES:
        for sh in SHARES:
            ww, hh = int(w * sw), int(h * sh)
            for px in PLACES if sw < 1 else (0.5,):
                for py in PLACES if sh < 1 else (0.5,):
                    x, y = int((w - ww) * px), int((h - hh) * py)
                    yield x, y, x + ww, y + hh


def fit(reader: EdgePlateReader, crop: np.ndarray, text: str) -> tuple[tuple[int, int, int, int], float] | None:
    """The window of ``crop`` whose surest reading is ``text``, and that reading's confidence."""
    best = None
    h, w = crop.shape[:2]
    for x1, y1, x2, y2 in windows(w, h):
        view = crop[y1:y2, x1:x2]
        looks = [view, split_two_lines(view)] if is_squarish(view) else [view]
        for look in looks:
            decoded, confidence = reader.decode(look)
            if decoded.text != text:
                continue
            if best is None or confidence > best[1]:
                best = ((x1, y1, x2, y2), confidence)
    return best


def fit_dataset(dataset: str, datasets_dir: Path, reader: EdgePlateReader, drop: frozenset[str] = frozenset()):
    """Fit every ``ok`` training label of ``dataset``; returns (new label lines, montage tiles)."""
    path = kept_labels_path(dataset)
    lines, tiles = [], []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        r.pop("tight_box", None)
        if r.get("split") == "train" and r.get("status") == "ok" and r["image"] not in drop:
            image = cv2.imread(str(datasets_dir / dataset / r["image"]))
            if image is None:
                raise FileNotFoundError(f"{datasets_dir / dataset / r['image']}: not readable")
            # the crop the reader's training cuts from a loose box
            ox, oy, ox2, oy2 = crop_rect(image, r["box"], LOOSE_MARGIN)
            crop = image[oy:oy2, ox:ox2]
            found = fit(reader, crop, r["text"])
            if found is not None:
                x1, y1, x2, y2 = found[0]
                r["tight_box"] = [x1 + ox, y1 + oy, x2 + ox, y2 + oy]
            tiles.append(_tile(crop, r, found))
        lines.append(json.dumps(r))
    return lines, tiles


def _tile(crop: np.ndarray, label: dict, found) -> np.ndarray:
    scale = 150 / crop.shape[0]
    tile = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), 150))
    tile = cv2.copyMakeBorder(tile[:, :300], 0, 22, 0, max(0, 300 - tile.shape[1]), cv2.BORDER_CONSTANT, value=(255, 255, 255))
    if found is not None:
        x1, y1, x2, y2 = (int(v * scale) for v in found[0])
        cv2.rectangle(tile, (x1, y1), (x2, y2), (0, 200, 0), 2)
    colour = (0, 120, 0) if found else (0, 0, 200)
    cv2.putText(tile, f"{label['image'][-8:-4]} {label['text']} {label.get('layout', '')}", (2, 166), 0, 0.45, colour, 1)
    return tile


def montage(tiles: list[np.ndarray], columns: int = 6) -> np.ndarray:
    blank = np.full_like(tiles[0], 255)
    rows = [np.hstack(tiles[i:i + columns] + [blank] * (columns - len(tiles[i:i + columns])))
            for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_alpr.datasets.tight_boxes", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", action="append", required=True, help="a dataset with kept labels, e.g. in_twowheelers")
    p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--montage", type=Path, help="write the fitted crops here, for checking by eye")
    p.add_argument("--drop", action="append", default=[], metavar="IMAGE", help="leave this image's labels loose")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reader = EdgePlateReader(default_reader_path(), grammar="indian")
    all_tiles = []
    for dataset in args.dataset:
        lines, tiles = fit_dataset(dataset, args.datasets, reader, frozenset(args.drop))
        kept_labels_path(dataset).write_text("\n".join(lines) + "\n")
        fitted = sum('"tight_box"' in line for line in lines)
        log.info("%s: %d of %d training labels fitted", dataset, fitted, len(tiles))
        all_tiles += tiles
    if args.montage and all_tiles:
        cv2.imwrite(str(args.montage), montage(all_tiles))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

