"""The reader's real training data: plate texts kept beside a dataset (openlpr has boxes only)."""
import json
from collections import Counter

import numpy as np
import pytest

from edge_alpr import plates
from edge_alpr.datasets.kept import load_kept, with_kept
from edge_alpr.datasets.manifest import load_manifest
from edge_alpr.errors import InputError
from edge_alpr.training.reader_data import OPENLPR_TEXTS, load_real


def load_texts(path):
    return {key: label.text for key, label in load_kept(path).items()}


def _manifest(tmp_path):
    (tmp_path / "images").mkdir()
    rows = [
        {"image": "images/a.jpg", "width": 100, "height": 80, "plates": [
            {"box": [10, 20, 60, 35], "text": None},
            {"box": [5, 50, 40, 62], "text": None}]},
        {"image": "images/b.jpg", "width": 100, "height": 80, "plates": [{"box": [1, 2, 30, 12], "text": "XY12"}]},
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_texts_go_to_the_plate_with_the_same_box_only(tmp_path):
    manifest = _manifest(tmp_path)
    texts_file = tmp_path / "texts.jsonl"
    texts_file.write_text(json.dumps({"image": "images/a.jpg", "box": [5, 50, 40, 62], "text": "KA01AB1234"}) + "\n")

    rows = with_kept(load_manifest(manifest), tmp_path.resolve(), load_kept(texts_file))

    assert [p.text for p in rows[0].plates] == [None, "KA01AB1234"]
    assert [p.text for p in rows[1].plates] == ["XY12"]  # a text the manifest has is kept


@pytest.mark.parametrize("line, expected", [
    ('{"image": "images/a.jpg", "box": [1, 2, 3, 4]}', "text"),
    ('{"image": "images/a.jpg", "box": [1, 2], "text": "KA01AB1234"}', "box"),
    ('{"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "ka-01"}', "A-Z0-9"),
    ("not json", "expected"),
])
def test_a_bad_texts_line_names_the_file_and_line(tmp_path, line, expected):
    texts_file = tmp_path / "texts.jsonl"
    good = json.dumps({"image": "images/a.jpg", "box": [5, 50, 40, 62], "text": "KA01AB1234"})
    texts_file.write_text(good + "\n" + line + "\n")
    with pytest.raises(InputError, match=f"texts.jsonl:2: .*{expected}"):
        load_texts(texts_file)


def test_the_shipped_openlpr_texts_have_one_text_per_box_and_the_first_reading_holds_indian_plates_only():
    lines = [json.loads(line) for line in OPENLPR_TEXTS.read_text().splitlines()]
    texts = load_texts(OPENLPR_TEXTS)
    assert len(texts) == len(lines) > 0  # no box labelled twice
    # The first reading (no status: checked Indian plates) kept Indian plates only; the two blind
    # passes of datasets.unread read any country's, each with a status, a layout and the manifest's split.
    passes = OPENLPR_TEXTS.parents[3] / "docs" / "labelling" / "openlpr_pass_a.jsonl"
    blind = {(r["image"], tuple(r["box"])) for r in map(json.loads, passes.read_text().splitlines())}
    first = [r for r in lines if (r["image"], tuple(r["box"])) not in blind]
    assert first and [r["text"] for r in first if not plates.is_valid(r["text"])] == []
    later = [r for r in lines if (r["image"], tuple(r["box"])) in blind]
    assert all(r["split"] == "train" and (r["status"] == "unreadable" or r["layout"] in ("one", "two")) for r in later)


def test_the_openlpr_texts_name_real_boxes_and_never_a_validation_plate(datasets_dir):
    root = (datasets_dir / "openlpr").resolve()
    rows = load_manifest(root / "manifest.jsonl")
    boxes = {(r.image.relative_to(root).as_posix(), tuple(int(round(v)) for v in p.box)) for r in rows for p in r.plates}
    assert set(load_texts(OPENLPR_TEXTS)) <= boxes

    train, calib, val = load_real(datasets_dir)
    val_texts = {c.text for c in val}
    used = Counter(c.source for c in train + calib)
    assert used["openlpr"] > 0
    assert not val_texts & {c.text for c in train + calib}


def test_the_data_version_follows_the_texts_not_the_order():
    import numpy as np

    from edge_alpr.training.reader_data import Crop, data_version

    image = np.zeros((4, 4, 3), np.uint8)
    a, b = Crop(image, "KA01AB1234", "one", "in_plates"), Crop(image, "MH12DE1433", "one", "openlpr")
    assert data_version([a, b], [], [a]) == data_version([b, a], [], [a])
    assert data_version([a, b], [], [a]) != data_version([a], [b], [a])  # a crop moved to calibration
    assert data_version([a, b], [], [a]) != data_version([a, Crop(image, "MH12DE1434", "one", "openlpr")], [], [a])


def test_the_bank_draws_stacked_plates_only_with_a_series_and_shows_them_whole_and_rearranged():
    from dataclasses import replace

    from edge_alpr.plates import parse
    from edge_alpr.training.reader_data import ReaderDataset, encode_text, render_bank

    bank = render_bank(60, seed=2, two_line_fraction=0.2, stacked_fraction=0.5)
    stacked = [c for c in bank if c.layout == "stacked"]
    assert 10 <= len(stacked) <= 40
    for crop in stacked:
        parts = parse(crop.text)
        assert parts is not None and parts.plate_format == "standard" and parts.groups[2]
    assert not any(c.layout == "stacked" for c in render_bank(30, seed=2, two_line_fraction=0.2))

    # A stacked plate is shown whole (as a one-line crop would be) and rearranged into one line
    # by turns, with the same text; a two-line crop is always cut and laid side by side.
    def sample(layout, i):
        return ReaderDataset([], [replace(stacked[0], layout=layout)], synthetic_fraction=1.0).sample(i)

    for i in range(4):
        image, label = sample("stacked", i)
        assert label == encode_text(stacked[0].text)
        assert np.array_equal(image, sample("one", i)[0]) == (i % 2 == 0)
        assert not np.array_equal(image, sample("two", i)[0])


def test_render_bank_is_the_same_however_many_processes_draw_it(monkeypatch):
    from edge_alpr.training import reader_data

    monkeypatch.setattr(reader_data, "RENDER_CHUNK", 10)
    alone = reader_data.render_bank(25, seed=3, two_line_fraction=0.5)
    shared = reader_data.render_bank(25, seed=3, two_line_fraction=0.5, workers=2)
    assert len(alone) == len(shared) == 25
    assert [(c.text, c.layout) for c in alone] == [(c.text, c.layout) for c in shared]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(alone, shared))
    assert len({c.text for c in alone}) > 20  # the chunks' seeds differ


def test_a_plate_with_a_tight_box_is_cut_from_it_and_one_without_from_its_box(tmp_path):
    import cv2

    from edge_alpr.datasets.manifest import ManifestRow, PlateBox
    from edge_alpr.training.reader_data import TIGHT_MARGIN, row_crops

    image = np.zeros((200, 300, 3), np.uint8)
    image[60:100, 100:200] = 255  # the plate, inside a loose box with its surroundings
    cv2.imwrite(str(tmp_path / "a.png"), image)
    row = ManifestRow(tmp_path / "a.png", 300, 200, (
        PlateBox((50, 20, 250, 160), "KA01AB1234", "two", tight_box=(100, 60, 200, 100)),
        PlateBox((50, 20, 250, 160), "KA01AB1235", "two"),
    ))
    tight, loose = row_crops(row, "in_twowheelers")
    assert tight.image.shape[:2] == (round(40 * (1 + 2 * TIGHT_MARGIN)), round(100 * (1 + 2 * TIGHT_MARGIN)))
    assert tight.image.mean() > 150  # mostly the plate
    assert loose.image.shape[:2] == (181, 260) and loose.image.mean() < 100  # the box with 15 % margin, cut at the image edge


def test_the_whole_two_line_curriculum_starts_side_by_side_then_ramps_to_its_share():
    from edge_alpr.training.reader import whole_share

    assert whole_share(0, 0.8, 0) == whole_share(5000, 0.8, 0) == 0.8  # no warm-up: the share throughout
    shares = [whole_share(s, 0.8, 1000) for s in (0, 999, 1000, 1500, 2000, 9000)]
    assert shares[:3] == [0.0, 0.0, 0.0]
    assert shares[3] == pytest.approx(0.4)
    assert shares[4] == shares[5] == pytest.approx(0.8)


def test_a_tilted_crop_is_turned_inside_a_box_grown_to_hold_it_and_drawn_at_its_share(monkeypatch):
    from edge_alpr.training import reader_data
    from edge_alpr.training.reader_data import TILT_DEGREES, Crop, ReaderDataset, tilt

    plate = np.zeros((40, 160, 3), np.uint8)
    plate[15:25, 20:140] = 255  # a bar along the plate
    turned = tilt(plate, 20.0)
    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    assert turned.shape[:2] == (int(np.ceil(160 * s + 40 * c)), int(np.ceil(160 * c + 40 * s)))
    rows, cols = np.nonzero(turned[..., 0] > 127)
    assert np.polyfit(cols, rows, 1)[0] == pytest.approx(-np.tan(np.radians(20)), abs=0.03)  # counter-clockwise
    assert turned[turned.shape[0] // 2, turned.shape[1] // 2, 0] == 255  # about its centre

    angles = []
    monkeypatch.setattr(reader_data, "tilt", lambda image, angle: angles.append(angle) or image)
    dataset = ReaderDataset([], [Crop(plate, "KA01AB1234", "one", "synthetic")], synthetic_fraction=1.0,
                            tilt_fraction=0.3)
    for i in range(300):
        dataset.sample(i)
    assert 60 <= len(angles) <= 120
    assert all(TILT_DEGREES[0] <= abs(a) <= TILT_DEGREES[1] for a in angles)
    assert 0.3 < np.mean(np.array(angles) > 0) < 0.7  # both ways


def test_agreed_partials_join_training_only_when_asked_and_never_the_calibration(tmp_path, monkeypatch):
    import cv2

    from edge_alpr.training.reader_data import _in_calibration

    root = tmp_path / "sets" / "in_twowheelers"
    (root / "images").mkdir(parents=True)
    names = ["0001.jpg", "0002.jpg", "0012.jpg"]
    assert [_in_calibration(n) for n in names] == [False, False, True]  # 0012 falls in the calibration slice
    rows, labels = [], []
    for name, text, status, agreed in (("0001.jpg", "KA01AB1234", "ok", False), ("0002.jpg", "TN22C4321", "partial", True),
                                       ("0012.jpg", "OD02X1234", "partial", True)):
        cv2.imwrite(str(root / "images" / name), np.full((80, 120, 3), 180, np.uint8))
        rows.append({"image": f"images/{name}", "width": 120, "height": 80, "plates": [{"box": [20, 20, 100, 50], "text": None}]})
        labels.append({"image": f"images/{name}", "box": [20, 20, 100, 50], "text": text, "status": status,
                       "split": "train", **({"agreed": True} if agreed else {})})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "in_twowheelers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    monkeypatch.setattr("edge_alpr.datasets.kept.LABELS_DIR", tmp_path / "labels")

    train, calib, _ = load_real(tmp_path / "sets")
    assert [c.text for c in train] == ["KA01AB1234"] and calib == []
    train, calib, _ = load_real(tmp_path / "sets", agreed_partials=True)
    assert sorted(c.text for c in train) == ["KA01AB1234", "TN22C4321"]
    assert calib == []  # calibration measures how often a read is right: best guesses stay out


def test_foreign_plates_join_training_only_when_asked_and_never_the_calibration(tmp_path, monkeypatch):
    import cv2

    from edge_alpr.training.reader_data import _in_calibration

    root = tmp_path / "sets" / "openlpr"
    (root / "images" / "train").mkdir(parents=True)
    names = ["images/train/0001.jpg", "images/train/0002.jpg", "images/train/0012.jpg"]
    calibrating = [_in_calibration(n.rsplit("/", 1)[1]) for n in names]
    assert calibrating == [False, False, True]
    rows, labels = [], []
    # An Indian plate, a Pakistani two-line plate, and a foreign plate on an image of the calibration slice
    for name, text, layout in zip(names, ("KA01AB1234", "LEC078019", "ET57AOM"), ("one", "two", "one")):
        cv2.imwrite(str(tmp_path / "sets" / "openlpr" / name), np.full((80, 120, 3), 180, np.uint8))
        rows.append({"image": name, "width": 120, "height": 80, "split": "train",
                     "plates": [{"box": [20, 20, 100, 50], "text": None}]})
        labels.append({"image": name, "box": [20, 20, 100, 50], "text": text, "status": "ok", "layout": layout,
                       "split": "train"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "openlpr.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    monkeypatch.setattr("edge_alpr.datasets.kept.LABELS_DIR", tmp_path / "labels")

    train, calib, _ = load_real(tmp_path / "sets")
    assert [c.text for c in train] == ["KA01AB1234"] and calib == []
    train, calib, _ = load_real(tmp_path / "sets", foreign="all")
    assert sorted((c.text, c.layout) for c in train) == [("ET57AOM", "one"), ("KA01AB1234", "one"), ("LEC078019", "two")]
    assert calib == []  # an Indian reader's confidence is never fitted on plates it cannot decode
    train, _, _ = load_real(tmp_path / "sets", foreign="two")
    assert sorted(c.text for c in train) == ["KA01AB1234", "LEC078019"]
    with pytest.raises(ValueError, match="foreign"):
        load_real(tmp_path / "sets", foreign="yes")


def test_a_motion_blurred_crop_smears_a_point_along_the_movement_and_is_drawn_at_its_share(monkeypatch):
    from edge_alpr.training import reader_data
    from edge_alpr.training.reader_data import MOTION_BLUR_SHARE, Crop, ReaderDataset, motion_blur

    dot = np.zeros((61, 200, 3), np.uint8)
    dot[30, 100] = 255
    spreads = []
    for seed in range(40):
        smeared = motion_blur(dot, np.random.default_rng(seed))[..., 0].astype(float)
        assert smeared.sum() == pytest.approx(255, rel=0.05)  # light is moved, not added or lost
        rows, cols = np.nonzero(smeared)
        spreads.append((np.ptp(rows), np.ptp(cols)))
    lengths = [max(r, c) + 1 for r, c in spreads]
    assert MOTION_BLUR_SHARE[0] * 200 - 1 <= min(lengths) and max(lengths) <= MOTION_BLUR_SHARE[1] * 200 + 1
    down = sum(r > c for r, c in spreads)
    assert 0.5 * len(spreads) <= down < len(spreads)  # mostly down the frame, sometimes across

    drawn = []
    monkeypatch.setattr(reader_data, "motion_blur", lambda image, rng: drawn.append(1) or image)
    dataset = ReaderDataset([], [Crop(dot, "KA01AB1234", "one", "synthetic")], synthetic_fraction=1.0,
                            motion_blur_fraction=0.3)
    for i in range(300):
        dataset.sample(i)
    assert 60 <= len(drawn) <= 120
    drawn.clear()
    ReaderDataset([], [Crop(dot, "KA01AB1234", "one", "synthetic")], synthetic_fraction=1.0).sample(0)
    assert not drawn


def test_shape_jitter_bends_and_thickens_strokes_a_little_without_moving_them(monkeypatch):
    from edge_alpr.training import reader_data
    from edge_alpr.training.reader_data import SHAPE_BEND_PX, Crop, ReaderDataset, shape_jitter

    bar = np.full((64, 192), 230, np.uint8)
    bar[10:54, 90:96] = 20  # a dark stroke 6 px wide on a light plate
    ink = (bar < 128).sum()
    areas = []
    for seed in range(30):
        out = shape_jitter(bar, np.random.default_rng(seed))
        assert out.shape == bar.shape and out.dtype == np.uint8
        cols = np.nonzero((out < 128).any(axis=0))[0]
        # bent by at most SHAPE_BEND_PX, thickened by at most a 3 px kernel: the stroke stays where it was
        assert cols.min() >= 90 - SHAPE_BEND_PX[1] - 2 and cols.max() <= 95 + SHAPE_BEND_PX[1] + 2
        areas.append((out < 128).sum() / ink)
    assert min(areas) < 0.9 and max(areas) > 1.1  # drawn both thinner and thicker
    assert 0.4 < np.median(areas) < 1.6

    drawn = []
    monkeypatch.setattr(reader_data, "shape_jitter", lambda grey, rng: drawn.append(1) or grey)
    plate = np.full((40, 160, 3), 200, np.uint8)
    dataset = ReaderDataset([], [Crop(plate, "KA01AB1234", "one", "synthetic")], synthetic_fraction=1.0,
                            shape_jitter_fraction=0.3)
    for i in range(300):
        dataset.sample(i)
    assert 60 <= len(drawn) <= 120
    drawn.clear()
    ReaderDataset([], [Crop(plate, "KA01AB1234", "one", "synthetic")], synthetic_fraction=1.0).sample(0)
    assert not drawn
