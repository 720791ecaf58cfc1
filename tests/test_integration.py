"""The whole daemon end to end: a real mosquitto on 127.0.0.1, the real int8 models from
models/, `edge-alpr run` as a subprocess on a generated video with known plates (and, where
../shared/datasets is present, on a clip built from real validation photos)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from broker import Subscriber, wait_until
from edge_alpr.plates import plate_format

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
PREFIX = "it"
EVENT_KEYS = {"event_id", "camera_id", "plate", "plate_format", "confidence", "reads", "first_seen",
              "last_seen", "box", "candidates"}

needs_models = pytest.mark.skipif(
    not (MODELS / "plate_detector_int8.tflite").is_file() or not (MODELS / "plate_reader_int8.tflite").is_file(),
    reason="the shipped models are not in models/",
)


def _config(tmp_path: Path, video: Path, port: int, camera: str, *, loop: bool = False) -> Path:
    cfg = {
        "camera_id": camera,
        "status_interval_s": 1,
        "source": {"kind": "file", "uri": str(video), "loop": loop},
        "detector": {"num_threads": 2},
        "outputs": {
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port, "topic_prefix": PREFIX,
                     "keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
            "plate_log": {"enabled": True, "directory": str(tmp_path / "log")},
            "spool": {"path": str(tmp_path / "spool.sqlite3")},
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, EDGE_ALPR_MODELS=str(MODELS))
    return subprocess.Popen([sys.executable, "-m", "edge_alpr", "run", "--config", str(config)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _events(sub: Subscriber, camera: str) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on(f"{PREFIX}/{camera}/plate")]


def _availability(sub: Subscriber, camera: str) -> list[str]:
    return [m.payload.decode() for m in sub.on(f"{PREFIX}/{camera}/availability")]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from edge_alpr.synth.scenes import make_video

    out = tmp_path_factory.mktemp("scene") / "scene.mp4"
    truth = make_video(out, seed=4242, n_vehicles=4, size=(1280, 720))
    return out, truth


@needs_models
def test_one_event_per_vehicle_with_the_right_plate(tmp_path, mosquitto, scene):
    video, truth = scene
    broker = mosquitto()
    sub = Subscriber(broker.port, [f"{PREFIX}/#"]).start()
    proc = _run(_config(tmp_path, video, broker.port, "gen"))
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()[-2000:]
    wait_until(lambda: "offline" in _availability(sub, "gen"), 5)
    events = _events(sub, "gen")
    sub.stop()

    plates = sorted(e["plate"] for e in events)
    expected = sorted(v.plate for v in truth.vehicles)
    assert plates == expected, f"events {plates} vs vehicles {expected}\n{err.decode()[-1500:]}"
    for e in events:
        assert EVENT_KEYS <= e.keys()
        assert e["camera_id"] == "gen" and e["plate_format"] == plate_format(e["plate"]) != "unknown"
        assert e["reads"] >= 2 and 0 < e["confidence"] <= 1
        assert e["first_seen"].endswith("Z") and e["first_seen"] <= e["last_seen"]
    assert len({e["event_id"] for e in events}) == len(events)
    # availability: online while running, offline (retained) at the end
    states = _availability(sub, "gen")
    assert states[0] == "online" and states[-1] == "offline"
    # the plate log holds the same plates, text and JSONL
    log_dir = tmp_path / "log"
    jsonl = [json.loads(line) for line in (log_dir / "plates.jsonl").read_text().splitlines()]
    assert sorted(e["event_id"] for e in jsonl) == sorted(e["event_id"] for e in events)
    text_plates = sorted(line.split("\t")[2] for line in (log_dir / "plates.log").read_text().splitlines())
    assert text_plates == expected


@needs_models
def test_last_will_says_offline_when_the_daemon_is_killed(tmp_path, mosquitto, scene):
    video, _ = scene
    broker = mosquitto()
    sub = Subscriber(broker.port, [f"{PREFIX}/+/availability"]).start()
    proc = _run(_config(tmp_path, video, broker.port, "lwt", loop=True))
    try:
        assert wait_until(lambda: "online" in _availability(sub, "lwt"), 60), "daemon never came online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # keepalive 5 s: the broker declares the client gone within 1.5 keepalives
        assert wait_until(lambda: _availability(sub, "lwt")[-1:] == ["offline"], 15)
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.stop()


@needs_models
def test_real_validation_photos_as_a_video(tmp_path, mosquitto, datasets_dir):
    """A clip made of real (never trained on) Indian validation photos approaching the camera."""
    from edge_alpr.evaluation.videogen import choose_photos, make_real_video, validation_photos

    import numpy as np

    refs = validation_photos(datasets_dir, ["in_olx_scenes"])
    photos = choose_photos(refs, 4, np.random.default_rng(3))
    truth = make_real_video(photos, tmp_path / "real.mp4", seed=3)
    broker = mosquitto()
    sub = Subscriber(broker.port, [f"{PREFIX}/#"]).start()
    proc = _run(_config(tmp_path, tmp_path / "real.mp4", broker.port, "real"))
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()[-2000:]
    wait_until(lambda: "offline" in _availability(sub, "real"), 5)
    events = _events(sub, "real")
    sub.stop()
    plates = [e["plate"] for e in events]
    truth_plates = [v.plate for v in truth.vehicles]
    # Never more than one event per vehicle, and most vehicles read right (real, small, old photos).
    assert len(plates) == len(set(plates)) and len(plates) <= len(truth_plates)
    correct = len(set(plates) & set(truth_plates))
    assert correct >= len(truth_plates) // 2, f"read {plates}, truth {truth_plates}"
