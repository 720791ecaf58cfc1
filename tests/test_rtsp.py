"""The daemon against a real RTSP server: GStreamer's gst-rtsp-server (tests/rtsp_server.py, run
by Debian's python3 with python3-gi) serving a generated roadside clip as H.264 or H.265.

What must hold (docs/reliability.md): plates are read from rtsp://127.0.0.1:PORT/cam; a server
killed mid-stream and started again is reconnected with backoff and plates keep coming; a stream
that stays connected but sends nothing is noticed within source.stall_timeout_s and reconnected
while the systemd watchdog keeps being pinged; wrong credentials, a wrong path or no server are
exit 4 with a message naming the URL (password hidden) and the reason; source.rtsp_transport
selects TCP or UDP, as the server sees in each SETUP.

Skipped where Debian's python3 lacks gi and gir1.2-gst-rtsp-server-1.0 (scripts/setup-dev.sh
installs them); the daemon tests also need the trained models.
"""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from broker import free_port, wait_until
from test_daemon_faults import MODELS_DIR, Daemon, NotifySocket, logged_events, write_config

from edge_alpr.config.source import SourceConfig
from edge_alpr.errors import SourceError
from edge_alpr.sources import open_source
from edge_alpr.synth.scenes import VideoTruth, make_video

pytestmark = pytest.mark.integration

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-gi lives; not the venv's
CLIP_FPS = 10.0
# Served at half the clip's rate: a busy 2-core machine still processes most frames live.
FPS = 5.0
SECRET = "s3cret-pass"
EVENT_WAIT_S = 60.0  # a 2-core machine busy with other work: generous, only to bound a failure
STALL_TIMEOUT_S = 3.0


@functools.cache
def encoder_available(element: str) -> bool:
    """Debian's python3 has gi, gst-rtsp-server and the GStreamer ``element``."""
    probe = ("import sys, gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
             "sys.exit(Gst.ElementFactory.find(sys.argv[1]) is None)")
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe, element], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RtspServer:
    """tests/rtsp_server.py on 127.0.0.1:``port``; can be killed and started again on the same port."""

    def __init__(self, workdir: Path, frames: Path, *, codec: str = "h264", user: str | None = None,
                 protocols: str = "any") -> None:
        self.port = free_port()
        self.user = user
        self.log_path = workdir / f"rtsp-server-{self.port}.log"
        self.command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--frames", str(frames),
                        "--codec", codec, "--fps", str(FPS), "--protocols", protocols]
        if user:
            self.command += ["--user", user, "--password", SECRET]
        self.process: subprocess.Popen | None = None

    def url(self, path: str = "/cam", *, user: str | None = None, password: str | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"rtsp://{credentials}127.0.0.1:{self.port}{path}"

    def start(self) -> RtspServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if not wait_until(lambda: "listening" in self.log() or self.process.poll() is not None, 20, interval_s=0.05):
            pytest.fail(f"the RTSP server did not start in 20 s:\n{self.log()}")
        assert self.process.poll() is None, f"the RTSP server exited:\n{self.log()}"
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def toggle_stall(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def transports(self) -> list[str]:
        return [line.split(" ", 1)[1] for line in self.log().splitlines() if line.startswith("transport ")]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, VideoTruth]:
    """Four cars passing a roadside camera, 169 frames (34 s at 5 fps), as the server's JPEG frames."""
    root = tmp_path_factory.mktemp("rtsp-clip")
    truth = make_video(root / "road.mp4", seed=11, n_vehicles=4, size=(640, 360), fps=CLIP_FPS, seconds_per_vehicle=4.0,
                       kinds=["car"])
    frames = root / "frames"
    frames.mkdir()
    capture = cv2.VideoCapture(str(root / "road.mp4"))
    index = 0
    while (image := capture.read()[1]) is not None:
        cv2.imwrite(str(frames / f"{index:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        index += 1
    capture.release()
    assert index == truth.frames
    return frames, truth


@pytest.fixture
def rtsp_server(clip, tmp_path) -> Iterator:
    """``rtsp_server(codec=..., user=..., protocols=...)``: a started server, killed after the test."""
    servers: list[RtspServer] = []

    def make(codec: str = "h264", **options) -> RtspServer:
        encoder = {"h264": "x264enc", "h265": "x265enc"}[codec]
        if not encoder_available(encoder):
            pytest.skip(f"{SYSTEM_PYTHON} lacks gi, gst-rtsp-server or {encoder} (see scripts/setup-dev.sh)")
        server = RtspServer(tmp_path, clip[0], codec=codec, **options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.kill()


def rtsp_daemon(daemons: list[Daemon], tmp_path: Path, url: str, env: dict[str, str] | None = None,
                **source: object) -> Daemon:
    if not (MODELS_DIR / "plate_detector_int8.tflite").is_file():
        pytest.skip(f"needs the trained models in {MODELS_DIR}")
    settings = {"kind": "rtsp", "uri": url, "loop": False, "stall_timeout_s": STALL_TIMEOUT_S,
                "reopen_backoff_initial_s": 0.2, "reopen_backoff_max_s": 1.0, **source}
    config = write_config(tmp_path / "run.yaml", Path("unused"), port=None, workdir=tmp_path, source=settings)
    daemon = Daemon(config, MODELS_DIR, env=env)
    daemons.append(daemon)
    return daemon


def wait_for_plates(tmp_path: Path, daemon: Daemon, count: int, after: float = 0.0) -> dict[str, dict]:
    """Events in the plate log whose vehicle was first seen after the wall time ``after``."""
    def later() -> dict[str, dict]:
        return {k: e for k, e in logged_events(tmp_path).items() if seen_at(e) > after}

    if not wait_until(lambda: len(later()) >= count or daemon.process.poll() is not None, EVENT_WAIT_S, 0.1):
        pytest.fail(f"fewer than {count} plates in {EVENT_WAIT_S} s; daemon log:\n{daemon.stderr()[-3000:]}")
    assert daemon.process.poll() is None, f"the daemon exited:\n{daemon.stderr()[-3000:]}"
    return later()


def seen_at(event: dict) -> float:
    return datetime.fromisoformat(event["first_seen"].replace("Z", "+00:00")).timestamp()


# --- reading plates --------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_daemon_reads_plates_from_an_rtsp_stream(codec, clip, rtsp_server, daemons, tmp_path):
    server = rtsp_server(codec=codec)
    daemon = rtsp_daemon(daemons, tmp_path, server.url())

    events = wait_for_plates(tmp_path, daemon, 2)
    code, _ = daemon.stop()

    truth = {vehicle.plate for vehicle in clip[1].vehicles}
    plates = {event["plate"] for event in logged_events(tmp_path).values()}
    assert code == 0
    assert len(events) >= 2 and plates <= truth, f"read {sorted(plates)}, the clip has {sorted(truth)}"
    assert f"running: stream {server.url()}" in daemon.stderr()
    assert server.transports() and all(t.startswith("RTP/AVP/TCP") for t in server.transports())  # the default


# --- the server goes away, or goes silent ------------------------------------------------------------


def test_server_killed_mid_stream_and_restarted_plates_keep_coming(rtsp_server, daemons, tmp_path):
    server = rtsp_server()
    daemon = rtsp_daemon(daemons, tmp_path, server.url())
    wait_for_plates(tmp_path, daemon, 1)

    server.kill()
    killed_at = time.time()
    assert wait_until(lambda: "stopped delivering frames" in daemon.stderr(), 15), daemon.stderr()[-3000:]
    time.sleep(2.0)  # a few reopen attempts against nothing
    assert daemon.process.poll() is None
    server.start()  # the same port
    after = wait_for_plates(tmp_path, daemon, 1, after=killed_at)
    code, _ = daemon.stop()

    log = daemon.stderr()
    assert code == 0 and after
    assert log.count("stopped delivering frames") == 1  # one outage, logged once
    assert "reopening (waiting 0.2 s, doubling up to 1 s)" in log
    assert log.count(f"reopen failed: stream {server.url()}: cannot be opened: cannot connect to 127.0.0.1:") == 1
    assert "delivering frames again after" in log
    assert "Traceback" not in log


def test_stalled_stream_is_reconnected_within_the_timeout_and_the_watchdog_keeps_pinging(rtsp_server, daemons,
                                                                                         tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        server = rtsp_server()
        # WatchdogSec=2 s: systemd would kill a daemon silent for 2 s.
        daemon = rtsp_daemon(daemons, tmp_path, server.url(),
                             env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"})
        wait_for_plates(tmp_path, daemon, 1)

        server.toggle_stall()  # connected, but no more frames
        stalled_at = time.monotonic()
        assert wait_until(lambda: "no frame for" in daemon.stderr(), STALL_TIMEOUT_S + 10), daemon.stderr()[-3000:]
        noticed_after = time.monotonic() - stalled_at
        time.sleep(STALL_TIMEOUT_S)  # a reopen attempt that times out on the silent stream
        server.toggle_stall()
        resumed_at = time.time()
        after = wait_for_plates(tmp_path, daemon, 1, after=resumed_at)
        code, _ = daemon.stop()
        ready_at = notify.times_of("READY=1")[0]
        pings = [at for at in notify.times_of("WATCHDOG=1") if at > ready_at]
    finally:
        notify.close()

    assert code == 0 and after
    # The stall timeout plus frames the decoder still held and the daemon's 1 s log polling.
    assert STALL_TIMEOUT_S - 0.5 <= noticed_after <= STALL_TIMEOUT_S + 3.0
    assert f" s, over stall_timeout_s={STALL_TIMEOUT_S:g}); reopening" in daemon.stderr()
    assert server.log().count("client connected") >= 2  # it hung up and came back
    assert "delivering frames again after" in daemon.stderr()
    assert max(np.diff(pings)) < 2.0  # never silent for a whole WatchdogSec, stall included


# --- cannot be opened ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-password", "the camera refused the user name and password (RTSP 401 Unauthorized)"),
        ("no-credentials", "the camera wants a user name and password (RTSP 401 Unauthorized)"),
        ("wrong-path", "the camera has no stream at path '/nope' (RTSP 404 Not Found)"),
        ("no-server", "cannot connect to 127.0.0.1:"),
    ],
)
def test_a_stream_that_cannot_be_opened_is_exit_4_naming_the_url_without_the_password(case, expected, rtsp_server,
                                                                                      daemons, tmp_path):
    server = rtsp_server(user="cam")
    url, shown = {
        "wrong-password": (server.url(user="cam", password="not-" + SECRET), server.url(user="cam", password="***")),
        "no-credentials": (server.url(), server.url()),
        "wrong-path": (server.url("/nope", user="cam", password=SECRET), server.url("/nope", user="cam", password="***")),
        "no-server": (f"rtsp://cam:{SECRET}@127.0.0.1:{free_port()}/cam", None),
    }[case]
    daemon = rtsp_daemon(daemons, tmp_path, url)

    code = daemon.wait(60)
    log = daemon.stderr()
    assert code == 4
    assert expected in log
    if shown is not None:
        assert f"edge-alpr: stream {shown}: cannot be opened: " in log
    assert SECRET not in log and "Traceback" not in log


# --- transport -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("transport", "requested"), [("tcp", "RTP/AVP/TCP"), ("udp", "RTP/AVP/UDP")])
def test_rtsp_transport_selects_tcp_or_udp(transport, requested, rtsp_server):
    server = rtsp_server()
    source = open_source(SourceConfig(kind="rtsp", uri=server.url(), rtsp_transport=transport, stall_timeout_s=5))
    try:
        frames = []
        deadline = time.monotonic() + 20
        while len(frames) < 5 and time.monotonic() < deadline:
            frame = source.read()
            if frame is not None:
                frames.append(frame)
    finally:
        source.close()
    assert len(frames) == 5 and frames[0].image.shape == (360, 640, 3)
    assert [t.split(";")[0] for t in server.transports()] == [requested]
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ  # set only for the open


@pytest.mark.parametrize(("transport", "server_allows"), [("udp", "tcp"), ("tcp", "udp")])
def test_a_transport_the_camera_refuses_is_named_in_the_error(transport, server_allows, rtsp_server):
    server = rtsp_server(protocols=server_allows)
    with pytest.raises(SourceError) as caught:
        open_source(SourceConfig(kind="rtsp", uri=server.url(), rtsp_transport=transport, stall_timeout_s=5))
    assert f"could not be started over {transport.upper()}" in str(caught.value)
    assert f"try source.rtsp_transport: {server_allows}" in str(caught.value)
