"""Generated roadside videos with known plates, for demos, evaluation and tracker tests.

A static camera at the roadside looks down a two-lane road; vehicles (cars, auto-rickshaws,
trucks, motorcycles, drawn as front views) approach one after another, sometimes two at
once in different lanes, each carrying a rendered Indian plate. Between passes the road is
empty, so motion gating has frames to skip. The truth (plate text and its box in every
frame where it is fully visible) is written next to the video as JSON.

    python -m edge_alpr.synth.scenes OUT.mp4 [--seed N] [--vehicles N] [--size WxH] [--fps N]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge_alpr.synth import render
from edge_alpr.synth.degrade import degrade
from edge_alpr.synth.road import Camera, road_background
from edge_alpr.synth.vehicles import PLATES, Box, Vehicle, VehicleKind, draw_vehicle, plate_box, vehicle_box, vehicle_colours

# --- truth ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleTruth:
    """One vehicle's pass: its plate and the plate's box in every frame it is fully visible."""

    plate: str
    layout: Literal["one", "two"]
    kind: VehicleKind
    first_frame: int
    last_frame: int
    boxes: dict[int, Box] = field(default_factory=dict)  # frame index -> x1, y1, x2, y2

    def to_json(self) -> dict:
        return {
            "plate": self.plate,
            "layout": self.layout,
            "kind": self.kind,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "boxes": {str(f): [round(v, 1) for v in box] for f, box in sorted(self.boxes.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> VehicleTruth:
        return cls(
            plate=data["plate"],
            layout=data["layout"],
            kind=data.get("kind", "car"),
            first_frame=int(data["first_frame"]),
            last_frame=int(data["last_frame"]),
            boxes={int(f): tuple(float(v) for v in box) for f, box in data["boxes"].items()},  # type: ignore[misc]
        )


@dataclass(frozen=True)
class VideoTruth:
    """What a generated video shows: ``{"video", "fps", "size": [w, h], "frames", "vehicles": [...]}``."""

    video: str  # file name of the video, next to the JSON
    fps: float
    size: tuple[int, int]  # width, height
    frames: int
    vehicles: tuple[VehicleTruth, ...]

    def to_json(self) -> dict:
        return {
            "video": self.video,
            "fps": self.fps,
            "size": list(self.size),
            "frames": self.frames,
            "vehicles": [v.to_json() for v in self.vehicles],
        }

    @classmethod
    def from_json(cls, data: dict) -> VideoTruth:
        return cls(
            video=data["video"],
            fps=float(data["fps"]),
            size=(int(data["size"][0]), int(data["size"][1])),
            frames=int(data["frames"]),
            vehicles=tuple(VehicleTruth.from_json(v) for v in data["vehicles"]),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> VideoTruth:
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}: not a video truth file ({exc})") from exc


# --- the video ------------------------------------------------------------------------------


def _schedule(n: int, fps: float, seconds_per_vehicle: float, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """(start frame, length, lane) per vehicle: one after another with empty road between,
    and now and then two at once in different lanes."""
    out: list[tuple[int, int, int]] = []
    t = int(0.6 * fps)  # empty road at the start
    previous_lane = -1
    previous_start, previous_end = 0, 0
    for i in range(n):
        length = max(8, int(seconds_per_vehicle * fps * rng.uniform(0.85, 1.15)))
        together = i > 0 and rng.random() < 0.25
        if together:
            start = previous_start + int(rng.uniform(0.25, 0.6) * length)
            lane = 1 - previous_lane
        else:
            start = max(t, previous_end + int(rng.uniform(0.4, 1.2) * fps))
            lane = int(rng.integers(2))
        out.append((start, length, lane))
        previous_lane, previous_start = lane, start
        previous_end = max(previous_end, start + length)
        t = previous_end
    return out


def _kind(rng: np.random.Generator) -> VehicleKind:
    return str(rng.choice(["car", "motorcycle", "auto", "truck"], p=[0.55, 0.2, 0.15, 0.1]))  # type: ignore[return-value]


def _make_vehicles(
    texts: Sequence[str | None], fps: float, seconds_per_vehicle: float, rng: np.random.Generator,
    kinds: Sequence[VehicleKind] | None = None,
) -> list[Vehicle]:
    vehicles = []
    for i, (text, (start, length, lane)) in enumerate(zip(texts, _schedule(len(texts), fps, seconds_per_vehicle, rng))):
        kind = _kind(rng)  # drawn even when fixed, so a seed gives the same scene otherwise
        if kinds:
            kind = kinds[i % len(kinds)]
        layout = PLATES[kind][0]
        plate = render.render_plate(text, rng, layout=layout)
        image = degrade(plate.image, rng, strength=0.35, warp=False)
        # Lane centres are 1.3 m each side of the centre line; drivers keep a little inside them.
        lateral = (-1.0 if lane == 0 else 1.0) + float(rng.uniform(-0.15, 0.15))
        vehicles.append(Vehicle(kind, plate, image, lateral, start, length, vehicle_colours(kind, rng)))
    return vehicles


def make_video(
    path: str | Path,
    *,
    seed: int = 0,
    n_vehicles: int = 6,
    size: tuple[int, int] = (1280, 720),
    fps: float = 25.0,
    seconds_per_vehicle: float = 2.5,
    plates: list[str] | None = None,
    kinds: Sequence[VehicleKind] | None = None,
    min_seconds: float = 0.0,
) -> VideoTruth:
    """Write an MP4 (OpenCV, 'mp4v') of vehicles passing the camera and return its truth.

    The video lasts at least ``min_seconds``; with ``plates=[]`` and ``min_seconds`` it is an
    empty road (camera noise and exposure drift only), the scene where motion gating should
    leave the detector idle.

    ``plates`` fixes the plate texts (one vehicle each, overriding ``n_vehicles``);
    otherwise random valid plates are drawn. ``kinds`` fixes the vehicles, cycled (cars carry
    one-line plates, the others two-line); otherwise they come in rough road frequencies. The
    same seed gives the same video. The truth is not written; call ``.save()`` (the CLI writes
    it next to the video).
    """
    unknown = sorted(set(kinds or ()) - set(PLATES))
    if unknown:
        raise ValueError(f"make_video: unknown vehicle kinds {unknown}, expected some of {sorted(PLATES)}")
    width, height = size
    if width < 160 or height < 90:
        raise ValueError(f"make_video: size must be at least 160x90, got {width}x{height}")
    if fps <= 0 or seconds_per_vehicle <= 0:
        raise ValueError(f"make_video: fps and seconds_per_vehicle must be positive, got {fps} and {seconds_per_vehicle}")
    texts: list[str | None] = list(plates) if plates is not None else [None] * n_vehicles
    if not texts and min_seconds <= 0:
        raise ValueError("make_video: needs at least one vehicle, or min_seconds for an empty road")
    rng = np.random.default_rng(seed)
    cam = Camera.for_size(width, height)
    background, _ = road_background(cam, rng)
    vehicles = _make_vehicles(texts, fps, seconds_per_vehicle, rng, kinds)
    n_frames = max([v.start + v.length for v in vehicles] + [0]) + int(0.6 * fps)
    n_frames = max(n_frames, round(min_seconds * fps))
    boxes: list[dict[int, Box]] = [{} for _ in vehicles]
    # Camera noise: a few pre-drawn patterns, cycled, cost nothing per frame.
    noise = [rng.normal(0, 2.5, (height, width, 3)).astype(np.int16) for _ in range(3)]
    drift = rng.uniform(0, 2 * np.pi)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write an mp4v video here")
    try:
        for index in range(n_frames):
            gain = 1.0 + 0.04 * np.sin(drift + index / fps * 0.5)  # clouds, auto-exposure hunting
            frame = cv2.convertScaleAbs(background, alpha=gain)
            active = [(v.scale(index, cam), i, v) for i, v in enumerate(vehicles)]
            drawn: list[tuple[int, int, int, int]] = []
            for k, i, v in sorted((a for a in active if a[0] is not None), key=lambda a: a[0]):  # far first
                fade = min(1.0, (index - v.start + 1) / 4.0)  # emerging from the haze
                draw_vehicle(frame, v, k, cam, fade)
                drawn.append(vehicle_box(v, k, cam))
                box = plate_box(v, k, cam)
                if _fully_inside(box, width, height):
                    boxes[i][index] = box
            _drop_occluded(boxes, vehicles, active, cam, index)
            frame = np.clip(frame.astype(np.int16) + noise[index % 3], 0, 255).astype(np.uint8)
            writer.write(frame)
    finally:
        writer.release()
    check_video(path, n_frames, size)
    truths = tuple(
        VehicleTruth(v.plate.text, v.plate.layout, v.kind, min(b), max(b), b)
        for v, b in zip(vehicles, boxes)
        if b
    )
    return VideoTruth(path.name, float(fps), (width, height), n_frames, truths)


def _fully_inside(box: Box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= width - 1 and y2 <= height - 1


def _drop_occluded(boxes: list[dict[int, Box]], vehicles: list[Vehicle], active: list, cam: Camera, index: int) -> None:
    """A plate hidden behind a nearer vehicle is not in the truth for that frame."""
    for k, i, _ in active:
        if k is None or index not in boxes[i]:
            continue
        x1, y1, x2, y2 = boxes[i][index]
        for k_other, j, other in active:
            if k_other is None or j == i or k_other <= k:
                continue
            ox1, oy1, ox2, oy2 = vehicle_box(other, k_other, cam)
            if x1 < ox2 and ox1 < x2 and y1 < oy2 and oy1 < y2:
                del boxes[i][index]
                break


def check_video(path: Path, n_frames: int, size: tuple[int, int]) -> None:
    """Reopen the written video: a truth file is worthless if the file has other frames or size."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise OSError(f"{path}: the written video does not reopen with OpenCV")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        got = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()
    if count != n_frames or got != tuple(size):
        raise OSError(
            f"{path}: wrote {n_frames} frames of {size[0]}x{size[1]} but it reopens as {count} frames of {got[0]}x{got[1]}"
        )


# --- command line ---------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    """argparse type for WxH sizes such as 1280x720."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_alpr.synth.scenes", description="Write a generated roadside video and its truth JSON."
    )
    parser.add_argument("out", type=Path, help="the MP4 to write; the truth goes next to it as .json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vehicles", type=int, default=6, help="number of vehicles (default 6)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH (default 1280x720)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--seconds-per-vehicle", type=float, default=2.5, help="how long a pass takes (default 2.5)")
    parser.add_argument("--plates", nargs="+", help="plate texts to use, one vehicle each (overrides --vehicles)")
    args = parser.parse_args(argv)
    try:
        truth = make_video(
            args.out, seed=args.seed, n_vehicles=args.vehicles, size=args.size, fps=args.fps,
            seconds_per_vehicle=args.seconds_per_vehicle, plates=args.plates,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    truth_path = args.out.with_suffix(".json")
    truth.save(truth_path)
    plates_seen = " ".join(v.plate for v in truth.vehicles)
    print(f"wrote {args.out} ({truth.frames} frames, {len(truth.vehicles)} vehicles: {plates_seen}) and {truth_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
