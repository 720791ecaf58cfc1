"""IP camera streams (RTSP, HTTP) through OpenCV's FFmpeg backend, as a ``Camera`` for ``LiveSource``.

What this adds over a plain ``cv2.VideoCapture(url)``:

* **Transport.** OpenCV asks FFmpeg for RTSP over TCP unless ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` is
  set, and that variable replaces its defaults. The configured ``rtsp_transport`` (``tcp``: RTP
  interleaved in the RTSP connection; ``udp``: RTP on separate UDP ports) is put into that
  variable for the one ``VideoCapture`` being opened, after any options the user set there.
* **Timeouts.** Each read gives up after ``timeout_s``, opening after that or 10 s, whichever is
  longer (OpenCV's ``CAP_PROP_READ_TIMEOUT_MSEC``/``CAP_PROP_OPEN_TIMEOUT_MSEC``, 30 s by default), so a stream that
  stays connected but sends nothing returns from ``grab()`` in time for ``LiveSource`` to notice
  the stall and reconnect.
* **A reason when it cannot be opened.** OpenCV only says "not opened"; FFmpeg's reason goes to
  stderr. ``diagnose`` asks the camera itself (one RTSP DESCRIBE) and turns the answer into a
  sentence: wrong credentials, no such path, nothing listening, transport refused.

Passwords in URLs are shown as ``***`` in every message (``hide_password``).
"""
from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from edge_alpr.errors import SourceError
from edge_alpr.sources_opencv import OpenCVCamera

log = logging.getLogger(__name__)

_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# os.environ is process-wide: one capture is opened at a time.
_OPTIONS_LOCK = threading.Lock()
# The diagnosis is a single request; it must not hold up the reopen loop for long.
_DIAGNOSE_TIMEOUT_S = 3.0
# Opening probes the first frames to learn the codec and size: seconds on a busy Pi.
_MIN_OPEN_TIMEOUT_S = 10.0


def hide_password(url: str) -> str:
    """rtsp://user:secret@host/... -> rtsp://user:***@host/... for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.partition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


@contextmanager
def _ffmpeg_options(options: dict[str, str]) -> Iterator[None]:
    """``OPENCV_FFMPEG_CAPTURE_OPTIONS`` with ``options`` added, for the duration of one open."""
    if not options:
        yield
        return
    with _OPTIONS_LOCK:
        previous = os.environ.get(_OPTIONS_ENV)
        # FFmpeg applies the pairs in order, so ours, last, win over the same keys set by the user.
        ours = "|".join(f"{key};{value}" for key, value in options.items())
        os.environ[_OPTIONS_ENV] = f"{previous}|{ours}" if previous else ours
        try:
            yield
        finally:
            if previous is None:
                del os.environ[_OPTIONS_ENV]
            else:
                os.environ[_OPTIONS_ENV] = previous


class StreamCamera(OpenCVCamera):
    """An RTSP/RTSPS/HTTP(S) stream through OpenCV's FFmpeg backend."""

    def __init__(self, uri: str, *, transport: str = "tcp", timeout_s: float = 10.0) -> None:
        self.uri = uri
        self.transport = transport
        self.timeout_s = timeout_s

    @property
    def is_rtsp(self) -> bool:
        return self.uri.lower().startswith(("rtsp://", "rtsps://"))

    def describe(self) -> str:
        return f"stream {hide_password(self.uri)}"

    def open(self) -> None:
        self.release()
        open_ms = int(max(self.timeout_s, _MIN_OPEN_TIMEOUT_S) * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.timeout_s * 1000)]
        with _ffmpeg_options({"rtsp_transport": self.transport} if self.is_rtsp else {}):
            capture = cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self.describe()}: cannot be opened: {diagnose(self.uri, self.transport)}")
        # Keep the decoder's own queue short: the capture thread already keeps the newest frame.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._capture = capture


def diagnose(url: str, transport: str = "tcp", timeout_s: float = _DIAGNOSE_TIMEOUT_S) -> str:
    """Why a stream would not open, in words, from one RTSP DESCRIBE to the camera.

    Only plain ``rtsp://`` URLs are asked; for the others the answer is a list of what to check.
    """
    parts = urllib.parse.urlsplit(url)
    generic = "check the URL's host, port and path, the user name and password, and that the camera is reachable"
    if parts.scheme.lower() != "rtsp" or not parts.hostname:
        return generic
    host, port = parts.hostname, parts.port or 554
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(_describe_request(parts))
            status = sock.makefile("rb").readline(512).decode("latin-1").strip()
    except OSError as error:
        return f"cannot connect to {host}:{port}: {error.strerror or error} (is the camera on and the port right?)"
    fields = status.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("RTSP/") or not fields[1].isdigit():
        return f"{host}:{port} does not answer as an RTSP server (got {status[:60]!r})"
    code, reason = int(fields[1]), (fields[2] if len(fields) > 2 else "")
    if code == 401:
        if parts.username is None:
            return "the camera wants a user name and password (RTSP 401 Unauthorized): put them in the URL"
        return "the camera refused the user name and password (RTSP 401 Unauthorized)"
    if code == 404:
        return f"the camera has no stream at path {parts.path or '/'!r} (RTSP 404 Not Found); see its manual for the path"
    if code == 200:
        other = "udp" if transport == "tcp" else "tcp"
        return (f"the camera describes the stream but it could not be started over {transport.upper()} or decoded: "
                f"try source.rtsp_transport: {other}, or a stream in H.264/H.265")
    return f"the camera answered RTSP {code} {reason}".rstrip()


def _describe_request(parts: urllib.parse.SplitResult) -> bytes:
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    target = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    lines = [f"DESCRIBE {target} RTSP/1.0", "CSeq: 1", "Accept: application/sdp", "User-Agent: edge-alpr"]
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        lines.append("Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
