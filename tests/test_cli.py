"""The edge-alpr command: exit codes, messages, argument handling."""
from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_service import CAR_A, PARKED, BrightBoxDetector, ColourReader, write_video

from edge_alpr import __version__, cli
from edge_alpr.config.source import SourceConfig
from edge_alpr.logging_setup import setup_logging


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_config_ok_prints_a_redacted_summary(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("EDGE_ALPR_MQTT_PASSWORD", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("camera_id: gate\noutputs:\n  mqtt: {enabled: true, username: cam, password: hunter2}\n")
    code, out, err = run_cli(capsys, "check-config", str(path))
    assert code == 0
    assert out.startswith(f"OK: {path}\n")
    assert "camera_id: gate" in out and "password: '***'" in out
    assert "hunter2" not in out + err
    assert "detector model:" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detector: {num_thread: 2}\n", "c.yaml:1: detector.num_thread: unknown key; did you mean 'num_threads'?"),
        ("source:\n  kind: rtsp\n  uri: cam.mp4\n", "c.yaml:3: source.uri: an rtsp source needs a URL"),
        ("camera_id: [1\n", "invalid YAML"),
    ],
)
def test_check_config_errors_exit_2_without_traceback(capsys, tmp_path, text, expected) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "check-config", str(path))
    assert code == 2 and out == ""
    assert expected in err and "Traceback" not in err


def test_check_config_missing_file(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, "check-config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml: config file does not exist" in err


def test_version_lists_model_card_versions(capsys, tmp_path, monkeypatch) -> None:
    (tmp_path / "plate_detector.json").write_text(json.dumps({"version": "2024.06-3", "input_size": 320}))
    (tmp_path / "plate_reader.json").write_text(json.dumps({"version": "1.4.0"}))
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path))
    code, out, _ = run_cli(capsys, "version")
    assert code == 0
    assert out.splitlines() == [f"edge-alpr {__version__}", "plate_detector: 2024.06-3", "plate_reader: 1.4.0"]


def test_version_without_models_says_where_it_looked(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path))
    code, out, _ = run_cli(capsys, "version")
    assert code == 0 and f"models: none found in {tmp_path}" in out


@pytest.mark.parametrize("name", ["nonexistent.mp4", "notes.mp4"])
def test_run_with_a_bad_source_exits_4_with_a_clear_message(capsys, tmp_path, monkeypatch, name) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.mp4").write_text("not a video\n")
    code, _, err = run_cli(capsys, "run", "--source", name)
    assert code == 4
    assert f"edge-alpr: {name}: " in err and "Traceback" not in err


def test_run_loop_with_a_camera_is_a_config_error(capsys) -> None:
    code, _, err = run_cli(capsys, "run", "--source", "/dev/video0", "--loop")
    assert code == 2 and "only a 'file' source can loop" in err


@pytest.mark.parametrize(
    ("argument", "kind", "uri"),
    [
        ("0", "v4l2", "0"),
        ("/dev/video2", "v4l2", "/dev/video2"),
        ("rtsp://admin:pw@10.0.0.5:554/s1", "rtsp", "rtsp://admin:pw@10.0.0.5:554/s1"),
        ("RTSPS://cam/s", "rtsp", "RTSPS://cam/s"),
        ("http://cam/mjpg", "rtsp", "http://cam/mjpg"),
        ("picamera2", "picamera2", "0"),
        ("demo/demo.mp4", "file", "demo/demo.mp4"),
        ("12.avi", "file", "12.avi"),
    ],
)
def test_source_argument_picks_the_kind_from_its_form(argument, kind, uri) -> None:
    base = SourceConfig(kind="v4l2", uri="0", width=1280, height=720)
    source = cli.source_from_argument(argument, base, loop=False)
    assert (source.kind, source.uri) == (kind, uri)
    assert (source.width, source.height) == (1280, 720)  # the config's capture settings stay


def test_run_end_to_end_with_real_sinks(capsys, tmp_path, monkeypatch) -> None:
    """run with the real plate-log sink; only the two models are fakes."""
    video = write_video(tmp_path / "clip.avi", [CAR_A, PARKED], frames=30)
    config = tmp_path / "c.yaml"
    config.write_text(
        "camera_id: e2e\n"
        "detector: {motion_gating: false, min_plate_width_px: 20}\n"
        "tracker: {max_age_frames: 5, min_hits: 2}\n"
        "reader: {min_frames_between_reads: 1}\n"
        f"outputs:\n  plate_log: {{directory: {tmp_path / 'log'}}}\n"
    )
    monkeypatch.setattr("edge_alpr.service.build_detector", lambda cfg, score_floor=None: BrightBoxDetector())
    monkeypatch.setattr("edge_alpr.service.build_reader", lambda cfg: ColourReader())
    events = tmp_path / "events.jsonl"
    code, out, err = run_cli(capsys, "run", "--config", str(config), "--source", str(video),
                             "--events-jsonl", str(events), "--print-events")
    assert code == 0, err
    plates = [json.loads(line)["plate"] for line in events.read_text().splitlines()]
    assert plates == ["KA01AB1234", "TN09BC4321"]
    assert [line.split()[2] for line in out.splitlines()] == plates
    logged = (tmp_path / "log" / "plates.jsonl").read_text().splitlines()
    assert [json.loads(line)["plate"] for line in logged] == plates


@pytest.fixture
def image_files(tmp_path: Path) -> dict[str, Path]:
    image = np.zeros((240, 320, 3), np.uint8)
    cv2.rectangle(image, (40, 60), (103, 75), (255, 255, 255), -1)
    good = tmp_path / "car.png"
    cv2.imwrite(str(good), image)
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), np.full((20, 80, 3), 255, np.uint8))
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    return {"good": good, "crop": crop, "bad": bad, "missing": tmp_path / "missing.jpg"}


def test_detect_json_reports_unreadable_images_and_exits_5(capsys, monkeypatch, image_files) -> None:
    monkeypatch.setattr("edge_alpr.service.build_detector", lambda cfg, score_floor=None: BrightBoxDetector())
    monkeypatch.setattr("edge_alpr.service.build_reader", lambda cfg: ColourReader())
    paths = [str(image_files[k]) for k in ("bad", "good", "missing")]
    code, out, err = run_cli(capsys, "detect", "--json", *paths)
    assert code == 5
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 1 and lines[0]["image"] == paths[1]
    (plate,) = lines[0]["plates"]
    assert plate["box"] == [40.0, 60.0, 104.0, 76.0]
    assert plate["text"] == "KA01AB1234" and plate["confidence"] == 0.9 and plate["detector_confidence"] == 0.9
    assert "notes.jpg: is not an image" in err and "missing.jpg: does not exist" in err


def test_detect_without_a_reader_model_still_detects(capsys, monkeypatch, image_files, tmp_path) -> None:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setattr("edge_alpr.service.build_detector", lambda cfg, score_floor=None: BrightBoxDetector())
    code, out, err = run_cli(capsys, "detect", str(image_files["good"]))
    assert code == 0
    assert out.startswith(f"{image_files['good']}: unread at [40,60,104,76]")
    assert "not reading plates" in err and "reader model not found" in err


def test_detect_without_a_detector_model_exits_3(capsys, tmp_path, monkeypatch, image_files) -> None:
    monkeypatch.setenv("EDGE_ALPR_MODELS", str(tmp_path / "no-models"))
    code, _, err = run_cli(capsys, "detect", str(image_files["good"]))
    assert code == 3 and "detector model not found" in err


def test_read_json(capsys, monkeypatch, image_files) -> None:
    monkeypatch.setattr("edge_alpr.service.build_reader", lambda cfg: ColourReader())
    code, out, _ = run_cli(capsys, "read", "--json", str(image_files["crop"]))
    assert code == 0
    line = json.loads(out)
    assert line["image"] == str(image_files["crop"])
    assert (line["text"], line["confidence"], line["plate_format"]) == ("KA01AB1234", 0.9, "standard")
    assert line["char_confidences"] == [0.95] * 10


@pytest.fixture
def fake_command(monkeypatch):
    """Installs edge_alpr.bench as a module whose main() does what the test says."""

    def install(main):
        module = types.ModuleType("edge_alpr.bench")
        module.main = main
        monkeypatch.setitem(sys.modules, "edge_alpr.bench", module)

    return install


def test_lazy_command_gets_the_remaining_arguments(capsys, fake_command) -> None:
    seen = []
    fake_command(lambda argv: seen.append(argv) or 7)
    assert cli.main(["bench", "--frames", "10", "x"]) == 7
    assert seen == [["--frames", "10", "x"]]


def test_lazy_command_that_is_missing(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "edge_alpr.bench", None)  # makes the import fail
    code, _, err = run_cli(capsys, "bench")
    assert code == 1 and "'bench' is not available" in err and "Traceback" not in err


def test_lazy_command_missing_a_dependency_names_it(capsys, monkeypatch) -> None:
    def fail_import(name, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli.importlib, "import_module", fail_import)
    code, _, err = run_cli(capsys, "train-detector", "--epochs", "1")
    assert code == 1 and "needs the Python package 'torch'" in err and "edge-alpr[train]" in err


def test_keyboard_interrupt_exits_130(fake_command) -> None:
    def interrupted(argv):
        raise KeyboardInterrupt

    fake_command(interrupted)
    assert cli.main(["bench"]) == 130


def test_unexpected_exception_prints_a_traceback_and_exits_1(capsys, fake_command) -> None:
    def broken(argv):
        raise RuntimeError("a bug")

    fake_command(broken)
    code, _, err = run_cli(capsys, "bench")
    assert code == 1 and "Traceback" in err and "RuntimeError: a bug" in err


def test_unknown_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["frobnicate"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("journal", "expected_start"),
    [(True, "<4>edge_alpr.test: careful"), (False, None)],
)
def test_logging_is_journald_friendly(monkeypatch, capsys, journal, expected_start) -> None:
    if journal:
        monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    else:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("INFO")
    logging.getLogger("edge_alpr.test").warning("careful")
    logging.getLogger("edge_alpr.test").debug("hidden")
    err = capsys.readouterr().err
    assert "hidden" not in err
    if expected_start:
        assert err == expected_start + "\n"
    else:
        assert "WARNING" in err and "edge_alpr.test: careful" in err and "\x1b[" not in err


def test_closed_stdout_pipe_exits_quietly(capsys, fake_command) -> None:
    def writes_to_a_closed_pipe(argv):
        raise BrokenPipeError

    fake_command(writes_to_a_closed_pipe)
    code, _, err = run_cli(capsys, "bench")
    assert code == 141 and err == ""
