"""A blind third reading settles partial labels only where two readers agree on every character."""
import json

import cv2
import numpy as np
import pytest

from edge_alpr.datasets.kept import KeptLabel
from edge_alpr.datasets.third_pass import agree, load_answers, load_readings, settle, write_pages
from edge_alpr.errors import InputError


def _key(image, n=0):
    return image, (n, 0, n + 10, 5)


def test_a_partial_becomes_ok_only_when_the_third_reader_is_sure_and_a_first_pass_agrees():
    labels = {_key("a.jpg"): KeptLabel("KA01AB1234", "partial", "two", split="train"),
              _key("b.jpg"): KeptLabel("KA01AB1284", "partial", "one", split="train"),
              _key("c.jpg"): KeptLabel("TN22C1234", "partial", "one", split="train"),
              _key("d.jpg"): KeptLabel("OD02X1234", "partial", "one", split="train"),
              _key("e.jpg"): KeptLabel("OD02X1234", "ok", "one", split="val"),
              _key("f.jpg"): KeptLabel("KL07B5555", "ok", "one", split="train")}
    a = {_key("a.jpg"): KeptLabel("KA01AB1234", "ok"), _key("b.jpg"): KeptLabel("KA01AB1284", "ok"),
         _key("c.jpg"): KeptLabel("TN22C1234", "partial"), _key("d.jpg"): KeptLabel("OD02X1234", "ok")}
    b = {_key("a.jpg"): KeptLabel("KA01AB1231", "ok"), _key("b.jpg"): KeptLabel("KA01AB1234", "ok"),
         _key("c.jpg"): KeptLabel("TN22C1234", "ok"), _key("d.jpg"): KeptLabel("OD02X1234", "partial")}
    c = {_key("a.jpg"): KeptLabel("KA01AB1234", "ok"),  # agrees with pass A: settled
         _key("b.jpg"): KeptLabel("KA01AB1294", "ok"),  # a third text: stays partial
         _key("c.jpg"): KeptLabel("TN22C1234", "partial"),  # unsure: stays partial
         _key("d.jpg"): KeptLabel("OD02X1234", "ok"),  # agreed, but that vehicle is in validation
         _key("f.jpg"): KeptLabel("KL07B5556", "ok")}  # already ok: never touched
    out, counts = settle(labels, a, b, c)
    assert out[_key("a.jpg")] == KeptLabel("KA01AB1234", "ok", "two", split="train")
    assert [out[_key(x)].status for x in ("b.jpg", "c.jpg", "d.jpg")] == ["partial"] * 3
    assert out[_key("f.jpg")] == labels[_key("f.jpg")]
    assert counts == {"settled two-line": 1, "no first-pass agreement": 1, "third reader unsure": 1,
                      "text on the other split": 1}


def test_pages_show_each_partial_of_the_split_once_and_answers_map_back_to_its_box(tmp_path, monkeypatch):
    root = tmp_path / "sets" / "demo"
    (root / "images").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "0001.jpg"), np.full((200, 300, 3), 200, np.uint8))
    labels = tmp_path / "demo.jsonl"
    rows = [{"image": "images/0001.jpg", "box": box, "text": text, "status": status, "split": "train"}
            for box, text, status in (([10, 10, 90, 50], "KA01AB1234", "partial"), ([100, 10, 190, 50], "KA01AB1235", "ok"),
                                      ([200, 100, 290, 150], "KA01AB1236", "partial"))]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr("edge_alpr.datasets.third_pass.kept_labels_path", lambda name: labels)
    pages = tmp_path / "pages"
    assert write_pages("demo", "train", tmp_path / "sets", pages) == 2
    assert len(list(pages.glob("demo_page*.png"))) == 1
    (pages / "answers.jsonl").write_text('{"n": 2, "text": "ka 01 ab-1236", "status": "ok"}\n')
    assert load_answers(pages) == {("images/0001.jpg", (200, 100, 290, 150)): KeptLabel("KA01AB1236", "ok")}
    (pages / "answers.jsonl").write_text('{"n": 9, "text": "KA01AB1236", "status": "ok"}\n')
    with pytest.raises(InputError, match=r"answers.jsonl:1: expected .*tile number"):
        load_answers(pages)


def test_a_partial_is_agreed_only_when_every_reading_gives_one_valid_plate_text(tmp_path):
    labels = {_key("a.jpg"): KeptLabel("KA01AB1234", "partial", "two", split="train"),
              _key("b.jpg"): KeptLabel("KA01AB1284", "partial", "one", split="train"),
              _key("c.jpg"): KeptLabel("TN22C1234", "partial", "one", split="val"),
              _key("d.jpg"): KeptLabel("KL07B5555", "ok", "one", split="train"),
              _key("e.jpg"): KeptLabel("OD02X1234", "partial", "one", split="train"),
              _key("f.jpg"): KeptLabel("ABCD", "partial", "one", split="train")}
    a = {_key(x): [KeptLabel(t, "partial")] for x, t in
         (("a.jpg", "KA01AB1234"), ("b.jpg", "KA01AB1284"), ("c.jpg", "TN22C1234"), ("e.jpg", "OD02X1234"), ("f.jpg", "ABCD"))}
    b = {**a, _key("b.jpg"): [KeptLabel("KA01AB1234", "partial")]}  # B reads one character otherwise
    c = {k: v for k, v in a.items() if k != _key("e.jpg")}  # the third reading never saw e
    c[_key("c.jpg")] = [KeptLabel("TN22C1234", "partial"), KeptLabel("", "unreadable")]  # read twice, once unreadable
    out, counts = agree(labels, [a, b, c])
    assert out[_key("a.jpg")] == KeptLabel("KA01AB1234", "partial", "two", split="train", agreed=True)
    assert [out[_key(x)].agreed for x in ("b.jpg", "c.jpg", "e.jpg", "f.jpg")] == [False] * 4  # f: no Indian plate
    assert out[_key("d.jpg")] == labels[_key("d.jpg")]  # an ok label is left alone
    assert counts == {"agreed train two-line": 1, "not agreed train one-line": 3, "not agreed val one-line": 1}
    with pytest.raises(InputError, match="3 readings"):
        agree(labels, [a, b])


def test_a_pass_file_may_read_a_plate_twice_and_a_bad_line_is_named(tmp_path):
    path = tmp_path / "pass_c.jsonl"
    rows = [{"set": "demo", "image": "images/1.jpg", "box": [1, 2, 3, 4], "text": t, "status": "partial"}
            for t in ("KA01", "KA07")]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, {**rows[0], "set": "other"}]))
    assert [r.text for r in load_readings(path, "demo")[("images/1.jpg", (1, 2, 3, 4))]] == ["KA01", "KA07"]
    path.write_text('{"set": "demo", "image": "images/1.jpg"}\n')
    with pytest.raises(InputError, match="pass_c.jsonl:1: expected"):
        load_readings(path, "demo")
