"""How the plate recognizer is measured during and after training: float reads of the
validation crops during training, the exported TFLite model read exactly as the daemon reads
plates, the confidence reliability table and the calibration fit that feed its model card."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from edge_alpr.training.reader_data import Crop

log = logging.getLogger("edge_alpr.train_reader")


@torch.no_grad()
def evaluate_float(model, crops: list[Crop]) -> dict:
    from edge_alpr.ctc import decode_ctc
    from edge_alpr.evaluation.metrics import PlateTextAccumulator
    from edge_alpr.ocr import preprocess

    model.eval()
    acc = PlateTextAccumulator()
    for i in range(0, len(crops), 64):
        chunk = crops[i : i + 64]
        x = torch.from_numpy(np.stack([preprocess(c.image)[..., 0] for c in chunk])[:, None]).float() / 255
        probs = torch.softmax(model(x).float(), -1).numpy()
        for c, p in zip(chunk, probs):
            acc.add(decode_ctc(p, "indian").text, c.text, {"layout": c.layout})
    model.train()
    return _accuracy(acc)


def _accuracy(acc) -> dict:
    """Exact and character accuracy, overall and by layout (one / two-line) where both occur."""
    s = acc.summary()
    out = {"exact": round(s.exact_accuracy, 4), "char": round(s.char_accuracy, 4), "n": s.plates}
    layouts = acc.by_bucket().get("layout", {})
    if len(layouts) > 1:
        out["by_layout"] = {k: {"exact": round(v.exact_accuracy, 4), "char": round(v.char_accuracy, 4), "n": v.plates}
                            for k, v in layouts.items()}
    return out


def evaluate_tflite(model_path: Path, crops: list[Crop], retry_unsure: bool = True) -> dict:
    """Validate an exported model exactly as the daemon reads plates."""
    from edge_alpr.evaluation.metrics import PlateTextAccumulator
    from edge_alpr.ocr import EdgePlateReader

    reader = EdgePlateReader(model_path, num_threads=1, grammar="indian", min_confidence=0.0,
                             retry_unsure=retry_unsure)
    acc, times, conf = PlateTextAccumulator(), [], []
    for c in crops:
        t0 = time.perf_counter()
        r = reader.read(c.image)
        times.append((time.perf_counter() - t0) * 1000)
        acc.add(r.text, c.text, {"layout": c.layout})
        conf.append((r.confidence, r.text == c.text))
    out = _accuracy(acc) | {"ms_per_crop_mean": round(float(np.mean(times)), 3)}
    out["reliability"] = reliability(conf)
    return out


def reliability(pairs: list[tuple[float, bool]]) -> list[dict]:
    """Accuracy of reads per confidence bin: a calibrated reader's bins read as their confidence."""
    bins = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)]
    out = []
    for lo, hi in bins:
        sel = [ok for c, ok in pairs if lo <= c < hi]
        if sel:
            out.append({"confidence": f"{lo:.2f}-{min(hi, 1):.2f}", "reads": len(sel),
                        "accuracy": round(sum(sel) / len(sel), 3)})
    return out


def fit_calibration(model_path: Path, crops: list[Crop]) -> dict:
    """Platt scaling of (log sequence probability, log weakest character) -> P(plate right),
    fitted on held-out real crops the model never trained on."""
    from edge_alpr.ctc import decode_ctc
    from edge_alpr.ocr import Calibration, EdgePlateReader

    reader = EdgePlateReader(model_path, num_threads=1, min_confidence=0.0)
    feats, labels = [], []
    for c in crops:
        d = decode_ctc(reader.probabilities(c.image), "indian")
        if d.text:
            feats.append(Calibration.features(d))
            labels.append(float(d.text == c.text))
    if len(set(labels)) < 2:
        log.warning("calibration set has %d reads, all %s: keeping identity calibration", len(labels), labels[:1])
        return {"a": 1.0, "b": 0.0, "c": 0.0, "fitted_on": len(labels)}
    y = np.array(labels)
    cal = Calibration.fit(np.array(feats), y)
    return {"a": round(cal.a, 5), "c": round(cal.c, 5), "b": round(cal.b, 5),
            "fitted_on": len(labels), "accuracy_on_fit_set": round(float(y.mean()), 4)}
