"""Open a TFLite model: ``ai_edge_litert`` first (its XNNPACK delegate accelerates int8),
then ``tflite_runtime`` (older Pi images), then TensorFlow itself (training machines)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_alpr.errors import ModelError

log = logging.getLogger(__name__)

_TFLITE_MAGIC = b"TFL3"  # FlatBuffer file identifier at byte offset 4


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf  # type: ignore[import-not-found]

        return tf.lite.Interpreter, "tensorflow"
    except ImportError:
        raise ModelError(
            "no TFLite runtime is installed: install ai-edge-litert (pip install ai-edge-litert) "
            "or tflite-runtime"
        ) from None


@dataclass(frozen=True)
class TensorSpec:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return x.astype(self.dtype, copy=False)
        info = np.iinfo(self.dtype)
        return np.clip(np.round(x / self.scale + self.zero_point), info.min, info.max).astype(self.dtype)

    def dequantize(self, x: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return x.astype(np.float32, copy=False)
        return (x.astype(np.float32) - self.zero_point) * self.scale


def _spec(detail: dict) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorSpec(
        index=detail["index"],
        name=detail["name"],
        shape=tuple(int(v) for v in detail["shape"]),
        dtype=detail["dtype"],
        scale=float(scale),
        zero_point=int(zero),
    )


class TFLiteModel:
    """A loaded TFLite model with named, (de)quantizing input and outputs."""

    def __init__(self, path: str | Path, num_threads: int = 2):
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
        with path.open("rb") as fh:
            head = fh.read(8)
        if len(head) < 8 or head[4:8] != _TFLITE_MAGIC:
            raise ModelError(f"{path}: not a TFLite model (expected a .tflite FlatBuffer with identifier TFL3)")
        cls, self.backend = _interpreter_class()
        try:
            self._interp = cls(model_path=str(path), num_threads=int(num_threads))
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: the TFLite runtime could not load it: {exc}") from None
        self.path = path
        inputs = self._interp.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f"{path}: expected a model with one input, found {len(inputs)}")
        self.input = _spec(inputs[0])
        self.outputs = {d["name"]: _spec(d) for d in self._interp.get_output_details()}

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Run on a float or uint8 batch of the input's shape; returns dequantized float outputs."""
        if x.dtype != self.input.dtype:
            x = self.input.quantize(x.astype(np.float32))
        self._interp.set_tensor(self.input.index, x)
        self._interp.invoke()
        return {name: s.dequantize(self._interp.get_tensor(s.index)) for name, s in self.outputs.items()}


def model_card_path(model_path: str | Path) -> Path:
    """The JSON model card beside a model: ``plate_detector_int8.tflite`` -> ``plate_detector.json``."""
    model_path = Path(model_path)
    stem = model_path.stem
    for suffix in ("_int8", "_float16", "_float32", "_float", "_fp16"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return model_path.with_name(stem + ".json")


def load_model_card(model_path: str | Path) -> dict:
    card = model_card_path(model_path)
    if not card.is_file():
        raise ModelError(f"{model_path}: its model card {card.name} is missing beside it")
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{card}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{card}: expected a JSON object (the model card), got a {type(data).__name__}")
    return data
