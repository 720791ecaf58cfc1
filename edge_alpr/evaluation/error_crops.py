"""``--errors DIR``: the wrong and missed reads of an evaluation, written as crops to look at."""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.manifest import normalise_plate_text
from edge_alpr.errors import InputError
from edge_alpr.types import PlateRead


class ErrorWriter:
    """``--errors DIR``: every wrong or missed read as a JPEG crop named
    ``<index>_<truth>_<prediction>.jpg`` (``MISSED`` when no plate was found there, ``EMPTY``
    when the reader returned nothing), and ``index.json`` listing them with their source image."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{out_dir}: cannot create the errors folder ({error.strerror})") from None
        self.entries: list[dict] = []

    def add(self, crop: np.ndarray, *, truth: str, read: PlateRead | None, source: str,
            box: Sequence[float]) -> Path:
        prediction = None if read is None else read.text
        name = f"{len(self.entries):05d}_{_file_safe(truth)}_{_prediction_label(prediction)}.jpg"
        path = self.out_dir / name
        if not cv2.imwrite(str(path), crop):
            raise InputError(f"{path}: could not write the crop")
        self.entries.append({
            "file": name,
            "kind": "missed" if read is None else "wrong",
            "truth": truth,
            "prediction": prediction,
            "confidence": None if read is None else round(float(read.confidence), 4),
            "accepted": None if read is None else read.accepted,
            "source": source,
            "box": [round(float(v), 1) for v in box],
        })
        return path

    def close(self) -> Path:
        index = self.out_dir / "index.json"
        index.write_text(json.dumps(self.entries, indent=1) + "\n", encoding="utf-8")
        return index


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", normalise_plate_text(text)) or "NOTEXT"


def _prediction_label(prediction: str | None) -> str:
    if prediction is None:
        return "MISSED"
    return _file_safe(prediction) if prediction else "EMPTY"
