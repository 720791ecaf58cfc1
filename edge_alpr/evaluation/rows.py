"""Which manifest rows ``edge-alpr eval`` scores, and their images."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.manifest import ManifestRow
from edge_alpr.errors import InputError


def select_rows(rows: list[ManifestRow], manifest: Path, *, split: str | None, holdout: str | None,
                limit: int | None) -> list[ManifestRow]:
    """``--split``, ``--holdout detector-val`` and ``--limit``, in that order."""
    if split is not None:
        rows = [r for r in rows if r.split == split]
    if holdout == "detector-val":
        rows = detector_val_rows(rows, manifest)
    return rows[:limit] if limit is not None else rows


def detector_val_rows(rows: list[ManifestRow], manifest: Path) -> list[ManifestRow]:
    """Exactly the rows the detector was validated on (never trained on). The dataset name is
    the manifest's folder (``openalpr_us``) and the datasets folder the one above it, as in
    ``../shared/datasets/openalpr_us/manifest.jsonl``."""
    from edge_alpr.training.detector_data import is_val, reader_val_texts  # no torch needed

    dataset_dir = manifest.resolve().parent
    held_out = reader_val_texts(dataset_dir.parent)
    return [r for r in rows if is_val(r, dataset_dir.name, held_out)]


def read_image(row: ManifestRow, manifest: Path) -> np.ndarray:
    """The row's image, checked against the size the manifest gives (boxes are in its pixels)."""
    image = cv2.imread(str(row.image), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{row.image}: missing or not a readable image (listed in {manifest})")
    h, w = image.shape[:2]
    if (w, h) != (row.width, row.height):
        raise InputError(f"{row.image}: is {w}x{h} but {manifest} says {row.width}x{row.height}, so its boxes "
                         "would not match (run 'edge-alpr data check')")
    return image
