"""Frame sources on real (small, generated) videos and on a scripted fake camera."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.config.source import SourceConfig
from edge_alpr.errors import SourceError
from edge_alpr.sources import LiveSource, VideoFileSource, as_bgr, open_source
from edge_alpr.sources_rtsp import hide_password

FPS = 10.0
FRAMES = 30


def write_video(path: Path, frames: int = FRAMES, fourcc: str = "mp4v") -> Path:
    """Frame i is uniformly grey level 8*i, so the order of frames can be checked."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (160, 120))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for i in range(frames):
        writer.write(np.full((120, 160, 3), 8 * i, np.uint8))
    writer.release()
    return path


def read_all(source: VideoFileSource, limit: int = 1000) -> list:
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    mp4 = write_video(root / "clip.mp4")
    avi = write_video(root / "clip.avi", fourcc="MJPG")
    data = avi.read_bytes()
    (root / "truncated.avi").write_bytes(data[: len(data) // 2])
    mp4_data = mp4.read_bytes()
    (root / "truncated.mp4").write_bytes(mp4_data[: len(mp4_data) // 2])
    (root / "notes.mp4").write_text("this is not a video\n" * 50)
    # Zero the 11th JPEG (frame 10) up to the next AVI chunk header ('00dc' + size, 8 bytes):
    # that one frame no longer decodes, the container stays intact.
    corrupt = bytearray(data)
    starts = [i for i in range(len(corrupt) - 2) if corrupt[i : i + 3] == b"\xff\xd8\xff"]
    end = starts[11] - 8
    assert corrupt[end : end + 4] == b"00dc"
    corrupt[starts[10] : end] = bytes(end - starts[10])
    (root / "corrupt.avi").write_bytes(bytes(corrupt))
    return {p.stem + p.suffix: p for p in root.iterdir()}


@pytest.mark.parametrize("name", ["clip.mp4", "clip.avi"])
def test_file_delivers_every_frame_in_order_then_ends(videos, name) -> None:
    source = VideoFileSource(videos[name])
    frames = read_all(source)
    assert len(frames) == FRAMES
    assert [f.index for f in frames] == list(range(FRAMES))
    brightness = [float(f.image.mean()) for f in frames]
    assert all(b2 > b1 for b1, b2 in zip(brightness, brightness[1:]))
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    # Wall time follows the video (1/fps apart), not the decoding speed.
    steps = np.diff([f.wall_time for f in frames])
    assert np.allclose(steps, 1 / FPS, atol=1e-6)
    assert source.finished and source.read() is None
    assert source.stats().frames == FRAMES and source.stats().corrupt == 0
    source.close()


def test_looping_file_restarts_with_continuous_index_and_time(videos) -> None:
    source = open_source(SourceConfig(kind="file", uri=str(videos["clip.mp4"]), loop=True))
    frames = read_all(source, limit=2 * FRAMES + 5)
    assert len(frames) == 2 * FRAMES + 5 and not source.finished
    assert [f.index for f in frames] == list(range(2 * FRAMES + 5))
    assert np.all(np.diff([f.wall_time for f in frames]) > 0)
    # The 31st frame is the first frame again.
    assert float(frames[FRAMES].image.mean()) == pytest.approx(float(frames[0].image.mean()), abs=2)
    source.close()


def test_realtime_file_delivers_frames_at_the_video_rate_and_drops_none(videos) -> None:
    source = open_source(SourceConfig(kind="file", uri=str(videos["clip.mp4"]), realtime=True))
    started = time.monotonic()
    frames = read_all(source, limit=11)
    elapsed = time.monotonic() - started
    source.close()
    assert [f.index for f in frames] == list(range(11))
    assert elapsed >= 10 / FPS - 0.02  # frame 10 is one second into a 10 fps video
    assert "in real time" in source.describe()


def test_only_a_file_plays_in_real_time() -> None:
    with pytest.raises(ValueError, match="only a 'file' source can be played in real time"):
        SourceConfig(kind="v4l2", uri="0", realtime=True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.mp4", "does not exist"),
        ("notes.mp4", "cannot be decoded as a video"),
        ("truncated.mp4", "cannot be decoded as a video"),  # an mp4's index sits at its end
    ],
)
def test_unusable_files_raise_source_error_naming_the_file(videos, name, expected) -> None:
    path = videos.get(name, next(iter(videos.values())).parent / name)
    with pytest.raises(SourceError) as caught:
        VideoFileSource(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)
    assert caught.value.exit_code == 4


def test_a_directory_is_not_a_video(tmp_path) -> None:
    with pytest.raises(SourceError, match="is not a file"):
        open_source(SourceConfig(kind="file", uri=str(tmp_path)))


def test_truncated_file_ends_early_with_a_warning(videos, caplog) -> None:
    source = VideoFileSource(videos["truncated.avi"])
    with caplog.at_level(logging.WARNING):
        frames = read_all(source)
    assert 0 < len(frames) < FRAMES
    assert source.finished
    assert any("truncated" in r.message for r in caplog.records)


def test_corrupt_frame_is_skipped_and_counted(videos, caplog) -> None:
    source = VideoFileSource(videos["corrupt.avi"])
    with caplog.at_level(logging.WARNING):
        frames = read_all(source)
    assert len(frames) == FRAMES - 1
    assert source.stats().corrupt == 1
    # The frame after the gap is frame 11 (grey 88), 0.2 s of video after frame 9.
    assert float(frames[10].image.mean()) == pytest.approx(88, abs=3)
    assert frames[10].wall_time - frames[9].wall_time == pytest.approx(2 / FPS)
    assert any("corrupt" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("image", "shape"),
    [
        (np.zeros((4, 5), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 4), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 3), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 3), np.float32), None),
        (np.zeros((0, 5, 3), np.uint8), None),
        (np.zeros((4, 5, 2), np.uint8), None),
        (None, None),
    ],
)
def test_as_bgr(image, shape) -> None:
    result = as_bgr(image)
    assert (result.shape if result is not None else None) == shape


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@10.0.0.5/s1", "rtsp://admin:***@10.0.0.5/s1"),
        ("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
        ("http://user@cam/mjpg", "http://user@cam/mjpg"),
    ],
)
def test_stream_passwords_are_hidden_in_descriptions(url, shown) -> None:
    assert hide_password(url) == shown


@pytest.mark.parametrize("uri", ["/dev/video97", "97"])
def test_missing_v4l2_device_is_a_source_error(uri) -> None:
    with pytest.raises(SourceError, match="/dev/video97: no such camera device"):
        open_source(SourceConfig(kind="v4l2", uri=uri))


def test_picamera2_without_the_package_says_how_to_install_it(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_picamera2(name, *args, **kwargs):
        if name == "picamera2":
            raise ImportError("No module named 'picamera2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_picamera2)
    with pytest.raises(SourceError, match="apt install python3-picamera2"):
        open_source(SourceConfig(kind="picamera2"))


class FakePicamera2:
    """Stands in for picamera2 (no Pi camera here): records the controls it is configured with."""

    opened: list[FakePicamera2] = []

    def __init__(self, camera_num: int) -> None:
        self.camera_num, self.controls, self.started = camera_num, None, False
        FakePicamera2.opened.append(self)

    def create_video_configuration(self, main, controls):
        self.controls = dict(controls)
        return {"main": main, "controls": controls}

    def configure(self, config) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, stream):
        time.sleep(0.01)  # a camera's frame interval, not a busy loop
        return np.zeros((self.config["main"]["size"][1], self.config["main"]["size"][0], 3), np.uint8)

    def stop(self) -> None: ...

    def close(self) -> None: ...


def test_a_pi_camera_is_given_the_fixed_shutter_and_frame_rate_the_config_asks_for(monkeypatch) -> None:
    import sys
    import types

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    FakePicamera2.opened.clear()
    source = open_source(SourceConfig(kind="picamera2", uri="1", fps=25, exposure_us=1500))
    try:
        frame, deadline = None, time.monotonic() + 3
        while frame is None and time.monotonic() < deadline:
            frame = source.read()
    finally:
        source.close()
    camera = FakePicamera2.opened[0]
    assert camera.camera_num == 1 and camera.started
    assert camera.controls == {"FrameRate": 25.0, "ExposureTime": 1500}
    assert frame is not None and frame.image.shape == (720, 1280, 3)

    FakePicamera2.opened.clear()
    open_source(SourceConfig(kind="picamera2")).close()
    assert "ExposureTime" not in FakePicamera2.opened[0].controls  # automatic unless asked


class RecordingCapture:
    def __init__(self, accepts: bool = True) -> None:
        self.accepts, self.calls = accepts, []

    def set(self, prop, value) -> bool:
        self.calls.append((prop, value))
        return self.accepts


def test_a_usb_camera_is_switched_to_manual_exposure_in_100_us_steps_and_a_refusal_is_logged(caplog) -> None:
    from edge_alpr.sources_cameras import V4L2Camera

    capture = RecordingCapture()
    V4L2Camera("0", 1280, 720, None, exposure_us=1500)._request_format(capture)
    assert capture.calls[-2:] == [(cv2.CAP_PROP_AUTO_EXPOSURE, 1), (cv2.CAP_PROP_EXPOSURE, 15)]

    capture = RecordingCapture()
    V4L2Camera("0", None, None, None)._request_format(capture)
    assert not capture.calls

    with caplog.at_level(logging.WARNING):
        V4L2Camera("0", None, None, None, exposure_us=800)._request_format(RecordingCapture(accepts=False))
    assert "refused a fixed exposure of 800 us" in caplog.text and "/dev/video0" in caplog.text


def test_a_shutter_time_is_refused_for_sources_whose_shutter_is_set_elsewhere() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="camera's own settings page"):
        SourceConfig(kind="rtsp", uri="rtsp://cam/stream", exposure_us=1000)
    with pytest.raises(ValidationError, match="when the video was recorded"):
        SourceConfig(kind="file", uri="clip.mp4", exposure_us=1000)
    with pytest.raises(ValidationError, match="greater than or equal to 10"):
        SourceConfig(kind="v4l2", exposure_us=0)


class ScriptedCamera:
    """A camera that plays a script: an image, None (failed read) or 'wait' (a slow frame)."""

    def __init__(self, script: list, fail_opens_after_first: int = 0, frame_delay_s: float = 0.0) -> None:
        self.script = list(script)
        self.opens = 0
        self.fail_opens_after_first = fail_opens_after_first
        self.frame_delay_s = frame_delay_s
        self.released = False
        self.lock = threading.Lock()

    def open(self) -> None:
        self.opens += 1
        if 1 < self.opens <= 1 + self.fail_opens_after_first:
            raise SourceError("fake camera: not there yet")

    def grab(self):
        time.sleep(self.frame_delay_s)
        with self.lock:
            if not self.script:
                time.sleep(0.005)
                return None
            return self.script.pop(0)

    def release(self) -> None:
        self.released = True

    def describe(self) -> str:
        return "fake camera"


def grey(level: int) -> np.ndarray:
    return np.full((8, 8, 3), level, np.uint8)


def wait_for(predicate, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_live_source_reopens_a_lost_camera_with_backoff_and_logs_once(caplog) -> None:
    # 2 frames, the camera dies (10 failed reads), two reopen attempts fail, then it is back.
    camera = ScriptedCamera([grey(1), grey(2)] + [None] * 10 + [grey(3), grey(4)], fail_opens_after_first=2)
    with caplog.at_level(logging.WARNING):
        source = LiveSource(camera, backoff_initial_s=0.01, backoff_max_s=0.02, read_wait_s=0.05)
        levels = []
        deadline = time.monotonic() + 3
        while len(set(levels) - {1, 2}) < 1 and time.monotonic() < deadline:
            frame = source.read()  # returns None while the camera is away, never raises
            if frame is not None:
                levels.append(int(frame.image[0, 0, 0]))
        source.close()
    assert 3 in levels or 4 in levels
    assert source.stats().outages == 1
    assert camera.opens == 4  # the first open, two failed reopens, one good one
    stopped = [r for r in caplog.records if "stopped delivering" in r.message]
    assert len(stopped) == 1
    assert any("delivering frames again" in r.message for r in caplog.records)
    assert camera.released and source.finished


def test_live_source_reconnects_a_camera_that_stays_connected_but_goes_silent(caplog) -> None:
    # 3 frames, then a read that hangs for 0.6 s and comes back with an old frame (what FFmpeg
    # does when its read timeout fires): with a 0.3 s stall timeout that is a stall, not a frame.
    class StallingCamera(ScriptedCamera):
        def grab(self):
            image = super().grab()
            if image is not None and int(image[0, 0, 0]) == 9:
                time.sleep(0.6)
            return image

    camera = StallingCamera([grey(1), grey(2), grey(3), grey(9), grey(4), grey(5)])
    with caplog.at_level(logging.WARNING):
        source = LiveSource(camera, backoff_initial_s=0.01, backoff_max_s=0.02, stall_timeout_s=0.3, read_wait_s=0.05)
        levels = []
        deadline = time.monotonic() + 3
        while not {4, 5} & set(levels) and time.monotonic() < deadline:
            frame = source.read()
            if frame is not None:
                levels.append(int(frame.image[0, 0, 0]))
        source.close()
    assert 9 not in levels  # the frame that came after the stall was dropped
    assert {4, 5} & set(levels)  # frames after the reconnect arrive
    assert source.stats().outages == 1 and camera.opens == 2
    assert any("no frame for" in r.message and "stall_timeout_s=0.3" in r.message for r in caplog.records)


def test_live_source_keeps_only_the_newest_frame_and_counts_drops() -> None:
    camera = ScriptedCamera([grey(i) for i in range(200)], frame_delay_s=0.001)
    source = LiveSource(camera, read_wait_s=0.5)
    seen = []
    while len(seen) < 5:
        frame = source.read()
        if frame is not None:
            seen.append(frame.index)
            time.sleep(0.03)  # a slow pipeline
    wait_for(lambda: not camera.script)
    source.close()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert max(np.diff(seen)) > 1  # frames were skipped to stay current
    stats = source.stats()
    assert stats.dropped > 0 and stats.frames == 5
    assert stats.dropped + stats.frames + stats.queue_depth <= 200


def test_live_source_read_returns_none_when_no_frame_arrives() -> None:
    camera = ScriptedCamera([])
    source = LiveSource(camera, backoff_initial_s=5, backoff_max_s=5, read_wait_s=0.05)
    started = time.monotonic()
    assert source.read() is None and not source.finished
    assert time.monotonic() - started < 1.0
    source.close()
