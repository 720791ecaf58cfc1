"""Plate colour and vehicle category on real crops whose colours were labelled by eye.

    python -m edge_alpr.bench.colour [--datasets ../shared/datasets] [--fit]

The labels (``edge_alpr/datasets/labels/plate_colours.jsonl``) cover every ``in_plates``
validation crop and the non-white training crops found by sorting the training crops by
saturation and darkness, plus white ones; ``in_plates`` has no green plate, so the green
plates of ``in_odisha_traffic`` are labelled too, as a third set (``extra``) nothing is fitted
on. Crops a person could not name the colour of for sure (``sure: false``) and the few crops
that are no plate at all are left out of the figures.

Classifiers compared, all fitted on the training crops only:

* rules: the shipped ``colour.classify`` with ``colour.THRESHOLDS``; ``--fit`` searches the
  three thresholds again on the training crops, maximising the mean accuracy over colours, and
  prints them;
* nearest centroid: each colour's mean feature vector (plate and print Lab, plate chroma,
  which side is print), features scaled by their spread; it can only name colours it has
  training crops of;
* heads on the shipped reader (issue #19's other way): linear softmax heads on what the int8
  reader holds of a crop, its grey contrast-stretched input (``ocr.preprocess``; statistics:
  mean, spread, 16-bin histogram) and its last feature map (the context layers' output,
  averaged and maxed over the plate), read from the TFLite interpreter. They name only the
  colours they have training crops of.

Every figure gives right / total per colour and set.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import get_args

import cv2
import numpy as np

from edge_alpr import colour
from edge_alpr.colour import ColourFeatures, ColourThresholds, PlateColour
from edge_alpr.datasets import DEFAULT_DATASETS

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "edge_alpr" / "datasets" / "labels" / "plate_colours.jsonl"
SPLITS = ("train", "val", "extra")

# The threshold values --fit tries (b* and chroma are in OpenCV 8-bit Lab units).
_GRID = {
    "yellow_b": np.arange(6.0, 30.0, 1.0),
    "black_chroma": np.arange(4.0, 30.0, 1.0),
    "yellow_text_b": np.arange(4.0, 40.0, 2.0),
}


@dataclass(frozen=True)
class LabelledCrop:
    key: str  # set/crop or set/image#box: the label file's key
    split: str
    truth: PlateColour | None  # None for text colours nobody could see
    background: str
    features: ColourFeatures


def load_labelled(datasets: Path, labels: Path = LABELS) -> list[LabelledCrop]:
    """The sure, labelled plate crops, measured."""
    out = []
    for line_number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if not row["sure"] or row["background"] is None:
            continue
        image = _crop(datasets, row)
        if image is None:
            raise SystemExit(f"{labels}:{line_number}: cannot read the crop of {row} under {datasets}")
        text = row["text"]
        truth = PlateColour(row["background"], text) if text else None
        key = f"{row['set']}/{row.get('crop') or row['image'] + '#' + str(row['box'])}"
        out.append(LabelledCrop(key, row["split"], truth, row["background"], colour.measure(image)))
    return out


def _crop(datasets: Path, row: dict) -> np.ndarray | None:
    if "crop" in row:
        return cv2.imread(str(datasets / row["set"] / row["crop"]))
    image = cv2.imread(str(datasets / row["set"] / row["image"]))
    if image is None:
        return None
    x1, y1, x2, y2 = (int(v) for v in row["box"])
    return image[y1:y2, x1:x2]


# --- the two classifiers ----------------------------------------------------------------------


def feature_vector(features: ColourFeatures) -> np.ndarray:
    return np.array([*features.plate_lab, *features.text_lab, features.plate_chroma, 50.0 * features.dark_plate])


class NearestCentroid:
    """Each background colour's mean feature vector; a crop gets the nearest one's colour."""

    def __init__(self, crops: list[LabelledCrop]) -> None:
        vectors = np.array([feature_vector(c.features) for c in crops])
        self.scale = vectors.std(axis=0) + 1e-6
        by_colour: dict[str, list[np.ndarray]] = defaultdict(list)
        for crop, vector in zip(crops, vectors):
            by_colour[crop.background].append(vector / self.scale)
        self.colours = sorted(by_colour)
        self.centroids = np.array([np.mean(by_colour[c], axis=0) for c in self.colours])

    def background(self, crop: LabelledCrop) -> str:
        distances = np.linalg.norm(self.centroids - feature_vector(crop.features) / self.scale, axis=1)
        return self.colours[int(np.argmin(distances))]


def balanced_accuracy(crops: Iterable[LabelledCrop], predict: Callable[[LabelledCrop], str]) -> float:
    right, total = Counter(), Counter()
    for crop in crops:
        total[crop.background] += 1
        right[crop.background] += predict(crop) == crop.background
    return float(np.mean([right[c] / total[c] for c in total])) if total else 0.0


def fit_thresholds(train: list[LabelledCrop]) -> ColourThresholds:
    """The grid point with the best mean per-colour accuracy on the training crops (plate colour
    first, then text colour); among equals, the one nearest the grid's middle."""
    best: tuple[float, float, float] | None = None
    chosen = colour.THRESHOLDS
    names = [f.name for f in fields(ColourThresholds)]
    middle = np.array([np.median(_GRID[n]) for n in names])
    for values in itertools.product(*(_GRID[n] for n in names)):
        thresholds = ColourThresholds(**dict(zip(names, (float(v) for v in values))))
        plate = balanced_accuracy(train, lambda c, t=thresholds: colour.classify(c.features, t).background)
        text = _text_accuracy(train, thresholds)
        key = (plate, text, -float(np.abs((np.array(values) - middle) / middle).sum()))
        if best is None or key > best:
            best, chosen = key, thresholds
    return chosen


def _text_accuracy(crops: Iterable[LabelledCrop], thresholds: ColourThresholds) -> float:
    judged = [c for c in crops if c.truth is not None]
    return sum(colour.classify(c.features, thresholds).text == c.truth.text for c in judged) / max(len(judged), 1)


# --- a head on the reader ---------------------------------------------------------------------

# The last context layer's output (2 x W/4 x 160), what the reader's CTC classifier sees.
READER_LAYER = "Relu_10;"


def reader_features(images: list[np.ndarray], model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """What a head on the shipped reader could use, per crop: the statistics of its grey input
    (``ocr.preprocess``: mean, spread and a 16-bin histogram) and its last feature map, averaged
    and maxed over the plate; (n, 18) and (n, 320) float arrays."""
    from edge_alpr.ocr import preprocess
    from edge_alpr.runtime import _interpreter_class

    cls, _ = _interpreter_class()
    # Intermediate tensors are overwritten during invoke unless the interpreter is told to keep them.
    with warnings.catch_warnings():  # the runtime warns that keeping them is for debugging: it is
        warnings.simplefilter("ignore", UserWarning)
        interp = cls(model_path=str(model_path), experimental_preserve_all_tensors=True, num_threads=1)
    interp.allocate_tensors()
    source = interp.get_input_details()[0]
    # The layer's bias shares its name's start; the activation is the 4-D tensor.
    layer = next(d for d in interp.get_tensor_details() if d["name"].startswith(READER_LAYER) and len(d["shape"]) == 4)
    layer_scale, layer_zero = layer["quantization"]
    stats, maps = [], []
    for image in images:
        grey = preprocess(image, int(source["shape"][2]))
        hist = np.bincount(grey.ravel() // 16, minlength=16) / grey.size
        stats.append(np.array([grey.mean() / 255, grey.std() / 255, *hist]))
        interp.set_tensor(source["index"], grey[None].astype(source["dtype"]))
        interp.invoke()
        fmap = (interp.get_tensor(layer["index"]).astype(np.float32) - layer_zero) * layer_scale
        fmap = fmap.reshape(-1, fmap.shape[-1])
        maps.append(np.concatenate([fmap.mean(axis=0), fmap.max(axis=0)]))
    return np.array(stats), np.array(maps)


class SoftmaxHead:
    """A linear head: multinomial logistic regression on standardised features, each colour's
    crops weighted alike (white plates outnumber the rest), L2-penalised, fitted by full-batch
    gradient descent; no tuning on the validation crops."""

    def __init__(self, x: np.ndarray, labels: list[str], l2: float = 1e-2, steps: int = 3000):
        spread = x.std(axis=0)
        # A channel dead on every training crop stays unscaled, or any life in it elsewhere would explode.
        self.mean, self.scale = x.mean(axis=0), np.where(spread > 1e-3, spread, 1.0)
        z = (x - self.mean) / self.scale
        self.colours = sorted(set(labels))
        target = np.array([[label == c for c in self.colours] for label in labels], dtype=np.float64)
        weight = (1.0 / (target.sum(axis=0) * len(self.colours)))[target.argmax(axis=1)]
        # The step that the loss's curvature allows (its largest eigenvalue bounds it), so it converges.
        rate = 1.0 / (0.5 * np.linalg.norm(z * np.sqrt(weight)[:, None], 2) ** 2 + l2)
        self.w, self.b = np.zeros((x.shape[1], len(self.colours))), np.zeros(len(self.colours))
        for _ in range(steps):
            grad = (_softmax(z @ self.w + self.b) - target) * weight[:, None]
            self.w -= rate * (z.T @ grad + l2 * self.w)
            self.b -= rate * grad.sum(axis=0)

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.colours[i] for i in np.argmax((x - self.mean) / self.scale @ self.w + self.b, axis=1)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reader_head_predictors(datasets: Path, crops: list[LabelledCrop]) -> dict[str, Callable[[LabelledCrop], str]]:
    """Linear heads on the reader's input statistics and on its feature map, fitted on the
    training crops; empty where the shipped reader is missing."""
    from edge_alpr.config import ReaderConfig

    path = ReaderConfig().resolved_model_path()
    if not path.is_file():
        return {}
    images = [_crop(datasets, _row_of(c.key)) for c in crops]
    stats, maps = reader_features(images, path)
    is_train = np.array([c.split == "train" for c in crops])
    labels = [c.background for c in crops if c.split == "train"]
    out = {}
    for name, x in (("reader input stats head", stats), ("reader features head", maps)):
        guesses = dict(zip((c.key for c in crops), SoftmaxHead(x[is_train], labels).predict(x)))
        out[name] = lambda c, g=guesses: g[c.key]
    return out


# --- the report -------------------------------------------------------------------------------


def per_colour_table(crops: list[LabelledCrop], predictors: dict[str, Callable[[LabelledCrop], str]]) -> list[str]:
    colours = sorted({c.background for c in crops}, key=list(get_args(colour.Background)).index)
    lines = ["| set | plate colour | crops | " + " | ".join(predictors) + " |",
             "|---|---|---|" + "---|" * len(predictors)]
    for split in SPLITS:
        in_split = [c for c in crops if c.split == split]
        for name in colours:
            of_colour = [c for c in in_split if c.background == name]
            if not of_colour:
                continue
            cells = [f"{sum(p(c) == name for c in of_colour)} / {len(of_colour)}" for p in predictors.values()]
            lines.append(f"| {split} | {name} | {len(of_colour)} | " + " | ".join(cells) + " |")
        if in_split:
            cells = [f"{sum(p(c) == c.background for c in in_split)} / {len(in_split)} "
                     f"(balanced {100 * balanced_accuracy(in_split, p):.1f} %)" for p in predictors.values()]
            lines.append(f"| {split} | **all** | {len(in_split)} | " + " | ".join(cells) + " |")
    return lines


def category_lines(crops: list[LabelledCrop]) -> list[str]:
    lines = []
    for split in SPLITS:
        judged = [c for c in crops if c.split == split and c.truth is not None]
        if not judged:
            continue
        right = sum(colour.classify(c.features).category == c.truth.category for c in judged)
        text = sum(colour.classify(c.features).text == c.truth.text for c in judged)
        lines.append(f"{split}: vehicle category {right} / {len(judged)}, text colour {text} / {len(judged)}")
    return lines


def confusions(crops: list[LabelledCrop]) -> list[str]:
    wrong = Counter((c.split, c.background, colour.classify(c.features).background) for c in crops
                    if colour.classify(c.features).background != c.background)
    return [f"{split}: {truth} read as {guess} x{n}" for (split, truth, guess), n in sorted(wrong.items())]


def rendered_lines(per_scheme: int) -> list[str]:
    """Rendered plates of every colour scheme (blue painted here: the renderer has none), degraded
    at random strengths: the only check of blue plates, and of green ones beyond one real crop."""
    import dataclasses

    from edge_alpr.synth import render, styles
    from edge_alpr.synth.degrade import degrade

    schemes = [("white", styles.WHITE, styles.BLACK), ("yellow", styles.YELLOW, styles.BLACK),
               ("green", styles.GREEN, styles.WHITE), ("green", styles.GREEN, styles.YELLOW),
               ("black", styles.NEAR_BLACK, styles.YELLOW), ("red", styles.RED, styles.WHITE),
               ("blue", (140, 60, 20), styles.WHITE)]
    names = {styles.BLACK: "black", styles.WHITE: "white", styles.YELLOW: "yellow"}
    lines = ["| rendered plate / text | plates | plate colour right | plate and text colour right |", "|---|---|---|---|"]
    for background, plate_bgr, text_bgr in schemes:
        rng = np.random.default_rng([7, len(lines)])
        plate_right = both_right = 0
        for _ in range(per_scheme):
            style = dataclasses.replace(render.random_style(rng), background_colour=plate_bgr, text_colour=text_bgr)
            image = render.render_plate(None, rng, style=style).image
            got = colour.plate_colour(degrade(image, rng, strength=float(rng.uniform(0.3, 1.0))))
            plate_right += got.background == background
            both_right += got == PlateColour(background, names[text_bgr])  # type: ignore[arg-type]
        lines.append(f"| {background} / {names[text_bgr]} | {per_scheme} | {plate_right} | {both_right} |")
    return lines


def time_per_crop_ms(datasets: Path, crops: list[LabelledCrop], repeats: int = 3) -> tuple[float, float | None]:
    """Milliseconds per crop of ``colour.plate_colour`` and of one plain read by the shipped
    reader (no second looks), interleaved on the same crops so a busy machine slows both alike;
    the reader's is None where its model is missing."""
    images = [image for image in (_crop(datasets, _row_of(c.key)) for c in crops[:100]) if image is not None]
    reader = _plain_reader()
    spent = [0.0, 0.0]
    for _ in range(repeats):
        for image in images:
            started = time.perf_counter()
            colour.plate_colour(image)
            spent[0] += time.perf_counter() - started
            if reader is not None:
                started = time.perf_counter()
                reader.read(image)
                spent[1] += time.perf_counter() - started
    runs = repeats * len(images)
    return 1000 * spent[0] / runs, (1000 * spent[1] / runs if reader is not None else None)


def _plain_reader():
    from edge_alpr.config import ReaderConfig
    from edge_alpr.ocr import make_reader

    path = ReaderConfig().resolved_model_path()
    return make_reader("edge", path, retry_unsure=False) if path.is_file() else None


def _row_of(key: str) -> dict:
    dataset, _, rest = key.partition("/")
    if "#" in rest:
        image, _, box = rest.partition("#")
        return {"set": dataset, "image": image, "box": json.loads(box)}
    return {"set": dataset, "crop": rest}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    p.add_argument("--rendered", type=int, default=100, help="rendered plates per colour scheme (0: none)")
    p.add_argument("--fit", action="store_true", help="search the rules' thresholds on the training crops and print them")
    args = p.parse_args(argv)
    if not (args.datasets / "in_plates").is_dir():
        print(f"{args.datasets}: no in_plates folder; nothing to measure", file=sys.stderr)
        return 5
    crops = load_labelled(args.datasets)
    train = [c for c in crops if c.split == "train"]
    if args.fit:
        print(f"fitted on {len(train)} training crops: {fit_thresholds(train)}")
        print(f"shipped: {colour.THRESHOLDS}")
    centroid = NearestCentroid(train)
    predictors = {
        "rules": lambda c: colour.classify(c.features).background,
        f"nearest centroid ({', '.join(centroid.colours)})": centroid.background,
        **reader_head_predictors(args.datasets, crops),
        "always white": lambda c: "white",
    }
    print(f"{len(crops)} sure labelled crops ({', '.join(f'{s} {sum(c.split == s for c in crops)}' for s in SPLITS)})\n")
    print("\n".join(per_colour_table(crops, predictors)))
    print("\nrules: " + "; ".join(category_lines(crops)))
    print("rules, wrong: " + ("; ".join(confusions(crops)) or "none"))
    if args.rendered:
        print("\n" + "\n".join(rendered_lines(args.rendered)))
    colour_ms, reader_ms = time_per_crop_ms(args.datasets, crops)
    speed = f"colour.plate_colour: {colour_ms:.2f} ms per crop"
    if reader_ms is not None:
        speed += f"; one plain read {reader_ms:.2f} ms: colour costs {colour_ms / reader_ms:.2f} of a read"
    print("\n" + speed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
