"""``edge-alpr eval-compare BASE.json NEW.json``: two evaluations of the same plates, paired.

Two runs' accuracies on a few dozen plates differ by a few plates from noise alone (a detector
retrained with another seed moves the two-wheeler figure by 9 points). What tells two models
apart is the plates on which they disagree: those the new one reads and the base does not, and
the reverse. With no real difference either kind is equally likely, so the two-sided sign test
on those counts says how surprising the split is.

Both files come from the same command with ``--json``: ``edge-alpr eval`` (stills or
``--reader-only``; plates are paired by photo and labelled box) or ``edge-alpr eval-video``
(vehicles paired by plate and first frame).
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from edge_alpr.cli import run_subcommand
from edge_alpr.errors import InputError
from edge_alpr.evaluation.metrics import interval_text

#: Under this p-value the sign test calls two runs different.
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Outcome:
    """One plate (or vehicle) of one run."""

    truth: str
    read: str  # what the run read or reported ("" for nothing)
    right: bool
    layout: str


@dataclass(frozen=True)
class Change:
    truth: str
    layout: str
    base: str
    new: str


@dataclass(frozen=True)
class Comparison:
    paired: int  # plates in both runs
    only_one_run: int  # plates in one run only (different selections): left out
    base_right: int
    new_right: int
    gained: tuple[Change, ...]  # right in the new run only
    lost: tuple[Change, ...]  # right in the base run only

    @property
    def p_value(self) -> float:
        return sign_test(len(self.gained), len(self.lost))

    def to_json(self) -> dict:
        return {"paired": self.paired, "only_one_run": self.only_one_run, "base_right": self.base_right,
                "new_right": self.new_right, "gained": [asdict(c) for c in self.gained],
                "lost": [asdict(c) for c in self.lost], "p_value": self.p_value}


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact sign test: the chance, were gains and losses equally likely, of a split of
    ``gained + lost`` disagreements at least this uneven."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def load_outcomes(path: Path) -> tuple[str, dict[tuple, Outcome]]:
    """The run's kind and its outcomes by plate key, from an ``--json`` report."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not a JSON report ({exc.msg}); write one with --json") from None
    if isinstance(report, dict) and "plates" in report:
        kind = f"eval {report.get('mode', 'stills')}"
        return kind, {(p["source"], tuple(p["box"])): Outcome(p["truth"], p["read"] or "", p["read"] == p["truth"],
                                                              p["layout"])
                      for p in report["plates"]}
    if isinstance(report, dict) and "per_vehicle" in report:
        return "eval-video", {(v["plate"], v["first_frame"]): Outcome(v["plate"], ",".join(v["events"]),
                                                                      v["status"] == "correct", v["layout"])
                              for v in report["per_vehicle"]}
    raise InputError(f"{path}: no per-plate results ('plates' or 'per_vehicle'); write it with "
                     "edge-alpr eval --json or edge-alpr eval-video --json")


def compare(base: dict[tuple, Outcome], new: dict[tuple, Outcome]) -> Comparison:
    keys = [k for k in base if k in new]
    only_one = len(base) + len(new) - 2 * len(keys)
    gained = tuple(Change(new[k].truth, new[k].layout, base[k].read, new[k].read)
                   for k in keys if new[k].right and not base[k].right)
    lost = tuple(Change(new[k].truth, new[k].layout, base[k].read, new[k].read)
                 for k in keys if base[k].right and not new[k].right)
    return Comparison(len(keys), only_one, sum(base[k].right for k in keys), sum(new[k].right for k in keys),
                      gained, lost)


def format_comparison(c: Comparison, base_name: str, new_name: str) -> str:
    def rate(right: int) -> str:
        return f"{right} of {c.paired} ({100 * right / c.paired:.1f} %, 95 % interval {interval_text(right, c.paired)})"

    lines = [f"base {base_name}: {rate(c.base_right)}", f"new  {new_name}: {rate(c.new_right)}"]
    if c.only_one_run:
        lines.append(f"({c.only_one_run} plates are in one run only and left out)")
    for title, changes in (("right in the new run only", c.gained), ("right in the base run only", c.lost)):
        lines += ["", f"{title}: {len(changes)}"]
        lines += [f"  {ch.truth:<12} {ch.layout:<4} base {ch.base or '-':<14} new {ch.new or '-'}" for ch in changes]
    verdict = "different" if c.p_value < SIGNIFICANCE else "not told apart"
    lines += ["", f"sign test on the {len(c.gained) + len(c.lost)} plates they disagree on: p = {c.p_value:.3f} "
              f"({verdict} at {SIGNIFICANCE})"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-alpr eval-compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path, help="the JSON report of the model in use (edge-alpr eval ... --json)")
    parser.add_argument("new", type=Path, help="the JSON report of the candidate, on the same plates")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_subcommand(_parser(), argv, _run)


def _run(args: argparse.Namespace) -> int:
    (base_kind, base), (new_kind, new) = load_outcomes(args.base), load_outcomes(args.new)
    if base_kind != new_kind:
        raise InputError(f"{args.base} is an {base_kind} report and {args.new} an {new_kind} report; "
                         "compare runs of the same command")
    result = compare(base, new)
    if not result.paired:
        raise InputError(f"{args.base} and {args.new} share no plate; compare runs on the same manifest or video")
    print(json.dumps(result.to_json(), indent=1) if args.json else format_comparison(result, str(args.base), str(args.new)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
