"""Frame sources: a video file, a V4L2/USB camera, an RTSP/HTTP stream or the Pi camera.

All of them deliver ``Frame`` objects through one small interface, ``FrameSource``:

* ``read()`` returns the next frame, or ``None`` when there is no frame: at the end of a file
  (then ``finished`` is True) or, for a live camera, when none arrived within a second (the
  camera is slow or reconnecting; the caller just asks again, and can tend to other work).
* A file delivers every frame in order, so runs are repeatable. Its ``wall_time`` is the
  opening time plus the frame's position in the video, so event times and the duplicate
  window follow the video, not the processing speed.
* A live source captures in a background thread and keeps only the newest frame: a slow
  pipeline sees fewer frames (counted as dropped), never old ones. A camera or stream that
  stops (failed reads, or no frame for ``stall_timeout_s`` while still connected) is reopened with
  exponential backoff; that is logged once per outage and never raises. Cameras: sources_cameras.py;
  streams: sources_rtsp.py.
* A corrupt frame is skipped with a warning and counted.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge_alpr.config.source import SourceConfig
from edge_alpr.errors import SourceError
from edge_alpr.sources_cameras import Camera, Picamera2Camera, V4L2Camera
from edge_alpr.sources_rtsp import StreamCamera
from edge_alpr.types import Frame

log = logging.getLogger(__name__)

# Failed reads in a row after which a file is taken to end early (truncated), or a camera to be
# lost. A corrupt frame makes one read fail and decoding resumes with the next frame, so a run
# this long is the end of the file or a lost camera.
_MAX_CONSECUTIVE_BAD_READS = 10
# Frame rate assumed for video time when a file does not say.
_FALLBACK_FPS = 25.0
# How long a live source's read() waits for a new frame before returning None.
_LIVE_READ_WAIT_S = 1.0
# How long close() waits for the capture thread; the service must stop within 5 s in all.
_CLOSE_WAIT_S = 2.0


@dataclass
class SourceStats:
    """Counters a source keeps for the status report."""

    frames: int = 0  # frames delivered by read()
    dropped: int = 0  # live only: captured frames replaced by a newer one before being read
    corrupt: int = 0  # frames that could not be decoded and were skipped
    outages: int = 0  # live only: times the camera/stream stopped and had to be reopened
    queue_depth: int = 0  # frames captured and waiting to be read (0 or 1 for a live source)


class FrameSource(Protocol):
    finished: bool  # True once read() will never return a frame again

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...

    def stats(self) -> SourceStats: ...


def open_source(cfg: SourceConfig) -> FrameSource:
    """Open the configured source; raises ``SourceError`` when it cannot be opened at all."""
    if cfg.kind == "file":
        return VideoFileSource(Path(cfg.uri), loop=cfg.loop, realtime=cfg.realtime)
    camera: Camera
    if cfg.kind == "picamera2":
        camera = Picamera2Camera(int(cfg.uri or 0), cfg.width, cfg.height, cfg.fps, cfg.exposure_us)
    elif cfg.kind == "rtsp":
        camera = StreamCamera(cfg.uri, transport=cfg.rtsp_transport, timeout_s=cfg.stall_timeout_s)
    else:
        camera = V4L2Camera(cfg.uri, cfg.width, cfg.height, cfg.fps, cfg.exposure_us)
    return LiveSource(camera, backoff_initial_s=cfg.reopen_backoff_initial_s, backoff_max_s=cfg.reopen_backoff_max_s,
                      stall_timeout_s=cfg.stall_timeout_s)


def as_bgr(image: np.ndarray | None) -> np.ndarray | None:
    """The image as BGR uint8 (H, W, 3), or ``None`` when it is not a usable picture."""
    if image is None or not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        return None
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:  # XRGB/BGRA from some camera formats
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    return None


class VideoFileSource:
    """Every frame of a video file, in order; ends at the end of the file unless ``loop``.

    With ``realtime`` a frame is not handed out before its time in the video has come, as from
    a camera, but none is dropped: a pipeline slower than the video falls behind the clock.
    """

    def __init__(self, path: Path, *, loop: bool = False, realtime: bool = False) -> None:
        self.path = path
        self.loop = loop
        self.realtime = realtime
        self.finished = False
        self._stats = SourceStats()
        self._capture = self._open(path)
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else _FALLBACK_FPS
        self._frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._position = 0  # frames decoded or skipped in this pass through the file
        self._video_offset_s = 0.0  # video time of earlier passes when looping
        self._opened_wall = time.time()
        self._opened_monotonic = time.monotonic()
        self._index = 0

    @staticmethod
    def _open(path: Path) -> cv2.VideoCapture:
        if not path.exists():
            raise SourceError(f"{path}: video file does not exist")
        if not path.is_file():
            raise SourceError(f"{path}: is not a file, expected a video file (.mp4, .avi, .mkv, ...)")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise SourceError(
                f"{path}: cannot be decoded as a video: expected a video file OpenCV/FFmpeg can read "
                "(.mp4, .avi, .mkv, ...); the file may be truncated or not a video"
            )
        return capture

    def describe(self) -> str:
        return f"video file {self.path}" + (" (looping)" if self.loop else "") + (" in real time" if self.realtime else "")

    def stats(self) -> SourceStats:
        return self._stats

    def read(self) -> Frame | None:
        while not self.finished:
            image = self._next_image()
            if image is not None:
                return self._frame(image)
            if not (self.loop and self._position > 0):
                self.finished = True
            else:
                self._rewind()
        return None

    def _next_image(self) -> np.ndarray | None:
        """The next decodable image of this pass, skipping corrupt frames; None at the end."""
        bad_reads = 0
        while bad_reads < _MAX_CONSECUTIVE_BAD_READS:
            ok, raw = self._capture.read()
            image = as_bgr(raw) if ok else None
            if image is not None:
                if bad_reads:
                    self._skipped(bad_reads)
                self._position += 1
                return image
            if self._frame_count and self._position + bad_reads >= self._frame_count:
                return None  # the regular end of the file
            bad_reads += 1
        if self._frame_count:
            log.warning(
                "%s: ended after %d of %d frames (file truncated or damaged)", self.path, self._position, self._frame_count
            )
        return None

    def _skipped(self, count: int) -> None:
        self._stats.corrupt += count
        self._position += count
        log.warning("%s: skipped %d corrupt frame(s) before frame %d", self.path, count, self._position)

    def _rewind(self) -> None:
        self._video_offset_s += self._position / self.fps
        self._position = 0
        if not self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
            self._capture.release()
            self._capture = self._open(self.path)

    def _frame(self, image: np.ndarray) -> Frame:
        video_time = self._video_offset_s + (self._position - 1) / self.fps
        if self.realtime:
            time.sleep(max(0.0, self._opened_monotonic + video_time - time.monotonic()))
        frame = Frame(image=image, index=self._index, timestamp=time.monotonic(), wall_time=self._opened_wall + video_time)
        self._index += 1
        self._stats.frames += 1
        return frame

    def close(self) -> None:
        self._capture.release()
        self.finished = True


class LiveSource:
    """A live camera read by a background thread that keeps only the newest frame."""

    def __init__(self, camera: Camera, *, backoff_initial_s: float = 1.0, backoff_max_s: float = 30.0,
                 stall_timeout_s: float = 10.0, read_wait_s: float = _LIVE_READ_WAIT_S) -> None:
        self.camera = camera
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stall_timeout_s = stall_timeout_s
        self.read_wait_s = read_wait_s
        self.finished = False
        self._stats = SourceStats()
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._captured = 0
        self._stop = threading.Event()
        camera.open()  # a source that cannot be opened at start is a configuration error
        self._thread = threading.Thread(target=self._capture_loop, name="capture", daemon=True)
        self._thread.start()

    def describe(self) -> str:
        return self.camera.describe()

    def stats(self) -> SourceStats:
        with self._condition:
            self._stats.queue_depth = int(self._latest is not None)
            return SourceStats(**vars(self._stats))

    def read(self) -> Frame | None:
        with self._condition:
            if self._latest is None:
                self._condition.wait(self.read_wait_s)
            frame, self._latest = self._latest, None
            if frame is not None:
                self._stats.frames += 1
            return frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_CLOSE_WAIT_S)
        if self._thread.is_alive():
            # Still blocked inside the camera driver; releasing under it could crash the
            # process, and the daemon thread dies with the process anyway.
            log.warning("%s: capture thread did not stop within %.0f s", self.describe(), _CLOSE_WAIT_S)
        else:
            self.camera.release()
        self.finished = True

    def _capture_loop(self) -> None:
        bad_reads = 0
        last_frame = time.monotonic()
        while not self._stop.is_set():
            image = as_bgr(self.camera.grab())
            silent_s = time.monotonic() - last_frame
            if silent_s >= self.stall_timeout_s and not self._stop.is_set():
                # Connected but silent (a read that waited out its timeout). A frame that comes
                # back now is one the decoder held, not a live one: reconnect either way.
                self._recover(f"no frame for {silent_s:.1f} s, over stall_timeout_s={self.stall_timeout_s:g}")
                bad_reads, last_frame = 0, time.monotonic()
                continue
            if image is not None:
                if bad_reads:
                    self._count_corrupt(bad_reads)
                bad_reads, last_frame = 0, time.monotonic()
                self._publish(image)
                continue
            bad_reads += 1
            if bad_reads >= _MAX_CONSECUTIVE_BAD_READS and not self._stop.is_set():
                self._recover(f"{bad_reads} failed reads in a row")
                bad_reads, last_frame = 0, time.monotonic()

    def _count_corrupt(self, count: int) -> None:
        with self._condition:
            self._stats.corrupt += count
        log.warning("%s: skipped %d corrupt frame(s) at frame %d", self.describe(), count, self._captured)

    def _publish(self, image: np.ndarray) -> None:
        frame = Frame(image=image, index=self._captured, timestamp=time.monotonic(), wall_time=time.time())
        self._captured += 1
        with self._condition:
            if self._latest is not None:
                self._stats.dropped += 1
            self._latest = frame
            self._condition.notify()

    def _recover(self, why: str) -> None:
        """Reopen the camera with exponential backoff until it delivers again or we stop."""
        with self._condition:
            self._stats.outages += 1
        started = time.monotonic()
        log.warning("%s: stopped delivering frames (%s); reopening (waiting %g s, doubling up to %g s)",
                    self.describe(), why, self.backoff_initial_s, self.backoff_max_s)
        self.camera.release()  # a stalled stream's connection is closed before waiting
        delay = self.backoff_initial_s
        last_error = ""
        while not self._stop.wait(delay):
            try:
                self.camera.open()
            except SourceError as error:
                # Each new reason once (a camera whose password changed says so), repeats quietly.
                log.log(logging.DEBUG if str(error) == last_error else logging.WARNING, "reopen failed: %s", error)
                last_error = str(error)
                delay = min(delay * 2, self.backoff_max_s)
                continue
            image = as_bgr(self.camera.grab())
            if image is not None:
                log.warning("%s: delivering frames again after %.1f s", self.describe(), time.monotonic() - started)
                self._publish(image)
                return
            delay = min(delay * 2, self.backoff_max_s)
