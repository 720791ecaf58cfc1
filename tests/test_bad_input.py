"""Malformed configs, models, videos and images, each run through the real ``edge-alpr`` command
as a subprocess: the exit code is the documented one (``edge_alpr/errors.py``: 2 config, 3 model,
4 source, 5 input), stderr names the file / key path and what was expected, and no Python
traceback ever reaches the user.

Each row of ``ROWS`` is one bad input. Arguments and YAML use ``$tmp`` (the test's directory,
holding the files made by ``workspace``), ``$cfg`` (the row's config file), ``$video`` (a small
valid video) and ``$models`` (the model directory the command sees as ``$EDGE_ALPR_MODELS``).
Rows that must get past model loading need the trained models in ``models/`` and are skipped
without them; ``$EDGE_ALPR_TEST_MODELS`` may point the tests at another model directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("EDGE_ALPR_TEST_MODELS") or REPO_ROOT / "models")
DETECTOR = "plate_detector_int8.tflite"
READER = "plate_reader_int8.tflite"
MODEL_FILES = (DETECTOR, "plate_detector.json", READER, "plate_reader.json")
# The longest a failing command may take: they all stop before or right after loading models.
COMMAND_TIMEOUT_S = 60


# --- the table ----------------------------------------------------------------------------------

ModelChange = Callable[[Path], None]


@dataclass(frozen=True)
class Row:
    """One bad input: the command to run, and the exit code and stderr fragments expected."""

    argv: tuple[str, ...]
    code: int
    stderr: tuple[str, ...] = ()  # fragments that must all appear in stderr
    config: str | None = None  # YAML written to $cfg
    models: ModelChange | None = None  # applied to $models before the command runs
    needs_models: bool = False  # $models starts as a copy of the trained models, not empty
    env: dict[str, str] = field(default_factory=dict)
    stdout: tuple[str, ...] = ()  # fragments that must appear in stdout (what still worked)


def check(config: str, *stderr: str, code: int = 2) -> Row:
    """``edge-alpr check-config`` of ``config``."""
    return Row(("check-config", "$cfg"), code, stderr, config=config)


def run_video(*stderr: str, code: int, config: str = "", models: ModelChange | None = None,
              needs_models: bool = False, source: str = "$video") -> Row:
    """``edge-alpr run`` on ``source`` with ``config`` (plate log kept in $tmp)."""
    yaml_text = "outputs:\n  plate_log: {directory: $tmp/log}\n" + config
    return Row(("run", "--config", "$cfg", "--source", source), code, stderr, config=yaml_text, models=models,
               needs_models=needs_models)


def broken_model(change: ModelChange, *stderr: str) -> Row:
    """``edge-alpr run`` with a copy of the trained models, one file broken by ``change``: exit 3."""
    return run_video(*stderr, code=3, models=change, needs_models=True)


def replace_file(name: str, data: bytes) -> ModelChange:
    def change(models: Path) -> None:
        (models / name).write_bytes(data)

    return change


def remove_file(name: str) -> ModelChange:
    def change(models: Path) -> None:
        (models / name).unlink()

    return change


def copy_file(source: str, target: str) -> ModelChange:
    def change(models: Path) -> None:
        shutil.copyfile(models / source, models / target)

    return change


def tiny_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


# A FlatBuffer header with the TFLite identifier and nothing valid behind it: passes the quick
# magic check, so the runtime itself has to reject it.
FAKE_TFLITE = b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 4

SINK = "outputs:\n  mqtt:\n"
ROWS = [
    # --- YAML that does not parse -----------------------------------------------------------
    pytest.param(check("detector:\n\tnum_threads: 2\n", "c.yaml:2:1: invalid YAML", "'\\t'"),
                 id="yaml-tab-indentation"),
    pytest.param(check("camera_id: [gate\n", "c.yaml:2:1: invalid YAML", "expected ',' or ']'"),
                 id="yaml-unclosed-bracket"),
    pytest.param(check("camera_id: gate\ncamera_id: lane2\n", "c.yaml:2: camera_id: duplicate key"),
                 id="yaml-duplicate-key"),
    pytest.param(check("- camera_id: gate\n", "c.yaml:1: the top level must be a mapping", "got list"),
                 id="yaml-list-not-mapping"),
    pytest.param(check("", code=0), id="empty-file-is-all-defaults"),
    # --- keys that do not exist --------------------------------------------------------------
    pytest.param(check("cameraid: gate\n", "c.yaml:1: cameraid: unknown key; did you mean 'camera_id'?",
                       "expected one of: camera_id, detector"), id="unknown-top-level-key"),
    pytest.param(check("detector:\n  num_thraeds: 2\n",
                       "c.yaml:2: detector.num_thraeds: unknown key; did you mean 'num_threads'?"),
                 id="nested-key-typo"),
    pytest.param(check(SINK + "    tls:\n      enabeld: true\n",
                       "c.yaml:4: outputs.mqtt.tls.enabeld: unknown key; did you mean 'enabled'?"),
                 id="deeply-nested-key-typo"),
    # --- wrong types and impossible values ---------------------------------------------------
    pytest.param(check("detector:\n  num_threads: two\n", "c.yaml:2: detector.num_threads:",
                       "valid integer", "'two'"), id="string-for-num-threads"),
    pytest.param(check("camera_id: [gate, lane2]\n", "c.yaml:1: camera_id:", "valid string"),
                 id="list-for-camera-id"),
    pytest.param(check("camera_id: gate/2\n", "camera_id:", "only letters, digits"), id="camera-id-with-slash"),
    pytest.param(check("detector:\n  score_threshold: -0.1\n", "c.yaml:2: detector.score_threshold:",
                       "greater than or equal to 0", "-0.1"), id="negative-score-threshold"),
    pytest.param(check("detector:\n  score_threshold: 1.5\n", "detector.score_threshold:",
                       "less than or equal to 1", "1.5"), id="score-threshold-above-1"),
    pytest.param(check(SINK + "    port: 0\n", "c.yaml:3: outputs.mqtt.port:", "greater than or equal to 1"),
                 id="port-0"),
    pytest.param(check(SINK + "    port: 70000\n", "outputs.mqtt.port:", "less than or equal to 65535"),
                 id="port-70000"),
    pytest.param(check("detector:\n  roi: [[0, 0], [100, 100]]\n", "c.yaml:2: detector.roi:",
                       "at least 3 [x, y] points, got 2"), id="roi-with-2-points"),
    pytest.param(check("detector:\n  roi: [[0, 0], [50, 50], [100, 100]]\n", "detector.roi:", "no area"),
                 id="roi-zero-area"),
    pytest.param(check("detector:\n  roi: [[0, 0], [100, 100], [100, 0], [0, 100]]\n", "detector.roi:", "no area"),
                 id="roi-self-crossing-bowtie"),
    pytest.param(check("detector:\n  roi: [[0, 0], [-5, 100], [100, 100]]\n", "detector.roi[1][0]:",
                       "greater than or equal to 0"), id="roi-negative-coordinate"),
    pytest.param(check("source:\n  kind: ftp\n  uri: x\n", "c.yaml:2: source.kind:",
                       "'file', 'v4l2', 'rtsp' or 'picamera2'", "'ftp'"), id="unknown-source-kind"),
    pytest.param(check("source:\n  kind: rtsp\n  uri: cam.mp4\n", "c.yaml:3: source.uri:",
                       "an rtsp source needs a URL starting with one of rtsp://"), id="rtsp-source-without-url"),
    pytest.param(check("source:\n  kind: v4l2\n  loop: true\n", "source.loop:",
                       "only a 'file' source can loop"), id="loop-on-a-camera"),
    pytest.param(check("log_level: verbose\n", "log_level:", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
                 id="unknown-log-level"),
    pytest.param(check("status_interval_s: 0\n", "status_interval_s:", "greater than or equal to 1"),
                 id="status-interval-0"),
    pytest.param(check("tracker: {max_age_frames: 2}\ndetector: {detect_every_n_frames: 3}\n",
                       "tracker:", "max_age_frames (2) must exceed detector.detect_every_n_frames (3)"),
                 id="tracks-end-between-detections"),
    pytest.param(check("voting: {min_reads: 5, early_emit: true, early_emit_reads: 2}\n",
                       "voting.early_emit_reads:", "at least voting.min_reads (5)"),
                 id="early-emit-with-fewer-reads-than-the-vote"),
    pytest.param(check("outputs:\n  plate_log: {text_file: ../plates.log}\n", "outputs.plate_log.text_file:",
                       "plain file name"), id="plate-log-name-with-slash"),
    # --- MQTT topics, TLS and secrets ---------------------------------------------------------
    pytest.param(check(SINK + "    topic_prefix: 'alpr/#'\n", "c.yaml:3: outputs.mqtt.topic_prefix:",
                       "must not contain the MQTT wildcards"), id="topic-prefix-hash"),
    pytest.param(check(SINK + "    topic_prefix: 'alpr/+/x'\n", "outputs.mqtt.topic_prefix:",
                       "must not contain the MQTT wildcards"), id="topic-prefix-plus"),
    pytest.param(check(SINK + "    topic_prefix: /alpr\n", "outputs.mqtt.topic_prefix:",
                       "must not start or end with '/'"), id="topic-prefix-leading-slash"),
    pytest.param(check(SINK + "    reconnect_min_s: 10\n    reconnect_max_s: 5\n", "outputs.mqtt:",
                       "reconnect_min_s (10.0) must not exceed mqtt.reconnect_max_s (5.0)"),
                 id="reconnect-min-above-max"),
    pytest.param(check(SINK + "    tls: {enabled: true, ca_file: $tmp/no-ca.pem}\n", "c.yaml:3: outputs.mqtt.tls:",
                       "mqtt.tls.ca_file: file '$tmp/no-ca.pem' does not exist"), id="tls-ca-file-missing"),
    pytest.param(check(SINK + "    tls: {enabled: true, cert_file: $tmp/password.txt}\n", "outputs.mqtt.tls:",
                       "cert_file and mqtt.tls.key_file must be given together"), id="tls-cert-without-key"),
    pytest.param(check(SINK + "    username: cam\n    password: pw\n    password_file: $tmp/password.txt\n",
                       "c.yaml:3: outputs.mqtt:",
                       "given more than once (mqtt.password, mqtt.password_file); keep exactly one"),
                 id="password-and-password-file"),
    pytest.param(Row(("check-config", "$cfg"), 2,
                     ("outputs.mqtt:", "given more than once (mqtt.password_file, environment variable "
                      "EDGE_ALPR_MQTT_PASSWORD)"),
                     config=SINK + "    username: cam\n    password_file: $tmp/password.txt\n",
                     env={"EDGE_ALPR_MQTT_PASSWORD": "from-env"}),
                 id="password-file-and-environment"),
    pytest.param(check(SINK + "    username: cam\n    password_file: $tmp/no-password\n", "outputs.mqtt:",
                       "mqtt.password_file '$tmp/no-password' cannot be read: No such file"),
                 id="password-file-missing"),
    pytest.param(check(SINK + "    username: cam\n    password_file: $tmp\n", "outputs.mqtt:",
                       "mqtt.password_file '$tmp' cannot be read: Is a directory"),
                 id="password-file-unreadable"),
    pytest.param(check(SINK + "    username: cam\n    password_file: $tmp/binary.bin\n", "outputs.mqtt:",
                       "mqtt.password_file '$tmp/binary.bin' is not UTF-8 text"),
                 id="password-file-not-text"),
    pytest.param(check(SINK + "    password: pw\n", "outputs.mqtt:", "mqtt.username is not; set both or neither"),
                 id="password-without-username"),
    # --- the config file itself ----------------------------------------------------------------
    pytest.param(Row(("check-config", "$tmp/missing.yaml"), 2, ("$tmp/missing.yaml: config file does not exist",)),
                 id="config-file-missing"),
    pytest.param(Row(("check-config", "$tmp"), 2, ("$tmp: is a directory, expected a YAML config file",)),
                 id="config-is-a-directory"),
    pytest.param(Row(("check-config", "$tmp/binary.bin"), 2, ("$tmp/binary.bin: is not UTF-8 text",)),
                 id="config-not-text"),
    pytest.param(Row(("run", "--config", "$cfg"), 2, ("c.yaml:1: camera_id:", "valid string"),
                     config="camera_id: [a]\n"), id="run-refuses-a-bad-config"),
    # --- sources ---------------------------------------------------------------------------------
    pytest.param(run_video("$tmp/missing.mp4: video file does not exist", code=4, source="$tmp/missing.mp4"),
                 id="video-missing"),
    pytest.param(run_video("$tmp/notes.mp4: cannot be decoded as a video", "expected a video file", code=4,
                           source="$tmp/notes.mp4"), id="text-file-named-mp4"),
    pytest.param(run_video("$tmp/truncated.mp4: cannot be decoded as a video", "truncated", code=4,
                           source="$tmp/truncated.mp4"), id="truncated-mp4"),
    pytest.param(run_video("$tmp: is not a file, expected a video file", code=4, source="$tmp"),
                 id="directory-as-video"),
    pytest.param(run_video("/dev/video97: no such camera device", code=4, source="/dev/video97"),
                 id="camera-device-missing"),
    pytest.param(Row(("run", "--config", "$cfg"), 4, ("$tmp/gone.avi: video file does not exist",),
                     config="source: {kind: file, uri: $tmp/gone.avi}\n"), id="config-source-missing"),
    pytest.param(run_video("$tmp/truncated.avi: ended after", "(file truncated or damaged)", code=0,
                           source="$tmp/truncated.avi", needs_models=True),
                 id="truncated-avi-plays-what-is-there"),
    # --- models ----------------------------------------------------------------------------------
    pytest.param(run_video(f"$models/{DETECTOR}: detector model not found", "$EDGE_ALPR_MODELS", code=3),
                 id="detector-model-missing"),
    pytest.param(run_video(f"$models/{DETECTOR}: not a TFLite model", "identifier TFL3", code=3,
                           models=replace_file(DETECTOR, os.urandom(4096))), id="detector-model-random-bytes"),
    pytest.param(run_video(f"$models/{DETECTOR}: not a TFLite model", code=3,
                           models=replace_file(DETECTOR, tiny_jpeg())), id="detector-model-is-a-jpeg"),
    pytest.param(run_video(f"$models/{DETECTOR}: not a TFLite model", code=3,
                           models=replace_file(DETECTOR, b"")), id="detector-model-empty"),
    pytest.param(run_video(f"$models/{DETECTOR}: the TFLite runtime could not load it", code=3,
                           models=replace_file(DETECTOR, FAKE_TFLITE)), id="detector-model-corrupt-flatbuffer"),
    pytest.param(run_video("$tmp: detector model not found", code=3, config="detector: {model_path: $tmp}\n"),
                 id="detector-model-path-is-a-directory"),
    pytest.param(broken_model(remove_file("plate_detector.json"),
                              f"$models/{DETECTOR}: its model card plate_detector.json is missing"),
                 id="detector-card-missing"),
    pytest.param(broken_model(replace_file("plate_detector.json", b'{"input_size": '),
                              "$models/plate_detector.json: not valid JSON"), id="detector-card-not-json"),
    pytest.param(broken_model(replace_file("plate_detector.json", b'{"input_size": 320}'),
                              f"$models/{DETECTOR}: model card lacks or garbles 'heads'"),
                 id="detector-card-incomplete"),
    pytest.param(broken_model(copy_file(READER, DETECTOR), f"$models/{DETECTOR}: input shape",
                              "expected (1, 320, 320, 3)"), id="reader-model-in-the-detector-place"),
    pytest.param(broken_model(remove_file(READER), f"$models/{READER}: reader model not found"),
                 id="reader-model-missing"),
    pytest.param(broken_model(replace_file(READER, tiny_jpeg()), f"$models/{READER}: not a TFLite model"),
                 id="reader-model-is-a-jpeg"),
    pytest.param(broken_model(remove_file("plate_reader.json"),
                              f"$models/{READER}: its model card plate_reader.json is missing"),
                 id="reader-card-missing"),
    pytest.param(broken_model(replace_file("plate_detector.json", b"[320]"), "$models/plate_detector.json",
                              "JSON object"), id="detector-card-not-an-object"),
    pytest.param(broken_model(replace_file("plate_reader.json", b"[1, 2]"), "$models/plate_reader.json",
                              "JSON object"), id="reader-card-not-an-object"),
    pytest.param(broken_model(replace_file("plate_reader.json", b'{"calibration": {"a": "steep"}}'),
                              "$models/plate_reader.json", "calibration"),
                 id="reader-card-calibration-not-numbers"),
    # --- images given to detect / read -------------------------------------------------------------
    pytest.param(Row(("detect", "$tmp/notes.jpg", "$tmp/car.png"), 5,
                     ("edge-alpr: $tmp/notes.jpg: is not an image OpenCV can read",),
                     needs_models=True, stdout=("$tmp/car.png: ",)),
                 id="detect-unreadable-image-among-good-ones"),
    pytest.param(Row(("detect", "--json", "$tmp/missing.png", "$tmp/car.png"), 5,
                     ("edge-alpr: $tmp/missing.png: does not exist",),
                     needs_models=True, stdout=('"image": "$tmp/car.png"',)),
                 id="detect-missing-image"),
    pytest.param(Row(("detect", "$tmp/cut.jpg"), 5, ("edge-alpr: $tmp/cut.jpg: is not an image OpenCV can read",),
                     needs_models=True), id="detect-truncated-jpeg"),
    pytest.param(Row(("read", "$tmp/notes.jpg", "$tmp/car.png"), 5,
                     ("edge-alpr: $tmp/notes.jpg: is not an image OpenCV can read",),
                     needs_models=True, stdout=("$tmp/car.png: ",)),
                 id="read-unreadable-crop"),
    pytest.param(Row(("detect", "$tmp/photos"), 5, ("edge-alpr: $tmp/photos: is a directory",),
                     needs_models=True),
                 id="detect-a-directory"),
    pytest.param(Row(("detect", "$tmp/car.png"), 3, (f"$models/{DETECTOR}: detector model not found",)),
                 id="detect-without-a-detector-model"),
]


# --- running a row ------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The files the rows refer to: a small video, broken videos and images, a password file."""
    write_video(tmp_path / "ok.avi", frames=12)
    whole = write_video(tmp_path / "whole.avi", frames=40).read_bytes()
    (tmp_path / "truncated.avi").write_bytes(whole[: len(whole) // 2])
    mp4 = write_video(tmp_path / "whole.mp4", frames=12).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(mp4[: len(mp4) // 2])  # mp4v puts the index at the end
    (tmp_path / "notes.mp4").write_text("this is not a video\n")
    (tmp_path / "notes.jpg").write_text("this is not an image\n")
    car = np.full((240, 320, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "car.png"), car)
    (tmp_path / "cut.jpg").write_bytes(tiny_jpeg()[:40])
    (tmp_path / "photos").mkdir()
    (tmp_path / "password.txt").write_text("s3cret\n")
    (tmp_path / "binary.bin").write_bytes(b"\xff\xfe\x00\x81 not text")
    return tmp_path


def write_video(path: Path, frames: int) -> Path:
    """A grey gradient clip, enough for a source to open and play."""
    fourcc = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (160, 96))
    for i in range(frames):
        writer.write(np.full((96, 160, 3), 40 + 4 * i, np.uint8))
    writer.release()
    return path


def model_dir(tmp_path: Path, row: Row) -> Path:
    """$models: empty or a copy of the trained models, then changed as the row says."""
    models = tmp_path / "models"
    models.mkdir()
    if row.needs_models:
        if not (MODELS_DIR / DETECTOR).is_file():
            pytest.skip(f"needs the trained models in {MODELS_DIR} (plate_detector_int8.tflite is absent)")
        for name in MODEL_FILES:
            shutil.copyfile(MODELS_DIR / name, models / name)
    if row.models is not None:
        row.models(models)
    return models


def run_cli(argv: list[str], env_overrides: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("EDGE_ALPR_MQTT_PASSWORD", "NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-m", "edge_alpr", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("row", ROWS)
def test_bad_input_exits_with_its_code_and_says_what_was_expected(row: Row, workspace: Path) -> None:
    models = model_dir(workspace, row)
    names = {"tmp": str(workspace), "cfg": str(workspace / "c.yaml"), "video": str(workspace / "ok.avi"),
             "models": str(models)}

    def fill(text: str) -> str:
        return Template(text).safe_substitute(names)

    if row.config is not None:
        (workspace / "c.yaml").write_text(fill(row.config))
    result = run_cli([fill(arg) for arg in row.argv], {"EDGE_ALPR_MODELS": str(models), **row.env}, workspace)

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == row.code, result.stderr
    for fragment in map(fill, row.stderr):
        assert fragment in result.stderr
    for fragment in map(fill, row.stdout):
        assert fragment in result.stdout
    if row.code != 0:  # the message the user acts on is one 'edge-alpr: ...' line per problem
        assert "edge-alpr: " in result.stderr

