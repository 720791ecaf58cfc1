"""Two labelling passes merged into one labels file, and the split fixed per vehicle group."""
from edge_alpr.datasets.kept import KeptLabel
from edge_alpr.datasets.passes import assign_splits, merge_passes


def _key(image, n=0):
    return image, (n, 0, n + 10, 5)


def test_disagreeing_texts_become_partial_and_the_weaker_status_stands():
    a = {_key("a.jpg"): KeptLabel("KA01AB1234", "ok", "one"),
         _key("b.jpg"): KeptLabel("KA01AB1234", "ok", "two"),
         _key("c.jpg"): KeptLabel("TN22C1234", "ok", "one"),
         _key("d.jpg"): KeptLabel("", "unreadable", "one"),
         _key("e.jpg"): KeptLabel("OD02X1", "ok", "one")}
    b = {_key("a.jpg"): KeptLabel("KA01AB1234", "ok", "one"),
         _key("b.jpg"): KeptLabel("KA01AB1284", "ok", "two"),
         _key("c.jpg"): KeptLabel("TN22C1234", "partial", "one"),
         _key("d.jpg"): KeptLabel("KL07", "partial", "one")}
    merged, report = merge_passes(a, b)
    assert {k[0]: v.status for k, v in merged.items()} == {
        "a.jpg": "ok", "b.jpg": "partial", "c.jpg": "partial", "d.jpg": "unreadable"}
    assert merged[_key("b.jpg")].text == "KA01AB1234"  # the first pass's best guess
    assert report.only_in_one_pass == 1 and report.text_disagreements == 1 and report.agreed == 1


def test_frames_of_one_vehicle_share_a_split_and_every_image_has_one_split():
    labels = {}
    for i in range(60):  # 20 vehicles, three frames each, with a second unreadable plate in some
        image = f"{i:04d}.jpg"
        labels[_key(image)] = KeptLabel(f"OD02AB{1000 + i // 3}", "ok", "one")
        if i % 4 == 0:
            labels[_key(image, 50)] = KeptLabel("", "unreadable", "one")
    out = assign_splits(labels, "in_odisha_traffic", val_fraction=0.3)
    by_text = {}
    for _, label in out.items():
        if label.text:
            by_text.setdefault(label.text, set()).add(label.split)
    assert all(len(s) == 1 for s in by_text.values())
    assert {label.split for label in out.values()} == {"train", "val"}
    per_image = {}
    for (image, _), label in out.items():
        per_image.setdefault(image, set()).add(label.split)
    assert all(len(s) == 1 for s in per_image.values())


def test_a_vehicle_seen_in_far_apart_frames_still_joins_one_group():
    labels = {_key("0001.jpg"): KeptLabel("KA01AB1234", "ok", "one"),
              _key("0002.jpg"): KeptLabel("TN09BT9721", "ok", "one"),
              _key("0002.jpg", 40): KeptLabel("KA01AB1234", "partial", "one"),
              _key("0900.jpg"): KeptLabel("TN09BT9721", "ok", "one")}
    for seed_name in ("in_twowheelers", "x", "y", "z"):
        out = assign_splits(labels, seed_name, val_fraction=0.5)
        assert len({label.split for label in out.values()}) == 1
