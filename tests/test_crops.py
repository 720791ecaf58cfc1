"""JPEG crops: files under date folders, retention by total size and by age, faults."""
from __future__ import annotations

import json
import logging
import os
import time

import cv2
import numpy as np
import pytest

from edge_alpr.config.outputs import CropsConfig, OutputsConfig
from edge_alpr.sinks import build_sinks
from edge_alpr.sinks.crops import CropsSink


def noise(height: int, width: int, seed: int) -> np.ndarray:
    # Noise barely compresses, so the JPEG size is predictable enough to exceed a size limit.
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def jpeg_files(directory) -> list:
    return sorted(directory.rglob("*.jpg"))


@pytest.mark.parametrize(
    ("save_plate", "save_vehicle"),
    [(True, True), (True, False), (False, True)],
)
def test_crops_are_written_under_the_date_folder(tmp_path, make_plate_event, save_plate, save_vehicle):
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path, save_plate=save_plate, save_vehicle=save_vehicle))
    event = make_plate_event(3, event_id="a1b2", first_seen="2026-11-25T23:59:59Z")
    plate, vehicle = noise(40, 160, 1), noise(300, 400, 2)

    published = sink.publish(event, plate, vehicle)

    folder = tmp_path / "2026-11-25"
    expected_plate = str(folder / "a1b2_plate.jpg") if save_plate else None
    expected_vehicle = str(folder / "a1b2_vehicle.jpg") if save_vehicle else None
    assert (published.plate_crop, published.vehicle_crop) == (expected_plate, expected_vehicle)
    for path, image in ((expected_plate, plate), (expected_vehicle, vehicle)):
        if path is not None:
            assert cv2.imread(path).shape == image.shape
    assert len(jpeg_files(tmp_path)) == save_plate + save_vehicle
    assert published.event_id == event.event_id and published.plate == event.plate


def test_missing_crop_is_not_an_error(tmp_path, make_plate_event):
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path))
    assert sink.save(make_plate_event(0), noise(20, 80, 0), None)[1] is None
    assert sink.health()["crops_error"] is None


def test_event_id_cannot_escape_the_directory(tmp_path, make_plate_event):
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path / "crops"))
    plate_path, _ = sink.save(make_plate_event(0, event_id="../../etc/x"), noise(20, 80, 0), None)
    assert plate_path is not None
    assert os.path.commonpath([plate_path, str(tmp_path / "crops")]) == str(tmp_path / "crops")


def test_retention_keeps_total_size_under_the_limit_deleting_oldest(tmp_path, make_plate_event):
    limit_mb = 0.2
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path, max_total_mb=limit_mb, save_vehicle=False))
    saved = []
    for i in range(30):  # ~27 kB each: about 800 kB written
        path, _ = sink.save(make_plate_event(i), noise(90, 100, i), None)
        os.utime(path, (time.time() - 1000 + i, time.time() - 1000 + i))  # strictly increasing age order
        saved.append(path)
    sink.sweep()

    remaining = [str(p) for p in jpeg_files(tmp_path)]
    total = sum(os.path.getsize(p) for p in remaining)
    assert total <= limit_mb * 1_000_000
    assert 0 < len(remaining) < len(saved)
    assert sorted(remaining) == sorted(saved[-len(remaining):])  # the newest survive
    assert sink.health()["crops_deleted"] == len(saved) - len(remaining)


def test_retention_deletes_crops_older_than_max_age(tmp_path, make_plate_event):
    now = time.time()
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path, max_age_days=7), clock=lambda: now)
    old_path, _ = sink.save(make_plate_event(0, first_seen="2026-11-01T10:00:00Z"), noise(20, 80, 0), None)
    new_path, _ = sink.save(make_plate_event(1, first_seen="2026-11-25T10:00:00Z"), noise(20, 80, 1), None)
    os.utime(old_path, (now - 8 * 86400, now - 8 * 86400))
    os.utime(new_path, (now - 6 * 86400, now - 6 * 86400))

    assert sink.sweep() == 1
    assert [str(p) for p in jpeg_files(tmp_path)] == [new_path]
    assert not (tmp_path / "2026-11-01").exists()  # emptied date folders go too


@pytest.mark.parametrize(
    ("crop", "message"),
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 10, 7), np.uint8), "encode"),
    ],
)
def test_unencodable_crop_is_reported(tmp_path, make_plate_event, crop, message):
    sink = CropsSink(CropsConfig(enabled=True, directory=tmp_path))
    assert sink.save(make_plate_event(0), crop, None) == (None, None)
    assert message in sink.health()["crops_error"]


def test_unwritable_directory_is_reported_once_and_recovers(tmp_path, make_plate_event, caplog):
    directory = tmp_path / "crops"
    directory.write_text("a file where the crops directory should be")
    sink = CropsSink(CropsConfig(enabled=True, directory=directory))
    with caplog.at_level(logging.WARNING, logger="edge_alpr.sinks.crops"):
        for i in range(3):
            assert sink.save(make_plate_event(i), noise(20, 80, i), noise(50, 50, i)) == (None, None)
        assert sink.health()["crops_error"] is not None
        assert sink.health()["crops_failed"] == 6
        assert caplog.text.count("cannot save") == 1

        directory.unlink()
        plate_path, vehicle_path = sink.save(make_plate_event(3), noise(20, 80, 3), noise(50, 50, 3))
    assert plate_path is not None and vehicle_path is not None
    assert sink.health()["crops_error"] is None
    assert "writable again" in caplog.text


def test_sink_set_saves_crops_before_logging_so_the_log_has_their_paths(tmp_path, make_plate_event):
    outputs = OutputsConfig(
        crops={"enabled": True, "directory": tmp_path / "crops"},
        plate_log={"directory": tmp_path / "logs"},
    )
    sink_set = build_sinks(outputs, "cam1")  # MQTT disabled: no broker, no spool
    assert sink_set.mqtt is None and sink_set.spool is None
    published = sink_set.publish(make_plate_event(0), noise(20, 80, 0), noise(60, 60, 1))
    sink_set.close()

    logged = json.loads((tmp_path / "logs" / "plates.jsonl").read_text())
    assert logged["plate_crop"] == published.plate_crop and os.path.isfile(published.plate_crop)
    assert logged["vehicle_crop"] == published.vehicle_crop and os.path.isfile(published.vehicle_crop)
    assert sink_set.health()["crops_saved"] == 2
