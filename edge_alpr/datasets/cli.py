"""``edge-alpr data import`` and ``edge-alpr data check``.

The top-level CLI hands everything after ``data`` to :func:`main`.
Exit status: 0 when all went well (warnings allowed), 1 when any error was reported, and an
``EdgeAlprError``'s code (e.g. 5 for a missing input) when nothing could be done at all.
"""
from __future__ import annotations

import argparse
import sys

from edge_alpr.cli import run_subcommand


def _parser() -> argparse.ArgumentParser:
    from edge_alpr.datasets.importers import FORMATS

    parser = argparse.ArgumentParser(prog="edge-alpr data", description="Bring your own plate data.")
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser(
        "import",
        help="convert an annotated dataset into DIR/manifest.jsonl + DIR/images/",
        description="Convert an annotated dataset into the project's manifest format. "
        "Images are hard-linked (copied across file systems). Prints what was imported and "
        "skipped, with reasons; exits 1 if any file had errors.",
    )
    imp.add_argument("--format", required=True, choices=FORMATS, help="the annotation format of SRC")
    imp.add_argument("src", metavar="SRC", help="the dataset folder (or the JSON file for coco/labelstudio)")
    imp.add_argument("-o", "--output", required=True, metavar="DIR", help="where manifest.jsonl and images/ go")
    imp.add_argument("--plate-class", action="append", default=[], metavar="NAME",
                     help="a class name that means 'number plate' besides the usual ones (repeatable)")
    imp.add_argument("--images", action="append", default=[], metavar="DIR",
                     help="another folder to look for images in (repeatable)")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing DIR/manifest.jsonl")

    chk = sub.add_parser(
        "check",
        help="validate a manifest and its images; never changes anything",
        description="Report every problem in a manifest with its file and line: missing or "
        "unreadable images, wrong sizes, bad boxes, duplicate images, bad text, unknown keys. "
        "Exits 1 if there are errors; warnings do not fail.",
    )
    chk.add_argument("path", metavar="DIR", help="a folder with manifest.jsonl, or a manifest file")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_subcommand(_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    return _run_import(args) if args.command == "import" else _run_check(args)


def _run_import(args: argparse.Namespace) -> int:
    from edge_alpr.datasets.importers import import_dataset

    report = import_dataset(args.format, args.src, args.output, plate_classes=args.plate_class,
                            image_dirs=args.images, overwrite=args.overwrite)
    print(report.summary())
    return 1 if report.errors else 0


def _run_check(args: argparse.Namespace) -> int:
    from edge_alpr.datasets.check import check_manifest

    report = check_manifest(args.path)
    print(report.summary())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
