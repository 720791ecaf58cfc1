"""``data check`` on a hand-made manifest with one known problem per line."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.datasets.check import check_manifest, numpy_dhash
from edge_alpr.datasets.cli import main
from edge_alpr.errors import InputError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def draw(path: Path, seed: int, width: int = 64, height: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), noise)


def line(image: str, plates: list, width: int = 64, height: int = 48, **extra) -> str:
    return json.dumps({"image": image, "width": width, "height": height, "plates": plates, **extra})


def plate(box: list, text: str | None = None, **extra) -> dict:
    return {"box": box, "text": text, **extra}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    for seed, name in enumerate(["a", "b", "c", "d", "e", "f", "g"]):
        draw(tmp_path / f"images/{name}.jpg", seed)
    (tmp_path / "images/bad.jpg").write_bytes(b"not a jpeg")
    shutil.copy(tmp_path / "images/a.jpg", tmp_path / "images/a_copy.jpg")
    shutil.copy(tmp_path / "images/b.jpg", tmp_path / "images/b_copy.jpg")
    lines = [
        line("images/a.jpg", [plate([10, 10, 30, 20], "MH12AB1234")], split="train"),  # 1: fine
        line("images/gone.jpg", []),  # 2
        line("images/bad.jpg", []),  # 3
        line("images/b.jpg", [], width=640, height=480),  # 4
        line("images/c.jpg", [plate([50, 40, 70, 50])]),  # 5: right and bottom outside
        line("images/d.jpg", [plate([30, 10, 20, 20])]),  # 6: x2 < x1
        line("images/e.jpg", [plate([1, 1, 9, 9], "MH 12", kind="car")], colour="red"),  # 7
        line("images/a.jpg", []),  # 8: listed again
        "{not json",  # 9
        line("images/a_copy.jpg", [], split="val"),  # 10: a copy of a train image in val
        line("images/b_copy.jpg", []),  # 11: a copy, no split to leak across
        line("images/f.jpg", [plate([1, 1, 9, 9], "")], split="holdout"),  # 12
        line("images/g.jpg", [plate([1, 1, 9], None, layout="three")]),  # 13
        "",  # blank lines are allowed
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


EXPECTED = [
    (2, "error", "image 'images/gone.jpg' not found"),
    (3, "error", "image 'images/bad.jpg' cannot be decoded (empty, truncated or not an image)"),
    (4, "error", "image 'images/b.jpg' is 64x48 but the line says 640x480"),
    (5, "error", "plates[0]: box [50, 40, 70, 50] is outside the 64x48 image"),
    (6, "error", "plates[0]: degenerate box [30, 10, 20, 20]: needs x2 > x1 and y2 > y1"),
    (7, "warning", "unknown key(s) colour"),
    (7, "warning", "plates[0]: unknown key(s) kind"),
    (7, "error", "plates[0]: text 'MH 12' has characters outside A-Z0-9 (uppercase, no spaces or dashes)"),
    (8, "error", "image 'images/a.jpg' is already listed on line 1"),
    (9, "error", "not valid JSON (Expecting property name enclosed in double quotes)"),
    (10, "error", "image 'images/a_copy.jpg' looks the same as 'images/a.jpg' on line 1, "
                  "which is in split 'train' and this one in 'val'"),
    (11, "warning", "image 'images/b_copy.jpg' looks the same as 'images/b.jpg' on line 4 (perceptual hash {hash})"),
    (12, "warning", "split 'holdout' is not one of test, train, val"),
    (12, "warning", "plates[0]: text is empty; write null when the text is unknown"),
    (13, "warning", "plates[0]: layout 'three' is not one of one, two"),
    (13, "error", "plates[0]: box must be [x1, y1, x2, y2] numbers, got [1, 1, 9]"),
]


@pytest.mark.parametrize("use_imagehash, method", [(True, "imagehash dHash"), (False, "numpy dHash")])
def test_every_problem_reported_with_its_line(dataset, use_imagehash, method):
    report = check_manifest(dataset, use_imagehash=use_imagehash)
    manifest = dataset / "manifest.jsonl"
    # The hash's value depends on the hasher; that it is 16 hex digits does not.
    found = [(p.where, p.severity, re.sub(r"hash [0-9a-f]{16}\)", "hash {hash})", p.message)) for p in report.problems]
    assert found == [(f"{manifest}:{n}", severity, message) for n, severity, message in EXPECTED]
    assert report.hash_method == method
    assert (report.rows, report.plates, report.with_text) == (12, 6, 3)


def test_check_never_changes_the_data(dataset):
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dataset.rglob("*") if p.is_file()}
    check_manifest(dataset / "manifest.jsonl")
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dataset.rglob("*") if p.is_file()}
    assert after == before


def test_cli_check_exit_status(dataset, tmp_path, capsys):
    assert main(["check", str(dataset)]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("10 errors, 6 warnings")

    clean = tmp_path / "clean"
    draw(clean / "images/x.jpg", 99)
    (clean / "manifest.jsonl").write_text(line("images/x.jpg", [plate([1, 1, 9, 9], "KA01AB1234")], extra=1) + "\n")
    assert main(["check", str(clean / "manifest.jsonl")]) == 0  # an unknown key is only a warning
    assert "0 errors, 1 warnings" in capsys.readouterr().out


def test_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="manifest not found"):
        check_manifest(tmp_path)


@pytest.mark.parametrize(
    "ramp, expected",
    [
        (np.tile(np.arange(0, 90, dtype=np.uint8), (80, 1)), "ffffffffffffffff"),  # brighter to the right
        (np.tile(np.arange(90, 0, -1, dtype=np.uint8), (80, 1)), "0000000000000000"),
    ],
)
def test_numpy_dhash_on_ramps(ramp, expected):
    assert numpy_dhash(cv2.cvtColor(ramp, cv2.COLOR_GRAY2BGR)) == expected


@pytest.mark.datasets
def test_a_real_shared_dataset_is_clean():
    # 339 small photos: real JPEGs and hand-made boxes, checked in well under a second.
    folder = SHARED / "in_olx_scenes"
    if not (folder / "manifest.jsonl").is_file():
        pytest.skip(f"{folder} not present")
    report = check_manifest(folder)
    assert (report.rows, report.errors) == (339, [])
