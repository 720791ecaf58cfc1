"""Rendered plates beside real ones, for judging the renderer's realism by eye.

    python -m edge_alpr.synth.compare --layout two --out docs/img/two_line_renders_vs_real.png

Each row pairs real crops (the ``ok`` training plates of the sets labelled by eye, cut as the
reader's training cuts them) with rendered plates of the same layout, as the reader's training
shows them: degraded, some pasted into real surroundings and cut loosely. Never validation plates.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets import DEFAULT_DATASETS

TILE_W, TILE_H = 160, 110


def _tile(image: np.ndarray, caption: str) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(TILE_W / w, (TILE_H - 14) / h)
    small = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    tile = np.full((TILE_H, TILE_W, 3), 235, np.uint8)
    tile[: small.shape[0], : small.shape[1]] = small
    cv2.putText(tile, caption, (2, TILE_H - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 160), 1, cv2.LINE_AA)
    return tile


def montage(datasets_dir: Path, layout: str, per_row: int, rows: int, seed: int) -> np.ndarray:
    from edge_alpr.training.reader_context import ContextBank, training_rows
    from edge_alpr.training.reader_data import LABELLED_SETS, load_real, render_bank

    train, _, _ = load_real(datasets_dir)
    real = [c for c in train if c.source in LABELLED_SETS and c.layout == layout]
    rng = np.random.default_rng(seed)
    real = [real[int(i)] for i in rng.permutation(len(real))[: per_row * rows]]
    rendered = [c for c in render_bank(per_row * rows * 3, seed, two_line_fraction=1.0 if layout == "two" else 0.0)
                if c.layout == layout][: per_row * rows]
    bank = ContextBank.from_rows(training_rows(datasets_dir), 200, seed)
    lines = []
    for r in range(rows):
        reals = [_tile(c.image, f"real {c.source[3:]}") for c in real[r * per_row : (r + 1) * per_row]]
        renders = []
        for k, c in enumerate(rendered[r * per_row : (r + 1) * per_row]):
            loose = k % 2 == 1 and len(bank)
            renders.append(_tile(bank.place(c.image, rng) if loose else c.image, "rendered, loose" if loose else "rendered"))
        for group in (reals, renders):
            group += [np.full((TILE_H, TILE_W, 3), 235, np.uint8)] * (per_row - len(group))
        lines.append(np.hstack(reals + [np.zeros((TILE_H, 6, 3), np.uint8)] + renders))
    return np.vstack(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_alpr.synth.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--layout", choices=("one", "two"), default="two")
    p.add_argument("--per-row", type=int, default=4)
    p.add_argument("--rows", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if not (args.datasets / "in_twowheelers" / "manifest.jsonl").is_file():
        print(f"no labelled real sets under {args.datasets}: nothing to compare with")
        return 3
    image = montage(args.datasets, args.layout, args.per_row, args.rows, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), image)
    print(f"{args.out}: real crops (left) and rendered plates (right), {args.rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
