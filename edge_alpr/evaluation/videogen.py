"""Evaluation videos made from the real validation photos, with truth files.

Each chosen photo becomes a clip of 1-3 s in which its vehicle approaches a roadside camera:
the whole photo starts small and far (its plate some 24-40 px wide in a 1280x720 frame) over a
blurred, plate-less version of itself, then grows at constant approach speed (so the plate
width grows as ``1 / distance``), drifts down and to the side, and turns slightly (a changing
keystone and roll). Each frame gets motion blur along the plate's movement, sensor noise and
JPEG compression; the clip is written with OpenCV's ``mp4v``. Empty background frames separate
the vehicles, so every pass is its own track and motion gating has quiet frames to skip.

The truth is ``edge_alpr.synth.scenes.VideoTruth``: per vehicle the plate text, layout, first
and last frame, and the plate's box in every frame where it is fully inside the frame.

Only photos the detector is validated on (``training.detector_data.is_val``) with one plate of
known text are used, so the figures come from plates neither model trained on. The videos
derive from third-party photos: build them on demand into a folder of your own, never commit
them.

    python -m edge_alpr.evaluation.videogen --datasets ../shared/datasets --out runs/eval-videos \
        [--vehicles 12] [--seed 0] [--sets in_olx_scenes in_twowheelers ...]

writes ``OUT/real_val.mp4`` + ``OUT/real_val.json`` and a generated scene
(``synth.scenes.make_video``) as ``OUT/synth_scene.mp4`` + ``.json``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.errors import EdgeAlprError, InputError
from edge_alpr.evaluation.approach import ClipPlan, inside, photo_to_frame, plan_clip, project_box
from edge_alpr.evaluation.photo_drawing import SHUTTER, PhotoPyramid, draw_vehicle, finish_frame, make_background
from edge_alpr.evaluation.photos import REAL_SETS, PlatePhoto, choose_photos, load_photo, validation_photos
from edge_alpr.synth.scenes import VehicleTruth, VideoTruth, check_video, parse_size
from edge_alpr.synth.vehicles import Box

_NOISE_SIGMA = (1.5, 3.5)


# --- the video ------------------------------------------------------------------------------


def make_real_video(
    photos: Sequence[PlatePhoto],
    path: str | Path,
    *,
    seed: int = 0,
    size: tuple[int, int] = (1280, 720),
    fps: float = 25.0,
    clip_seconds: tuple[float, float] = (1.0, 3.0),
    gap_seconds: tuple[float, float] = (0.6, 1.5),
    exposure_us: float | None = None,
) -> VideoTruth:
    """Write an ``mp4v`` video with one approach per photo, empty background between them, and
    return its truth (not saved; call ``.save()``). The same photos and seed give the same video.
    ``exposure_us`` is the camera's shutter time (the daemon's ``source.exposure_us``), which sets
    the motion blur; by default the shutter is open ``photo_drawing.SHUTTER`` of each frame."""
    width, height = size
    if width < 64 or height < 36:
        raise ValueError(f"make_real_video: size must be at least 64x36, got {width}x{height}")
    if not photos:
        raise ValueError("make_real_video: needs at least one photo")
    if fps <= 0 or not 0 < clip_seconds[0] <= clip_seconds[1] or not 0 <= gap_seconds[0] <= gap_seconds[1]:
        raise ValueError(f"make_real_video: fps must be positive and the second ranges ordered, got fps {fps}, "
                         f"clip_seconds {clip_seconds}, gap_seconds {gap_seconds}")
    shutter = SHUTTER if exposure_us is None else exposure_us * 1e-6 * fps
    if not 0 < shutter <= 1:
        raise ValueError(f"make_real_video: exposure_us must be positive and at most one frame ({1e6 / fps:.0f} us "
                         f"at {fps:g} fps), got {exposure_us}")
    rng = np.random.default_rng(seed)
    sigma = float(rng.uniform(*_NOISE_SIGMA))
    # A few noise patterns, cycled: fresh noise per frame would cost more than the rest.
    noise = [rng.normal(0, sigma, (height, width, 3)).astype(np.float32) for _ in range(4)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write an mp4v video here")
    vehicles: list[VehicleTruth] = []
    index = 0
    try:
        for photo in photos:
            plan = plan_clip(photo, size, fps, clip_seconds, rng)
            background = make_background(photo, size)
            for _ in range(max(1, round(float(rng.uniform(*gap_seconds)) * fps))):
                writer.write(finish_frame(background.copy(), noise[index % len(noise)], plan.jpeg_quality))
                index += 1
            boxes = _write_clip(writer, photo, plan, background, noise, index, size, shutter)
            if boxes:
                vehicles.append(VehicleTruth(photo.text, photo.layout, photo.kind, min(boxes), max(boxes), boxes))
            index += plan.frames
        for _ in range(max(1, round(gap_seconds[0] * fps))):  # the last vehicle's track ends on screen
            writer.write(finish_frame(background.copy(), noise[index % len(noise)], plan.jpeg_quality))
            index += 1
    finally:
        writer.release()
    check_video(path, index, size)
    return VideoTruth(path.name, float(fps), (width, height), index, tuple(vehicles))


def plate_step(plan: ClipPlan, i: int) -> tuple[float, float]:
    """The plate centre's move (px) over frame ``i``, which sets its motion blur: the step into
    the next frame, and for the last frame the step that led into it. A vehicle does not stop
    for the clip's last frame, so that frame must be no sharper than the ones before it."""
    a, b = (i, i + 1) if i + 1 < plan.frames else (max(0, i - 1), i)
    (x0, y0), (x1, y1) = plan.centre(a), plan.centre(b)
    return x1 - x0, y1 - y0


def _write_clip(writer: cv2.VideoWriter, photo: PlatePhoto, plan: ClipPlan, background: np.ndarray,
                noise: list[np.ndarray], first_index: int, size: tuple[int, int], shutter: float) -> dict[int, Box]:
    """Write one pass; returns the plate box per frame index where it is fully inside the frame."""
    pyramid = PhotoPyramid(photo.image)
    boxes: dict[int, Box] = {}
    for i in range(plan.frames):
        homography = photo_to_frame(photo, plan, i)
        frame = background.copy()
        scale = plan.plate_width(i) / max(photo.box[2] - photo.box[0], 1.0)
        draw_vehicle(frame, pyramid, homography, scale, plate_step(plan, i), shutter)
        index = first_index + i
        writer.write(finish_frame(frame, noise[index % len(noise)], plan.jpeg_quality))
        box = project_box(photo.box, homography)
        if inside(box, size):
            boxes[index] = box
    return boxes


# --- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edge_alpr.evaluation.videogen",
        description="Build evaluation videos with truth files: vehicles approaching, made from the real "
        "validation photos (never commit these: they derive from third-party photos), and a generated scene.")
    parser.add_argument("--datasets", required=True, type=Path, metavar="DIR", help="the shared datasets folder")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="where the videos and truth files go")
    parser.add_argument("--vehicles", type=int, default=12, help="vehicles per video (default 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", nargs="+", choices=REAL_SETS, default=list(REAL_SETS),
                        help="datasets to take photos from (default all; in_twowheelers and in_odisha_traffic "
                        "give two-line plates)")
    parser.add_argument("--name", default="real_val", help="file name of the real-photo video, without .mp4 (default real_val)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH (default 1280x720)")
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--exposure-us", type=float, metavar="US",
                        help="the camera's shutter time, which sets the motion blur (default: open 0.3 of each frame, "
                             "12000 us at 25 fps, as auto exposure in dull light; 1500 is a short daylight shutter). "
                             "The noise of the gain a short shutter needs is not added")
    parser.add_argument("--no-synth", action="store_true", help="skip the generated scene")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.vehicles < 1:
        print(f"error: --vehicles must be at least 1, got {args.vehicles}", file=sys.stderr)
        return 2
    try:
        rng = np.random.default_rng(args.seed)
        refs = choose_photos(validation_photos(args.datasets, args.sets), args.vehicles, rng)
        if not refs:
            raise InputError(f"{args.datasets}: no validation photos with one labelled plate in {', '.join(args.sets)}")
        video = args.out / f"{args.name}.mp4"
        truth = make_real_video([load_photo(r) for r in refs], video, seed=args.seed, size=args.size, fps=args.fps,
                                exposure_us=args.exposure_us)
        truth.save(video.with_suffix(".json"))
        print(f"wrote {video} ({truth.frames} frames, {len(truth.vehicles)} vehicles from "
              f"{', '.join(sorted({r.dataset for r in refs}))}) and {video.with_suffix('.json')}")
        if not args.no_synth:
            from edge_alpr.synth.scenes import make_video

            synth = args.out / "synth_scene.mp4"
            synth_truth = make_video(synth, seed=args.seed, n_vehicles=args.vehicles, size=args.size, fps=args.fps)
            synth_truth.save(synth.with_suffix(".json"))
            print(f"wrote {synth} ({synth_truth.frames} frames, {len(synth_truth.vehicles)} vehicles) "
                  f"and {synth.with_suffix('.json')}")
    except EdgeAlprError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
