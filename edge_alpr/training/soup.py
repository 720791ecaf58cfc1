"""Average the weights of readers fine-tuned from the same start (a "model soup"), then export,
calibrate and measure the average like any trained reader.

Runs that differ only in their seed move the 25 real two-line validation plates by 2-3 either
way (docs/figures.md): a seed's luck, not its recipe. Fine-tunes of one starting point stay
close enough in weight space that their mean is a working model, and it reads like the runs'
consensus rather than like one lucky or unlucky seed. It costs nothing at run time: one model,
same size, same speed.

    python -m edge_alpr.training.soup --name plate_reader_square --models-dir DIR \\
        RUN1/plate_reader_square_fp16.pt RUN2/plate_reader_square_fp16.pt RUN3/plate_reader_square_fp16.pt

The card beside the first ingredient (``NAME.json``) is the soup's card; its training record
gains ``soup_of``: each ingredient's command. The fp16 weights go to ``--models-dir``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from edge_alpr.errors import InputError
from edge_alpr.training import common


def average_state_dicts(states: list[dict[str, torch.Tensor]], names: list[str]) -> dict[str, torch.Tensor]:
    """The element-wise mean of float tensors (batch-norm statistics included); integer tensors
    (batch counters) are taken from the first. Every state must have the same keys and shapes:
    only runs of one architecture average."""
    if not states:
        raise InputError("soup: no weights to average")
    first = states[0]
    for state, name in zip(states[1:], names[1:], strict=True):
        if state.keys() != first.keys():
            missing, extra = sorted(first.keys() - state.keys()), sorted(state.keys() - first.keys())
            raise InputError(f"{name}: not the same model as {names[0]} (missing {missing[:3]}, extra {extra[:3]})")
        for key, value in state.items():
            if value.shape != first[key].shape:
                raise InputError(f"{name}: {key} has shape {tuple(value.shape)}, {names[0]} has {tuple(first[key].shape)}")
    return {key: (torch.stack([s[key].float() for s in states]).mean(0) if value.dtype.is_floating_point else value)
            for key, value in first.items()}


def _ingredient_card(weights: Path, name: str) -> dict:
    card = weights.with_name(f"{name}.json")
    if not card.is_file():
        raise InputError(f"{weights}: no model card {card.name} beside it")
    return json.loads(card.read_text())


def main(argv: list[str] | None = None) -> int:
    from edge_alpr.training import reader

    p = argparse.ArgumentParser(prog="python -m edge_alpr.training.soup", description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, nargs="+", metavar="FP16_PT", help="NAME_fp16.pt of each run, card beside it")
    p.add_argument("--name", default="plate_reader_square", help="plate_reader or plate_reader_square")
    p.add_argument("--models-dir", type=Path, default=common.DEFAULT_MODELS)
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS)
    p.add_argument("--seed", type=int, default=0, help="picks the crops the int8 export calibrates on")
    args = p.parse_args(argv)
    try:
        if len(args.weights) < 2:
            raise InputError("soup: give at least two runs' weights")
        blobs = [torch.load(w, map_location="cpu", weights_only=False) for w in args.weights]
        state = average_state_dicts([b["state_dict"] for b in blobs], [str(w) for w in args.weights])
        cards = [_ingredient_card(w, args.name) for w in args.weights]
    except (InputError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    card = cards[0]
    card["training"]["soup_of"] = [c["training"].get("command", "?") for c in cards]
    card["training"]["command"] = ("python -m edge_alpr.training.soup --name " + args.name + " "
                                   + " ".join(str(w) for w in args.weights))
    args.models_dir.mkdir(parents=True, exist_ok=True)
    common.write_card(args.models_dir / f"{args.name}.json", card)
    torch.save({"state_dict": {k: (v.half() if v.dtype.is_floating_point else v) for k, v in state.items()},
                "meta": blobs[0].get("meta", {})}, args.models_dir / f"{args.name}_fp16.pt")
    # The export, calibration and measurement of any trained reader, on the averaged weights.
    return reader.train(reader.parse_args(["--re-export", "--name", args.name, "--models-dir", str(args.models_dir),
                                           "--datasets", str(args.datasets), "--seed", str(args.seed)]))


if __name__ == "__main__":
    raise SystemExit(main())
