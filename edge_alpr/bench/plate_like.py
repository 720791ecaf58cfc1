"""Every detector box of a set's validation photos beside its read: whether it matches a true
plate (IoU 0.5), its score, and what the reader made of it. The rule ``still_reads.plate_like`` was
chosen from these rows (docs/figures.md, "Plate-like boxes"), and with ``--floor`` (boxes under
the operating threshold too) the floor of ``detector.confirm_floor``.

    python -m edge_alpr.bench.plate_like --manifest ../shared/datasets/in_olx_scenes/manifest.jsonl \
        --holdout detector-val [--config FILE] [--grammar any] [--limit N] [--floor 0.05] --out boxes.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge_alpr.datasets.kept import apply_kept
from edge_alpr.datasets.manifest import load_manifest, normalise_plate_text
from edge_alpr.evaluation.metrics import match_boxes
from edge_alpr.evaluation.models import add_model_arguments, build_detector, config_from_args
from edge_alpr.evaluation.rows import read_image, select_rows
from edge_alpr.ocr import crop_plate
from edge_alpr.service import build_reader
from edge_alpr.still_reads import lowest_shown_score


def box_rows(args: argparse.Namespace):
    """One dict per detector box at or above the operating threshold (or ``--floor``), image by image."""
    cfg = config_from_args(args)
    rows = select_rows(apply_kept(load_manifest(args.manifest), args.manifest), args.manifest, split=args.split,
                       holdout=args.holdout, limit=args.limit)
    detector, threshold = build_detector(cfg)
    reader = build_reader(cfg)
    for row in rows:
        image = read_image(row, args.manifest)
        found = detector.detect(image)
        keep = found.scores >= lowest_shown_score(threshold, args.floor)
        boxes, scores = found.boxes[keep], found.scores[keep]
        gt = np.array([p.outline for p in row.plates], dtype=np.float64).reshape(-1, 4)
        match = match_boxes(boxes, scores, gt, 0.5)
        truth_of = {int(p): row.plates[int(g)].text for p, g in match.pairs}
        yield {"image": str(row.image), "width": row.width, "plates": len(row.plates),
               "readable": sum(1 for p in row.plates if p.text), "boxes": len(boxes)}
        for i, (box, score) in enumerate(zip(boxes, scores)):
            try:
                read = reader.read(crop_plate(image, box))
            except ValueError:
                continue
            truth = truth_of.get(i)
            yield {
                "image": str(row.image), "box": [round(float(v), 1) for v in box], "score": round(float(score), 4),
                "matched": i in truth_of, "truth": normalise_plate_text(truth) if truth else None,
                "text": read.text, "confidence": round(read.confidence, 4), "plate_format": read.plate_format,
                "min_char": round(min(read.char_confidences, default=0.0), 4),
                "accepted": read.accepted, "grammar": cfg.reader.grammar, "mode": cfg.detector.strategy.mode,
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_alpr.bench.plate_like", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, type=Path)
    add_model_arguments(parser)
    parser.add_argument("--split")
    parser.add_argument("--holdout", choices=("detector-val",))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--floor", type=float, help="also the boxes scoring from FLOOR up to the operating "
                        "threshold (at least the evaluation's floor, 0.05)")
    parser.add_argument("--out", type=Path, help="append the rows here as JSON lines (default: stdout)")
    args = parser.parse_args(argv)
    out = args.out.open("a", encoding="utf-8") if args.out else sys.stdout
    for row in box_rows(args):
        print(json.dumps({"set": args.manifest.parent.name, **row}), file=out, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
