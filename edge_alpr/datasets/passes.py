"""Two passes of labelling by eye become one labels file, with a validation split fixed once.

Every plate is read twice, the second time without the first pass's answers. Where both
passes give the same text, the weaker status of the two stands; where they read different
texts, the plate is ``partial`` (the first pass's text is kept as the best guess), so it is
kept out of accuracy figures and of training. Layout and colour disagreements keep the first
pass's answer and are counted.

The split is by source image, never by box, and the images that show one vehicle (the same
plate text, e.g. consecutive frames of a clip) always land on the same side, so a validation
plate was never seen in training from another frame.

    python -m edge_alpr.datasets.passes PASS_A PASS_B --dataset in_twowheelers --out FILE
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from edge_alpr.datasets.kept import STATUSES, BoxKey, KeptLabel, load_kept
from edge_alpr.errors import InputError

#: Share of source images (by vehicle group) held out for validation.
VAL_FRACTION = 0.3
_STRENGTH = {status: i for i, status in enumerate(STATUSES)}  # ok < partial < unreadable


@dataclass
class MergeReport:
    plates: int = 0
    agreed: int = 0
    text_disagreements: int = 0
    status_disagreements: int = 0
    layout_disagreements: int = 0
    background_disagreements: int = 0
    only_in_one_pass: int = 0


def merge_passes(a: dict[BoxKey, KeptLabel], b: dict[BoxKey, KeptLabel]) -> tuple[dict[BoxKey, KeptLabel], MergeReport]:
    """One label per box that both passes read; a box only one pass read is left out."""
    report = MergeReport()
    merged = {}
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            report.only_in_one_pass += 1
            continue
        la, lb = a[key], b[key]
        report.plates += 1
        status = max(la.status, lb.status, key=_STRENGTH.__getitem__)
        if la.status != lb.status:
            report.status_disagreements += 1
        if "unreadable" not in (la.status, lb.status) and la.text != lb.text:
            report.text_disagreements += 1
            status = "partial"
        elif la.status == lb.status and la.text == lb.text:
            report.agreed += 1
        report.layout_disagreements += la.layout != lb.layout
        report.background_disagreements += la.background != lb.background
        merged[key] = replace(la, status=status, text=la.text if status != "unreadable" else (la.text or lb.text))
    return merged, report


def assign_splits(labels: dict[BoxKey, KeptLabel], dataset: str, val_fraction: float = VAL_FRACTION) -> dict[BoxKey, KeptLabel]:
    """Each image a split: images joined by a shared plate text form one group, and a group is
    ``val`` when the hash of its first image's name falls under ``val_fraction``."""
    images = sorted({image for image, _ in labels})
    parent = {image: image for image in images}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_with_text: dict[str, str] = {}
    for (image, _), label in sorted(labels.items()):
        if label.status == "unreadable" or len(label.text) < 5:
            continue  # a short or missing text names no vehicle
        other = first_with_text.setdefault(label.text, image)
        ra, rb = root(image), root(other)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    split = {}
    for image in images:
        group = root(image)  # the group's smallest image name, whatever the order of union
        digest = hashlib.sha1(f"{dataset}/{group}".encode()).digest()
        split[image] = "val" if digest[0] / 256.0 < val_fraction else "train"
    return {key: replace(label, split=split[key[0]]) for key, label in labels.items()}


def write_labels(labels: dict[BoxKey, KeptLabel], path: Path) -> None:
    with Path(path).open("w", encoding="utf-8") as fh:
        for (image, box), label in sorted(labels.items()):
            row = {"image": image, "box": list(box)}
            row.update({k: v for k, v in asdict(label).items() if v is not None and v is not False})  # added: only when true
            fh.write(json.dumps(row) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_alpr.datasets.passes", description=__doc__.split("\n\n")[0])
    parser.add_argument("pass_a", type=Path)
    parser.add_argument("pass_b", type=Path)
    parser.add_argument("--dataset", required=True, help="the dataset folder's name, e.g. in_twowheelers")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--val-fraction", type=float, default=VAL_FRACTION)
    args = parser.parse_args(argv)
    try:
        merged, report = merge_passes(load_kept(args.pass_a, args.dataset), load_kept(args.pass_b, args.dataset))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    labels = assign_splits(merged, args.dataset, args.val_fraction)
    write_labels(labels, args.out)
    print(f"{args.dataset}: {report}")
    counts = Counter((label.split, label.status, label.layout) for label in labels.values())
    for (split, status, layout), n in sorted(counts.items(), key=str):
        print(f"  {split:5s} {status:10s} {layout or '?':4s} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
