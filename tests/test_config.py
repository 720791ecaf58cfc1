"""The config loader: defaults, every shipped example, and one clear line per problem."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from edge_alpr.config import AppConfig, default_model_dir, load_config, redacted_dump
from edge_alpr.config.base import StrictModel
from edge_alpr.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIGS = sorted((REPO / "config").glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_no_path_gives_embedded_defaults() -> None:
    assert load_config(None) == AppConfig()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_a_valid_config(tmp_path: Path, text: str) -> None:
    assert load_config(write(tmp_path, text)) == AppConfig()


def test_values_from_the_file_are_used(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            "camera_id: gate-2\n"
            "source: {kind: rtsp, uri: 'rtsp://10.0.0.5/stream1'}\n"
            "detector: {roi: [[0, 0], [640, 0], [640, 360]], detect_every_n_frames: 2}\n"
            "voting: {early_emit: true, early_emit_reads: 3}\n",
        )
    )
    assert cfg.camera_id == "gate-2"
    assert cfg.source.kind == "rtsp" and cfg.source.uri == "rtsp://10.0.0.5/stream1"
    assert cfg.detector.roi == [(0, 0), (640, 0), (640, 360)]
    assert cfg.detector.detect_every_n_frames == 2
    assert cfg.voting.early_emit_reads == 3


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_example_validates(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The outputs config checks at load time that TLS and password files exist; give the
    # example's /etc/edge-alpr/... files stand-ins so that check passes here too.
    monkeypatch.delenv("EDGE_ALPR_MQTT_PASSWORD", raising=False)
    text = path.read_text(encoding="utf-8")
    for name in set(re.findall(r"/etc/edge-alpr/([\w.-]+)", text)):
        (tmp_path / name).write_text("stand-in\n", encoding="utf-8")
    text = text.replace("/etc/edge-alpr/", f"{tmp_path}/")
    assert isinstance(load_config(write(tmp_path, text, path.name)), AppConfig)


def test_default_yaml_lists_every_key_with_its_default() -> None:
    """The installed config documents every setting; it must not drift from the models."""

    def key_paths(data: object, prefix: str = "") -> set[str]:
        if not isinstance(data, dict):
            return set()
        paths = set()
        for key, value in data.items():
            paths.add(prefix + key)
            paths |= key_paths(value, f"{prefix}{key}.")
        return paths

    listed = yaml.safe_load((REPO / "config" / "default.yaml").read_text(encoding="utf-8"))
    derived = {"detector.strategy.roi"}  # filled from detector.roi, never written by hand
    assert key_paths(listed) == key_paths(AppConfig().model_dump()) - derived
    assert load_config(REPO / "config" / "default.yaml") == AppConfig()


def test_the_examples_exist() -> None:
    names = {p.name for p in EXAMPLE_CONFIGS}
    assert {"default.yaml", "demo.yaml", "usb-camera.yaml", "rtsp.yaml", "picamera2.yaml", "mqtt-tls.yaml"} <= names


# (yaml text, key path the message must name, words the message must contain)
MALFORMED = [
    ("camera_id: 'gate 1'\n", "camera_id", "letters, digits"),
    ("camra_id: gate1\n", "camra_id", "did you mean 'camera_id'"),
    ("source: {kind: webcam}\n", "source.kind", "'file'"),
    ("source: {kind: rtsp, uri: /dev/video0}\n", "source.uri", "rtsp://"),
    ("source: {kind: v4l2, uri: 'http://cam/stream'}\n", "source.uri", "/dev/video0"),
    ("source: {kind: file}\n", "source.uri", "path of a video"),
    ("source: {kind: v4l2, loop: true}\n", "source.loop", "only a 'file' source"),
    ("source: {width: 0}\n", "source.width", "greater than or equal to 16"),
    ("source: {reopen_backoff_initial_s: 10, reopen_backoff_max_s: 2}\n", "source.reopen_backoff_max_s", "at least"),
    ("detector: {num_threads: many}\n", "detector.num_threads", "valid integer"),
    ("detector: {score_threshold: 1.5}\n", "detector.score_threshold", "less than or equal to 1"),
    ("detector: {roi: [[0, 0], [10, 0]]}\n", "detector.roi", "at least 3"),
    ("detector: {roi: [[0, 0], [10, 10], [20, 20]]}\n", "detector.roi", "no area"),
    ("detector: {roi: [[0, 0], [10, 0], [-5, 10]]}\n", "detector.roi[2][0]", "greater than or equal to 0"),
    ("detector: {roi: [[0, 0], [10, 0], [5]]}\n", "detector.roi[2][1]", "too few values"),
    ("detector: {detect_every_n_frames: 0}\n", "detector.detect_every_n_frames", "greater than or equal to 1"),
    ("detector: {motion_gating: perhaps}\n", "detector.motion_gating", "valid boolean"),
    ("reader: {backend: tesseract}\n", "reader.backend", "'edge' or 'rapidocr'"),
    ("reader: {grammar: european}\n", "reader.grammar", "'indian' or 'any'"),
    ("reader: {max_reads_per_track: 0}\n", "reader.max_reads_per_track", "greater than or equal to 1"),
    ("tracker: {iou_threshold: 1.0}\n", "tracker.iou_threshold", "less than 1"),
    ("tracker: {max_age: 3}\n", "tracker.max_age", "did you mean 'max_age_frames'"),
    ("detector: {detect_every_n_frames: 5}\ntracker: {max_age_frames: 5}\n", "tracker", "must exceed"),
    ("voting: {early_emit: true, early_emit_reads: 1, min_reads: 3}\n", "voting.early_emit_reads", "at least"),
    ("voting: {dedup_window_s: -1}\n", "voting.dedup_window_s", "greater than or equal to 0"),
    ("status_interval_s: soon\n", "status_interval_s", "valid number"),
    ("log_level: LOUD\n", "log_level", "'DEBUG'"),
    ("source: [file, demo.mp4]\n", "source", "valid dictionary"),
    ("outputs: {mqtt: {prot: 1883}}\n", "outputs.mqtt.prot", "did you mean 'port'"),
    ("outputs: {plate_log: {max_bytes: ten}}\n", "outputs.plate_log.max_bytes", "valid integer"),
]


@pytest.mark.parametrize(("text", "key_path", "expected"), MALFORMED, ids=[m[1] for m in MALFORMED])
def test_malformed_config_names_the_key_path(tmp_path: Path, text: str, key_path: str, expected: str) -> None:
    message = config_error(tmp_path, text)
    assert len(message.splitlines()) == 1, message
    # file:line: key.path: what was expected
    assert re.match(rf".*config\.yaml:\d+: {re.escape(key_path)}: ", message), message
    assert expected in message


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        "camera_id: ok\n"
        "detector:\n"
        "  num_threads: 0\n"
        "  roi: [[0, 0], [1, 1]]\n"
        "reader:\n"
        "  grammer: indian\n",
    )
    lines = message.splitlines()
    assert len(lines) == 3
    assert "config.yaml:3: detector.num_threads:" in lines[0]
    assert "config.yaml:4: detector.roi:" in lines[1]
    assert "config.yaml:6: reader.grammer: unknown key" in lines[2]


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    message = config_error(tmp_path, "camera_id: cam1\nsource:\n  kind: file\n   uri: x.mp4\n")
    assert message.startswith(str(tmp_path / "config.yaml") + ":4:")
    assert "invalid YAML" in message


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    message = config_error(tmp_path, "camera_id: a\ncamera_id: b\n")
    assert "config.yaml:2: camera_id: duplicate key" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    assert "top level must be a mapping" in config_error(tmp_path, text)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_config_error_exit_code_is_2() -> None:
    assert ConfigError.exit_code == 2


class _Broker(StrictModel):
    host: str = "broker"
    password: str | None = None
    api_token: str = ""
    key_file: str = "/etc/ssl/client.key"
    password_file: str = "/run/credentials/mqtt"


class _WithSecrets(StrictModel):
    brokers: list[_Broker]


def test_redacted_dump_hides_secrets_only() -> None:
    cfg = _WithSecrets(brokers=[_Broker(password="hunter2", api_token="abc"), _Broker()])
    dumped = redacted_dump(cfg)
    assert dumped["brokers"][0] == {
        "host": "broker",
        "password": "***",
        "api_token": "***",
        "key_file": "/etc/ssl/client.key",
        "password_file": "/run/credentials/mqtt",
    }
    # Unset secrets stay visibly unset, so the log tells "no password" from "a password".
    assert dumped["brokers"][1]["password"] is None
    assert "hunter2" not in repr(redacted_dump(cfg))


def test_redacted_dump_of_the_app_config_hides_the_mqtt_password(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "outputs: {mqtt: {username: cam, password: hunter2}}\n"))
    dumped = redacted_dump(cfg)
    assert dumped["outputs"]["mqtt"]["password"] == "***"
    assert dumped["outputs"]["mqtt"]["username"] == "cam"
    assert "hunter2" not in repr(dumped)


def test_default_model_dir_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path))
    assert default_model_dir() == tmp_path
    assert AppConfig().detector.resolved_model_path() == tmp_path / "plate_detector_int8.tflite"
    assert AppConfig().reader.resolved_model_path() == tmp_path / "plate_reader_int8.tflite"


def test_default_model_dir_falls_back_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_ALPR_MODELS", raising=False)
    if not (REPO / "models").is_dir():
        pytest.skip("no models/ directory in this checkout")
    assert default_model_dir() == REPO / "models"


def test_every_field_has_a_description() -> None:
    def walk(model: type[StrictModel], prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(prefix + name)
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, StrictModel) and sub.__module__.endswith("pipeline"):
                missing += walk(sub, f"{prefix}{name}.")
        return missing

    assert walk(AppConfig, "") == []


def test_detector_strategy_is_configurable_and_roi_lives_in_one_place(tmp_path) -> None:
    from edge_alpr.config import load_config
    from edge_alpr.errors import ConfigError

    good = tmp_path / "good.yaml"
    good.write_text("detector:\n  strategy:\n    mode: tiles\n    tile_size: 480\n")
    assert load_config(good).detector.strategy.tile_size == 480
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  strategy:\n    mode: tiles\n    roi: [[0, 0], [10, 0], [10, 10]]\n")
    with pytest.raises(ConfigError, match=r"detector.*give the region as detector\.roi"):
        load_config(bad)
    needs_roi = tmp_path / "needs_roi.yaml"
    needs_roi.write_text("detector:\n  strategy:\n    mode: roi\n")
    with pytest.raises(ConfigError, match="mode 'roi' needs a roi"):
        load_config(needs_roi)
    with_roi = tmp_path / "with_roi.yaml"
    with_roi.write_text("detector:\n  roi: [[0, 100], [640, 100], [640, 480], [0, 480]]\n")
    strategy = load_config(with_roi).detector.strategy
    assert strategy.mode == "roi" and strategy.roi == [(0, 100), (640, 100), (640, 480), (0, 480)]


def test_a_bare_model_file_name_is_looked_up_in_the_model_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path / "models"))
    cfg = load_config(write(tmp_path, "detector: {model_path: small_int8.tflite}\n"
                                      f"reader: {{model_path: {tmp_path}/mine/reader_int8.tflite}}\n"))
    assert cfg.detector.resolved_model_path() == tmp_path / "models" / "small_int8.tflite"
    assert cfg.reader.resolved_model_path() == tmp_path / "mine" / "reader_int8.tflite"  # a path stays as given
    assert AppConfig().reader.resolved_model_path().parent == tmp_path / "models"


def test_every_model_a_shipped_example_names_is_shipped_with_its_card() -> None:
    from edge_alpr.runtime import model_card_path

    for path in EXAMPLE_CONFIGS:
        cfg = load_config(path) if "/etc/edge-alpr/" not in path.read_text(encoding="utf-8") else None
        if cfg is None:
            continue
        for model in (cfg.detector.resolved_model_path(), cfg.reader.resolved_model_path()):
            assert model.is_file() and model_card_path(model).is_file(), f"{path.name}: {model}"


def test_the_squarish_crops_reader_is_used_where_it_is_installed_and_can_be_turned_off(tmp_path: Path, monkeypatch) -> None:
    from edge_alpr.errors import ModelError
    from edge_alpr.service import build_reader

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(models))
    # A model directory without one (a site's own reader, trained alone): every crop to model_path.
    assert AppConfig().reader.resolved_square_model_path() is None
    (models / "plate_reader_square_int8.tflite").write_bytes(b"")
    assert AppConfig().reader.resolved_square_model_path() == models / "plate_reader_square_int8.tflite"
    assert load_config(write(tmp_path, "reader: {square_model: false}\n")).reader.resolved_square_model_path() is None
    assert load_config(write(tmp_path, "reader: {backend: rapidocr}\n")).reader.resolved_square_model_path() is None
    # One the config names must be there: a typo is an error, not a silent fallback.
    named = load_config(write(tmp_path, f"reader: {{square_model_path: {tmp_path}/typo_int8.tflite, "
                                        f"model_path: {REPO}/models/plate_reader_int8.tflite}}\n"))
    with pytest.raises(ModelError, match=r"typo_int8\.tflite: reader\.square_model_path not found"):
        build_reader(named)
