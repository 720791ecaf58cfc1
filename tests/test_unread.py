"""Reading a set's unlabelled boxes by eye: the pages two blind passes read, and their merge."""
import json

import cv2
import numpy as np
import pytest

from edge_alpr.datasets import unread
from edge_alpr.datasets.kept import load_kept
from edge_alpr.errors import InputError


@pytest.fixture
def tiny_set(tmp_path, monkeypatch):
    """openlpr-like: a train image with a labelled box, an unlabelled squarish box and a wide one;
    a val image with an unlabelled squarish box."""
    root = tmp_path / "sets" / "openlpr"
    (root / "images").mkdir(parents=True)
    rows = [
        {"image": "images/t.jpg", "width": 320, "height": 240, "split": "train",
         "plates": [{"box": [10, 10, 130, 40], "text": None}, {"box": [150, 100, 210, 150], "text": None},
                    {"box": [20, 180, 200, 210], "text": None}]},
        {"image": "images/v.jpg", "width": 320, "height": 240, "split": "val",
         "plates": [{"box": [150, 100, 210, 150], "text": None}]},
    ]
    for row in rows:
        cv2.imwrite(str(root / row["image"]), np.full((240, 320, 3), 128, np.uint8))
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = tmp_path / "labels"
    labels.mkdir()
    first = {"image": "images/t.jpg", "box": [10, 10, 130, 40], "text": "TN87A0135"}
    (labels / "openlpr.jsonl").write_text(json.dumps(first) + "\n")
    monkeypatch.setattr("edge_alpr.datasets.kept.LABELS_DIR", labels)
    return tmp_path / "sets", labels / "openlpr.jsonl"


def _answers(folder, name, lines):
    (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_pages_show_only_the_unlabelled_boxes_of_the_split_within_the_aspect(tiny_set, tmp_path):
    datasets, _ = tiny_set
    assert unread.main(["pages", "--dataset", "openlpr", "--datasets", str(datasets), "--out", str(tmp_path / "p"),
                        "--max-aspect", "2.2"]) == 0
    index = [json.loads(line) for line in (tmp_path / "p" / "chunk1" / "index.jsonl").read_text().splitlines()]
    assert [(r["n"], r["image"], r["box"]) for r in index] == [(1, "images/t.jpg", [150, 100, 210, 150])]
    assert cv2.imread(str(tmp_path / "p" / "chunk1" / "page01.png")) is not None
    wide = unread.unread_boxes("openlpr", datasets, "train", max_aspect=99.0)
    assert sorted(box for _, box in wide) == [(20, 180, 200, 210), (150, 100, 210, 150)]


def test_merge_adds_one_label_per_box_by_the_two_pass_rule_and_keeps_the_old_ones(tiny_set, tmp_path):
    datasets, labels_file = tiny_set
    pages = tmp_path / "p"
    assert unread.main(["pages", "--dataset", "openlpr", "--datasets", str(datasets), "--out", str(pages)]) == 0
    folder = pages / "chunk1"
    index = {tuple(r["box"]): r["n"] for r in map(json.loads, (folder / "index.jsonl").read_text().splitlines())}
    square, wide = index[(150, 100, 210, 150)], index[(20, 180, 200, 210)]
    _answers(folder, "answers_a.jsonl", [{"n": square, "text": "lec-07 8019", "status": "ok", "layout": "two"},
                                         {"n": wide, "text": "ET57AOM", "status": "ok", "layout": "one"}])
    _answers(folder, "answers_b.jsonl", [{"n": square, "text": "LEC078019", "status": "ok", "layout": "two"},
                                         {"n": wide, "text": "ET57A0M", "status": "ok", "layout": "one"}])
    assert unread.main(["merge", "--dataset", "openlpr", "--datasets", str(datasets), "--pages", str(pages),
                        "--record", str(tmp_path / "pass")]) == 0
    kept = load_kept(labels_file)
    assert kept[("images/t.jpg", (10, 10, 130, 40))].text == "TN87A0135"  # the earlier reading stays
    agreed = kept[("images/t.jpg", (150, 100, 210, 150))]
    assert (agreed.text, agreed.status, agreed.layout, agreed.split) == ("LEC078019", "ok", "two", "train")
    assert kept[("images/t.jpg", (20, 180, 200, 210))].status == "partial"  # O against 0: not certain
    assert len((tmp_path / "pass_a.jsonl").read_text().splitlines()) == 2


def test_a_bad_answer_names_the_file_and_line(tiny_set, tmp_path):
    datasets, _ = tiny_set
    pages = tmp_path / "p"
    unread.main(["pages", "--dataset", "openlpr", "--datasets", str(datasets), "--out", str(pages)])
    _answers(pages / "chunk1", "answers_a.jsonl", [{"n": 1, "text": "AB12", "status": "ok"}])  # no layout
    with pytest.raises(InputError, match=r"answers_a.jsonl:1: .*layout"):
        unread.load_reading(pages / "chunk1", "answers_a.jsonl")
    _answers(pages / "chunk1", "answers_a.jsonl", [{"n": 1, "text": "", "status": "ok", "layout": "one"}])
    with pytest.raises(InputError, match=r"answers_a.jsonl:1: status ok needs a text"):
        unread.load_reading(pages / "chunk1", "answers_a.jsonl")


def test_a_one_character_mark_is_kept_as_unreadable(tiny_set, tmp_path):
    datasets, _ = tiny_set
    pages = tmp_path / "p"
    unread.main(["pages", "--dataset", "openlpr", "--datasets", str(datasets), "--out", str(pages)])
    _answers(pages / "chunk1", "answers_a.jsonl", [{"n": 1, "text": "9", "status": "ok", "layout": "one"}])
    label = next(iter(unread.load_reading(pages / "chunk1", "answers_a.jsonl").values()))
    assert (label.text, label.status) == ("9", "unreadable")  # a kept plate text holds 2-12 characters
