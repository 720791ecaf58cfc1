"""Detector input size, 320 vs 416: accuracy on the validation photos and int8 latency, measured
in one run with the shipped weights exported at each size.

    python -m edge_alpr.bench.input_size [--sizes 320 416] [--datasets ../shared/datasets] [--keep DIR]

``--keep DIR`` leaves each size's int8 and float16 models, with their card, in ``DIR/SIZE/``: a
folder the daemon's ``detector.model_path`` can point at (e.g. a smaller input for a Pi 4, measured
at Pi pace with ``edge-alpr bench pace --device pi4 --set detector.model_path=DIR/256/plate_detector_int8.tflite``).

The shipped model is trained at 320; YOLOv4-tiny is fully convolutional, so the same weights run
at 416 too (each plate then covers 1.3x more pixels). A model trained at 416 would score a little
higher at 416 than this measures; the latency figures hold either way. Needs the `train` extra.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    from edge_alpr.training import common
    from edge_alpr.training.detector import calibration_batches, evaluate_tflite
    from edge_alpr.training.detector_data import load_split
    from edge_alpr.training.export import export_detector
    from edge_alpr.training.yolo import YoloV4Tiny

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[320, 416])
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS)
    p.add_argument("--keep", type=Path, help="keep the exported models in KEEP/SIZE/")
    p.add_argument("--weights", type=Path, default=common.DEFAULT_MODELS / "plate_detector_fp16.pt")
    args = p.parse_args(argv)
    if not (args.datasets / "openlpr").is_dir():
        print(f"datasets not found at {args.datasets}; nothing to measure")
        return 0
    common.setup_logging()
    model = YoloV4Tiny()
    common.load_fp16_weights(model, args.weights)
    card = json.loads((args.weights.parent / "plate_detector.json").read_text())
    train, val, _ = load_split(args.datasets)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            out = (args.keep or Path(tmp)) / str(size)
            out.mkdir(parents=True, exist_ok=True)
            paths = export_detector(model, size, out, calibration_batches(train, size))
            # Anchors stay in input pixels: the network predicts box sizes in pixels, whatever the
            # canvas, so only the input size changes.
            card_here = dict(card, input_size=size)
            (out / "plate_detector.json").write_text(json.dumps(card_here))
            rows.append((size, evaluate_tflite(paths["int8"], val)))
    print("\n| input | AP50 | AP50 (>=16 px) | recall (>=16 px) | precision (>=16 px) | int8 ms/image (2 threads) |")
    print("|---|---|---|---|---|---|")
    for size, m in rows:
        print(f"| {size} | {m['ap50']:.3f} | {m['ap50_min16px']:.3f} | {m['recall_min16px']:.3f} | "
              f"{m['precision_min16px']:.3f} | {m['ms_per_image_mean']:.1f} |")
    base = rows[0][1]["ms_per_image_mean"]
    for size, m in rows[1:]:
        print(f"{size} px costs {m['ms_per_image_mean'] / base:.2f}x the time of {rows[0][0]} px per image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
