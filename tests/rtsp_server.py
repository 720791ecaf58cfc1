#!/usr/bin/python3
"""A real RTSP server for the tests: GStreamer's gst-rtsp-server, run by Debian's python3.

    /usr/bin/python3 tests/rtsp_server.py --port 8554 --frames DIR [--codec h264|h265]
        [--path /cam] [--fps 10] [--user U --password P] [--protocols any|tcp|udp]

It serves the JPEG files of DIR (sorted by name), in a loop, encoded live as H.264 (x264enc)
or H.265 (x265enc) at ``--fps``, on rtsp://127.0.0.1:PORT/PATH. It needs python3-gi and
gir1.2-gst-rtsp-server-1.0 (scripts/setup-dev.sh installs them), so it runs under Debian's
python3, not under the project's venv.

What the tests drive it with:

* SIGUSR1 toggles a stall: the session stays connected but no frame is sent until the next
  SIGUSR1 (a camera whose encoder hung).
* SIGTERM / SIGINT stop it; SIGKILL kills it mid-stream.
* Standard output gets one line per event, flushed: ``listening rtsp://...``, ``client connected``,
  ``transport <the client's Transport header>`` for each SETUP, ``stalled``/``resumed``.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# Keyframe every second: a client that (re)connects gets a picture within a second.
ENCODERS = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=1500 "
            "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=1500 "
            "! rtph265pay name=pay0 pt=96 config-interval=-1",
}
PROTOCOLS = {
    "any": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
    "tcp": GstRtsp.RTSPLowerTrans.TCP,
    "udp": GstRtsp.RTSPLowerTrans.UDP,
}


def say(line: str) -> None:
    print(line, flush=True)


class Clip:
    """The JPEG frames, and whether sending is stalled (shared by every client's pipeline)."""

    def __init__(self, directory: Path, fps: float) -> None:
        self.frames = [path.read_bytes() for path in sorted(directory.glob("*.jpg"))]
        if not self.frames:
            sys.exit(f"rtsp_server: no .jpg frames in {directory}")
        self.fps = fps
        self.stalled = False

    def toggle_stall(self) -> bool:
        self.stalled = not self.stalled
        say("stalled" if self.stalled else "resumed")
        return GLib.SOURCE_CONTINUE


class Feeder:
    """Pushes the clip's frames into one media's appsrc at the clip's frame rate."""

    def __init__(self, clip: Clip, appsrc: Gst.Element) -> None:
        self.clip = clip
        self.appsrc = appsrc
        self.index = 0
        self.timestamp = 0
        self.duration = int(Gst.SECOND / clip.fps)
        GLib.timeout_add(int(1000 / clip.fps), self.push)

    def push(self) -> bool:
        if self.clip.stalled:
            return GLib.SOURCE_CONTINUE
        data = self.clip.frames[self.index % len(self.clip.frames)]
        buffer = Gst.Buffer.new_wrapped(data)
        buffer.pts = buffer.dts = self.timestamp
        buffer.duration = self.duration
        self.timestamp += self.duration
        self.index += 1
        # FLUSHING/EOS once the media is torn down (the last client left): stop this timer.
        return GLib.SOURCE_CONTINUE if self.appsrc.emit("push-buffer", buffer) == Gst.FlowReturn.OK else GLib.SOURCE_REMOVE


def make_factory(args: argparse.Namespace, clip: Clip) -> GstRtspServer.RTSPMediaFactory:
    gop = max(1, round(args.fps))
    launch = (f"( appsrc name=src is-live=true format=time caps=image/jpeg,framerate={round(args.fps)}/1 "
              f"! jpegdec ! videoconvert ! video/x-raw,format=I420 ! {ENCODERS[args.codec].format(gop=gop)} )")
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(False)  # one pipeline per client: a failed SETUP leaves the others alone
    factory.set_protocols(PROTOCOLS[args.protocols])
    feeders: list[Feeder] = []

    def configure(_factory, media) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        feeders.append(Feeder(clip, appsrc))

    factory.connect("media-configure", configure)
    if args.user:
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
    return factory


def on_client(_server, client) -> None:
    say("client connected")

    def setup(_client, context) -> None:
        _, requested = context.request.get_header(GstRtsp.RTSPHeaderField.TRANSPORT, 0)
        say(f"transport {requested}")  # e.g. RTP/AVP/TCP;unicast;interleaved=0-1 or RTP/AVP/UDP;unicast;...

    client.connect("setup-request", setup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--frames", type=Path, required=True, help="folder of .jpg frames, served in name order")
    parser.add_argument("--codec", choices=sorted(ENCODERS), default="h264")
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--protocols", choices=sorted(PROTOCOLS), default="any")
    args = parser.parse_args()

    Gst.init(None)
    for element in ("x264enc" if args.codec == "h264" else "x265enc", "jpegdec", "appsrc"):
        if Gst.ElementFactory.find(element) is None:
            sys.exit(f"rtsp_server: GStreamer element {element} is missing (see scripts/setup-dev.sh)")
    clip = Clip(args.frames, args.fps)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
    server.get_mount_points().add_factory(args.path, make_factory(args, clip))
    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, clip.toggle_stall)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda: loop.quit() or GLib.SOURCE_REMOVE)
    say(f"listening rtsp://127.0.0.1:{args.port}{args.path} ({args.codec}, {len(clip.frames)} frames, {args.fps:g} fps)")
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
