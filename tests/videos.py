"""Helpers for tests that look at the frames of a video file they made."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of the video at ``path``, in order (BGR, as OpenCV decodes them)."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames
