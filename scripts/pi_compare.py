"""Inputs for the emulated Pi check, and the comparison of its arm64 outputs with x86's.

    python scripts/pi_compare.py inputs DIR            # stills, crops and a clip, generated here
    python scripts/pi_compare.py compare X86 ARM64 --label NAME

Each side's folder holds what ``scripts/pi-check.sh`` saved from the same commands:
``version.txt`` (edge-alpr version), ``detect.jsonl`` (detect --json), ``read.jsonl``
(read --json) and ``events.jsonl`` (run --events-jsonl). The two sides must agree on every
plate text, plate format and event; a box edge may move by ``BOX_TOLERANCE_PX`` or
``BOX_TOLERANCE_FRACTION`` of the box's side, whichever is more, since int8 kernels round
differently on each CPU. Confidences are shown, never compared: they move by a few thousandths
with the same rounding.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

BOX_TOLERANCE_PX = 2.0
# The detector's size outputs are sigmoids in uint8 steps of 1/256, and a side is (2 s)^2 x anchor:
# one step near s = 0.5 changes a side by 1.6 %, so each edge moves 0.8 % of it. A 210 px plate
# in a 2x-shrunk tile came 2.7 px wider on arm64 (2026-12-05, about 1.6 steps); 2 % of the side
# allows that rounding and still fails on a box that is really elsewhere.
BOX_TOLERANCE_FRACTION = 0.02
CLIP_NAME = "clip.mp4"
CLIP_SIZE = (1280, 720)
CLIP_FPS = 8.0


# --- inputs -----------------------------------------------------------------------------------


def make_inputs(out: Path) -> None:
    """A short roadside clip, one still per vehicle (its frame with the largest plate) plus an
    empty road, and rendered plate crops; all from fixed seeds, so every run checks the same.

    Sized for qemu, where a detector run costs ~60 times what it does here: the clip is two
    vehicles at 8 fps (57 frames), which still gives each track five reads at 1280x720 (motion
    mode, the daemon's path; the 3-vehicle 25 fps clip of 260 frames took over 10 minutes per
    CPU). The stills stay whole frames (six tiles, ~22 s each under qemu): a 640x360 window is
    one detector run in whole mode, but its boxes came 4 to 6 px apart between CPUs (one int8
    step of the box outputs, doubled by the letterbox), where the fused tiles agree within
    1.2 px. Two-line plates are among the crops.
    """
    import cv2
    import numpy as np

    from edge_alpr.synth.render import render_plate
    from edge_alpr.synth.scenes import make_video

    out.mkdir(parents=True, exist_ok=True)
    truth = make_video(out / CLIP_NAME, seed=18, n_vehicles=2, size=CLIP_SIZE, fps=CLIP_FPS)
    (out / "stills").mkdir(exist_ok=True)
    wanted = {0: "still_empty.png"}
    for i, vehicle in enumerate(truth.vehicles):
        biggest = max(vehicle.boxes, key=lambda f: vehicle.boxes[f][2] - vehicle.boxes[f][0])
        wanted[biggest] = f"still_{i}_{vehicle.plate}.png"
    capture = cv2.VideoCapture(str(out / CLIP_NAME))
    index = 0
    while wanted:
        ok, frame = capture.read()
        if not ok:
            raise RuntimeError(f"{out / CLIP_NAME}: ended before frame {min(wanted)}")
        if index in wanted:
            cv2.imwrite(str(out / "stills" / wanted.pop(index)), frame)
        index += 1
    capture.release()
    rng = np.random.default_rng(18)
    (out / "crops").mkdir(exist_ok=True)
    for i in range(6):
        plate = render_plate(None, rng, layout="one" if i % 3 else "two")
        # Smaller and softer, as a crop from a frame is.
        h, w = plate.image.shape[:2]
        crop = cv2.GaussianBlur(cv2.resize(plate.image, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (3, 3), 0)
        cv2.imwrite(str(out / "crops" / f"crop_{i}_{plate.text}.png"), crop)


# --- comparison -------------------------------------------------------------------------------


@dataclass
class Comparison:
    """What was compared, and every disagreement, as lines a person can read."""

    label: str
    checked: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # differences that are allowed, shown all the same
    max_box_px: float = 0.0
    max_confidence_delta: float = 0.0

    def box(self, where: str, a: list[float], b: list[float]) -> None:
        delta = max(abs(x - y) for x, y in zip(a, b))
        self.max_box_px = max(self.max_box_px, delta)
        sides = (a[2] - a[0], a[3] - a[1]) * 2  # x1, y1, x2, y2 against width, height, width, height
        allowed = [max(BOX_TOLERANCE_PX, BOX_TOLERANCE_FRACTION * side) for side in sides]
        if any(abs(x - y) > limit for x, y, limit in zip(a, b, allowed)):
            self.diffs.append(f"{where}: box x86 {a} vs arm64 {b} ({delta:.1f} px apart, at most "
                              f"{BOX_TOLERANCE_PX:g} px or {BOX_TOLERANCE_FRACTION:.0%} of the side)")

    def same(self, where: str, what: str, a: object, b: object) -> bool:
        if a != b:
            self.diffs.append(f"{where}: {what} x86 {a!r} vs arm64 {b!r}")
            return False
        return True

    def confidence(self, a: float | None, b: float | None) -> None:
        if a is not None and b is not None:
            self.max_confidence_delta = max(self.max_confidence_delta, abs(a - b))


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (the command that writes it failed or did not run)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error}): {line[:80]!r}") from None
    return rows


def by_image(rows: list[dict]) -> dict[str, dict]:
    """Rows keyed by the image's file name (the two sides ran in different folders)."""
    return {Path(row["image"]).name: row for row in rows}


def compare_detect(c: Comparison, x86: list[dict], arm: list[dict]) -> None:
    a, b = by_image(x86), by_image(arm)
    if not c.same("detect", "images", sorted(a), sorted(b)):
        return
    plates = 0
    for name in sorted(a):
        pa = sorted(a[name]["plates"], key=lambda p: p["box"])
        pb = sorted(b[name]["plates"], key=lambda p: p["box"])
        if not c.same(f"detect {name}", "number of plates", len(pa), len(pb)):
            continue
        for i, (p, q) in enumerate(zip(pa, pb)):
            c.same(f"detect {name} plate {i}", "text", p["text"], q["text"])
            c.box(f"detect {name} plate {i}", p["box"], q["box"])
            c.confidence(p["confidence"], q["confidence"])
        plates += len(pa)
    c.checked.append(f"detect: {len(a)} images, {plates} plates")


def compare_read(c: Comparison, x86: list[dict], arm: list[dict]) -> None:
    a, b = by_image(x86), by_image(arm)
    if not c.same("read", "crops", sorted(a), sorted(b)):
        return
    for name in sorted(a):
        for key in ("text", "plate_format", "accepted"):
            c.same(f"read {name}", key, a[name][key], b[name][key])
        c.confidence(a[name]["confidence"], b[name]["confidence"])
    c.checked.append(f"read: {len(a)} crops")


def compare_events(c: Comparison, x86: list[dict], arm: list[dict]) -> None:
    # The daemon reports a track when it ends; order by track, which both sides number alike.
    a = sorted(x86, key=lambda e: e["track_id"])
    b = sorted(arm, key=lambda e: e["track_id"])
    if not c.same("run", "plates reported", [e["plate"] for e in a], [e["plate"] for e in b]):
        return
    for e, f in zip(a, b):
        where = f"run event {e['plate']}"
        for key in ("plate_format", "track_id"):
            c.same(where, key, e[key], f[key])
        # An event's box is that of the frame whose read won the vote, and a frame's read count
        # hangs on scores near a threshold: confidences a few thousandths apart between CPUs'
        # kernels pick another frame. The plate texts are the product; these are only shown.
        delta = max(abs(x - y) for x, y in zip(e["box"], f["box"]))
        if delta > BOX_TOLERANCE_PX or e["reads"] != f["reads"]:
            c.notes.append(f"{where}: reads x86 {e['reads']} vs arm64 {f['reads']}, best-frame box {delta:.1f} px apart")
    c.checked.append(f"run: {len(a)} events ({', '.join(e['plate'] for e in a) or 'none'})")


def compare_dirs(x86: Path, arm: Path, label: str) -> Comparison:
    c = Comparison(label)
    version_a = (x86 / "version.txt").read_text(encoding="utf-8").split()
    version_b = (arm / "version.txt").read_text(encoding="utf-8").split()
    c.same("version", "edge-alpr version output", version_a, version_b)
    c.checked.append(f"version: {' '.join(version_b[:2])}")
    compare_detect(c, read_jsonl(x86 / "detect.jsonl"), read_jsonl(arm / "detect.jsonl"))
    compare_read(c, read_jsonl(x86 / "read.jsonl"), read_jsonl(arm / "read.jsonl"))
    compare_events(c, read_jsonl(x86 / "events.jsonl"), read_jsonl(arm / "events.jsonl"))
    return c


def report(c: Comparison) -> str:
    lines = [f"x86 vs arm64 ({c.label}):"]
    lines += [f"  {line}" for line in c.checked]
    lines.append(f"  largest box difference {c.max_box_px:.1f} px (allowed {BOX_TOLERANCE_PX:g} px or "
                 f"{BOX_TOLERANCE_FRACTION:.0%} of the side); "
                 f"largest confidence difference {c.max_confidence_delta:.4f}")
    lines += [f"  allowed: {line}" for line in c.notes]
    if c.diffs:
        lines.append(f"  FAILED: {len(c.diffs)} difference(s):")
        lines += [f"    {line}" for line in c.diffs]
    else:
        lines.append("  same plates, same events")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    inputs = commands.add_parser("inputs", help="generate the stills, crops and clip")
    inputs.add_argument("out", type=Path)
    compare = commands.add_parser("compare", help="compare an arm64 run with the x86 one")
    compare.add_argument("x86", type=Path)
    compare.add_argument("arm64", type=Path)
    compare.add_argument("--label", default="arm64")
    args = parser.parse_args(argv)
    if args.command == "inputs":
        make_inputs(args.out)
        return 0
    try:
        result = compare_dirs(args.x86, args.arm64, args.label)
    except (OSError, ValueError, KeyError) as error:
        print(f"x86 vs arm64 ({args.label}): cannot compare: {error}", file=sys.stderr)
        return 2
    print(report(result))
    return 1 if result.diffs else 0


if __name__ == "__main__":
    sys.exit(main())
