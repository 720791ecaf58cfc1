"""The ``edge-alpr`` command.

    edge-alpr run [--config FILE] [--source PATH|URL|DEVICE] [--events-jsonl OUT] [--loop]
    edge-alpr detect IMAGE... [--json] [--config FILE]
    edge-alpr read CROP... [--json] [--config FILE]
    edge-alpr check-config FILE
    edge-alpr version
    edge-alpr train-detector | train-reader | eval | eval-video | eval-compare | data | bench  ARGS...

Errors the user can act on (``EdgeAlprError``) print one message, no traceback, and exit with
the error's code: 2 config, 3 model, 4 source, 5 input. Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import ValidationError

from edge_alpr import __version__
from edge_alpr.config import AppConfig, default_model_dir, load_config, redacted_dump
from edge_alpr.config.source import SourceConfig
from edge_alpr.errors import ConfigError, EdgeAlprError, InputError, ModelError
from edge_alpr.logging_setup import setup_logging

log = logging.getLogger("edge_alpr.cli")

#: Commands implemented elsewhere, imported only when used (training needs heavy extras).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "train-detector": ("edge_alpr.training.detector", "train the plate detector (needs the 'train' extra)"),
    "train-reader": ("edge_alpr.training.reader", "train the plate reader (needs the 'train' extra)"),
    "eval": ("edge_alpr.evaluation.stills", "evaluate detector and reader on a still-image manifest"),
    "eval-video": ("edge_alpr.evaluation.video", "evaluate the whole pipeline on annotated videos"),
    "eval-compare": ("edge_alpr.evaluation.compare", "pair two evaluations of the same plates: gains, losses, sign test"),
    "data": ("edge_alpr.datasets.cli", "dataset tools: import, check, review"),
    "bench": ("edge_alpr.bench", "measure the speed of each stage on this machine"),
}

_STREAM_URL = re.compile(r"^(rtsps?|https?)://", re.IGNORECASE)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging("INFO")
    try:
        if argv and argv[0] in LAZY_COMMANDS:
            return _run_lazy(argv[0], argv[1:])
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except EdgeAlprError as error:
        print(f"edge-alpr: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`edge-alpr detect ... | head`): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush does not complain again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a real file (captured in tests)
            pass
        return 141
    except Exception:  # a bug: the traceback is what a bug report needs
        traceback.print_exc()
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-alpr", description="Number-plate recognition for roadside Raspberry Pis.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the recognition daemon", description="Run the recognition daemon "
                              "until the source ends (a file) or SIGTERM/SIGINT. Flags override the config.")
    run.add_argument("--config", type=Path, help="YAML config (default: embedded defaults)")
    run.add_argument("--source", help="a video file, a camera (0, /dev/video0), a stream URL (rtsp://, http://) "
                     "or 'picamera2'")
    run.add_argument("--events-jsonl", type=Path, metavar="OUT", help="also append every event to OUT as a JSON line")
    run.add_argument("--loop", action="store_true", help="start a video file again at its end")
    run.add_argument("--print-events", action=argparse.BooleanOptionalAction, default=None,
                     help="print each plate to stdout (default: when stdout is a terminal)")
    run.set_defaults(handler=cmd_run)

    detect = commands.add_parser("detect", help="find (and read) plates in still images")
    detect.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    detect.add_argument("--json", action="store_true", help="one JSON line per image")
    detect.add_argument("--config", type=Path, help="YAML config for model paths and thresholds")
    detect.add_argument("--all", action="store_true",
                        help="also show the boxes whose read is nothing plate-like (marked plate_like false)")
    detect.set_defaults(handler=cmd_detect)

    read = commands.add_parser("read", help="read plate crops")
    read.add_argument("images", nargs="+", type=Path, metavar="CROP")
    read.add_argument("--json", action="store_true", help="one JSON line per crop")
    read.add_argument("--config", type=Path, help="YAML config for the reader settings")
    read.set_defaults(handler=cmd_read)

    check = commands.add_parser("check-config", help="validate a config file and show what would be used")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(handler=cmd_check_config)

    version = commands.add_parser("version", help="print the package and model versions")
    version.set_defaults(handler=cmd_version)

    for name, (_, summary) in LAZY_COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)  # dispatched in main() before parsing
    return parser


# --- run --------------------------------------------------------------------------------------


def source_from_argument(text: str, base: SourceConfig, loop: bool) -> SourceConfig:
    """The source named by ``--source``, keeping the config's capture settings."""
    if text == "picamera2":
        kind, uri = "picamera2", "0"
    elif text.isdigit() or text.startswith("/dev/video"):
        kind, uri = "v4l2", text
    elif _STREAM_URL.match(text):
        kind, uri = "rtsp", text
    else:
        kind, uri = "file", text
    return _validated_source({**base.model_dump(), "kind": kind, "uri": uri, "loop": loop}, "--source")


def _validated_source(data: dict, flag: str) -> SourceConfig:
    try:
        return SourceConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'source'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in error.errors())
        raise ConfigError(f"{flag}: {problems}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from edge_alpr.service import run_service

    cfg = load_config(args.config)
    if args.source is not None:
        cfg.source = source_from_argument(args.source, cfg.source, args.loop)
    elif args.loop:
        cfg.source = _validated_source({**cfg.source.model_dump(), "loop": True}, "--loop")
    setup_logging(cfg.log_level)
    return run_service(cfg, events_jsonl=args.events_jsonl, print_events=args.print_events)


# --- detect and read --------------------------------------------------------------------------


def _load_image(path: Path):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        if not path.exists():
            reason = "does not exist"
        elif path.is_dir():
            reason = "is a directory; expected image files (e.g. DIR/*.jpg)"
        else:
            reason = "is not an image OpenCV can read"
        raise InputError(f"{path}: {reason}")
    return image


def _for_each_image(paths: list[Path], handle: Callable[[Path], None]) -> int:
    """Run ``handle`` on every image; an unreadable one is reported and the rest still run."""
    failed = 0
    for path in paths:
        try:
            handle(path)
        except InputError as error:
            print(f"edge-alpr: {error}", file=sys.stderr)
            failed += 1
    return InputError.exit_code if failed else 0


def _optional_reader(cfg: AppConfig):
    """The configured reader, or None (with a note) when its model is not there."""
    from edge_alpr.service import build_reader

    try:
        return build_reader(cfg)
    except ModelError as error:
        print(f"edge-alpr: not reading plates: {error}", file=sys.stderr)
        return None


def cmd_detect(args: argparse.Namespace) -> int:
    from edge_alpr.pipeline import with_strategy
    from edge_alpr.service import build_detector, detector_threshold
    from edge_alpr.still_reads import plate_like, read_boxes

    cfg = load_config(args.config)
    reader = _optional_reader(cfg)
    # Without a reader no box can be confirmed, so the detector's own plates are all that show.
    floor = cfg.detector.confirm_floor if reader is not None else None
    detector = with_strategy(build_detector(cfg, score_floor=floor), cfg)
    threshold = detector_threshold(cfg) if reader is not None else None

    def handle(path: Path) -> None:
        image = _load_image(path)
        found = detector.detect(image)
        reads = dict.fromkeys(range(len(found))) if reader is None else read_boxes(
            image, found, reader, threshold=threshold, confirm_floor=floor, grammar=cfg.reader.grammar)
        plates, dropped = [], 0
        for i, read in reads.items():
            # Without a reader nothing can be judged, so every box shows.
            like = plate_like(read, cfg.reader.grammar) if read is not None else None
            if like is False and not args.all:
                dropped += 1
                continue
            plates.append({
                "box": [round(float(v), 1) for v in found.boxes[i]],
                "text": read.text if read is not None and read.text else None,
                "confidence": round(float(read.confidence), 4) if read is not None and read.text else None,
                "detector_confidence": round(float(found.scores[i]), 4),
                "plate_like": like,
            })
        if args.json:
            print(json.dumps({"image": str(path), "plates": plates, "dropped_boxes": dropped}, ensure_ascii=False),
                  flush=True)
        else:
            boxes = "box" if dropped == 1 else "boxes"
            hidden = f" ({dropped} {boxes} not plate-like hidden; --all shows them)" if dropped else ""
            print(f"{path}: {_describe_plates(plates)}{hidden}", flush=True)

    return _for_each_image(args.images, handle)


def _describe_plates(plates: list[dict]) -> str:
    if not plates:
        return "no plates"
    parts = []
    for plate in plates:
        text = f"{plate['text']} ({plate['confidence']:.2f})" if plate["text"] else "unread"
        box = ",".join(f"{v:.0f}" for v in plate["box"])
        unlike = ", not plate-like" if plate["plate_like"] is False else ""
        parts.append(f"{text} at [{box}] detector {plate['detector_confidence']:.2f}{unlike}")
    return "; ".join(parts)


def cmd_read(args: argparse.Namespace) -> int:
    from edge_alpr.service import build_reader

    reader = build_reader(load_config(args.config))

    def handle(path: Path) -> None:
        read = reader.read(_load_image(path))
        if args.json:
            print(json.dumps({"image": str(path), **read.to_json()}, ensure_ascii=False), flush=True)
        else:
            shown = read.text or "(nothing read)"
            note = "" if read.accepted else ", under min_confidence"
            print(f"{path}: {shown} ({read.confidence:.2f}, {read.plate_format}{note})", flush=True)

    return _for_each_image(args.images, handle)


# --- check-config and version -----------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    from edge_alpr.watchlist import check_files

    cfg = load_config(args.file)
    problems = check_files(cfg.watchlists)
    if problems:
        raise ConfigError("\n".join(problems))
    print(f"OK: {args.file}")
    models = [("detector model", cfg.detector.resolved_model_path())]
    if cfg.reader.backend == "edge":
        models.append(("reader model", cfg.reader.resolved_model_path()))
        models.append(("squarish crops' reader", cfg.reader.resolved_square_model_path()))
    for label, path in models:
        print(f"{label}: none, the reader model reads every crop" if path is None
              else f"{label}: {path} ({'found' if path.is_file() else 'MISSING'})")
    print(yaml.safe_dump(redacted_dump(cfg), sort_keys=False, allow_unicode=True), end="")
    return 0


def model_versions(model_dir: Path) -> dict[str, str]:
    """Model name -> the ``version`` of its model card (``models/*.json``)."""
    versions = {}
    for card in sorted(model_dir.glob("*.json")):
        try:
            data = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            versions[card.stem] = f"unreadable card ({error})"
            continue
        if isinstance(data, dict):
            versions[card.stem] = str(data.get("version", "unknown"))
    return versions


def cmd_version(args: argparse.Namespace) -> int:
    print(f"edge-alpr {__version__}")
    model_dir = default_model_dir()
    versions = model_versions(model_dir)
    if not versions:
        print(f"models: none found in {model_dir}")
    for name, version in versions.items():
        print(f"{name}: {version}")
    return 0


# --- commands that live in other modules ------------------------------------------------------


def run_subcommand(parser: argparse.ArgumentParser, argv: list[str] | None,
                   run: Callable[[argparse.Namespace], int]) -> int:
    """A lazy command's ``main(argv)``: parse, then ``run``. It returns a status and never exits,
    so ``edge-alpr`` and tests can call it: argparse's own exit (``--help``, or a usage error it has
    printed) becomes that status, and an :class:`EdgeAlprError` is printed as ``error: ...``."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return run(args)
    except EdgeAlprError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run_lazy(command: str, argv: list[str]) -> int:
    module_name, _ = LAZY_COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise EdgeAlprError(f"'{command}' is not available in this installation ({module_name} is missing)") from None
        extra = "train" if command.startswith("train") else "rapidocr" if error.name == "rapidocr_onnxruntime" else None
        hint = f": pip install 'edge-alpr[{extra}]'" if extra else ""
        raise EdgeAlprError(f"'{command}' needs the Python package '{error.name}', which is not installed{hint}") from None
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise EdgeAlprError(f"'{command}': {module_name} has no main(argv) function")
    return int(entry(argv) or 0)
