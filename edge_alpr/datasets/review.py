"""The review folder: plates the daemon saved for a person to check, and the format they are kept in.

When review is enabled the daemon calls :func:`write_review_item` for reads worth a second look
(e.g. low confidence). Each item is two files with the same name::

    review/20250101T120000123456Z_1a2b3c4d.jpg    the frame (or the part the daemon saved)
    review/20250101T120000123456Z_1a2b3c4d.json   the sidecar below

    {"image": "20250101T120000123456Z_1a2b3c4d.jpg", "width": 1280, "height": 720,
     "box": [x1, y1, x2, y2], "text_read": "MH12AB1Z34", "text": null,
     "confidence": 0.41, "camera_id": "gate-1", "created": "2025-01-01T12:00:00.123456+00:00"}

``box`` is in the saved image's pixels. ``text`` is null until a person writes the correct plate
into it; ``""`` means they looked and the plate cannot be read. ``edge-alpr data import
--format review`` turns the corrected items into manifest rows.

The folder is bounded by item count and size. Uncorrected items are removed first, oldest
first, so a person's corrections survive as long as possible.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
_KEYS = ("image", "width", "height", "box", "text_read", "text", "confidence", "camera_id", "created")


@dataclass(frozen=True)
class ReviewItem:
    image: str  # file name, relative to the sidecar's folder
    width: int
    height: int
    box: tuple[float, float, float, float]
    text_read: str  # what the reader said
    text: str | None  # what a person says it is; None until reviewed, "" for unreadable
    confidence: float
    camera_id: str
    created: str = ""  # ISO 8601 UTC

    def to_json(self) -> dict:
        return {
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "box": [round(float(v), 1) for v in self.box],
            "text_read": self.text_read,
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "camera_id": self.camera_id,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: object) -> ReviewItem:
        """Parse a sidecar's JSON; ``ValueError`` names the key that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("image", "width", "height", "box", "text") if k not in data]
        if missing:
            raise ValueError(f"missing key(s) {', '.join(missing)}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; expected only {', '.join(_KEYS)}")
        text = data["text"]
        if text is not None and not isinstance(text, str):
            raise ValueError(f"'text' must be a string or null, got {text!r}")
        try:
            box = tuple(float(v) for v in data["box"])
            width, height = int(data["width"]), int(data["height"])
            confidence = float(data.get("confidence", 0.0))
        except (TypeError, ValueError):
            raise ValueError("'box' must be 4 numbers and 'width'/'height' integers") from None
        if len(box) != 4:
            raise ValueError(f"'box' must be [x1, y1, x2, y2], got {len(box)} numbers")
        return cls(
            image=str(data["image"]),
            width=width,
            height=height,
            box=box,  # type: ignore[arg-type]
            text_read=str(data.get("text_read") or ""),
            text=text,
            confidence=confidence,
            camera_id=str(data.get("camera_id") or ""),
            created=str(data.get("created") or ""),
        )


def read_review_item(sidecar: Path) -> ReviewItem:
    """Read one ``.json`` sidecar; ``ValueError`` names the file on any problem."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{sidecar}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{sidecar}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    try:
        return ReviewItem.from_json(data)
    except ValueError as exc:
        raise ValueError(f"{sidecar}: {exc}") from None


def write_review_item(
    dir: str | Path,
    image_bgr: np.ndarray,
    box: tuple[float, float, float, float],
    read_text: str,
    confidence: float,
    camera_id: str,
    max_items: int,
    max_mb: float,
    item_id: str | None = None,
) -> Path | None:
    """Save an image and its sidecar for review; return the image's path.

    Older items are removed first so the folder keeps at most ``max_items`` items and
    ``max_mb`` megabytes. Returns None, logging why, when review is off (``max_items`` or
    ``max_mb`` <= 0), the image alone is over ``max_mb``, or the disk refuses the write: a
    review folder must never stop the daemon.
    """
    folder = Path(dir)
    if max_items <= 0 or max_mb <= 0:
        return None
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        log.warning("review: could not encode a %s image as JPEG; item not saved", image_bgr.shape)
        return None
    budget = int(max_mb * 1024 * 1024)
    now = datetime.now(UTC)
    # A UTC timestamp first, so names sort by age even when mtimes are lost in a copy.
    name = item_id or f"{now:%Y%m%dT%H%M%S%fZ}_{uuid.uuid4().hex[:8]}"
    height, width = image_bgr.shape[:2]
    item = ReviewItem(f"{name}.jpg", width, height, tuple(float(v) for v in box), read_text,  # type: ignore[arg-type]
                      None, float(confidence), camera_id, now.isoformat())
    sidecar_bytes = (json.dumps(item.to_json(), indent=1) + "\n").encode("utf-8")
    needed = len(encoded) + len(sidecar_bytes)
    if needed > budget:
        log.warning("review: item of %d bytes is over max_mb=%s; not saved", needed, max_mb)
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _make_room(folder, max_items - 1, budget - needed)
        image_path = folder / item.image
        image_path.write_bytes(encoded.tobytes())
        # The sidecar last and atomically: an importer never sees a sidecar without its image.
        tmp = folder / f".{name}.json.tmp"
        tmp.write_bytes(sidecar_bytes)
        os.replace(tmp, folder / f"{name}.json")
    except OSError as exc:
        log.warning("review: could not save item in %s (%s)", folder, exc)
        return None
    return image_path


def _make_room(folder: Path, max_items: int, max_bytes: int) -> None:
    """Remove items until at most ``max_items`` remain using at most ``max_bytes``."""
    items = []
    for sidecar in folder.glob("*.json"):
        reviewed, image = _sidecar_info(sidecar)
        files = [sidecar, image]
        size = sum(f.stat().st_size for f in files if f.exists())
        items.append((reviewed, sidecar.stat().st_mtime, sidecar.name, files, size))
    items.sort(key=lambda i: (i[0], i[1], i[2]))  # unreviewed first, then oldest first
    count, used = len(items), sum(i[4] for i in items)
    for _, _, _, files, size in items:
        if count <= max_items and used <= max_bytes:
            break
        for f in files:
            f.unlink(missing_ok=True)
        count, used = count - 1, used - size


def _sidecar_info(sidecar: Path) -> tuple[bool, Path]:
    """(reviewed, image path) of a sidecar, tolerating one a person has broken while editing."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        return False, sidecar.with_suffix(".jpg")
    name = data.get("image")
    # Only the base name: a hand-edited path must never make us delete outside the folder.
    image = sidecar.parent / Path(name).name if isinstance(name, str) and name else sidecar.with_suffix(".jpg")
    return data.get("text") is not None, image
