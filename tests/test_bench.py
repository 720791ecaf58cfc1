"""``edge-alpr bench``'s bookkeeping: argument parsing, memory parsing, interleaving, scoring,
the figures and tables built from made-up timings, and one replay with fake models. No timing
is asserted: only what is counted and how it is reported."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_alpr.bench.cli import (
    Results,
    _parser,
    results_json,
    summary_rows,
    with_models,
)
from edge_alpr.bench.common import (
    Contender,
    Memory,
    Outcome,
    Timing,
    busy_warning,
    markdown_table,
    memory_now,
    parse_proc_status,
    run_interleaved,
    spread,
)
from edge_alpr.bench.detector import DetectorReport, DetectorTiming, format_detector
from edge_alpr.bench.pipeline import (
    PipelineReport,
    PipelineRun,
    format_pipeline,
    replay,
)
from edge_alpr.bench.reader import (
    _TEXT_SHARE,
    EDGE_INT8,
    PPOCR,
    TESSERACT_TEXT_HEIGHT_PX,
    CropSample,
    ReaderReport,
    ReaderRow,
    clean_ocr_text,
    format_reader,
    reader_row,
    score_reads,
    tesseract_input,
    tesseract_read,
)
from edge_alpr.config import AppConfig
from edge_alpr.errors import EdgeAlprError
from edge_alpr.evaluation.metrics import TextSummary
from edge_alpr.types import Detections, PlateRead

# --- the machine ------------------------------------------------------------------------------

STATUS = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (STATUS, Memory(rss_mb=100.0, peak_mb=200.0)),
        ("VmRSS:\t  1024 kB\n", None),  # no peak line
        ("VmRSS:\t  1 MB\nVmHWM:\t  2 MB\n", None),  # a unit the kernel does not use
        ("", None),
    ],
)
def test_proc_status_gives_rss_and_peak_in_mb(text, expected) -> None:
    assert parse_proc_status(text) == expected


def test_memory_now_reads_the_given_status_file(tmp_path) -> None:
    status = tmp_path / "status"
    status.write_text(STATUS)
    assert memory_now(status) == Memory(100.0, 200.0)
    assert memory_now(tmp_path / "missing") is None


@pytest.mark.parametrize(("load", "warns"), [(None, False), (0.2, False), (1.5, False), (1.51, True), (4.0, True)])
def test_busy_warning_above_a_load_of_one_and_a_half(load, warns) -> None:
    warning = busy_warning(load)
    assert (warning is not None) == warns
    if warns:
        assert "busy" in warning and "pessimistic" in warning and f"{load:.2f}" in warning


# --- timing -----------------------------------------------------------------------------------


def test_interleaving_rotates_who_goes_first_and_keeps_input_order() -> None:
    calls: list[tuple[str, int]] = []

    def runner(name: str):
        return lambda x: calls.append((name, x)) or f"{name}{x}"

    contenders = [Contender("a", runner("a")), Contender("b", runner("b")), Contender("c", runner("c"))]
    outcomes = run_interleaved([10, 11, 12], contenders, warmup=1)

    warmup, timed = calls[:3], calls[3:]
    assert warmup == [("a", 10), ("b", 10), ("c", 10)]
    assert timed == [("a", 10), ("b", 10), ("c", 10), ("b", 11), ("c", 11), ("a", 11), ("c", 12), ("a", 12), ("b", 12)]
    assert [[(o.index, o.result) for o in runs] for runs in outcomes] == [
        [(0, "a10"), (1, "a11"), (2, "a12")],
        [(0, "b10"), (1, "b11"), (2, "b12")],
        [(0, "c10"), (1, "c11"), (2, "c12")],
    ]
    assert all(o.ms >= 0 for runs in outcomes for o in runs)


def test_interleaving_skips_inputs_a_contender_does_not_apply_to() -> None:
    seen: list[int] = []
    only_odd = Contender("odd", lambda x: seen.append(x) or x, applies=lambda x: x % 2 == 1)
    everything = Contender("all", lambda x: x)
    outcomes = run_interleaved([0, 1, 2, 3, 5], [everything, only_odd], warmup=2)
    assert seen == [1, 3, 1, 3, 5]  # warm-up on the first two inputs it applies to, then each once
    assert [o.index for o in outcomes[1]] == [1, 3, 4]
    assert [o.index for o in outcomes[0]] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("items", "n", "expected"),
    [
        (list(range(10)), 5, [0, 2, 4, 6, 8]),
        (list(range(10)), 3, [0, 3, 6]),
        (list(range(3)), 5, [0, 1, 2]),
        (list(range(4)), 4, [0, 1, 2, 3]),
    ],
)
def test_spread_takes_items_evenly(items, n, expected) -> None:
    assert spread(items, n) == expected


def test_timing_of_nothing_is_none_and_of_samples_their_summary() -> None:
    assert Timing.of([]) is None
    timing = Timing.of([1.0, 2.0, 3.0, 4.0, 10.0])
    assert timing.samples == 5 and timing.mean_ms == pytest.approx(4.0) and timing.p50_ms == pytest.approx(3.0)


# --- text output ------------------------------------------------------------------------------


def test_markdown_table_pads_every_column_to_its_widest_cell() -> None:
    table = markdown_table(["a", "long header"], [["wide cell", "x"], ["y", "z"]])
    lines = table.splitlines()
    assert lines[0] == "| a         | long header |"
    assert lines[1] == "|-----------|-------------|"
    assert lines[2] == "| wide cell | x           |"
    assert len({len(line) for line in lines}) == 1


# --- the pipeline figures ---------------------------------------------------------------------


def make_run(gating: bool, frames: int, wall_s: float, *, skipped: int = 0, reads: int = 0, tracks: int = 0,
             peak_is_per_run: bool = True, mode: str = "") -> PipelineRun:
    return PipelineRun(mode=mode,
        motion_gating=gating, frames=frames, wall_s=wall_s, video_fps=25.0, detector_runs=frames - skipped,
        skipped_by_motion=skipped, reads=reads, tracks=tracks, events=tracks,
        stages={"detect": Timing(frames - skipped, 30.0, 29.0, 41.0), "decode": Timing(frames, 2.0, 1.9, 3.5)},
        rss_start_mb=150.0, rss_end_mb=160.0, peak_mb=170.0, peak_is_per_run=peak_is_per_run,
    )


def make_pipeline_report(*runs: PipelineRun) -> PipelineReport:
    return PipelineReport(
        video="generated", generated=True, size=(1280, 720), video_fps=25.0, detector_model="det v1",
        reader_model="read v1", detector_threads=2, reader_threads=1, rss_before_models_mb=90.0,
        rss_after_models_mb=140.0, runs=runs,
    )


def test_pipeline_run_figures() -> None:
    run = make_run(True, 500, 10.0, skipped=300, reads=24, tracks=6)
    assert run.fps == pytest.approx(50.0)
    assert run.realtime_factor == pytest.approx(2.0)
    assert run.skipped_share == pytest.approx(0.6)
    assert run.reads_per_track == pytest.approx(4.0)
    assert make_run(True, 10, 1.0).reads_per_track is None


def test_gating_gain_is_frames_per_second_with_over_without() -> None:
    report = make_pipeline_report(make_run(True, 500, 10.0, skipped=300), make_run(False, 500, 25.0))
    assert report.gating_speedup == pytest.approx(2.5)
    assert make_pipeline_report(make_run(True, 500, 10.0)).gating_speedup is None


def test_pipeline_table_states_counts_and_samples() -> None:
    report = make_pipeline_report(make_run(True, 500, 10.0, skipped=300, reads=24, tracks=6),
                                  make_run(False, 500, 25.0, reads=30, tracks=6, peak_is_per_run=False))
    text = format_pipeline(report)
    assert "| frames/s " in text and "| 50.0 " in text and "| 20.0 " in text
    assert "60.0% (300/500)" in text and "0.0% (0/500)" in text
    assert "29.0 / 41.0 (n=200)" in text and "29.0 / 41.0 (n=500)" in text
    assert "4.0 (24 reads / 6 tracks)" in text and "5.0 (30 reads / 6 tracks)" in text
    assert "170 MB (process)" in text  # the second run's peak could not be reset
    assert "gain of motion gating: 2.50x" in text
    assert "motion gate, ms" not in text  # no run measured that stage


def test_a_run_with_another_strategy_mode_gives_the_ratio_against_it() -> None:
    report = make_pipeline_report(make_run(True, 500, 10.0, mode="auto"), make_run(False, 500, 25.0, mode="auto"),
                                  make_run(True, 500, 8.0, mode="whole"))
    assert report.speedup_against == ("whole", pytest.approx(0.8))
    assert report.gating_speedup == pytest.approx(2.5)  # auto with and without gating, not whole
    text = format_pipeline(report)
    assert "| auto, motion gating on | auto, motion gating off | whole, motion gating on |" in text
    assert "frames/s of mode auto against mode whole (gating on both): 0.80x" in text
    assert make_pipeline_report(make_run(True, 500, 10.0, mode="auto"),
                                make_run(False, 500, 25.0, mode="auto")).speedup_against is None


# --- the detector figures ---------------------------------------------------------------------


def make_detector_report() -> DetectorReport:
    rows = (
        DetectorTiming("int8", 1, Timing(100, 40.0, 39.0, 45.0), 1.2),
        DetectorTiming("float16", 1, Timing(100, 100.0, 98.0, 110.0), 1.3),
        DetectorTiming("int8", 2, Timing(100, 25.0, 24.0, 30.0), 1.2),
    )
    return DetectorReport("models", 100, "100 photos", rows, missing=())


def test_detector_speedup_is_float_time_over_int8_time() -> None:
    report = make_detector_report()
    assert report.speedup(1) == pytest.approx(2.5)
    assert report.speedup(2) is None  # no float16 row at 2 threads


def test_detector_table_lists_each_variant_and_the_speedups() -> None:
    text = format_detector(make_detector_report())
    assert "| float16 | 1       | 100    | 100.0   | 98.0   | 110.0  | 1.30" in text
    assert "1 thread(s): 2.50x" in text and "2 thread(s): -" in text


# --- the reader figures -----------------------------------------------------------------------


def crop(text: str, layout: str = "one") -> CropSample:
    return CropSample(np.zeros((20, 80, 3), np.uint8), text, layout)  # type: ignore[arg-type]


SAMPLES = [crop("KA01AB1234"), crop("MH12DE5678"), crop("TN09BC4321", "two"), crop("DL3CAB1234", "two")]


@pytest.mark.parametrize(
    ("reads", "exact", "char", "one_exact", "two_exact"),
    [
        (["KA01AB1234", "MH12DE5678", "TN09BC4321", "DL3CAB1234"], 1.0, 1.0, 1.0, 1.0),
        (["KA01AB1234", "MH12DE5679", "", "DL3CAB1234"], 0.5, (1 + 0.9 + 0 + 1) / 4, 0.5, 0.5),
        (["", "", "", ""], 0.0, 0.0, 0.0, 0.0),
    ],
)
def test_reads_are_scored_overall_and_by_layout(reads, exact, char, one_exact, two_exact) -> None:
    outcomes = [Outcome(i, text, 1.0) for i, text in enumerate(reads)]
    overall, by_layout = score_reads(SAMPLES, outcomes)
    assert overall.plates == 4
    assert overall.exact_accuracy == pytest.approx(exact)
    assert overall.char_accuracy == pytest.approx(char)
    assert by_layout["one"].exact_accuracy == pytest.approx(one_exact)
    assert by_layout["two"].exact_accuracy == pytest.approx(two_exact)


def test_a_reader_that_ran_on_two_line_crops_only_is_scored_on_them() -> None:
    outcomes = [Outcome(2, "TN09BC4321", 1.0), Outcome(3, "XX", 1.0)]
    overall, by_layout = score_reads(SAMPLES, outcomes)
    assert overall.plates == 2 and overall.exact == 1
    assert set(by_layout) == {"two"}


def test_reader_row_from_a_fake_reader_run_interleaved() -> None:
    truth = {id(s.image): s.text for s in SAMPLES}
    fake = Contender("fake", lambda sample: truth[id(sample.image)] if sample.layout == "one" else "")
    [outcomes] = run_interleaved(SAMPLES, [fake])
    row = reader_row(fake, SAMPLES, outcomes, "a note")
    assert row.score.exact_accuracy == pytest.approx(0.5)
    assert row.by_layout["one"].exact_accuracy == 1.0 and row.by_layout["two"].exact_accuracy == 0.0
    assert row.timing.samples == 4 and row.note == "a note"


def summary(exact: float, plates: int = 100) -> TextSummary:
    return TextSummary(plates=plates, read=plates, exact=round(exact * plates), exact_accuracy=exact, char_accuracy=0.9)


def make_reader_report() -> ReaderReport:
    rows = (
        ReaderRow(EDGE_INT8, "", summary(0.9), {"one": summary(0.92, 95), "two": summary(0.6, 5)},
                  Timing(100, 2.0, 1.9, 2.5)),
        ReaderRow(PPOCR, "", summary(0.8), {"one": summary(0.8, 95)}, Timing(100, 50.0, 49.0, 60.0)),
        ReaderRow("Tesseract 5", unavailable="not installed (no tesseract on PATH)"),
    )
    return ReaderReport("models", 100, "100 crops", 1, rows, EDGE_INT8)


def test_reader_speed_is_given_relative_to_the_int8_reader() -> None:
    report = make_reader_report()
    assert report.slowdown(report.rows[0]) == pytest.approx(1.0)
    assert report.slowdown(report.rows[1]) == pytest.approx(25.0)
    assert report.slowdown(report.rows[2]) is None


def test_reader_table_shows_layouts_ratios_and_missing_readers() -> None:
    text = format_reader(make_reader_report())
    assert "92.0% (n=95)" in text and "60.0% (n=5)" in text
    assert "25.00x" in text
    tesseract_line = next(line for line in text.splitlines() if line.startswith("| Tesseract 5"))
    assert "not installed" in tesseract_line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("KA 01 AB 1234\n", "KA01AB1234"), ("ka01\nab-1234\x0c", "KA01AB1234"), ("", ""), ("IND .,;", "IND")],
)
def test_ocr_text_is_cut_down_to_the_plate_alphabet(raw, expected) -> None:
    assert clean_ocr_text(raw) == expected


@pytest.mark.parametrize(("height", "layout"), [(40, "one"), (200, "one"), (60, "two"), (300, "two")])
def test_tesseract_input_has_characters_about_50_px_tall(height, layout) -> None:
    image = tesseract_input(np.full((height, height * 3, 3), 200, np.uint8), layout)
    assert image.ndim == 2
    text_height = image.shape[0] * _TEXT_SHARE[layout]
    assert text_height == pytest.approx(TESSERACT_TEXT_HEIGHT_PX, abs=1)
    assert image.shape[1] / image.shape[0] == pytest.approx(3, rel=0.02)


def fake_tesseract(tmp_path: Path, script: str) -> str:
    """An executable standing in for tesseract: it records its arguments and the image size."""
    path = tmp_path / "tesseract"
    path.write_text("#!/bin/sh\n" f'echo "$@" > "{tmp_path}/args"\n' f'cat > "{tmp_path}/image.png"\n' + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_tesseract_gets_the_scaled_crop_on_stdin_and_the_whitelist(tmp_path) -> None:
    binary = fake_tesseract(tmp_path, 'printf "ka01 ab 1234\\n"\n')
    text = tesseract_read(np.full((20, 80, 3), 255, np.uint8), "one", 7, binary)
    assert text == "KA01AB1234"
    args = (tmp_path / "args").read_text().split()
    assert args[:4] == ["stdin", "stdout", "--psm", "7"]
    assert "tessedit_char_whitelist=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" in args
    image = cv2.imread(str(tmp_path / "image.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == tesseract_input(np.zeros((20, 80, 3), np.uint8), "one").shape


def test_a_failing_tesseract_is_reported_with_its_message(tmp_path) -> None:
    binary = fake_tesseract(tmp_path, 'echo "Error: no language data" >&2\nexit 1\n')
    with pytest.raises(EdgeAlprError, match=r"tesseract failed \(exit 1\): Error: no language data"):
        tesseract_read(np.full((20, 80, 3), 255, np.uint8), "two", 6, binary)


# --- summary and JSON -------------------------------------------------------------------------


def test_summary_has_rows_only_for_the_benchmarks_that_ran() -> None:
    pipeline = make_pipeline_report(make_run(True, 500, 10.0, skipped=300), make_run(False, 500, 25.0))
    rows = summary_rows(pipeline, None, make_reader_report())
    assert {r[0] for r in rows} == {"pipeline", "reader"}
    assert ["pipeline", "gain of motion gating (frames/s on / off)", "2.50x"] in rows
    assert ["reader", "Tesseract 5", "not installed (no tesseract on PATH)"] in rows
    assert any(r[1].startswith(PPOCR) and r[2] == "80.0% / 90.0% / 50.0 ms" for r in rows)


def test_json_is_one_serialisable_object_with_the_derived_figures() -> None:
    pipeline = make_pipeline_report(make_run(True, 500, 10.0, skipped=300), make_run(False, 500, 25.0))
    results = Results(pipeline, make_detector_report(), make_reader_report())
    data = json.loads(json.dumps(results_json(results, "warning: busy")))
    assert data["warnings"] == ["warning: busy"]
    assert data["pipeline"]["gating_speedup"] == pytest.approx(2.5)
    assert data["pipeline"]["runs"][0]["fps"] == pytest.approx(50.0)
    assert data["detector"]["int8_speedup"] == {"1": pytest.approx(2.5), "2": None}
    assert data["reader"]["time_vs_baseline"][PPOCR] == pytest.approx(25.0)
    assert data["reader"]["rows"][0]["by_layout"]["two"]["plates"] == 5


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pipeline"], {"video": None, "seconds": None, "threads": None, "json": False}),
        (["pipeline", "--video", "v.mp4", "--seconds", "2.5", "--threads", "3", "--json"],
         {"video": Path("v.mp4"), "seconds": 2.5, "threads": 3, "json": True}),
        (["detector"], {"images": 100, "threads": [1, 2]}),
        (["detector", "--images", "5", "--threads", "1", "4"], {"images": 5, "threads": [1, 4]}),
        (["reader", "--limit", "8", "--models", "m"], {"threads": 1, "limit": 8, "models": Path("m")}),
        (["all", "--seconds", "1", "--images", "3", "--limit", "2"], {"seconds": 1.0, "images": 3, "limit": 2}),
    ],
)
def test_arguments(argv, expected) -> None:
    args = _parser().parse_args(argv)
    assert {key: getattr(args, key) for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [[], ["speed"], ["pipeline", "--seconds", "0"], ["detector", "--images", "-1"], ["reader", "--threads", "x"],
     ["all", "--threads", "2"]],
)
def test_bad_arguments_are_usage_errors(argv, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(argv)
    assert caught.value.code == 2


def test_models_option_points_both_models_into_the_folder(tmp_path) -> None:
    cfg = with_models(AppConfig(), tmp_path)
    assert cfg.detector.resolved_model_path() == tmp_path / "plate_detector_int8.tflite"
    assert cfg.reader.resolved_model_path() == tmp_path / "plate_reader_int8.tflite"
    assert AppConfig().detector.model_path is None  # the given config is not changed


# --- one replay with fake models --------------------------------------------------------------

W, H, FRAMES, STILL = 160, 96, 24, 8  # the first STILL frames show an empty road
BOX = (40.0, 40.0, 104.0, 56.0)


class FakeDetector:
    """Finds the same plate wherever it is asked: the replay's bookkeeping is under test."""

    model_info = {"name": "fake"}

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        return Detections(np.array([BOX], np.float32), np.array([0.9], np.float32))


class FakeReader:
    model_info = {"name": "fake"}

    def read(self, crop: np.ndarray) -> PlateRead:
        return PlateRead("KA01AB1234", (0.99,) * 10, 0.95, "standard")


@pytest.fixture(scope="module")
def still_then_moving_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (W, H))
    for i in range(FRAMES):
        image = np.full((H, W, 3), 90, np.uint8)
        if i >= STILL:  # something crosses the frame: every frame differs from the one before
            x = 4 * (i - STILL)
            image[20:80, x : x + 40] = 250
        writer.write(image)
    writer.release()
    return path


@pytest.mark.parametrize("gating", [True, False])
def test_replay_counts_frames_detector_runs_and_skips(still_then_moving_video, gating) -> None:
    cfg = AppConfig()
    cfg.detector.motion_gating = gating
    detector = FakeDetector()
    run = replay(still_then_moving_video, None, cfg, detector, FakeReader())
    assert run.frames == FRAMES and run.video_fps == pytest.approx(25.0)
    assert run.detector_runs == detector.calls == FRAMES - run.skipped_by_motion
    if gating:
        assert STILL - 1 <= run.skipped_by_motion < FRAMES - 5  # the empty road after the first frame
        assert run.stages["motion"].samples == FRAMES
    else:
        assert run.skipped_by_motion == 0 and "motion" not in run.stages
    assert run.stages["decode"].samples == FRAMES and run.stages["total"].samples == FRAMES
    assert run.stages["detect"].samples == run.detector_runs
    assert run.reads == run.stages["read"].samples > 0
    assert run.tracks == 1 and run.events == 1  # one plate, voted when the video ends


def test_replay_stops_after_the_given_seconds_of_video(still_then_moving_video) -> None:
    run = replay(still_then_moving_video, 0.4, AppConfig(), FakeDetector(), FakeReader())
    assert run.frames == 10  # 0.4 s at 25 fps


def test_reader_heldout_counts_rendered_plates_per_layout_without_the_datasets(tmp_path, capsys) -> None:
    import re

    from edge_alpr.bench import reader_heldout as script

    repo = Path(__file__).resolve().parents[1]
    assert script.main([str(repo / "models"), "--datasets", str(tmp_path), "--rendered", "4"]) == 0
    out = capsys.readouterr().out
    assert "no in_plates folder" in out
    counts = dict(re.findall(r"(one|two|stacked) (\d)/4", out))
    assert set(counts) == {"one", "two", "stacked"}
    assert int(counts["one"]) >= 3  # clear enough rendered one-line plates are read
    assert "one look" in out


def test_reader_heldout_lists_each_wrong_read_with_its_set_and_truth() -> None:
    from types import SimpleNamespace

    from edge_alpr.bench.reader_heldout import misses

    one = SimpleNamespace(text="KA01AB1234", layout="one")
    two = SimpleNamespace(text="TN07CY6229", layout="two")
    lines = misses({"validation": [("KA01AB1234", one)], "twowheelers": [("TN07Y6229", two), ("", two)]})
    assert len(lines) == 2  # the right read is not listed
    assert "twowheelers" in lines[0] and "TN07CY6229" in lines[0] and lines[0].endswith("-> TN07Y6229")
    assert lines[1].endswith("-> (nothing)")


def test_reader_heldout_outcomes_pair_with_eval_compare(tmp_path, capsys) -> None:
    from types import SimpleNamespace

    from edge_alpr.bench.reader_heldout import write_outcomes
    from edge_alpr.evaluation import compare

    def crop(text, layout="one"):
        return SimpleNamespace(text=text, layout=layout, image=np.zeros((20, 90, 3), np.uint8))

    a, b, soft = crop("KA01AB1234"), crop("TN07CY6229", "two"), crop("OD02X5353")
    base = write_outcomes({"validation": [("KA01AB1234", a)], "twowheelers": [("TN07Y6229", b)],
                           "agreed": [("OD02X5353", soft)]}, tmp_path / "reader0.json")
    new = write_outcomes({"validation": [("KA01AB1234", a)], "twowheelers": [("TN07CY6229", b)]},
                         tmp_path / "reader1.json")
    assert compare.main([str(base), str(new), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the agreed (soft) set is left out; the two-line plate is the one gained
    assert (out["paired"], out["only_one_run"], out["base_right"], out["new_right"]) == (2, 0, 1, 2)
    assert [(c["truth"], c["layout"]) for c in out["gained"]] == [("TN07CY6229", "two")] and not out["lost"]


def test_reader_heldout_reads_crops_shrunk_and_smeared_down_the_frame_as_in_a_pass() -> None:
    from types import SimpleNamespace

    from edge_alpr.bench.reader_heldout import PASS_LIKE, as_in_a_pass, pass_like

    stripes = np.zeros((40, 200, 3), np.uint8)
    stripes[::4] = 255  # edges across the frame: a smear down the frame wipes them out

    def edges(image):
        return float(np.abs(np.diff(image[..., 0].astype(float), axis=0)).mean())

    sharp = as_in_a_pass(stripes, 80, 0.0, np.random.default_rng(0))
    smeared = as_in_a_pass(stripes, 80, 0.08, np.random.default_rng(0))
    assert sharp.shape == smeared.shape == (16, 80, 3)
    assert edges(smeared) < 0.7 * edges(sharp)

    seen = []
    reader = SimpleNamespace(read=lambda image: seen.append(image.shape[1]) or SimpleNamespace(text="KA01AB1234"))
    crop = SimpleNamespace(text="KA01AB1234", image=stripes)
    line = pass_like(reader, {"validation": [crop], "agreed": [crop]})
    assert line.count(": 1/1") == len(PASS_LIKE)  # the soft set is left out
    assert seen == [width for width, _ in PASS_LIKE]
