"""A third, blind reading of the plates two passes left ``partial``, and a 2-of-3 rule to settle them.

Two passes mark a plate ``partial`` when they read different texts or one was unsure. Many such
plates are readable with a closer look: a third reader, who sees neither pass's answer, reads each
one enlarged and contrast-stretched. A plate becomes ``ok`` with text T only when the third reader
is certain of T and at least one of the first two passes also read T, so every ``ok`` text still
rests on two independent readings. Everything else stays as it was, the split included: a settled
plate keeps its image's side, and a text that would tie it to an image on the other side (the same
vehicle in another frame) is not taken, so validation stays unseen.

    python -m edge_alpr.datasets.third_pass pages --dataset in_twowheelers --split train --out /tmp/p3
    # a reader writes /tmp/p3/answers.jsonl: {"n": 3, "text": "KA01AB1234", "status": "ok"} per tile
    python -m edge_alpr.datasets.third_pass settle --dataset in_twowheelers --pages /tmp/p3 \
        --pass-a docs/labelling/pass_a.jsonl --pass-b docs/labelling/pass_b.jsonl --record docs/labelling/pass_c.jsonl

A plate still ``partial`` that all three readings gave the same text (none of them certain of every
character) is marked ``agreed``: three readers' shared best guess, which the reader's training may
take (``--agreed-partials``) and no accuracy figure counts as truth. ``agree`` marks them:

    python -m edge_alpr.datasets.third_pass agree --dataset in_twowheelers \
        --passes docs/labelling/pass_a.jsonl docs/labelling/pass_b.jsonl docs/labelling/pass_c.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets import DEFAULT_DATASETS
from edge_alpr.datasets.kept import BoxKey, KeptLabel, box_key, kept_labels_path, load_kept
from edge_alpr.datasets.passes import write_labels
from edge_alpr.datasets.tight_boxes import montage
from edge_alpr.errors import InputError
from edge_alpr.ocr import crop_plate
from edge_alpr.plates import parse

PAGE = 6  # tiles per page, 2 x 3: each plate big enough to read every character
MARGIN = 0.15
TILE_W, TILE_H = 420, 260  # the plate's largest size on a tile, above its contrast-stretched copy


def tile(image: np.ndarray, box, n: int) -> np.ndarray:
    """One plate, enlarged, above the same plate contrast-stretched (CLAHE), numbered; no text.
    A squarish plate is fitted by its height, so a two-line plate's lower line is never cut off."""
    crop = crop_plate(image, box, MARGIN)
    scale = min(TILE_W / crop.shape[1], TILE_H / crop.shape[0])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, 0, 0, 0, TILE_W - big.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
    grey = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)
    stretched = cv2.cvtColor(cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(grey), cv2.COLOR_GRAY2BGR)
    both = np.vstack([big, np.full((4, TILE_W, 3), 255, np.uint8), stretched])
    both = cv2.copyMakeBorder(both, 30, 2 * TILE_H + 8 - both.shape[0], 6, 6, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(both, f"#{n}", (6, 24), 0, 0.8, (0, 0, 200), 2)
    return both


def write_numbered_pages(dataset: str, datasets_dir: Path, boxes: list[BoxKey], out: Path, prefix: str = "page") -> None:
    """``boxes`` as numbered tiles on pages of ``PAGE`` (``out/PREFIXnn.png``), and ``index.jsonl``
    (tile number -> image and box), which a reader's answers refer to."""
    out.mkdir(parents=True, exist_ok=True)
    tiles = []
    with (out / "index.jsonl").open("w") as index:
        for n, (image, box) in enumerate(boxes, 1):
            index.write(json.dumps({"n": n, "set": dataset, "image": image, "box": list(box)}) + "\n")
            frame = cv2.imread(str(datasets_dir / dataset / image))
            if frame is None:
                raise InputError(f"{datasets_dir / dataset / image}: not a readable image")
            tiles.append(tile(frame, box, n))
    for start in range(0, len(tiles), PAGE):
        cv2.imwrite(str(out / f"{prefix}{start // PAGE + 1:02d}.png"), montage(tiles[start:start + PAGE], 2))


def write_pages(dataset: str, split: str, datasets_dir: Path, out: Path) -> int:
    """Pages of the ``partial`` plates of one split, and ``index.jsonl`` (tile number -> box)."""
    labels = load_kept(kept_labels_path(dataset))
    todo = [key for key, label in sorted(labels.items()) if label.status == "partial" and label.split == split]
    write_numbered_pages(dataset, datasets_dir, todo, out, prefix=f"{dataset}_page")
    return len(todo)


def load_answers(pages: Path) -> dict[BoxKey, KeptLabel]:
    """The third reader's answers (``answers.jsonl``, by tile number) keyed by image and box."""
    index = {r["n"]: r for r in map(json.loads, (pages / "index.jsonl").read_text().splitlines())}
    out = {}
    for n, line in enumerate((pages / "answers.jsonl").read_text().splitlines(), 1):
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("n") not in index or r.get("status") not in ("ok", "partial", "unreadable"):
            raise InputError(f"{pages / 'answers.jsonl'}:{n}: expected {{\"n\": a tile number of index.jsonl, "
                             f"\"text\", \"status\": ok|partial|unreadable}}, got {line!r}")
        tile = index[r["n"]]
        text = "".join(ch for ch in str(r.get("text", "")).upper() if ch.isalnum())
        out[box_key(tile["image"], tile["box"])] = KeptLabel(text, r["status"])
    return out


def settle(labels: dict[BoxKey, KeptLabel], a: dict[BoxKey, KeptLabel], b: dict[BoxKey, KeptLabel],
           c: dict[BoxKey, KeptLabel]) -> tuple[dict[BoxKey, KeptLabel], Counter]:
    """``partial`` labels the third reading settles become ``ok`` (see the module's docstring)."""
    splits_of_text: dict[str, set[str | None]] = {}
    for label in labels.values():
        splits_of_text.setdefault(label.text, set()).add(label.split)
    counts: Counter = Counter()
    out = dict(labels)
    for key, third in c.items():
        label = labels.get(key)
        if label is None or label.status != "partial":
            continue
        first = {p[key].text for p in (a, b) if key in p and p[key].status != "unreadable"}
        if third.status != "ok":
            counts["third reader unsure"] += 1
        elif third.text not in first:
            counts["no first-pass agreement"] += 1
        elif splits_of_text.get(third.text, {label.split}) - {label.split}:
            counts["text on the other split"] += 1
        else:
            out[key] = replace(label, text=third.text, status="ok", agreed=False)
            counts[f"settled {label.layout or '?'}-line"] += 1
    return out, counts


#: ``agree`` needs this many readings of a plate: the two passes and the blind third.
AGREE_READINGS = 3


def load_readings(path: Path, dataset: str) -> dict[BoxKey, list[KeptLabel]]:
    """Every reading in a pass file of one dataset's plates, by image and box. A file may hold
    more than one reading of a plate (the validation partials were read blind twice)."""
    out: dict[BoxKey, list[KeptLabel]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if r.get("set", dataset) == dataset:
                out.setdefault(box_key(r["image"], r["box"]), []).append(KeptLabel(str(r["text"]), r.get("status", "ok")))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f'{path}:{n}: expected {{"image", "box", "text", "status"}}: {e}') from None
    return out


def agree(labels: dict[BoxKey, KeptLabel],
          passes: list[dict[BoxKey, list[KeptLabel]]]) -> tuple[dict[BoxKey, KeptLabel], Counter]:
    """Each ``partial`` label marked ``agreed`` exactly when every one of ``passes`` read it
    (``load_readings``), no reading called it unreadable, all gave one text and the Indian
    grammar accepts that text (a shared misreading of a hidden character rarely makes a valid
    plate); the label takes that text."""
    if len(passes) < AGREE_READINGS:
        raise InputError(f"agree needs the {AGREE_READINGS} readings of each plate, got {len(passes)} pass files")
    counts: Counter = Counter()
    out = dict(labels)
    for key, label in labels.items():
        if label.status != "partial":
            continue
        readings = [r for p in passes for r in p.get(key, ())]
        texts = {r.text for r in readings}
        shared = (all(key in p for p in passes) and all(r.status != "unreadable" for r in readings)
                  and len(texts) == 1 and parse(next(iter(texts))) is not None)
        out[key] = replace(label, text=next(iter(texts)), agreed=True) if shared else replace(label, agreed=False)
        counts[f"{'agreed' if shared else 'not agreed'} {label.split} {label.layout or '?'}-line"] += 1
    return out, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_alpr.datasets.third_pass", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pages = sub.add_parser("pages", help="montage pages of the partial plates, with no text on them")
    pages.add_argument("--split", default="train")
    settle_cmd = sub.add_parser("settle", help="apply the third reading's answers to the kept labels")
    settle_cmd.add_argument("--pass-a", type=Path, required=True)
    settle_cmd.add_argument("--pass-b", type=Path, required=True)
    settle_cmd.add_argument("--record", type=Path, help="append the third reading here, in the passes' format")
    agree_cmd = sub.add_parser("agree", help="mark the partial plates every reading gave one text as 'agreed'")
    agree_cmd.add_argument("--passes", type=Path, nargs="+", required=True, help="every reading's file (pass_a, pass_b, pass_c)")
    for p in (pages, settle_cmd, agree_cmd):
        p.add_argument("--dataset", required=True)
        p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    pages.add_argument("--out", type=Path, required=True)
    settle_cmd.add_argument("--pages", type=Path, required=True, help="the folder 'pages' wrote, with answers.jsonl")
    args = parser.parse_args(argv)
    try:
        if args.command == "pages":
            print(f"{args.dataset}: {write_pages(args.dataset, args.split, args.datasets, args.out)} plates -> {args.out}")
            return 0
        path = kept_labels_path(args.dataset)
        if args.command == "agree":
            labels, counts = agree(load_kept(path), [load_readings(f, args.dataset) for f in args.passes])
            write_labels(labels, path)
            print(f"{args.dataset}: {dict(sorted(counts.items()))}")
            return 0
        third = load_answers(args.pages)
        labels, counts = settle(load_kept(path), load_kept(args.pass_a, args.dataset),
                                load_kept(args.pass_b, args.dataset), third)
    except (InputError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_labels(labels, path)
    if args.record:
        with args.record.open("a") as fh:
            for (image, box), label in sorted(third.items()):
                fh.write(json.dumps({"set": args.dataset, "image": image, "box": list(box), "text": label.text,
                                     "status": label.status}) + "\n")
    print(f"{args.dataset}: {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
