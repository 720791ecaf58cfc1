"""The reader training command's options (``python -m edge_alpr.training.reader --help``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from edge_alpr.training import common

DESCRIPTION = """Train the plate recognizer end to end: data, CTC training, int8 export, confidence
calibration, evaluation on the real Indian validation crops, model card. Resumes from the run
folder's checkpoint after an interruption.

    python -m edge_alpr.training.reader --steps 12000          # or: edge-alpr train-reader
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="edge-alpr train-reader", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS)
    p.add_argument("--extra", action="append", default=[], metavar="MANIFEST[:WEIGHT]",
                   help="a site's own manifest with plate text, repeated WEIGHT times; repeatable")
    p.add_argument("--steps", type=int, default=12000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--synthetic", type=int, default=20000, help="rendered plates in the bank")
    p.add_argument("--synthetic-fraction", type=float, default=0.5)
    p.add_argument("--two-line-fraction", type=float, default=0.3,
                   help="share of rendered plates forced to a two-line layout")
    p.add_argument("--stacked-fraction", type=float, default=0.08,
                   help="share of the other rendered plates with a series drawn in the stacked layout "
                        "(state and RTO over the series, the number beside both lines)")
    p.add_argument("--two-line-whole", type=float, default=0.0,
                   help="share of two-line plates shown whole (read top row then bottom row) rather than cut "
                        "between the lines and laid side by side")
    p.add_argument("--whole-warmup", type=int, default=0, metavar="STEPS",
                   help="curriculum: two-line plates side by side only for the first STEPS steps, then the "
                        "--two-line-whole share ramps in over the next STEPS (from scratch, a run shown every "
                        "two-line plate whole from step 0 sits on the CTC blank plateau for ~4,500 steps)")
    p.add_argument("--labelled-repeat", type=int, default=3,
                   help="times each two-line training crop of the sets labelled by eye (in_twowheelers, "
                        "in_odisha_traffic) is repeated: they are the only real two-line plates in quantity")
    p.add_argument("--labelled-one-line-repeat", type=int, default=1,
                   help="times each one-line training crop of those sets is repeated: the only real motorcycle "
                        "plates in loose boxes, which the squarish crops' recognizer reads whole")
    p.add_argument("--agreed-partials", action="store_true",
                   help="also train on the labelled sets' 'agreed' partial plates: every blind reading gave the "
                        "same text, no reader was certain of every character (datasets.third_pass agree)")
    p.add_argument("--foreign-plates", choices=("none", "two", "all"), default="none",
                   help="also train on the other countries' plates read by eye in openlpr (datasets.unread): "
                        "the two-line ones, or all; real lettering and layouts, never used to calibrate")
    p.add_argument("--context-fraction", type=float, default=0.3,
                   help="share of rendered plates pasted over a real plate of a training photo and cut with a "
                        "loose margin, surroundings included (training.reader_context)")
    p.add_argument("--tilt-fraction", type=float, default=0.0,
                   help="share of training crops turned 6-25 degrees inside a box grown to hold them, as riders' plates hang")
    p.add_argument("--motion-blur", type=float, default=0.0, metavar="FRACTION",
                   help="share of training crops smeared by motion (2-10 %% of their width, mostly down the frame), "
                        "as a plate approaching at 30 fps is (training.reader_data.motion_blur)")
    p.add_argument("--shape-jitter", type=float, default=0.0, metavar="FRACTION",
                   help="share of training crops whose lettering is bent a little and drawn a pixel thicker or "
                        "thinner, as hand-painted plates differ from any typeface (training.reader_data.shape_jitter)")
    p.add_argument("--typefaces", choices=("standard", "more"), default="standard",
                   help="faces rendered plates are drawn in: the standard few, or also the many of Debian's free "
                        "font packages (synth.fonts.MORE_FONT_PACKAGES)")
    p.add_argument("--context-regions", type=int, default=800, help="real plate surroundings in that bank")
    p.add_argument("--run-dir", type=Path, default=common.REPO_ROOT / "runs" / "reader")
    p.add_argument("--models-dir", type=Path, default=common.DEFAULT_MODELS)
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--fine-tune", action="store_true", help="start from trained weights (--init) at a lower learning rate")
    p.add_argument("--init", type=Path, metavar="FP16_PT",
                   help="the weights a fine-tune starts from (default: NAME_fp16.pt in --models-dir)")
    p.add_argument("--name", default="plate_reader",
                   help="file stem of the model, its card and weights: plate_reader (every crop) or plate_reader_square "
                        "(the squarish crops' recognizer, reader.square_model)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recalibrate", action="store_true",
                   help="train nothing: refit the confidence calibration of the models in --models-dir and "
                        "measure their card's metrics again (after the datasets or the reader's code changed)")
    p.add_argument("--finish-early", action="store_true",
                   help="export and measure --run-dir's last checkpoint now, for a run that cannot finish in time")
    p.add_argument("--re-export", action="store_true",
                   help="train nothing: export the float weights in --models-dir to TFLite again (after the "
                        "export code changed), then recalibrate and measure them")
    return p.parse_args(argv)
