"""Reading the boxes of a set that no label covers yet: numbered pages for two blind passes,
then the passes merged into the set's kept labels.

``openlpr`` boxes 2,623 plates from many countries; this project read its Indian plates
(``labels/openlpr.jsonl``). Its other plates are real plates too: Pakistan's two-line plates
(``LEC 09`` over ``8386``) are painted, screwed on and laid out like Indian two-wheelers' plates,
and the reader has few real two-line plates to learn from. Their letters and digits teach
reading; their texts are not Indian plates, so they train the reader and never calibrate its
confidence (``training.reader_data.load_real``).

    python -m edge_alpr.datasets.unread pages --dataset openlpr --split train --max-aspect 2.2 \\
        --limit 480 --chunks 4 --out /tmp/unread
    # two readers, blind to each other, write CHUNK/answers_a.jsonl and CHUNK/answers_b.jsonl:
    # {"n": 3, "text": "LEC098386", "status": "ok", "layout": "two"} per tile
    python -m edge_alpr.datasets.unread merge --dataset openlpr --pages /tmp/unread \\
        --record docs/labelling/openlpr_pass

Every tile is read twice; ``merge`` keeps both readings (``--record``: ``_a.jsonl``, ``_b.jsonl``)
and adds one label per box to the kept labels by the two-pass rule (``datasets.passes``): a text
the passes disagree on is ``partial``. The split is the manifest's, so no box of a validation
image is ever added as training data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from edge_alpr.datasets import DEFAULT_DATASETS
from edge_alpr.datasets.kept import (
    LAYOUTS,
    STATUSES,
    BoxKey,
    KeptLabel,
    box_key,
    has_kept_labels,
    kept_labels_path,
    load_kept,
)
from edge_alpr.datasets.manifest import load_manifest
from edge_alpr.datasets.passes import merge_passes, write_labels
from edge_alpr.datasets.third_pass import write_numbered_pages
from edge_alpr.errors import InputError

#: Boxes shorter than this (px) are too small to read every character by eye.
MIN_HEIGHT = 24


def unread_boxes(dataset: str, datasets_dir: Path, split: str, max_aspect: float, min_height: int = MIN_HEIGHT
                 ) -> list[tuple[str, tuple[int, ...]]]:
    """(image, box) of every box of ``split`` no kept label covers, narrower than ``max_aspect``
    (width / height) and at least ``min_height`` px high, in a fixed pseudo-random order (a hash of
    image and box), so the first N are a sample across the set's sources, not its first folder."""
    manifest = (datasets_dir / dataset / "manifest.jsonl").resolve()
    kept = _kept(dataset)
    out = []
    for row in load_manifest(manifest):
        if row.split != split:
            continue
        image = row.image.relative_to(manifest.parent).as_posix()
        for plate in row.plates:
            key = box_key(image, plate.box)
            x1, y1, x2, y2 = key[1]
            if key not in kept and y2 - y1 >= min_height and (x2 - x1) / (y2 - y1) < max_aspect:
                out.append(key)
    return sorted(out, key=lambda key: hashlib.sha1(f"{key[0]}{key[1]}".encode()).digest())


def _kept(dataset: str) -> dict[BoxKey, KeptLabel]:
    return load_kept(kept_labels_path(dataset)) if has_kept_labels(dataset) else {}


def write_pages(dataset: str, datasets_dir: Path, boxes: list[BoxKey], out: Path, chunks: int) -> None:
    """``chunks`` folders, each with numbered pages of its share of ``boxes`` and ``index.jsonl``."""
    size = -(-len(boxes) // chunks)
    for c in range(chunks):
        write_numbered_pages(dataset, datasets_dir, boxes[c * size:(c + 1) * size], out / f"chunk{c + 1}")


def load_reading(folder: Path, name: str) -> dict[BoxKey, KeptLabel]:
    """One pass's answers (``folder/name``, by tile number) keyed by image and box, with layout."""
    index = {r["n"]: r for r in map(json.loads, (folder / "index.jsonl").read_text().splitlines())}
    out = {}
    for n, line in enumerate((folder / name).read_text().splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        status, layout = r.get("status"), r.get("layout")
        if r.get("n") not in index or status not in STATUSES or (status != "unreadable" and layout not in LAYOUTS):
            raise InputError(f"{folder / name}:{n}: expected {{\"n\": a tile number of index.jsonl, \"text\", "
                             f"\"status\": ok|partial|unreadable, \"layout\": one|two}}, got {line!r}")
        text = "".join(ch for ch in str(r.get("text") or "").upper() if ch.isascii() and ch.isalnum())
        if status != "unreadable" and not text:
            raise InputError(f"{folder / name}:{n}: status {status} needs a text")
        if status != "unreadable" and not 2 <= len(text) <= 12:
            status = "unreadable"  # a one-character mark (a Qatari "9"): too little to learn from, and no plate text
        entry = index[r["n"]]
        out[box_key(entry["image"], entry["box"])] = KeptLabel(text, status, layout or None)
    return out


def merge(dataset: str, datasets_dir: Path, pages: Path, record: Path | None) -> Counter:
    """Both passes of every chunk under ``pages`` merged and added to the kept labels (new boxes only)."""
    a, b = {}, {}
    for folder in sorted(p for p in pages.iterdir() if (p / "index.jsonl").is_file()):
        a |= load_reading(folder, "answers_a.jsonl")
        b |= load_reading(folder, "answers_b.jsonl")
    merged, report = merge_passes(a, b)
    manifest = (datasets_dir / dataset / "manifest.jsonl").resolve()
    split_of = {row.image.relative_to(manifest.parent).as_posix(): row.split for row in load_manifest(manifest)}
    kept = _kept(dataset)
    added = {key: replace(label, split=split_of.get(key[0])) for key, label in merged.items() if key not in kept}
    write_labels(kept | added, kept_labels_path(dataset))
    if record is not None:
        for suffix, reading in (("_a", a), ("_b", b)):
            _record(Path(f"{record}{suffix}.jsonl"), dataset, reading)
    print(f"{dataset}: {report}")
    return Counter((label.status, label.layout) for label in added.values())


def _record(path: Path, dataset: str, reading: dict[BoxKey, KeptLabel]) -> None:
    """Keep one pass's readings in ``path``, beside those of earlier rounds (a box read again replaces its line)."""
    lines = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            lines[box_key(r["image"], r["box"])] = r
    for (image, box), label in reading.items():
        lines[(image, box)] = {"set": dataset, "image": image, "box": list(box), "text": label.text,
                               "status": label.status, "layout": label.layout}
    path.write_text("".join(json.dumps(r) + "\n" for _, r in sorted(lines.items())))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_alpr.datasets.unread", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pages_cmd = sub.add_parser("pages", help="numbered pages of the unlabelled boxes, in chunks")
    merge_cmd = sub.add_parser("merge", help="merge both passes of every chunk into the kept labels")
    for cmd in (pages_cmd, merge_cmd):
        cmd.add_argument("--dataset", required=True)
        cmd.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    pages_cmd.add_argument("--out", type=Path, required=True)
    pages_cmd.add_argument("--split", default="train")
    pages_cmd.add_argument("--max-aspect", type=float, default=99.0, help="only boxes narrower than this (width / height)")
    pages_cmd.add_argument("--limit", type=int, help="only the first N boxes")
    pages_cmd.add_argument("--chunks", type=int, default=1, help="share the boxes among this many folders (readers)")
    merge_cmd.add_argument("--pages", type=Path, required=True, help="the folder 'pages' wrote, with the answers")
    merge_cmd.add_argument("--record", type=Path, help="keep both readings as RECORD_a.jsonl and RECORD_b.jsonl")
    args = p.parse_args(argv)
    try:
        if args.command == "pages":
            boxes = unread_boxes(args.dataset, args.datasets, args.split, args.max_aspect)[: args.limit]
            write_pages(args.dataset, args.datasets, boxes, args.out, args.chunks)
            print(f"{len(boxes)} boxes in {args.chunks} chunks under {args.out}")
        else:
            for (status, layout), n in sorted(merge(args.dataset, args.datasets, args.pages, args.record).items(), key=str):
                print(f"  added {status:10s} {layout or '?':4s} {n}")
    except (InputError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
