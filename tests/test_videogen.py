"""Evaluation videos from photos: the truth matches the video, frame by frame."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from videos import read_frames

from edge_alpr.evaluation import photos, videogen
from edge_alpr.evaluation.approach import ClipPlan
from edge_alpr.evaluation.photos import PhotoRef, PlatePhoto, choose_photos
from edge_alpr.evaluation.videogen import make_real_video
from edge_alpr.synth.scenes import VideoTruth

SIZE = (320, 180)
FPS = 10.0
PLATE_BGR = (0, 200, 255)  # saturated orange: easy to tell from the grey photo


def _photo(text: str, box=(80, 100, 160, 120), layout="one") -> PlatePhoto:
    """A grey 'car' photo with a textured body and a plain orange plate."""
    rng = np.random.default_rng(len(text))
    image = np.full((160, 240, 3), 90, np.uint8)
    image[60:140, 40:200] = 60 + rng.integers(0, 20, (80, 160, 1), dtype=np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = PLATE_BGR
    return PlatePhoto(image, tuple(float(v) for v in box), text, layout)


PHOTOS = [_photo("KA01AB1234"), _photo("MH12DE5678", (90, 95, 140, 125), "two"), _photo("TN09BC4321")]


def _make(path: Path, seed: int = 0) -> VideoTruth:
    return make_real_video(PHOTOS, path, seed=seed, size=SIZE, fps=FPS, clip_seconds=(1.0, 1.5), gap_seconds=(0.3, 0.5))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> tuple[Path, VideoTruth]:
    path = tmp_path_factory.mktemp("videogen") / "real.mp4"
    return path, _make(path)


def test_truth_describes_every_vehicle_in_order(video):
    path, truth = video
    assert truth.video == path.name and truth.size == SIZE and truth.fps == FPS
    assert [v.plate for v in truth.vehicles] == [p.text for p in PHOTOS]
    assert [v.layout for v in truth.vehicles] == [p.layout for p in PHOTOS]
    for v in truth.vehicles:
        assert v.first_frame == min(v.boxes) and v.last_frame == max(v.boxes)
        assert 0 <= v.first_frame <= v.last_frame < truth.frames


def test_frame_count_matches_the_video(video):
    path, truth = video
    assert len(read_frames(path)) == truth.frames


def test_boxes_lie_inside_the_frame(video):
    _, truth = video
    width, height = SIZE
    for v in truth.vehicles:
        for x1, y1, x2, y2 in v.boxes.values():
            assert 0 <= x1 < x2 <= width - 1 and 0 <= y1 < y2 <= height - 1


def test_vehicles_pass_one_at_a_time_with_empty_road_between(video):
    _, truth = video
    for before, after in zip(truth.vehicles, truth.vehicles[1:]):
        assert after.first_frame > before.last_frame + 1


def test_plates_grow_as_vehicles_approach(video):
    _, truth = video
    for v in truth.vehicles:
        first, last = v.boxes[v.first_frame], v.boxes[v.last_frame]
        assert last[2] - last[0] > 2 * (first[2] - first[0])


def test_boxes_sit_on_the_plate_in_the_decoded_video(video):
    path, truth = video
    frames = read_frames(path)
    for v in truth.vehicles:
        for index in (v.last_frame, (v.first_frame + v.last_frame) // 2):
            x1, y1, x2, y2 = (int(round(c)) for c in v.boxes[index])
            inside = frames[index][y1:y2, x1:x2].reshape(-1, 3).astype(float).mean(axis=0)
            # Orange inside the box (red well above blue) despite blur, noise and compression.
            assert inside[2] - inside[0] > 80, (v.plate, index, inside)


def test_same_seed_same_video_other_seed_another(tmp_path, video):
    path, truth = video
    again = _make(tmp_path / "again.mp4")
    assert json.dumps(again.to_json()["vehicles"]) == json.dumps(truth.to_json()["vehicles"])
    assert np.array_equal(read_frames(tmp_path / "again.mp4")[5], read_frames(path)[5])
    other = _make(tmp_path / "other.mp4", seed=1)
    assert json.dumps(other.to_json()["vehicles"]) != json.dumps(truth.to_json()["vehicles"])


def test_truth_round_trips_through_json(tmp_path, video):
    _, truth = video
    truth.save(tmp_path / "t.json")
    loaded = VideoTruth.load(tmp_path / "t.json")
    assert [v.plate for v in loaded.vehicles] == [v.plate for v in truth.vehicles]
    assert loaded.vehicles[0].boxes.keys() == truth.vehicles[0].boxes.keys()


def _ref(dataset: str, text: str) -> PhotoRef:
    return PhotoRef(Path(f"/x/{dataset}/{text}.jpg"), (100, 100), (0, 0, 10, 5), text, "one", dataset)


@pytest.mark.parametrize(
    "refs, n, expected_sets",
    [
        # Taken in turn from each dataset, so the big one does not crowd out the small one.
        ([_ref("a", f"A{i}") for i in range(10)] + [_ref("b", "B0"), _ref("b", "B1")], 4, ["a", "b", "a", "b"]),
        ([_ref("a", f"A{i}") for i in range(10)] + [_ref("b", "B0")], 4, ["a", "b", "a", "a"]),
        ([_ref("a", "A0")], 3, ["a"]),  # fewer photos than asked for
        ([_ref("a", "A0"), _ref("a", "A0"), _ref("b", "A0")], 3, ["a"]),  # one vehicle per plate text
    ],
)
def test_choose_photos(refs, n, expected_sets):
    chosen = choose_photos(refs, n, np.random.default_rng(0))
    assert [r.dataset for r in chosen] == expected_sets
    assert len({r.text for r in chosen}) == len(chosen)


def _fake_datasets(root: Path) -> Path:
    """An in_olx_scenes-like manifest: two val photos with a plate, one train photo, one val
    photo with two plates (not usable: the second plate has no text)."""
    folder = root / "in_olx_scenes"
    (folder / "images").mkdir(parents=True)
    rows = []
    for i, (split, plates) in enumerate([
        ("val", [{"box": [80, 100, 160, 120], "text": "KA01AB1234"}]),
        ("val", [{"box": [80, 100, 160, 120], "text": "MH12DE5678"}]),
        ("train", [{"box": [80, 100, 160, 120], "text": "TN09BC4321"}]),
        ("val", [{"box": [80, 100, 160, 120], "text": "DL3CAF0001"}, {"box": [10, 10, 50, 20], "text": None}]),
    ]):
        cv2.imwrite(str(folder / "images" / f"{i}.png"), _photo(plates[0]["text"]).image)
        rows.append({"image": f"images/{i}.png", "width": 240, "height": 160, "plates": plates, "split": split})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_validation_photos_keep_val_rows_with_one_labelled_plate(tmp_path):
    refs = photos.validation_photos(_fake_datasets(tmp_path), ["in_olx_scenes"])
    assert sorted(r.text for r in refs) == ["KA01AB1234", "MH12DE5678"]


def test_cli_writes_video_and_truth(tmp_path, capsys):
    datasets = _fake_datasets(tmp_path / "datasets")
    out = tmp_path / "out"
    code = videogen.main(["--datasets", str(datasets), "--out", str(out), "--vehicles", "5", "--sets", "in_olx_scenes",
                          "--size", "160x90", "--fps", "8", "--no-synth"])
    assert code == 0, capsys.readouterr().err
    truth = VideoTruth.load(out / "real_val.json")
    assert sorted(v.plate for v in truth.vehicles) == ["KA01AB1234", "MH12DE5678"]
    assert len(read_frames(out / "real_val.mp4")) == truth.frames


def test_cli_names_a_missing_datasets_folder(tmp_path, capsys):
    assert videogen.main(["--datasets", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 5
    assert "nowhere" in capsys.readouterr().err


def test_real_validation_photos(datasets_dir):
    from edge_alpr.training.detector_data import detector_rows, is_val, reader_val_texts

    refs = photos.validation_photos(datasets_dir)
    assert refs and {r.dataset for r in refs} <= set(photos.REAL_SETS)
    held = reader_val_texts(datasets_dir)
    val_images = {
        row.image for name in photos.REAL_SETS
        for row in detector_rows(datasets_dir, name) if is_val(row, name, held)
    }
    assert all(r.image in val_images and r.text for r in refs)
    # The sets labelled by eye lend their two-line plates, with the project's texts.
    assert {"in_twowheelers", "in_odisha_traffic"} <= {r.dataset for r in refs if r.layout == "two"}


def test_the_last_frame_of_a_pass_is_blurred_like_the_frames_before():
    # The plate still moves in a clip's last frame: a sharp last frame would hand the reader one
    # crop no real pass has, and a vote that needs two reads would look worse than it is.
    plan = ClipPlan(frames=12, start_width=30.0, end_width=150.0, start_centre=(100.0, 200.0),
                    end_centre=(400.0, 500.0), yaw=(0.02, 0.1), roll_deg=(0.0, 2.0), jpeg_quality=80)
    steps = [np.hypot(*videogen.plate_step(plan, i)) for i in range(plan.frames)]
    assert all(later > earlier for earlier, later in zip(steps, steps[1:-1]))  # closer plates move faster
    assert steps[-1] == pytest.approx(steps[-2])
    assert steps[-1] > 10.0


def test_the_shutter_time_sets_the_smear_and_nothing_else(tmp_path):
    from edge_alpr.evaluation.photo_drawing import PhotoPyramid, draw_vehicle

    def make(name, exposure_us):
        return make_real_video(PHOTOS, tmp_path / name, seed=0, size=SIZE, fps=FPS, clip_seconds=(1.0, 1.5),
                               gap_seconds=(0.3, 0.5), exposure_us=exposure_us)

    long, short = make("long.mp4", 100_000), make("short.mp4", 2_000)  # the whole frame, 1/50 of it (10 fps)
    assert json.dumps(short.to_json()["vehicles"]) == json.dumps(long.to_json()["vehicles"])  # the same passes
    with pytest.raises(ValueError, match="exposure_us must be positive and at most one frame"):
        make("too_long.mp4", 200_000)

    photo = np.zeros((64, 64, 3), np.uint8)
    photo[16:48, 16:48] = 255

    def lit_columns(shutter):
        frame = np.zeros((64, 128, 3), np.float32)
        draw_vehicle(frame, PhotoPyramid(photo), np.array([[1, 0, 32], [0, 1, 0], [0, 0, 1.0]]), 1.0,
                     (20.0, 0.0), shutter)
        return int((frame[32, :, 0] > 10).sum())

    assert lit_columns(0.05) == 32  # a 1 px smear is none
    assert lit_columns(0.5) == pytest.approx(32 + 9, abs=1)  # 10 px along the move
