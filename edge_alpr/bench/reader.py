"""``edge-alpr bench reader``: the project's recognizers against PP-OCRv4 and Tesseract 5 on the
same crops, scored as well as timed, since a faster reader that reads worse is no gain."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge_alpr.bench.common import (
    Contender,
    Outcome,
    Timing,
    fmt_pct,
    fmt_ratio,
    log,
    markdown_table,
    ratio,
    run_interleaved,
    spread,
)
from edge_alpr.config.pipeline import READER_MODEL_FILE
from edge_alpr.errors import EdgeAlprError, InputError, ModelError
from edge_alpr.evaluation.metrics import PlateTextAccumulator, TextSummary
from edge_alpr.pipeline import Reader
from edge_alpr.types import ALPHABET

READER_FLOAT_FILE = "plate_reader_float16.tflite"
#: Rendered plates stand in for real crops when the datasets are absent.
RENDERED_CROPS = 200

# Crops are scaled so their characters are about this tall before Tesseract reads them: the
# same size for every crop whatever its own resolution, and comfortably large for Tesseract.
TESSERACT_TEXT_HEIGHT_PX = 50
# Character height as a share of a tight plate crop: Indian plates carry 65 mm characters on a
# 500x120 mm one-line plate, and two lines of them on a 340x200 mm two-line plate.
_TEXT_SHARE = {"one": 0.55, "two": 0.33}
_TESSERACT_TIMEOUT_S = 30.0

Layout = Literal["one", "two"]


@dataclass(frozen=True)
class CropSample:
    image: np.ndarray  # BGR
    text: str  # the truth, normalised
    layout: Layout


def validation_crops(labels: Path) -> list[CropSample]:
    """The reader's validation crops: ``split`` val, ``status`` ok (every character certain)."""
    from edge_alpr.datasets.manifest import normalise_plate_text
    from edge_alpr.evaluation.stills import load_labels

    samples = []
    for label in load_labels(labels):
        if label.split != "val" or label.status != "ok" or not label.text:
            continue
        image = cv2.imread(str(label.crop), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{label.crop}: missing or not a readable image (listed in {labels})")
        samples.append(CropSample(image, normalise_plate_text(label.text), label.layout))
    return samples


def rendered_crops(n: int, seed: int = 0) -> list[CropSample]:
    """Rendered Indian plates with roadside-camera degradations, for when no real crops exist."""
    try:
        from edge_alpr.synth.degrade import degrade
        from edge_alpr.synth.render import render_plate
    except ModuleNotFoundError as error:
        raise EdgeAlprError(f"rendering plates needs the Python package '{error.name}' (pip install "
                            "'edge-alpr[test]'), and no real crops were found") from None
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        plate = render_plate(None, rng)
        samples.append(CropSample(degrade(plate.image, rng), plate.text, plate.layout))
    return samples


def reader_crops(datasets_dir: Path, limit: int | None) -> tuple[list[CropSample], str]:
    labels = datasets_dir / "in_plates" / "labels.jsonl"
    if labels.is_file():
        samples, source = validation_crops(labels), f"real Indian validation crops ({labels}, split val, status ok)"
    else:
        samples = rendered_crops(RENDERED_CROPS)
        source = f"RENDERED plates (synth.render), not real photos: {labels} was not found"
    samples = spread(samples, limit) if limit is not None else samples
    if not samples:
        raise InputError(f"no crops to read from {labels}")
    return samples, f"{len(samples)} {source}"


def tesseract_input(crop: np.ndarray, layout: Layout) -> np.ndarray:
    """The crop in grey, scaled so its characters are about 50 px tall."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = TESSERACT_TEXT_HEIGHT_PX / (_TEXT_SHARE[layout] * grey.shape[0])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)


def clean_ocr_text(raw: str) -> str:
    """What a plate reader may emit: upper case 0-9A-Z only (spaces, line breaks, punctuation dropped)."""
    return "".join(ch for ch in raw.upper() if ch in ALPHABET)


def tesseract_read(crop: np.ndarray, layout: Layout, psm: int, binary: str) -> str:
    """Tesseract 5's reading of one crop, as a fresh ``tesseract`` process (the image on stdin)."""
    ok, png = cv2.imencode(".png", tesseract_input(crop, layout))
    if not ok:
        raise InputError("could not encode a crop as PNG for tesseract")
    command = [binary, "stdin", "stdout", "--psm", str(psm), "-c", f"tessedit_char_whitelist={ALPHABET}"]
    try:
        done = subprocess.run(command, input=png.tobytes(), capture_output=True,
                              timeout=_TESSERACT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise EdgeAlprError(f"tesseract took more than {_TESSERACT_TIMEOUT_S:g} s on one crop") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise EdgeAlprError(f"tesseract failed (exit {done.returncode}): {message[0]}")
    return clean_ocr_text(done.stdout.decode(errors="replace"))


@dataclass(frozen=True)
class ReaderRow:
    name: str
    note: str = ""
    score: TextSummary | None = None
    by_layout: dict[str, TextSummary] = field(default_factory=dict)
    timing: Timing | None = None
    unavailable: str | None = None  # why this reader was not run


def score_reads(samples: Sequence[CropSample],
                outcomes: Sequence[Outcome[str]]) -> tuple[TextSummary, dict[str, TextSummary]]:
    """Exact and character accuracy of the reads, overall and by layout. An empty read counts as wrong."""
    accumulator = PlateTextAccumulator()
    for outcome in outcomes:
        sample = samples[outcome.index]
        accumulator.add(outcome.result, sample.text, {"layout": sample.layout})
    return accumulator.summary(), accumulator.by_bucket().get("layout", {})


def reader_row(contender: Contender[CropSample, str], samples: Sequence[CropSample],
               outcomes: Sequence[Outcome[str]], note: str) -> ReaderRow:
    score, by_layout = score_reads(samples, outcomes)
    return ReaderRow(contender.name, note, score, by_layout, Timing.of([o.ms for o in outcomes]))


@dataclass(frozen=True)
class ReaderReport:
    model_dir: str
    crops: int
    crops_source: str
    threads: int
    rows: tuple[ReaderRow, ...]
    baseline: str  # the row the speed ratios refer to

    def slowdown(self, row: ReaderRow) -> float | None:
        """Mean ms per crop of ``row`` over the baseline's: how many times slower it is."""
        base = next((r for r in self.rows if r.name == self.baseline and r.timing), None)
        if base is None or row.timing is None or base.timing is None:
            return None
        return ratio(row.timing.mean_ms, base.timing.mean_ms)


EDGE_INT8 = "edge int8 (project)"
EDGE_FLOAT = "edge float16 (project)"
EDGE_INT8_ONCE = "edge int8, no second looks"
PPOCR = "PP-OCRv4 (rapidocr)"
PPOCR_PADDED = "PP-OCRv4 (rapidocr, 48x320 padded)"


def reader_contenders(model_dir: Path, threads: int, min_confidence: float,
                      has_two_line: bool) -> tuple[list[tuple[Contender[CropSample, str], str]], list[ReaderRow]]:
    """The readers that can run here, each with a note, and a row for each that cannot."""
    from edge_alpr.ocr import EdgePlateReader, RapidOcrReader

    runnable: list[tuple[Contender[CropSample, str], str]] = []
    unavailable: list[ReaderRow] = []
    for name, file in ((EDGE_INT8, READER_MODEL_FILE), (EDGE_FLOAT, READER_FLOAT_FILE)):
        path = model_dir / file
        if not path.is_file():
            unavailable.append(ReaderRow(name, unavailable=f"model not found: {path}"))
            continue
        reader = EdgePlateReader(path, num_threads=threads, grammar="indian", min_confidence=min_confidence)
        runnable.append((Contender(name, _text_of(reader)),
                         "grammar-constrained CTC decoding; unsure crops read again tighter and looser"))
        if name == EDGE_INT8:
            once = EdgePlateReader(path, num_threads=threads, grammar="indian", min_confidence=min_confidence,
                                   retry_unsure=False)
            runnable.append((Contender(EDGE_INT8_ONCE, _text_of(once)), "reader.retry_unsure: false"))
    if not all(importlib.util.find_spec(name) for name in ("rapidocr_onnxruntime", "onnxruntime")):
        unavailable.append(ReaderRow(PPOCR, unavailable="not installed (pip install 'edge-alpr[rapidocr]')"))
    else:
        try:
            ppocr = RapidOcrReader(num_threads=threads, grammar="indian", min_confidence=min_confidence, padded=False)
            runnable.append((Contender(PPOCR, _text_of(ppocr)),
                             "onnxruntime; same grammar-constrained decoding; input as wide as the crop's aspect"))
            padded = RapidOcrReader(num_threads=threads, grammar="indian", min_confidence=min_confidence, padded=True)
            runnable.append((Contender(PPOCR_PADDED, _text_of(padded)),
                             "the input rapidocr's own pipeline builds: 48 px high, zero-padded to 320 px wide"))
        except ModelError as error:
            unavailable.append(ReaderRow(PPOCR, unavailable=str(error)))
    binary = shutil.which("tesseract")
    if binary is None:
        unavailable.append(ReaderRow("Tesseract 5", unavailable="not installed (no tesseract on PATH)"))
        return runnable, unavailable
    runnable.append((Contender("Tesseract 5 --psm 7", _tesseract(binary, 7)),
                     "CLI, one process per crop: the time includes process start; no grammar"))
    if has_two_line:
        runnable.append((Contender("Tesseract 5 --psm 6", _tesseract(binary, 6), lambda s: s.layout == "two"),
                         "two-line crops only (psm 6: a block of lines); CLI, process start included"))
    return runnable, unavailable


def _text_of(reader: Reader) -> Callable[[CropSample], str]:
    return lambda sample: reader.read(sample.image).text


def _tesseract(binary: str, psm: int) -> Callable[[CropSample], str]:
    return lambda sample: tesseract_read(sample.image, sample.layout, psm, binary)


def bench_reader(model_dir: Path, samples: list[CropSample], crops_source: str, threads: int,
                 min_confidence: float) -> ReaderReport:
    has_two_line = any(s.layout == "two" for s in samples)
    runnable, unavailable = reader_contenders(model_dir, threads, min_confidence, has_two_line)
    contenders = [contender for contender, _ in runnable]
    log.info("reading %d crops with %s", len(samples), ", ".join(c.name for c in contenders))
    outcomes = run_interleaved(samples, contenders)
    rows = [reader_row(contender, samples, runs, note) for (contender, note), runs in zip(runnable, outcomes)]
    return ReaderReport(str(model_dir), len(samples), crops_source, threads, tuple(rows + unavailable), EDGE_INT8)


def format_reader(report: ReaderReport) -> str:
    lines = [
        "## Reader: the same crops through each reader",
        f"models: {report.model_dir}; crops: {report.crops_source}",
        f"{report.threads} thread(s) for each reader that takes threads; readers interleaved crop by crop",
        "",
    ]
    headers = ["reader", "crops", "exact", "char acc", "one-line exact", "two-line exact", "ms/crop mean",
               "p50 / p95", "time / int8"]
    rows, notes = [], []
    for row in report.rows:
        if row.unavailable is not None:
            rows.append([row.name, row.unavailable, *["-"] * (len(headers) - 2)])
            continue
        assert row.score is not None and row.timing is not None
        rows.append([
            row.name, str(row.score.plates), fmt_pct(row.score.exact_accuracy), fmt_pct(row.score.char_accuracy),
            _layout_cell(row, "one"), _layout_cell(row, "two"), f"{row.timing.mean_ms:.1f}",
            f"{row.timing.p50_ms:.1f} / {row.timing.p95_ms:.1f}", fmt_ratio(report.slowdown(row)),
        ])
        if row.note:
            notes.append(f"{row.name}: {row.note}")
    lines.append(markdown_table(headers, rows))
    lines += ["", *notes, ("exact: the whole plate right; char acc: 1 - edit distance / plate length; "
               "an empty read counts as wrong"),
              f"time / int8: mean ms per crop over that of {report.baseline} (above 1: slower)"]
    return "\n".join(lines)


def _layout_cell(row: ReaderRow, layout: str) -> str:
    summary = row.by_layout.get(layout)
    return "-" if summary is None else f"{fmt_pct(summary.exact_accuracy)} (n={summary.plates})"
