"""Exact plates on every held-out real Indian crop, as the daemon reads them, for one or more
reader folders: the in_plates validation crops, the Indian calibration crops (held out of
training to fit the confidence) and the plates of the OLX photos in the detector's validation
split; with and without second looks. Plus rendered plates per layout (seeds no training used).

    python -m edge_alpr.bench.reader_heldout [MODELS_DIR ...] [--datasets ../shared/datasets] [--rendered 200]

A plate is ~1 point of a set, and two training seeds differ by about 3 of the 342: compare
readers on all sets together, not on the validation crops alone.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def held_out_sets(datasets: Path) -> dict[str, list]:
    from edge_alpr.datasets.manifest import load_manifest
    from edge_alpr.training.detector_data import is_val, reader_val_texts
    from edge_alpr.training.reader_data import load_real, row_crops

    _, calib, val = load_real(datasets)
    held = reader_val_texts(datasets)
    olx = [crop for row in load_manifest(datasets / "in_olx_scenes" / "manifest.jsonl")
           if is_val(row, "in_olx_scenes", held) for crop in row_crops(row, "in_olx_scenes")]
    indian = [c for c in calib if c.source in ("in_plates", "in_olx_scenes", "openlpr")]
    return {"validation": val, "calibration": indian, "olx": olx}


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
    from edge_alpr.ocr import EdgePlateReader
    from edge_alpr.synth.render import Layout
    from edge_alpr.training import common

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="*", default=[common.DEFAULT_MODELS])
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS)
    p.add_argument("--rendered", type=int, default=200, help="rendered plates per layout (0: none)")
    args = p.parse_args(argv)

    sets = held_out_sets(args.datasets) if (args.datasets / "in_plates").is_dir() else {}
    if not sets:
        print(f"{args.datasets}: no in_plates folder, real held-out sets skipped")
    synthetic = {layout: rendered(layout, args.rendered) for layout in get_args(Layout)} if args.rendered else {}
    for models in args.models:
        for retry in (True, False):
            reader = EdgePlateReader(models / "plate_reader_int8.tflite", num_threads=1, retry_unsure=retry)
            counts = {name: sum(reader.read(c.image).text == c.text for c in crops) for name, crops in sets.items()}
            line = "  ".join(f"{name} {n}/{len(sets[name])}" for name, n in counts.items())
            if sets:
                line += f"  all {sum(counts.values())}/{sum(len(c) for c in sets.values())}"
            if retry and synthetic:
                line += "  rendered " + "  ".join(
                    f"{layout} {sum(reader.read(image).text == text for image, text in plates)}/{len(plates)}"
                    for layout, plates in synthetic.items())
            print(f"{models} ({'second looks' if retry else 'one look'}): {line}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
