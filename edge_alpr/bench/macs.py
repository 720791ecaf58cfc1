"""Multiply-accumulates (MACs) per inference of a TFLite model, counted from its graph.

Only the layers that multiply do real work on a CPU: convolutions, depthwise convolutions and
fully-connected layers. Their MACs follow from the tensor shapes alone, so the count is exact
for a given input size and needs no timing:

* CONV_2D: filter ``[out_c, kh, kw, in_c]`` -> ``out_h * out_w * out_c * kh * kw * in_c``
* DEPTHWISE_CONV_2D: filter ``[1, kh, kw, out_c]`` -> ``out_h * out_w * out_c * kh * kw``
* FULLY_CONNECTED: weights ``[units, depth]`` -> ``rows * units * depth``
* TRANSPOSE_CONV: filter ``[out_c, kh, kw, in_c]`` -> ``in_h * in_w * in_c * kh * kw * out_c``

(all times the batch). Activations, pooling, padding and reshapes are a few per cent of the
time and are left out. ``pace.py`` turns the count into a per-inference time on a Pi.

    python -m edge_alpr.bench.macs [MODEL.tflite ...] [--write-cards]

``--write-cards`` stores the total as ``macs_per_inference`` in each model's card (the .json
named by the model's stem, e.g. ``plate_detector_int8.tflite`` -> ``plate_detector.json``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_alpr.config.pipeline import DETECTOR_MODEL_FILE, READER_MODEL_FILE, default_model_dir

CARD_KEY = "macs_per_inference"
_COUNTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def layer_macs(op: str, input_shape: Sequence[int], weight_shape: Sequence[int], output_shape: Sequence[int]) -> int:
    """MACs of one layer from its shapes (NHWC activations, TFLite's weight layouts)."""
    if op == "CONV_2D":
        batch, out_h, out_w, out_c = output_shape
        _, kh, kw, in_c = weight_shape
        return batch * out_h * out_w * out_c * kh * kw * in_c
    if op == "DEPTHWISE_CONV_2D":
        batch, out_h, out_w, out_c = output_shape
        _, kh, kw, _ = weight_shape
        return batch * out_h * out_w * out_c * kh * kw
    if op == "FULLY_CONNECTED":
        units, depth = weight_shape
        rows = math.prod(output_shape) // units
        return rows * units * depth
    if op == "TRANSPOSE_CONV":
        batch, in_h, in_w, in_c = input_shape
        out_c, kh, kw, _ = weight_shape
        return batch * in_h * in_w * in_c * kh * kw * out_c
    raise ValueError(f"layer_macs: no MAC rule for {op}; expected one of {', '.join(_COUNTED)}")


@dataclass(frozen=True)
class ModelMacs:
    path: Path
    total: int
    by_op: dict[str, int]  # op name -> MACs of all its layers
    layers: int  # layers counted


def count_macs(model_path: Path) -> ModelMacs:
    """The MACs of one inference of the model at its own input size."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Without the default XNNPACK delegate the graph keeps its own ops (a delegate folds
    # them into opaque DELEGATE nodes).
    interpreter = Interpreter(model_path=str(model_path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    shapes = {t["index"]: [int(v) for v in t["shape"]] for t in interpreter.get_tensor_details()}
    by_op: Counter[str] = Counter()
    layers = 0
    for op in interpreter._get_ops_details():  # the only API that lists a graph's operators
        name = op["op_name"]
        if name not in _COUNTED:
            continue
        inputs = [int(i) for i in op["inputs"]]
        # TRANSPOSE_CONV's inputs are (output shape, weights, activations); the others' (activations, weights).
        activation, weights = (inputs[2], inputs[1]) if name == "TRANSPOSE_CONV" else (inputs[0], inputs[1])
        by_op[name] += layer_macs(name, shapes[activation], shapes[weights], shapes[int(op["outputs"][0])])
        layers += 1
    return ModelMacs(Path(model_path), sum(by_op.values()), dict(by_op), layers)


def card_path(model_path: Path) -> Path:
    """``plate_detector_int8.tflite`` -> ``plate_detector.json`` next to it."""
    stem = model_path.stem.rsplit("_", 1)[0] if model_path.stem.endswith(("_int8", "_float16")) else model_path.stem
    return model_path.with_name(stem + ".json")


def write_card(macs: ModelMacs) -> Path:
    """Store the total in the model's card, keeping the card's other keys and their order."""
    path = card_path(macs.path)
    card = json.loads(path.read_text(encoding="utf-8"))
    card[CARD_KEY] = macs.total
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_alpr.bench.macs", description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path,
                        help="TFLite models (default: the shipped int8 detector and reader)")
    parser.add_argument("--write-cards", action="store_true", help=f"store the total as {CARD_KEY!r} in each card")
    args = parser.parse_args(argv)
    models = args.models or [default_model_dir() / DETECTOR_MODEL_FILE, default_model_dir() / READER_MODEL_FILE]
    for model in models:
        if not model.is_file():
            print(f"{model}: no such model file", file=sys.stderr)
            return 2
        macs = count_macs(model)
        parts = ", ".join(f"{op} {n / 1e6:.1f} M" for op, n in sorted(macs.by_op.items()))
        print(f"{model.name}: {macs.total / 1e6:.1f} M MACs per inference ({macs.layers} layers: {parts})")
        if args.write_cards:
            print(f"  written to {write_card(macs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
