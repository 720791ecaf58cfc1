"""JPEG crops of each event's plate and vehicle, with retention by total size and age.

Layout: ``<directory>/<YYYY-MM-DD of first_seen, UTC>/<event_id>_plate.jpg`` and
``<event_id>_vehicle.jpg``. A file is written under a temporary name and renamed, so a reader
never sees half a JPEG. The retention sweep deletes files older than ``max_age_days`` (by
modification time) and then the oldest files until the total is under ``max_total_mb``; it
runs when the running total passes the limit and at most once an hour for age.
Write failures are recorded in ``health()``, logged once per fault and never raised.
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.config.outputs import CropsConfig
from edge_alpr.types import PlateEvent

log = logging.getLogger(__name__)

#: Seconds between age sweeps (a size sweep runs whenever the size limit is passed).
AGE_SWEEP_INTERVAL_S = 3600.0

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class CropsSink:
    """Saves crops and keeps the crops directory within its size and age limits."""

    name = "crops"

    def __init__(self, config: CropsConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._max_bytes = int(config.max_total_mb * 1_000_000)
        self._total_bytes: int | None = None  # measured by the first sweep
        self._next_age_sweep = 0.0
        self._fault: str | None = None
        self._saved = 0
        self._failed = 0
        self._deleted = 0

    def save(
        self, event: PlateEvent, plate_crop_bgr: np.ndarray | None, vehicle_crop_bgr: np.ndarray | None
    ) -> tuple[str | None, str | None]:
        """Write the crops that are enabled and given; returns their paths (None where not saved)."""
        folder = self.config.directory / _date_folder(event.first_seen)
        stem = _UNSAFE_NAME_CHARS.sub("_", event.event_id)
        plate_path = vehicle_path = None
        if self.config.save_plate and plate_crop_bgr is not None:
            plate_path = self._write(folder / f"{stem}_plate.jpg", plate_crop_bgr, event)
        if self.config.save_vehicle and vehicle_crop_bgr is not None:
            vehicle_path = self._write(folder / f"{stem}_vehicle.jpg", vehicle_crop_bgr, event)
        if self._total_bytes is None or self._total_bytes > self._max_bytes or self._clock() >= self._next_age_sweep:
            self.sweep()
        return plate_path, vehicle_path

    def publish(self, event: PlateEvent, plate_crop_bgr: np.ndarray | None = None,
                vehicle_crop_bgr: np.ndarray | None = None) -> PlateEvent:
        """Save the crops and return ``event`` with their paths filled in."""
        plate_path, vehicle_path = self.save(event, plate_crop_bgr, vehicle_crop_bgr)
        return replace(event, plate_crop=plate_path, vehicle_crop=vehicle_path)

    def _write(self, path: Path, image_bgr: np.ndarray, event: PlateEvent) -> str | None:
        try:
            if image_bgr.size == 0:
                raise ValueError(f"the crop is empty (shape {image_bgr.shape})")
            ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
            if not ok:
                raise ValueError(f"OpenCV could not encode the crop (shape {image_bgr.shape}) as JPEG")
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_bytes(encoded.tobytes())
            os.replace(temporary, path)
        except (OSError, ValueError, cv2.error) as error:
            self._failed += 1
            if self._fault is None:
                log.error("crops: cannot save %s for event %s: %s; retrying with each event",
                          path, event.event_id, error)
            self._fault = f"{path}: {error}"
            return None
        if self._fault is not None:
            log.warning("crops: %s is writable again", self.config.directory)
            self._fault = None
        self._saved += 1
        if self._total_bytes is not None:
            self._total_bytes += len(encoded)
        return str(path)

    def sweep(self) -> int:
        """Delete crops past the age and size limits; returns how many files were deleted."""
        now = self._clock()
        self._next_age_sweep = now + AGE_SWEEP_INTERVAL_S
        files = _list_crops(self.config.directory)
        oldest_allowed = now - self.config.max_age_days * 86400.0
        keep: list[tuple[float, int, Path]] = []
        deleted = 0
        for mtime, size, path in files:
            if mtime < oldest_allowed:
                deleted += _delete(path)
            else:
                keep.append((mtime, size, path))
        total = sum(size for _, size, _ in keep)
        for _mtime, size, path in keep:  # oldest first
            if total <= self._max_bytes:
                break
            if _delete(path):
                deleted += 1
                total -= size
        _remove_empty_folders(self.config.directory)
        self._total_bytes = total
        self._deleted += deleted
        if deleted:
            log.info("crops: deleted %d old crops; %.1f MB kept in %s", deleted, total / 1e6, self.config.directory)
        return deleted

    def health(self) -> dict:
        return {
            "crops_error": self._fault,
            "crops_saved": self._saved,
            "crops_failed": self._failed,
            "crops_deleted": self._deleted,
        }

    def close(self, timeout_s: float = 3.0) -> None:
        """Nothing to flush: every crop is complete on disk when ``save`` returns."""


def _date_folder(iso_time: str) -> str:
    # first_seen is ISO 8601 UTC ("2026-11-25T14:03:11Z"); its first 10 characters are the date.
    date = iso_time[:10]
    return date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else "undated"


def _list_crops(directory: Path) -> list[tuple[float, int, Path]]:
    """Every crop JPEG as (mtime, size, path), oldest first."""
    found = []
    try:
        folders = [p for p in directory.iterdir() if p.is_dir()]
    except OSError:
        return []
    for folder in folders:
        try:
            entries = list(folder.glob("*.jpg"))
        except OSError:
            continue
        for path in entries:
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((stat.st_mtime, stat.st_size, path))
    found.sort()
    return found


def _delete(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except OSError as error:
        log.warning("crops: cannot delete %s: %s", path, error)
        return 0


def _remove_empty_folders(directory: Path) -> None:
    try:
        folders = [p for p in directory.iterdir() if p.is_dir()]
    except OSError:
        return
    for folder in folders:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            pass
