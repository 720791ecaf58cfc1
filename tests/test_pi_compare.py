"""The emulated Pi check's comparison of arm64 outputs with x86's (scripts/pi_compare.py)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from scripts import pi_compare

DETECT = [
    {"image": "/x/stills/still_0.png", "plates": [
        {"box": [100.0, 50.0, 200.0, 80.0], "text": "KA01AB1234", "confidence": 0.95, "detector_confidence": 0.9}]},
    {"image": "/x/stills/still_empty.png", "plates": []},
]
READ = [{"image": "/x/crops/crop_0.png", "text": "MH12DE1433", "confidence": 0.94, "char_confidences": [],
         "plate_format": "standard", "accepted": True}]
EVENTS = [
    {"plate": "KA01AB1234", "plate_format": "standard", "track_id": 1, "reads": 5, "box": [10.0, 10.0, 90.0, 30.0],
     "confidence": 0.93},
    {"plate": "22BH1234AA", "plate_format": "bh", "track_id": 2, "reads": 4, "box": [300.0, 10.0, 380.0, 30.0],
     "confidence": 0.91},
]


def write_side(folder: Path, detect=DETECT, read=READ, events=EVENTS, version="edge-alpr 0.1.0\nplate_detector: 1\n"):
    folder.mkdir()
    (folder / "version.txt").write_text(version)
    for name, rows in (("detect", detect), ("read", read), ("events", events)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_identical_outputs_have_no_differences(tmp_path):
    a = write_side(tmp_path / "x86")
    b = write_side(tmp_path / "arm", detect=[{**d, "image": d["image"].replace("/x/", "/tmp/pi-check/in/")}
                                             for d in DETECT])
    result = pi_compare.compare_dirs(a, b, "cortex-a72")
    assert result.diffs == []
    assert "detect: 2 images, 1 plates" in result.checked
    assert "same plates, same events" in pi_compare.report(result)


def test_a_box_within_two_pixels_passes_and_is_reported(tmp_path):
    detect = copy.deepcopy(DETECT)
    detect[0]["plates"][0]["box"][2] += 1.5
    detect[0]["plates"][0]["confidence"] = 0.91
    result = pi_compare.compare_dirs(write_side(tmp_path / "x86"), write_side(tmp_path / "arm", detect=detect), "a76")
    assert result.diffs == []
    assert result.max_box_px == pytest.approx(1.5)
    assert result.max_confidence_delta == pytest.approx(0.04)


def test_a_box_further_apart_fails_naming_image_and_distance(tmp_path):
    detect = copy.deepcopy(DETECT)
    detect[0]["plates"][0]["box"][0] += 2.5
    result = pi_compare.compare_dirs(write_side(tmp_path / "x86"), write_side(tmp_path / "arm", detect=detect), "a72")
    assert len(result.diffs) == 1
    assert "still_0.png" in result.diffs[0] and "2.5 px apart" in result.diffs[0]


def test_a_big_box_may_move_two_percent_of_its_side_per_edge(tmp_path):
    # 2 % of a 250 px wide, 60 px high plate: 5 px along x, but still 2 px along y.
    x86 = copy.deepcopy(DETECT)
    x86[0]["plates"][0]["box"] = [100.0, 50.0, 350.0, 110.0]
    wider, lower = copy.deepcopy(x86), copy.deepcopy(x86)
    wider[0]["plates"][0]["box"] = [96.0, 50.0, 354.5, 110.0]
    lower[0]["plates"][0]["box"] = [100.0, 52.5, 350.0, 112.5]
    a = write_side(tmp_path / "x86", detect=x86)
    assert pi_compare.compare_dirs(a, write_side(tmp_path / "wider", detect=wider), "a72").diffs == []
    result = pi_compare.compare_dirs(a, write_side(tmp_path / "lower", detect=lower), "a72")
    assert len(result.diffs) == 1 and "2.5 px apart" in result.diffs[0]


def test_an_event_from_another_best_frame_is_shown_but_same_plates_pass(tmp_path):
    events = copy.deepcopy(EVENTS)
    events[1]["box"][0] += 150
    events[1]["reads"] += 1
    result = pi_compare.compare_dirs(write_side(tmp_path / "x86"), write_side(tmp_path / "arm", events=events), "a72")
    assert result.diffs == []
    assert len(result.notes) == 1 and "run event 22BH1234AA" in result.notes[0]


def test_other_texts_formats_and_missing_events_are_differences(tmp_path):
    detect = copy.deepcopy(DETECT)
    detect[0]["plates"][0]["text"] = "KA01AB1284"
    read = [{**READ[0], "plate_format": "unknown", "accepted": False}]
    result = pi_compare.compare_dirs(write_side(tmp_path / "x86"),
                                     write_side(tmp_path / "arm", detect=detect, read=read, events=EVENTS[:1]), "a72")
    text = "\n".join(result.diffs)
    assert "detect still_0.png plate 0: text x86 'KA01AB1234' vs arm64 'KA01AB1284'" in text
    assert "read crop_0.png: plate_format x86 'standard' vs arm64 'unknown'" in text
    assert "read crop_0.png: accepted" in text
    assert "run: plates reported x86 ['KA01AB1234', '22BH1234AA'] vs arm64 ['KA01AB1234']" in text


def test_events_are_paired_by_track_not_by_file_order(tmp_path):
    result = pi_compare.compare_dirs(write_side(tmp_path / "x86"),
                                     write_side(tmp_path / "arm", events=list(reversed(EVENTS))), "a76")
    assert result.diffs == []


def test_a_missing_output_is_an_error_naming_the_file_and_main_says_so(tmp_path, capsys):
    a = write_side(tmp_path / "x86")
    b = write_side(tmp_path / "arm")
    (b / "events.jsonl").unlink()
    assert pi_compare.main(["compare", str(a), str(b), "--label", "a72"]) == 2
    assert "events.jsonl: missing" in capsys.readouterr().err


def test_main_fails_on_a_difference_and_passes_otherwise(tmp_path, capsys):
    a = write_side(tmp_path / "x86")
    assert pi_compare.main(["compare", str(a), str(write_side(tmp_path / "same")), "--label", "a72"]) == 0
    other = write_side(tmp_path / "other", version="edge-alpr 0.2.0\n")
    assert pi_compare.main(["compare", str(a), str(other), "--label", "a72"]) == 1
    assert "FAILED: 1 difference(s)" in capsys.readouterr().out
