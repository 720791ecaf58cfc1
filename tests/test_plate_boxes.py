"""Outlines proposed for loose label boxes: the window, the pick, and accepting only what the eye kept."""
import json

import numpy as np
import pytest

from edge_alpr.datasets import kept, plate_boxes
from edge_alpr.datasets.plate_boxes import accept, pick_outline, zoom_window


def test_the_zoom_window_is_centred_on_the_box_and_clipped_to_the_image():
    assert zoom_window([100, 100, 140, 120], 1000, 1000) == (80, 70, 160, 150)  # 2 x the longer side
    assert zoom_window([0, 0, 40, 20], 1000, 1000) == (0, 0, 60, 50)
    assert zoom_window([990, 990, 1000, 995], 1000, 1000) == (963, 960, 1000, 1000)  # tiny boxes get 32 px


def test_the_surest_box_inside_the_label_is_picked_and_boxes_outside_it_never_are():
    label = [100, 100, 200, 160]
    boxes = np.array([[120, 120, 180, 140],   # the plate, inside
                      [300, 300, 360, 320],   # another plate elsewhere, surer
                      [40, 110, 190, 150],    # centred inside but mostly outside
                      [125, 118, 178, 142]],  # the plate again, less sure
                     np.float32)
    scores = np.array([0.8, 0.95, 0.9, 0.6], np.float32)
    assert pick_outline(boxes, scores, label).tolist() == [120, 120, 180, 140]
    assert pick_outline(boxes[1:3], scores[1:3], label) is None


@pytest.fixture
def labels_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(kept, "LABELS_DIR", tmp_path)
    rows = [{"image": "images/a.jpg", "box": [10, 20, 60, 45], "text": "KA01AB1234", "plate_box": [1, 1, 2, 2]},
            {"image": "images/b.jpg", "box": [5, 5, 40, 30], "text": "", "status": "unreadable"},
            {"image": "images/c.jpg", "box": [5, 5, 40, 30], "text": "OD02AB1234"}]
    (tmp_path / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _proposal(n, image, box, outline):
    return {"n": n, "image": image, "box": box, "window": [0, 0, 100, 100], "plate_box": outline}


def test_only_accepted_outlines_are_written_and_an_old_outline_is_replaced(labels_dir):
    proposals = [_proposal(0, "images/a.jpg", [10, 20, 60, 45], [15, 25, 55, 40]),
                 _proposal(1, "images/b.jpg", [5, 5, 40, 30], [8, 8, 35, 25]),
                 _proposal(2, "images/c.jpg", [5, 5, 40, 30], None)]
    assert accept("set", proposals, rejected={1}) == 1
    rows = [json.loads(line) for line in (labels_dir / "set.jsonl").read_text().splitlines()]
    assert [r.get("plate_box") for r in rows] == [[15, 25, 55, 40], None, None]
    assert kept.load_kept(labels_dir / "set.jsonl")  # still a valid labels file


def test_proposals_for_labels_that_have_changed_since_are_refused(labels_dir):
    stale = [_proposal(0, "images/a.jpg", [10, 20, 60, 46], [15, 25, 55, 40]),
             _proposal(1, "images/b.jpg", [5, 5, 40, 30], None), _proposal(2, "images/c.jpg", [5, 5, 40, 30], None)]
    with pytest.raises(ValueError, match="set.jsonl:1: the labels changed"):
        accept("set", stale, rejected=set())
    assert "[1, 1, 2, 2]" in (labels_dir / "set.jsonl").read_text()  # nothing written


def test_the_montage_has_a_numbered_tile_per_proposal(tmp_path):
    import cv2
    (tmp_path / "set" / "images").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "set" / "images" / "a.jpg"), np.full((200, 300, 3), 90, np.uint8))
    proposals = [_proposal(n, "images/a.jpg", [100, 100, 160, 130], [110, 105, 150, 125] if n % 2 else None)
                 for n in range(plate_boxes.PAGE + 1)]
    pages = plate_boxes.write_pages(proposals, "set", tmp_path, tmp_path)
    assert [p.name for p in pages] == ["set_page01.png", "set_page02.png"]
    first = cv2.imread(str(pages[0]))
    assert first.shape[0] == 5 * (220 + 20) and first.shape[1] == 6 * 220
