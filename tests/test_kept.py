"""Labels kept beside the shared datasets: status, layout, background and a split per source image."""
import json

import pytest

from edge_alpr.datasets.kept import LABELS_DIR, apply_kept, load_kept, with_kept
from edge_alpr.datasets.manifest import load_manifest
from edge_alpr.errors import InputError


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def manifest(tmp_path):
    return _write(tmp_path / "manifest.jsonl", [
        {"image": "images/a.jpg", "width": 100, "height": 80,
         "plates": [{"box": [10, 20, 60, 35], "text": None}, {"box": [5, 50, 40, 62], "text": None}]},
        {"image": "images/b.jpg", "width": 100, "height": 80, "plates": [{"box": [1, 2, 30, 12], "text": None}]},
    ])


def test_only_ok_texts_become_plate_texts_but_every_label_gives_layout_colour_and_split(tmp_path, manifest):
    labels = _write(tmp_path / "labels.jsonl", [
        {"image": "images/a.jpg", "box": [10, 20, 60, 35], "text": "KA01AB1234", "status": "ok",
         "layout": "two", "background": "yellow", "split": "val"},
        {"image": "images/a.jpg", "box": [5.2, 49.6, 40, 62], "text": "KA01AB1Z34", "status": "partial",
         "layout": "one", "split": "val"},
    ])
    rows = with_kept(load_manifest(manifest), tmp_path.resolve(), load_kept(labels))
    a, b = rows
    assert [p.text for p in a.plates] == ["KA01AB1234", None]  # a partial best guess is no ground truth
    assert [p.layout for p in a.plates] == ["two", "one"]
    assert a.plates[0].background == "yellow"
    assert a.split == "val" and b.split is None  # an unlabelled image keeps no split


@pytest.mark.parametrize("line, expected", [
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4]}, "expected"),
    ({"image": "images/a.jpg", "box": [1, 2, 3], "text": "KA01AB1234"}, "4"),
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "KA-01"}, "A-Z0-9"),
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "KA01", "status": "sure"}, "status"),
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "KA01", "layout": "three"}, "layout"),
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "KA01", "background": "pink"}, "background"),
    ({"image": "images/a.jpg", "box": [1, 2, 3, 4], "text": "KA01", "split": "test"}, "split"),
    ({"image": "images/x.jpg", "box": [1, 2, 3, 4], "text": "KA01"}, "twice"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01", "tight_box": [10, 10, 50]}, "tight_box"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01", "tight_box": [30, 10, 20, 30]}, "empty"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01", "tight_box": [60, 10, 90, 30]}, "outside its box"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01", "plate_box": [0, 0, 9, 9]}, "plate_box .* outside"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01", "plate_box": "tight"}, "plate_box must be"),
    ({"image": "images/a.jpg", "box": [10, 10, 50, 30], "text": "KA01AB1234", "agreed": True}, "'agreed' marks a partial"),
])
def test_a_bad_label_line_names_the_file_line_and_what_was_expected(tmp_path, line, expected):
    good = {"image": "images/x.jpg", "box": [1, 2, 3, 4], "text": "KA01AB1234"}
    path = _write(tmp_path / "labels.jsonl", [good, line])
    with pytest.raises(InputError, match=f"labels.jsonl:2: .*{expected}"):
        load_kept(path)


def test_an_agreed_partial_gives_its_text_only_to_whoever_asks_for_agreed_partials(tmp_path, manifest):
    labels = load_kept(_write(tmp_path / "labels.jsonl", [
        {"image": "images/a.jpg", "box": [10, 20, 60, 35], "text": "KA01AB1234", "status": "partial", "agreed": True},
        {"image": "images/a.jpg", "box": [5, 50, 40, 62], "text": "KA01AB1Z34", "status": "partial"},
    ]))
    plain, = (r for r in with_kept(load_manifest(manifest), tmp_path.resolve(), labels) if r.image.name == "a.jpg")
    agreed, = (r for r in with_kept(load_manifest(manifest), tmp_path.resolve(), labels, agreed=True) if r.image.name == "a.jpg")
    assert [p.text for p in plain.plates] == [None, None]  # evaluation never sees a best guess as truth
    assert [p.text for p in agreed.plates] == ["KA01AB1234", None]  # a partial that is not agreed stays out


def test_a_tight_box_reaches_the_plate_only_with_an_ok_text(tmp_path, manifest):
    labels = _write(tmp_path / "labels.jsonl", [
        {"image": "images/a.jpg", "box": [10, 20, 60, 35], "text": "KA01AB1234", "tight_box": [20, 22, 50, 33]},
        {"image": "images/a.jpg", "box": [5, 50, 40, 62], "text": "KA01AB1Z34", "status": "partial",
         "tight_box": [8, 52, 38, 60]},
    ])
    a, _ = with_kept(load_manifest(manifest), tmp_path.resolve(), load_kept(labels))
    assert [p.tight_box for p in a.plates] == [(20, 22, 50, 33), None]
    assert a.plates[0].box == (10, 20, 60, 35)  # detection keeps the labelled box
    assert a.plates[0].to_json()["tight_box"] == [20, 22, 50, 33]


def test_detection_uses_a_plates_checked_outline_whatever_its_status_and_the_reader_keeps_the_box(tmp_path, manifest):
    labels = _write(tmp_path / "labels.jsonl", [
        {"image": "images/a.jpg", "box": [10, 20, 60, 35], "text": "", "status": "unreadable", "plate_box": [20, 22, 50, 33]},
        {"image": "images/a.jpg", "box": [5, 50, 40, 62], "text": "KA01AB1234"},
    ])
    a, _ = with_kept(load_manifest(manifest), tmp_path.resolve(), load_kept(labels))
    assert [p.outline for p in a.plates] == [(20, 22, 50, 33), (5, 50, 40, 62)]
    assert a.plates[0].box == (10, 20, 60, 35)
    assert a.plates[0].to_json()["plate_box"] == [20, 22, 50, 33]
    reloaded = _write(tmp_path / "m2.jsonl", [{"image": "images/a.jpg", "width": 100, "height": 80,
                                                "plates": [p.to_json() for p in a.plates]}])
    assert load_manifest(reloaded)[0].plates[0].outline == (20, 22, 50, 33)


def test_an_added_plate_joins_its_image_once_with_its_text_and_split(tmp_path, manifest):
    labels = _write(tmp_path / "labels.jsonl", [
        {"image": "images/b.jpg", "box": [50, 40, 90, 60], "text": "TN39N0547", "layout": "two", "split": "train",
         "added": True},
        # An added box the manifest has since boxed itself is labelled, not doubled.
        {"image": "images/a.jpg", "box": [10, 20, 60, 35], "text": "KA01AB1234", "split": "val", "added": True},
    ])
    a, b = with_kept(load_manifest(manifest), tmp_path.resolve(), load_kept(labels))
    assert [(p.box, p.text) for p in b.plates] == [((1, 2, 30, 12), None), ((50, 40, 90, 60), "TN39N0547")]
    assert b.plates[1].layout == "two" and b.split == "train"
    assert [p.text for p in a.plates] == ["KA01AB1234", None]


def test_an_unreadable_plate_may_have_no_text(tmp_path):
    path = _write(tmp_path / "labels.jsonl", [{"image": "images/x.jpg", "box": [1, 2, 3, 4], "text": "", "status": "unreadable"}])
    assert load_kept(path)[("images/x.jpg", (1, 2, 3, 4))].status == "unreadable"


def test_a_manifest_of_a_set_without_kept_labels_is_left_alone(manifest):
    rows = load_manifest(manifest)
    assert apply_kept(rows, manifest) == rows


BOX_LABELLED = ("openlpr", "in_twowheelers", "in_odisha_traffic")  # the sets whose texts are kept by image and box


@pytest.mark.parametrize("path", [LABELS_DIR / f"{name}.jsonl" for name in BOX_LABELLED
                                  if (LABELS_DIR / f"{name}.jsonl").is_file()], ids=lambda p: p.name)
def test_every_shipped_labels_file_loads(path):
    labels = load_kept(path)
    assert labels
    splits = {}
    for (image, _), label in labels.items():
        splits.setdefault(image, set()).add(label.split)
    assert all(len(s) == 1 for s in splits.values()), "a source image's boxes must share one split"
    # one vehicle (one readable text) on both sides would put a trained-on plate into validation
    sides = {}
    for label in labels.values():
        if label.status != "unreadable" and len(label.text) >= 5:
            sides.setdefault(label.text, set()).add(label.split)
    assert not [text for text, s in sides.items() if len(s) > 1], "a plate text on both sides of the split"
    # only training labels are fitted: validation figures stay those of the boxes a detector meets
    assert all(label.split == "train" and label.status == "ok" for label in labels.values() if label.tight_box)
    # an outline is the labelled plate itself: it lies mostly inside the box it was found in (a
    # hand-drawn box may clip the plate's rim, hence the 10 % allowance)
    for (image, box), label in labels.items():
        if label.plate_box:
            x1, y1, x2, y2 = label.plate_box
            mx, my = 0.1 * (box[2] - box[0]), 0.1 * (box[3] - box[1])
            inside = (max(0, min(x2, box[2] + mx) - max(x1, box[0] - mx))
                      * max(0, min(y2, box[3] + my) - max(y1, box[1] - my)))
            assert inside >= 0.8 * (x2 - x1) * (y2 - y1), f"{path.name}: {image} {list(box)}"
