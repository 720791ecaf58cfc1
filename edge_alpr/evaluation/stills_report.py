"""``edge-alpr eval``'s output: the tables it prints and the plots ``--plots`` saves."""
from __future__ import annotations

import sys
from pathlib import Path

from edge_alpr.evaluation.buckets import BUCKET_ORDER, BUCKET_TITLES
from edge_alpr.evaluation.metrics import TextSummary, interval_text
from edge_alpr.evaluation.scoring import SMALL_PLATE_PX, ReaderReport, StillsReport


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def _text_line(label: str, s: TextSummary) -> str:
    interval = interval_text(s.exact, s.plates)
    return f"  {label:<24}{s.plates:>7}{s.read:>7}{_pct(s.exact_accuracy):>8}{interval:>10}{_pct(s.char_accuracy):>8}"


def _text_lines(text: TextSummary, text_by: dict[str, dict[str, TextSummary]]) -> list[str]:
    lines = [f"{'plate text':<26}{'plates':>7}{'found':>7}{'exact':>8}{'95% int.':>10}{'char':>8}",
             _text_line("all", text)]
    for key, buckets in text_by.items():
        for name, s in buckets.items():
            lines.append(_text_line(f"{key} {name}", s))
    return lines


def _latency_lines(latency: dict[str, dict[str, float]], unit: str) -> list[str]:
    lines = [f"{'latency (ms ' + unit + ')':<26}{'mean':>8}{'p95':>8}"]
    for stage, s in latency.items():
        lines.append(f"  {stage:<24}{s['mean']:>8.1f}{s['p95']:>8.1f}")
    return lines


def format_stills(report: StillsReport, header: str) -> str:
    lines = [header, "",
             f"{'detection (IoU 0.5)':<26}{'AP50':>7}{'prec.':>8}{'recall':>8}  at score >= {report.score_threshold:g}"]
    for name, d in report.detection.items():
        label = {"all": "all plates", "plate_like": "plate-like boxes only",
                 "plate_like_readable": "plate-like, readable"}.get(name, f"plates >= {SMALL_PLATE_PX} px high")
        lines.append(f"  {label:<24}{d.ap50:>7.3f}{_pct(d.precision):>8}{_pct(d.recall):>8}  "
                     f"({d.true_positives} TP, {d.false_positives} FP, {d.false_negatives} FN)")
    if report.confirm_floor is not None and report.confirm_floor < report.score_threshold:
        lines.append(f"  plate-like lines and texts also take boxes from {report.confirm_floor:g} that a sure read confirms")
    lines += ["", *_text_lines(report.text, report.text_by), "",
              f"accepted reads: {report.accepted.reads}, of which right {_pct(report.accepted.precision).strip()}", "",
              *_latency_lines(report.latency_ms, "per image")]
    return "\n".join(lines)


def format_reader(report: ReaderReport, header: str) -> str:
    lines = [header, "", *_text_lines(report.text, report.text_by), "",
             f"accepted reads: {report.accepted.reads}, of which right {_pct(report.accepted.precision).strip()}", "",
             *_latency_lines(report.latency_ms, "per crop")]
    return "\n".join(lines)


def save_plots(report: StillsReport | ReaderReport, out_dir: Path) -> list[Path]:
    """PR curve (stills only) and accuracy per bucket; [] with a note when matplotlib is missing."""
    from edge_alpr.evaluation import plots

    if plots.pyplot() is None:
        print(plots.MATPLOTLIB_MISSING, file=sys.stderr)
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if isinstance(report, StillsReport):
        written.append(plots.save_pr_curve(report.pr_precision, report.pr_recall, report.detection["all"].ap50,
                                           out_dir / "pr_curve.png", title="plate detection, IoU 0.5"))
    for key, buckets in report.text_by.items():
        written.append(plots.save_accuracy_by_bucket(
            buckets, BUCKET_ORDER.get(key, ()), out_dir / f"accuracy_by_{key}.png",
            title=f"plate accuracy by {BUCKET_TITLES.get(key, key)}", xlabel=BUCKET_TITLES.get(key, key)))
    return written
