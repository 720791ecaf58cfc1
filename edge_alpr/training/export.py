"""PyTorch -> TensorFlow -> TFLite export, with full-integer (int8) quantization.

The trained PyTorch modules are rebuilt as plain TensorFlow ops with BatchNorm folded into the
convolutions (so the converter sees conv + bias + activation, which it fuses and quantizes
well), checked numerically against PyTorch, then converted. Box and score outputs stay
separate tensors so each gets its own quantization scale.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[np.ndarray, np.ndarray]:
    """Conv (+ BN) -> (HWIO kernel, bias) for ``tf.nn.conv2d``."""
    w = conv.weight.detach().float()
    b = conv.bias.detach().float() if conv.bias is not None else torch.zeros(w.shape[0])
    if bn is not None:
        std = torch.sqrt(bn.running_var.float() + bn.eps)
        gamma = bn.weight.detach().float() / std
        w = w * gamma[:, None, None, None]
        b = (b - bn.running_mean.float()) * gamma + bn.bias.detach().float()
    return w.permute(2, 3, 1, 0).numpy().copy(), b.numpy().copy()


class TFConv:
    """A folded conv as TensorFlow ops, padded exactly like PyTorch's symmetric padding."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d | None, act: str | None):
        import tensorflow as tf

        kernel, bias = fold_conv_bn(conv, bn)
        self.kernel, self.bias = tf.constant(kernel), tf.constant(bias)
        self.stride = conv.stride
        self.pad = conv.padding
        self.act = act

    def __call__(self, x):
        import tensorflow as tf

        ph, pw = self.pad
        if ph or pw:
            if self.stride == (1, 1) and self.kernel.shape[0] == 2 * ph + 1 and self.kernel.shape[1] == 2 * pw + 1:
                y = tf.nn.conv2d(x, self.kernel, (1, 1), "SAME")
            else:
                x = tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]])
                y = tf.nn.conv2d(x, self.kernel, (1, *self.stride, 1), "VALID")
        else:
            y = tf.nn.conv2d(x, self.kernel, (1, *self.stride, 1), "VALID")
        y = tf.nn.bias_add(y, self.bias)
        if self.act == "leaky":
            y = tf.nn.leaky_relu(y, 0.1)
        elif self.act == "relu":
            y = tf.nn.relu(y)
        return y


def convert(
    fn,
    input_signature_shape: tuple[int, ...],
    out_path: Path,
    *,
    mode: str,
    calibration: Callable[[], Iterable[np.ndarray]] | None = None,
    input_uint8: bool = True,
) -> Path:
    """Convert a ``tf.function`` to TFLite. ``mode`` is ``int8`` (full-integer, calibrated on
    ``calibration()`` batches of float inputs in [0, 1]) or ``float16`` (fp16 weights, float
    compute: the float baseline that stays small on disk)."""
    import tensorflow as tf

    concrete = fn.get_concrete_function(tf.TensorSpec(input_signature_shape, tf.float32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if mode == "int8":
        if calibration is None:
            raise ValueError("int8 export needs calibration data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            for batch in calibration():
                yield [batch.astype(np.float32)]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8 if input_uint8 else tf.int8
        converter.inference_output_type = tf.uint8
    elif mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode != "float32":
        raise ValueError(f"unknown export mode {mode!r}")
    blob = converter.convert()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(blob)
    log.info("wrote %s (%.1f MB, %s)", out_path, len(blob) / 1e6, mode)
    return out_path


# ---------------------------------------------------------------- detector


def detector_tf_function(model):
    """YOLOv4-tiny as a ``tf.function`` taking RGB in [0, 1], NHWC, returning named sigmoid
    outputs ``boxes_s16``, ``scores_s16``, ``boxes_s32``, ``scores_s32``."""
    import tensorflow as tf

    model = model.eval()
    c = lambda m: TFConv(m.conv, m.bn, "leaky")  # noqa: E731

    def csp(block, x):
        x = c(block.c1)(x)
        half = x[..., x.shape[-1] // 2 :]
        a = c(block.c2)(half)
        b = c(block.c3)(a)
        route = c(block.c4)(tf.concat([b, a], -1))
        return tf.nn.max_pool2d(tf.concat([x, route], -1), 2, 2, "VALID"), route

    layers = {
        "stem1": c(model.stem1), "stem2": c(model.stem2), "conv5": c(model.conv5), "neck": c(model.neck),
        "h32c": c(model.head32_conv), "h32o": TFConv(model.head32_out, None, None),
        "up": c(model.up_conv), "h16c": c(model.head16_conv), "h16o": TFConv(model.head16_out, None, None),
    }
    n_a = model.n_anchors

    def split(p, name):
        # (B, H, W, A*5) in PyTorch's anchor-major channel order -> boxes (A*4) and scores (A).
        shape = tf.shape(p)
        p5 = tf.reshape(p, [shape[0], shape[1], shape[2], n_a, 5])
        s = tf.sigmoid(p5)
        boxes = tf.reshape(s[..., :4], [shape[0], shape[1], shape[2], n_a * 4])
        return {f"boxes_{name}": boxes, f"scores_{name}": s[..., 4]}

    @tf.function
    def fn(x):
        x = layers["stem2"](layers["stem1"](x))
        x, _ = csp(model.csp1, x)
        x, _ = csp(model.csp2, x)
        x, route16 = csp(model.csp3, x)
        x = layers["neck"](layers["conv5"](x))
        p32 = layers["h32o"](layers["h32c"](x))
        up = layers["up"](x)
        up = tf.image.resize(up, tf.shape(up)[1:3] * 2, method="nearest")
        p16 = layers["h16o"](layers["h16c"](tf.concat([up, route16], -1)))
        out = {}
        out.update(split(p16, "s16"))
        out.update(split(p32, "s32"))
        return out

    return fn


def check_detector_export(model, fn, size: int, atol: float = 2e-3) -> float:
    """Max abs difference between PyTorch's sigmoid outputs and the TF rebuild's."""
    rng = np.random.default_rng(0)
    x = rng.random((1, size, size, 3), dtype=np.float32)
    with torch.no_grad():
        preds = model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2))
    out = fn(x)
    worst = 0.0
    for p, name in zip(preds, ("s16", "s32")):
        s = p.sigmoid().numpy()  # (B, A, H, W, 5)
        ref_boxes = s[..., :4].transpose(0, 2, 3, 1, 4).reshape(1, s.shape[2], s.shape[3], -1)
        ref_scores = s[..., 4].transpose(0, 2, 3, 1)
        worst = max(worst, float(np.abs(out[f"boxes_{name}"].numpy() - ref_boxes).max()),
                    float(np.abs(out[f"scores_{name}"].numpy() - ref_scores).max()))
    if worst > atol:
        raise RuntimeError(f"TensorFlow rebuild differs from PyTorch by {worst:.4g} (> {atol})")
    return worst


def export_detector(model, size: int, out_dir: Path, calibration: Callable[[], Iterable[np.ndarray]],
                    stem: str = "plate_detector") -> dict[str, Path]:
    fn = detector_tf_function(model)
    diff = check_detector_export(model, fn, size)
    log.info("TF rebuild matches PyTorch (max diff %.2g)", diff)
    shape = (1, size, size, 3)
    return {
        "int8": convert(fn, shape, out_dir / f"{stem}_int8.tflite", mode="int8", calibration=calibration),
        "float16": convert(fn, shape, out_dir / f"{stem}_float16.tflite", mode="float16"),
    }


# ---------------------------------------------------------------- reader


#: What the exported reader outputs (the model card's ``output``). Log-probabilities, because an
#: int8 softmax rounds every probability under 1/256 to zero, and the grammar-constrained decoder
#: and the confidence calibration need exactly those small probabilities of the runner-up
#: characters; an int8 log-softmax keeps them down to e^-16 with ~6 % steps.
READER_OUTPUT = "log_softmax"


def reader_tf_function(model):
    """The recognizer as a ``tf.function``: grey (1, 64, W, 1) in [0, 1] -> log-softmax (1, W/2, 37)."""
    import tensorflow as tf

    model = model.eval()
    convs = [TFConv(m.conv, m.bn, "relu") for m in [*model.body, *model.context]]
    classifier = TFConv(model.classifier, None, None)

    @tf.function
    def fn(x):
        for conv in convs:
            x = conv(x)
        y = classifier(x)  # (B, 2, W/4, 37): rows then columns, as PyTorch's reshape
        shape = tf.shape(y)
        return {"log_probs": tf.nn.log_softmax(tf.reshape(y, [shape[0], shape[1] * shape[2], shape[3]]), -1)}

    return fn


def check_reader_export(model, fn, input_hw: tuple[int, int], atol: float = 1e-3) -> float:
    rng = np.random.default_rng(0)
    x = rng.random((1, *input_hw, 1), dtype=np.float32)
    with torch.no_grad():
        ref = torch.log_softmax(model.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)), -1).numpy()
    # Compared as probabilities: log-probabilities of near-impossible classes differ in ways that
    # do not matter, and the check is about the rebuild, not about rounding.
    worst = float(np.abs(np.exp(fn(x)["log_probs"].numpy()) - np.exp(ref)).max())
    if worst > atol:
        raise RuntimeError(f"TensorFlow rebuild of the reader differs from PyTorch by {worst:.4g} (> {atol})")
    return worst


def export_reader(model, input_hw: tuple[int, int], out_dir: Path,
                  calibration: Callable[[], Iterable[np.ndarray]], stem: str = "plate_reader") -> dict[str, Path]:
    fn = reader_tf_function(model)
    log.info("reader TF rebuild matches PyTorch (max diff %.2g)", check_reader_export(model, fn, input_hw))
    shape = (1, *input_hw, 1)
    return {
        "int8": convert(fn, shape, out_dir / f"{stem}_int8.tflite", mode="int8", calibration=calibration),
        "float16": convert(fn, shape, out_dir / f"{stem}_float16.tflite", mode="float16"),
    }
