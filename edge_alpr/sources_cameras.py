"""The local cameras a live source reads: a V4L2/USB camera through OpenCV and the Raspberry Pi
camera through picamera2, behind the ``Camera`` interface the capture thread uses (streams are
in sources_rtsp.py)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge_alpr.errors import SourceError
from edge_alpr.sources_opencv import OpenCVCamera

log = logging.getLogger(__name__)


class Camera(Protocol):
    """A live camera as the capture thread uses it: blocking, no reconnect logic of its own."""

    def open(self) -> None: ...  # raises SourceError

    def grab(self) -> np.ndarray | None: ...  # None when the read failed

    def release(self) -> None: ...

    def describe(self) -> str: ...


class V4L2Camera(OpenCVCamera):
    """A V4L2/USB camera through OpenCV."""

    def __init__(self, uri: str, width: int | None, height: int | None, fps: float | None,
                 exposure_us: int | None = None) -> None:
        self.uri = uri
        self.device = uri if uri.startswith("/") else f"/dev/video{uri}"
        self.width, self.height, self.fps = width, height, fps
        self.exposure_us = exposure_us

    def describe(self) -> str:
        return f"camera {self.device}"

    def open(self) -> None:
        self.release()
        if not Path(self.device).exists():
            raise SourceError(f"{self.device}: no such camera device (is the camera plugged in? see `v4l2-ctl --list-devices`)")
        target: int | str = int(self.uri) if self.uri.isdigit() else self.uri
        capture = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self.describe()}: cannot be opened (expected a working V4L2 camera)")
        self._request_format(capture)
        self._capture = capture

    def _request_format(self, capture: cv2.VideoCapture) -> None:
        # Requests, not guarantees: the camera picks the nearest mode it has.
        if self.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        if self.exposure_us:
            # V4L2's manual mode (OpenCV passes 1 through as V4L2_EXPOSURE_MANUAL), then
            # exposure_time_absolute, which UVC cameras count in 100 us steps.
            manual = capture.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)
            if not (manual and capture.set(cv2.CAP_PROP_EXPOSURE, max(1, round(self.exposure_us / 100)))):
                log.warning("%s: the camera refused a fixed exposure of %d us; it keeps its own (check `v4l2-ctl -l`)",
                            self.describe(), self.exposure_us)


class Picamera2Camera:
    """The Raspberry Pi camera through picamera2 (Raspberry Pi OS's python3-picamera2)."""

    def __init__(self, camera_num: int, width: int | None, height: int | None, fps: float | None,
                 exposure_us: int | None = None) -> None:
        self.camera_num = camera_num
        self.size = (width or 1280, height or 720)
        self.fps = fps
        self.exposure_us = exposure_us
        self._camera = None

    def describe(self) -> str:
        return f"Pi camera {self.camera_num}"

    def open(self) -> None:
        self.release()
        try:
            from picamera2 import Picamera2  # optional: only on a Pi, from apt
        except ImportError:
            raise SourceError(
                "picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` and "
                "create the venv with --system-site-packages (install.sh does), or use source.kind v4l2"
            ) from None
        try:
            camera = Picamera2(self.camera_num)
            controls: dict[str, float | int] = {"FrameRate": float(self.fps)} if self.fps else {}
            if self.exposure_us:
                # A fixed shutter; the Pi's AGC goes on adjusting the analogue gain around it.
                controls["ExposureTime"] = int(self.exposure_us)
            # 'RGB888' is stored B, G, R in memory: the order OpenCV expects.
            config = camera.create_video_configuration(main={"size": self.size, "format": "RGB888"}, controls=controls)
            camera.configure(config)
            camera.start()
        except Exception as error:  # picamera2 raises RuntimeError/IndexError/OSError variously
            raise SourceError(f"{self.describe()}: cannot be opened: {error}") from None
        self._camera = camera

    def grab(self) -> np.ndarray | None:
        if self._camera is None:
            return None
        try:
            return self._camera.capture_array("main")
        except Exception as error:  # a camera that fails mid-stream: reopened by the caller
            log.debug("%s: capture failed: %s", self.describe(), error)
            return None

    def release(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            except Exception as error:  # closing a failed camera must not stop a reopen
                log.debug("%s: close failed: %s", self.describe(), error)
            self._camera = None
