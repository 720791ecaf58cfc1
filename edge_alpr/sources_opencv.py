"""The part every OpenCV-backed live camera shares: reading and releasing one ``cv2.VideoCapture``.

Its own module because both ``sources_cameras`` (V4L2) and ``sources_rtsp`` (streams) build on it.
"""
from __future__ import annotations

import cv2
import numpy as np


class OpenCVCamera:
    """A ``Camera`` whose ``open()`` (the subclass's) sets ``_capture``; grab and release are here."""

    _capture: cv2.VideoCapture | None = None

    def grab(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        return image if ok else None

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
