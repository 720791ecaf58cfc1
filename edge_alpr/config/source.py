"""Config model of the frame source: a video file, a V4L2/USB camera, an RTSP/HTTP stream or the
Raspberry Pi camera, and how a live one is reopened when it drops or stalls."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from edge_alpr.config.base import StrictModel

SourceKind = Literal["file", "v4l2", "rtsp", "picamera2"]
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")


class SourceConfig(StrictModel):
    kind: SourceKind = Field(
        "v4l2",
        description="Where frames come from: a video 'file', a USB/V4L2 camera ('v4l2'), an "
        "RTSP/HTTP stream ('rtsp') or the Raspberry Pi camera ('picamera2', needs the 'pi' extra).",
    )
    uri: str = Field(
        "",
        validate_default=True,
        description="file: path of the video; v4l2: device index ('0') or path ('/dev/video0'); "
        "rtsp: the stream URL (rtsp://, rtsps://, http://, https://); picamera2: camera index. "
        "Empty means camera 0 for v4l2 and picamera2.",
    )
    loop: bool = Field(
        False,
        validate_default=True,
        description="file only: start again at the end instead of stopping. Handy for soak tests; "
        "a looping file never ends, so the daemon never exits on its own.",
    )
    realtime: bool = Field(
        False,
        validate_default=True,
        description="file only: deliver frames at the video's own frame rate, as a camera would, instead of "
        "as fast as the pipeline goes. For soak and fleet tests, where many daemons share a machine and "
        "event times should follow the clock; the pipeline still sees every frame (none are dropped).",
    )
    width: int | None = Field(
        None, ge=16, le=7680,
        description="Requested capture width in pixels (cameras only; None keeps the camera's). "
        "Wider frames make small plates readable from further away but cost detector time and memory.",
    )
    height: int | None = Field(
        None, ge=16, le=4320,
        description="Requested capture height in pixels (cameras only; None keeps the camera's).",
    )
    fps: float | None = Field(
        None, gt=0, le=240,
        description="Requested capture frame rate (cameras only). More frames give each passing plate "
        "more chances to be read; frames the pipeline cannot keep up with are dropped (live sources).",
    )
    exposure_us: int | None = Field(
        None, ge=10, le=1_000_000, validate_default=True,
        description="Cameras only (v4l2, picamera2): a fixed shutter time in microseconds, gain left to the "
        "camera. A plate coming towards the camera moves about a quarter of its width down the frame between "
        "frames at 30 fps, and auto exposure opens the shutter for 1/60-1/30 s at dusk: the plate is smeared "
        "past reading (the reader reads almost none smeared over 8 % of their width). 1000-2000 keeps the "
        "smear near 1 % of the plate in daylight; longer only with enough light (or IR) at night. None leaves "
        "exposure automatic.",
    )
    reopen_backoff_initial_s: float = Field(
        1.0, gt=0, le=60,
        description="First wait before reopening a camera/stream that stopped delivering frames. "
        "Shorter recovers faster from a blip; the wait doubles on each failed attempt.",
    )
    reopen_backoff_max_s: float = Field(
        30.0, gt=0, le=3600, validate_default=True,
        description="Longest wait between reopen attempts. Lower notices a camera coming back sooner "
        "at the cost of more reconnect attempts (and log lines stay at one per outage either way).",
    )
    stall_timeout_s: float = Field(
        10.0, ge=1.0, le=300.0,
        description="A live source that delivers no frame for this long while still connected (a stream "
        "whose camera stopped sending) is closed and reopened with backoff; for streams it is also the "
        "longest wait for each read (and for opening, at least 10 s). Lower notices a stalled camera sooner; keep it above a few "
        "frame intervals of the camera, or a slow camera is reconnected needlessly.",
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp",
        description="rtsp only: how RTP packets travel. 'tcp' interleaves them in the RTSP connection: no "
        "packet loss, passes NAT and firewalls (OpenCV's default). 'udp' uses separate UDP ports: a little "
        "lower latency, but lost packets show as damaged frames and firewalls must let the ports through.",
    )

    @field_validator("uri")
    @classmethod
    def _check_uri_matches_kind(cls, uri: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        uri = uri.strip()
        if not uri and kind in ("v4l2", "picamera2"):
            return "0"
        if kind == "file" and not uri:
            raise ValueError("a file source needs the path of a video file")
        if kind == "v4l2" and not (uri.isdigit() or uri.startswith("/dev/")):
            raise ValueError("a v4l2 source needs a device index like '0' or a path like '/dev/video0'")
        if kind == "rtsp" and not uri.lower().startswith(_STREAM_SCHEMES):
            raise ValueError(f"an rtsp source needs a URL starting with one of {', '.join(_STREAM_SCHEMES)}")
        if kind == "picamera2" and uri and not uri.isdigit():
            raise ValueError("a picamera2 source takes a camera index like '0'")
        return uri

    @field_validator("loop", "realtime")
    @classmethod
    def _check_file_only_options(cls, value: bool, info: ValidationInfo) -> bool:
        kind = info.data.get("kind")
        if value and kind != "file":
            verb = "loop" if info.field_name == "loop" else "be played in real time"
            raise ValueError(f"only a 'file' source can {verb}, this one is {kind!r}")
        return value

    @field_validator("exposure_us")
    @classmethod
    def _check_camera_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        if value is not None and kind not in ("v4l2", "picamera2"):
            where = "in the camera's own settings page" if kind == "rtsp" else "when the video was recorded"
            raise ValueError(f"only a v4l2 or picamera2 camera's shutter can be set here; a {kind!r} source's is set {where}")
        return value

    @field_validator("reopen_backoff_max_s")
    @classmethod
    def _check_backoff_order(cls, max_s: float, info: ValidationInfo) -> float:
        initial = info.data.get("reopen_backoff_initial_s")
        if initial is not None and initial > max_s:
            raise ValueError(f"must be at least reopen_backoff_initial_s ({initial})")
        return max_s
