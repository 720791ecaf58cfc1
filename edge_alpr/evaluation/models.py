"""The config and models an evaluation runs with: ``--config`` with the command line's model and
grammar choices on top, and the detector opened the way the daemon opens it."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge_alpr.config import AppConfig, load_config
from edge_alpr.errors import ModelError
from edge_alpr.evaluation.scoring import Detector

#: The detector runs with at most this score threshold during evaluation, so the PR curve
#: (and AP) covers low-scored boxes too; the operating point is reported separately.
AP_SCORE_FLOOR = 0.05


def build_detector(cfg: AppConfig) -> tuple[Detector, float]:
    """The configured detector, run with a score floor for the PR curve, and the operating threshold."""
    from edge_alpr.pipeline import with_strategy
    from edge_alpr.service import build_detector as build_configured
    from edge_alpr.service import detector_threshold

    path = cfg.detector.resolved_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: detector model not found (give --detector, or set detector.model_path "
                         "in --config or $EDGE_ALPR_MODELS)")
    return with_strategy(build_configured(cfg, score_floor=AP_SCORE_FLOOR), cfg), detector_threshold(cfg)


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


def model_name(info: dict) -> str:
    """A model's name and version for a report's header; a reader with a squarish crops' model names both."""
    name = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    return name + (f" + square {info['square_version']}" if "square_version" in info else "")
