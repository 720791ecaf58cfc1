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
  matching by score makes the figures at the operating point the same as if it had not. A
  third line counts only the boxes whose read is plate-like (``still_reads.plate_like``), the boxes
  ``edge-alpr detect`` shows by default, and a fourth the same against the plates labelled
  with a text only (a plate labelled unreadable or partial cannot have a plate-like read, so
  there it counts neither as found nor as missed).
* Plate text: every ground-truth plate with a known text counts; a plate the detector missed
  (or found only below the operating threshold) counts as wrong. Character accuracy is over
  the plates that were found. Both are split by plate height (<20, 20-40, >40 px), layout
  (one/two lines) and plate width as a share of the image width (<3 %, 3-6 %, >6 %).
* Latency: milliseconds per image for detection, reading (all plates of the image) and both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_alpr.cli import run_subcommand
from edge_alpr.config import AppConfig
from edge_alpr.datasets.kept import apply_kept
from edge_alpr.datasets.manifest import load_manifest
from edge_alpr.errors import InputError
from edge_alpr.evaluation.error_crops import ErrorWriter
from edge_alpr.evaluation.models import add_model_arguments, build_detector, config_from_args, model_name
from edge_alpr.evaluation.rows import read_image, select_rows
from edge_alpr.evaluation.scoring import ReaderReport, StillsEvaluator, StillsReport, evaluate_reader, load_labels
from edge_alpr.evaluation.stills_report import format_reader, format_stills, save_plots
from edge_alpr.service import build_reader


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
    evaluator = StillsEvaluator(detector, reader, score_threshold=threshold, errors=errors, grammar=cfg.reader.grammar,
                                confirm_floor=cfg.detector.confirm_floor)
    for row in rows:
        evaluator.add(read_image(row, args.manifest), row.plates, str(row.image))
    report = evaluator.report()
    header = (f"edge-alpr eval: {report.images} images, {report.detection['all'].plates} plates from "
              f"{args.manifest}{_selection(args)}\ndetector {model_name(detector.model_info)}, "
              f"reader {model_name(reader.model_info)}, grammar {cfg.reader.grammar}")
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
              f"reader {model_name(reader.model_info)}, grammar {cfg.reader.grammar}")
    return report, format_reader(report, header), {"reader": dict(reader.model_info)}


def _selection(args: argparse.Namespace) -> str:
    parts = [f"split {args.split}" if args.split else "", f"holdout {args.holdout}" if args.holdout else "",
             f"first {args.limit}" if args.limit else ""]
    chosen = ", ".join(p for p in parts if p)
    return f" ({chosen})" if chosen else ""


if __name__ == "__main__":
    raise SystemExit(main())
