"""Exact plates on every held-out real Indian crop, as the daemon reads them, for one or more
reader folders: the in_plates validation crops, the Indian calibration crops (held out of
training to fit the confidence), the plates of the OLX photos in the detector's validation
split, and the validation plates of the sets labelled by eye for this project (two-wheelers,
Odisha traffic); with and without second looks. Then exact and character accuracy by layout
(one / two-line) and by background colour on each set, and rendered plates per layout (seeds
no training used).

    python -m edge_alpr.bench.reader_heldout [MODELS_DIR ...] [--square TFLITE ...] [--datasets ../shared/datasets]
                                             [--rendered 200] [--compare-level] [--misses] [--agreed]
                                             [--outcomes DIR] [--blur]

``--blur`` also reads every held-out crop as a vehicle pass shows it: shrunk to 80 px wide,
smeared by motion over 0, 4 and 8 % of its width (``training.reader_data.motion_blur``, mostly down
the frame; a person still reads most plates at 8 %) and JPEG-compressed, one draw per crop.

``--agreed`` adds the labelled sets' validation plates whose label is an ``agreed`` partial (every
blind reading gave that text, none was certain of every character) as one more set, ``agreed``,
left out of ``all``: a softer measure for plates too few to tell readers apart.

A plate is ~1 point of a set, and two training seeds differ by about 3 of the 342: compare
readers on all sets together, not on the validation crops alone, and pair them crop by crop
(``--outcomes DIR``, then ``edge-alpr eval-compare DIR/reader0.json DIR/reader1.json``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import get_args

import numpy as np

REPO = Path(__file__).resolve().parents[2]


#: Sets reported beside the others but left out of ``all``: their texts are best guesses.
SOFT_SETS = ("agreed",)


def held_out_sets(datasets: Path, agreed: bool = False) -> dict[str, list]:
    from edge_alpr.datasets.manifest import load_manifest
    from edge_alpr.training.detector_data import is_val, reader_val_texts
    from edge_alpr.training.reader_data import load_agreed_val, load_labelled_val, load_real, row_crops

    _, calib, val = load_real(datasets)
    held = reader_val_texts(datasets)
    olx = [crop for row in load_manifest(datasets / "in_olx_scenes" / "manifest.jsonl")
           if is_val(row, "in_olx_scenes", held) for crop in row_crops(row, "in_olx_scenes")]
    indian = [c for c in calib if c.source in ("in_plates", "in_olx_scenes", "openlpr")]
    labelled = {name.removeprefix("in_"): crops for name, crops in load_labelled_val(datasets).items() if crops}
    return {"validation": val, "calibration": indian, "olx": olx, **labelled,
            **({"agreed": load_agreed_val(datasets)} if agreed else {})}


def breakdown(reads: dict[str, list[tuple[str, object]]]) -> list[str]:
    """Per set, exact and character accuracy by layout and by background colour."""
    from edge_alpr.evaluation.metrics import PlateTextAccumulator

    lines = []
    for name, pairs in reads.items():
        acc = PlateTextAccumulator()
        for text, crop in pairs:
            acc.add(text, crop.text, {"layout": crop.layout, "background": crop.background or "unlabelled"})
        for key, buckets in acc.by_bucket().items():
            cells = [f"{value} {s.exact}/{s.plates} ({100 * s.exact_accuracy:.1f} %, chars {100 * s.char_accuracy:.1f} %)"
                     for value, s in buckets.items()]
            lines.append(f"    {name:14s} by {key:10s} " + "  ".join(cells))
    return lines


def misses(reads: dict[str, list[tuple[str, object]]]) -> list[str]:
    """Each wrong read, as ``set  layout  truth -> read``: which plates two readers swap is what
    tells a recipe change from a seed's noise, as the totals alone cannot."""
    return [f"    miss {name:14s} {crop.layout:3s} {crop.text:12s} -> {text or '(nothing)'}"
            for name, pairs in reads.items() for text, crop in pairs if text != crop.text]


def write_outcomes(reads: dict[str, list[tuple[str, object]]], path: Path) -> Path:
    """Every read as ``edge-alpr eval --json`` lists its plates, each crop named by its set and
    place in it, so ``edge-alpr eval-compare`` pairs two readers crop by crop (soft sets left out)."""
    plates = [{"source": f"{name}/{i}", "box": [0.0, 0.0, float(crop.image.shape[1]), float(crop.image.shape[0])],
               "truth": crop.text, "read": text, "layout": crop.layout}
              for name, pairs in reads.items() if name not in SOFT_SETS for i, (text, crop) in enumerate(pairs)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mode": "reader-heldout", "plates": plates}, indent=1))
    return path


#: (width in px, motion smear as a share of the width) of ``--blur``'s pass-like crops.
PASS_LIKE = ((80, 0.0), (80, 0.04), (80, 0.08))


def as_in_a_pass(image: np.ndarray, width: int, blur: float, rng: np.random.Generator) -> np.ndarray:
    """A held-out crop as a frame of a vehicle pass shows it: small, smeared, JPEG-compressed."""
    import cv2

    from edge_alpr.training.reader_data import motion_blur

    h, w = image.shape[:2]
    small = cv2.resize(image, (width, max(4, round(h * width / w))), interpolation=cv2.INTER_AREA)
    if blur:
        small = motion_blur(small, rng, share=blur)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def pass_like(reader, sets: dict[str, list]) -> str:
    crops = [c for name, cs in sets.items() if name not in SOFT_SETS for c in cs]
    parts = []
    for width, blur in PASS_LIKE:
        rng = np.random.default_rng(0)  # the same smear per crop for every reader
        right = sum(reader.read(as_in_a_pass(c.image, width, blur, rng)).text == c.text for c in crops)
        parts.append(f"{width} px, blur {blur:.0%}: {right}/{len(crops)}")
    return "  as in a pass: " + "  ".join(parts)


def rendered(layout: str, n: int) -> list[tuple[np.ndarray, str]]:
    from edge_alpr.synth.degrade import degrade
    from edge_alpr.synth.render import Layout, render_plate

    rng = np.random.default_rng([99, get_args(Layout).index(layout)])
    out = []
    for _ in range(n):
        plate = render_plate(None, rng, layout=layout)  # type: ignore[arg-type]
        out.append((degrade(plate.image, rng, strength=float(rng.uniform(0.3, 1.0))), plate.text))
    return out


def main(argv: list[str] | None = None) -> int:
    from edge_alpr.ocr import LEVEL_MIN_ANGLE, EdgePlateReader
    from edge_alpr.synth.render import Layout
    from edge_alpr.training import common

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="*", default=[common.DEFAULT_MODELS])
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS)
    p.add_argument("--rendered", type=int, default=200, help="rendered plates per layout (0: none)")
    p.add_argument("--square", type=Path, action="append", default=[], metavar="TFLITE",
                   help="also measure each MODELS_DIR's reader with this recognizer for squarish images; repeatable")
    p.add_argument("--compare-level", action="store_true",
                   help="also read without turning tilted crops level, and time both in the same run")
    p.add_argument("--agreed", action="store_true",
                   help="also read the labelled sets' agreed validation partials (a set of their own, not in 'all')")
    p.add_argument("--misses", action="store_true", help="also list every wrong read of the real sets (second looks)")
    p.add_argument("--outcomes", type=Path, metavar="DIR",
                   help="write each reader's reads of the real sets (second looks) as DIR/reader<N>.json, for "
                        "edge-alpr eval-compare")
    p.add_argument("--blur", action="store_true",
                   help="also read every real held-out crop small, motion-blurred and JPEG-compressed, as in a pass")
    args = p.parse_args(argv)

    sets = held_out_sets(args.datasets, args.agreed) if (args.datasets / "in_plates").is_dir() else {}
    if not sets:
        print(f"{args.datasets}: no in_plates folder, real held-out sets skipped")
    synthetic = {layout: rendered(layout, args.rendered) for layout in get_args(Layout)} if args.rendered else {}
    for n, (models, square) in enumerate((m, sq) for m in args.models for sq in [None, *args.square]):
        looks = [("second looks", True, LEVEL_MIN_ANGLE), ("one look", False, LEVEL_MIN_ANGLE)]
        if args.compare_level:
            looks.insert(1, ("second looks, never level", True, float("inf")))
        seconds, n_crops = {}, sum(len(c) for name, c in sets.items() if name not in SOFT_SETS)
        for look, retry, level_min_angle in looks:
            reported_in_full = look == "second looks"  # the daemon's own reading
            reader = EdgePlateReader(models / "plate_reader_int8.tflite", num_threads=1, retry_unsure=retry,
                                     square_model_path=square, level_min_angle=level_min_angle)
            start = time.perf_counter()
            reads = {name: [(reader.read(c.image).text, c) for c in crops] for name, crops in sets.items()}
            seconds[look] = time.perf_counter() - start
            counts = {name: sum(text == c.text for text, c in pairs) for name, pairs in reads.items()}
            line = "  ".join(f"{name} {n}/{len(sets[name])}" for name, n in counts.items())
            if sets:
                right = sum(n for name, n in counts.items() if name not in SOFT_SETS)
                ms = 1000 * seconds[look] / sum(map(len, sets.values()))
                line += f"  all {right}/{n_crops}  {ms:.1f} ms a crop"
            if reported_in_full and synthetic:
                line += "  rendered " + "  ".join(
                    f"{layout} {sum(reader.read(image).text == text for image, text in plates)}/{len(plates)}"
                    for layout, plates in synthetic.items())
            name = f"{models} + square {square}" if square else str(models)
            print(f"{name} ({look}): {line}", flush=True)
            if reported_in_full:
                print("\n".join(breakdown(reads)), flush=True)
                if args.blur and sets:
                    print(pass_like(reader, sets), flush=True)
                for line in misses(reads) if args.misses else ():
                    print(line, flush=True)
                if args.outcomes is not None:
                    path = write_outcomes(reads, args.outcomes / f"reader{n}.json")
                    print(f"  reads written to {path}", flush=True)
        if args.compare_level and sets:
            ratio = seconds["second looks"] / seconds["second looks, never level"]
            print(f"  reading time, level looks on / never level: {ratio:.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
