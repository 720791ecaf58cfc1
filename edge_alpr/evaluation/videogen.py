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
        [--vehicles 12] [--seed 0] [--sets in_olx_scenes ...]

writes ``OUT/real_val.mp4`` + ``OUT/real_val.json`` and a generated scene
(``synth.scenes.make_video``) as ``OUT/synth_scene.mp4`` + ``.json``.
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.manifest import load_manifest, normalise_plate_text
from edge_alpr.errors import EdgeAlprError, InputError
from edge_alpr.evaluation.buckets import Layout, plate_layout
from edge_alpr.synth.scenes import VehicleTruth, VideoTruth, check_video, parse_size
from edge_alpr.synth.vehicles import Box

#: Datasets whose validation photos have plate texts (openlpr has none).
REAL_SETS = ("openalpr_us", "openalpr_br", "in_olx_scenes")

# Plate widths in frame pixels for a 1280 px wide frame (scaled with the frame width): where a
# pass starts (far) and ends (close). A plate is never blown up more than _MAX_UPSCALE times
# its size in the photo: beyond that it is a blur no real camera would deliver.
_START_WIDTH_PX = (24.0, 40.0)
_END_WIDTH_PX = (110.0, 170.0)
_MAX_UPSCALE = 2.0
# The shutter is open for about this share of a frame: the length of the motion blur.
_SHUTTER = 0.3
_MAX_BLUR_PX = 11
# Keystone strength (change of scale across one plate width) and roll in degrees.
_YAW_START = (0.02, 0.08)
_YAW_END = (0.06, 0.15)
_ROLL_DEG = 3.0
_NOISE_SIGMA = (1.5, 3.5)
_JPEG_QUALITY = (45, 85)


# --- choosing photos ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoRef:
    """A validation photo with one plate of known text, not yet loaded."""

    image: Path
    size: tuple[int, int]  # width, height as the manifest gives them
    box: Box
    text: str
    layout: Layout
    dataset: str


@dataclass(frozen=True)
class PlatePhoto:
    """A loaded photo and its plate."""

    image: np.ndarray  # BGR uint8
    box: Box
    text: str
    layout: Layout


def validation_photos(datasets_dir: Path, sets: Sequence[str] = REAL_SETS) -> list[PhotoRef]:
    """The photos of ``sets`` in the detector's validation split that show exactly one plate,
    with its text. (A second, unlabelled plate would make a correct reading look like a false
    event.)"""
    from edge_alpr.training.detector_data import is_val, reader_val_texts  # no torch needed

    held_out = reader_val_texts(datasets_dir)
    refs = []
    for name in sets:
        manifest = datasets_dir / name / "manifest.jsonl"
        if not manifest.is_file():
            raise InputError(f"{manifest}: not found (expected the shared datasets layout DIR/{name}/manifest.jsonl)")
        for row in load_manifest(manifest):
            if len(row.plates) != 1 or not row.plates[0].text or not is_val(row, name, held_out):
                continue
            plate = row.plates[0]
            refs.append(PhotoRef(row.image, (row.width, row.height), plate.box,
                                 normalise_plate_text(plate.text), plate_layout(plate), name))
    return refs


def choose_photos(refs: Sequence[PhotoRef], n: int, rng: np.random.Generator) -> list[PhotoRef]:
    """``n`` photos taken in turn from each dataset (shuffled), so a large set does not crowd
    out a small one. Fewer when there are fewer; a plate text appears at most once, because the
    daemon reports a plate seen twice within its duplicate window only once."""
    by_set: dict[str, list[PhotoRef]] = defaultdict(list)
    for ref in refs:
        by_set[ref.dataset].append(ref)
    queues = []
    for name in sorted(by_set):
        group = by_set[name]
        queues.append([group[i] for i in rng.permutation(len(group))])
    chosen: list[PhotoRef] = []
    texts: set[str] = set()
    while len(chosen) < n and any(queues):
        for queue in queues:
            while queue and len(chosen) < n:
                ref = queue.pop(0)
                if ref.text not in texts:
                    chosen.append(ref)
                    texts.add(ref.text)
                    break
    return chosen


def load_photo(ref: PhotoRef) -> PlatePhoto:
    image = cv2.imread(str(ref.image), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{ref.image}: missing or not a readable image")
    if (image.shape[1], image.shape[0]) != ref.size:
        raise InputError(f"{ref.image}: is {image.shape[1]}x{image.shape[0]} but its manifest says "
                         f"{ref.size[0]}x{ref.size[1]}, so the plate box would be wrong")
    return PlatePhoto(image, ref.box, ref.text, ref.layout)


# --- one vehicle's pass ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClipPlan:
    """How one vehicle approaches: plate width and centre in frame pixels at the first and last
    frame, and the keystone/roll of the plate at both ends. In between, the plate width follows
    a constant approach speed and everything else follows the plate width."""

    frames: int
    start_width: float
    end_width: float
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]
    yaw: tuple[float, float]  # keystone: change of scale across one plate width, start and end
    roll_deg: tuple[float, float]
    jpeg_quality: int

    def plate_width(self, i: int) -> float:
        """Constant speed: distance (∝ 1 / width) falls linearly with time."""
        u = i / max(1, self.frames - 1)
        return 1.0 / ((1.0 - u) / self.start_width + u / self.end_width)

    def closeness(self, i: int) -> float:
        """0 at the start of the pass, 1 at its end, in step with the plate's growth."""
        span = self.end_width - self.start_width
        return (self.plate_width(i) - self.start_width) / span if span > 0 else 1.0

    def centre(self, i: int) -> tuple[float, float]:
        c = self.closeness(i)
        (x0, y0), (x1, y1) = self.start_centre, self.end_centre
        return x0 + c * (x1 - x0), y0 + c * (y1 - y0)


def plan_clip(photo: PlatePhoto, size: tuple[int, int], fps: float, clip_seconds: tuple[float, float],
              rng: np.random.Generator) -> ClipPlan:
    width, height = size
    k = width / 1280.0
    plate_w = photo.box[2] - photo.box[0]
    start = float(rng.uniform(*_START_WIDTH_PX)) * k
    end = max(min(float(rng.uniform(*_END_WIDTH_PX)) * k, _MAX_UPSCALE * plate_w), 1.5 * start)
    side = 1.0 if rng.random() < 0.5 else -1.0  # which lane: the plate drifts to that side
    frames = max(2, round(float(rng.uniform(*clip_seconds)) * fps))
    roll = float(rng.uniform(-_ROLL_DEG, _ROLL_DEG))
    return ClipPlan(
        frames=frames,
        start_width=start,
        end_width=end,
        start_centre=(width * (0.5 + side * rng.uniform(0.02, 0.12)), height * rng.uniform(0.38, 0.48)),
        end_centre=(width * (0.5 + side * rng.uniform(0.15, 0.28)), height * rng.uniform(0.62, 0.74)),
        yaw=(side * float(rng.uniform(*_YAW_START)), side * float(rng.uniform(*_YAW_END))),
        roll_deg=(roll, roll + float(rng.uniform(-2.0, 2.0))),
        jpeg_quality=int(rng.integers(*_JPEG_QUALITY)),
    )


def photo_to_frame(photo: PlatePhoto, plan: ClipPlan, i: int) -> np.ndarray:
    """The 3x3 homography from photo pixels to frame pixels in frame ``i`` of the pass: about
    the plate's centre, a keystone (perspective), then scale, roll and the move into place."""
    x1, y1, x2, y2 = photo.box
    pcx, pcy, plate_w = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1
    c = plan.closeness(i)
    yaw = plan.yaw[0] + c * (plan.yaw[1] - plan.yaw[0])
    h, w = photo.image.shape[:2]
    # The keystone divides by 1 + g x; keeping |g x| <= 0.5 over the whole photo keeps every
    # pixel in front of the camera however far the photo reaches beyond its plate.
    reach = max(pcx, w - pcx, 1.0)
    g = float(np.clip(yaw / max(plate_w, 1.0), -0.5 / reach, 0.5 / reach))
    keystone = np.array([[1, 0, 0], [0, 1, 0], [g, 0, 1]], dtype=np.float64)
    scale = plan.plate_width(i) / max(plate_w, 1.0)
    angle = math.radians(plan.roll_deg[0] + c * (plan.roll_deg[1] - plan.roll_deg[0]))
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    similarity = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], dtype=np.float64)
    cx, cy = plan.centre(i)
    return _translation(cx, cy) @ similarity @ keystone @ _translation(-pcx, -pcy)


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)


def project_box(box: Box, homography: np.ndarray) -> Box:
    """The axis-aligned box around a photo box's four corners after ``homography``."""
    x1, y1, x2, y2 = box
    corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], dtype=np.float64)
    out = cv2.perspectiveTransform(corners, homography)[0]
    return float(out[:, 0].min()), float(out[:, 1].min()), float(out[:, 0].max()), float(out[:, 1].max())


def inside(box: Box, size: tuple[int, int]) -> bool:
    x1, y1, x2, y2 = box
    return x1 >= 0 and y1 >= 0 and x2 <= size[0] - 1 and y2 <= size[1] - 1


# --- drawing --------------------------------------------------------------------------------


class _PhotoPyramid:
    """The photo and a feathered alpha mask at halving resolutions. A warp that shrinks by more
    than 2x starts from the level just above the target size, or it would alias."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        alpha = _feathered_mask(image.shape[:2])
        level = image.astype(np.float32)
        while True:
            self.levels.append((level, alpha))
            if min(level.shape[:2]) < 32:
                break
            level, alpha = cv2.pyrDown(level), cv2.pyrDown(alpha)

    def for_scale(self, scale: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(image, alpha, factor): the level whose pixels are ``factor`` photo pixels each."""
        index = 0
        while index + 1 < len(self.levels) and 0.5 ** (index + 1) >= scale:
            index += 1
        image, alpha = self.levels[index]
        return image, alpha, 2.0 ** index


def _feathered_mask(shape: tuple[int, int]) -> np.ndarray:
    """1 inside, falling to 0 over the outer 4 % of the photo: no hard edge around the vehicle."""
    h, w = shape
    ramp = max(2.0, 0.04 * min(h, w))
    ys = np.minimum(np.arange(h), np.arange(h)[::-1])[:, None] / ramp
    xs = np.minimum(np.arange(w), np.arange(w)[::-1])[None, :] / ramp
    return np.clip(np.minimum(ys, xs), 0.0, 1.0).astype(np.float32)


def make_background(photo: PlatePhoto, size: tuple[int, int]) -> np.ndarray:
    """The scene behind the approaching vehicle: the photo with its plate painted out, blown up
    to cover the frame and heavily blurred (float32 BGR)."""
    width, height = size
    image = photo.image
    shrink = min(1.0, 256.0 / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    x1, y1, x2, y2 = (v * shrink for v in photo.box)
    pad = max(2.0, 0.3 * (y2 - y1))  # the plate's frame and screws too
    cv2.rectangle(mask, (int(x1 - pad), int(y1 - pad)), (int(math.ceil(x2 + pad)), int(math.ceil(y2 + pad))), 255, -1)
    small = cv2.inpaint(small, mask, 5, cv2.INPAINT_TELEA)
    # Cover the frame's aspect (crop the excess), blur at low resolution, then enlarge.
    h, w = small.shape[:2]
    cover = max(width / w, height / h)
    cw, ch = min(w, round(width / cover)), min(h, round(height / cover))
    ox, oy = (w - cw) // 2, (h - ch) // 2
    small = cv2.resize(small[oy:oy + ch, ox:ox + cw], (max(8, width // 8), max(8, height // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.5)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)


def _motion_kernel(dx: float, dy: float) -> np.ndarray | None:
    """A line kernel along the plate's movement during the shutter time; None when under 2 px."""
    length = min(_MAX_BLUR_PX, int(round(_SHUTTER * math.hypot(dx, dy))))
    if length < 2:
        return None
    size = length | 1
    kernel = np.zeros((size, size), np.float32)
    norm = math.hypot(dx, dy)
    half = (length - 1) / 2
    centre = size // 2
    ex, ey = dx / norm * half, dy / norm * half
    cv2.line(kernel, (round(centre - ex), round(centre - ey)), (round(centre + ex), round(centre + ey)), 1.0, 1)
    return kernel / kernel.sum()


def draw_vehicle(frame: np.ndarray, pyramid: _PhotoPyramid, homography: np.ndarray, scale: float,
                 motion: tuple[float, float]) -> None:
    """Warp the photo into ``frame`` (float32, in place) with its feathered edge, blurred along
    ``motion`` (px per frame). ``scale`` is frame pixels per photo pixel at the plate. Only the
    part of the frame the photo covers is touched."""
    image, alpha, factor = pyramid.for_scale(scale)
    level_to_frame = homography @ np.diag([factor, factor, 1.0])
    h, w = image.shape[:2]
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float64), level_to_frame)[0]
    pad = _MAX_BLUR_PX
    fx0, fy0 = np.floor(corners.min(axis=0)).astype(int) - pad
    fx1, fy1 = np.ceil(corners.max(axis=0)).astype(int) + pad
    x0, y0 = max(0, fx0), max(0, fy0)
    x1, y1 = min(frame.shape[1], fx1), min(frame.shape[0], fy1)
    if x1 <= x0 or y1 <= y0:
        return
    to_roi = _translation(-x0, -y0) @ level_to_frame
    roi_size = (x1 - x0, y1 - y0)
    layer = cv2.warpPerspective(image, to_roi, roi_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cover = cv2.warpPerspective(alpha, to_roi, roi_size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    kernel = _motion_kernel(*motion)
    if kernel is not None:
        layer = cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REPLICATE)
        cover = cv2.filter2D(cover, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    roi = frame[y0:y1, x0:x1]
    roi *= 1.0 - cover[..., None]
    roi += layer * cover[..., None]


def _finish(frame: np.ndarray, noise: np.ndarray, jpeg_quality: int) -> np.ndarray:
    """Sensor noise, then the camera's JPEG compression (the video codec compresses again)."""
    out = np.clip(frame + noise, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out


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
) -> VideoTruth:
    """Write an ``mp4v`` video with one approach per photo, empty background between them, and
    return its truth (not saved; call ``.save()``). The same photos and seed give the same video."""
    width, height = size
    if width < 64 or height < 36:
        raise ValueError(f"make_real_video: size must be at least 64x36, got {width}x{height}")
    if not photos:
        raise ValueError("make_real_video: needs at least one photo")
    if fps <= 0 or not 0 < clip_seconds[0] <= clip_seconds[1] or not 0 <= gap_seconds[0] <= gap_seconds[1]:
        raise ValueError(f"make_real_video: fps must be positive and the second ranges ordered, got fps {fps}, "
                         f"clip_seconds {clip_seconds}, gap_seconds {gap_seconds}")
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
                writer.write(_finish(background.copy(), noise[index % len(noise)], plan.jpeg_quality))
                index += 1
            boxes = _write_clip(writer, photo, plan, background, noise, index, size)
            if boxes:
                vehicles.append(VehicleTruth(photo.text, photo.layout, "car", min(boxes), max(boxes), boxes))
            index += plan.frames
        for _ in range(max(1, round(gap_seconds[0] * fps))):  # the last vehicle's track ends on screen
            writer.write(_finish(background.copy(), noise[index % len(noise)], plan.jpeg_quality))
            index += 1
    finally:
        writer.release()
    check_video(path, index, size)
    return VideoTruth(path.name, float(fps), (width, height), index, tuple(vehicles))


def _write_clip(writer: cv2.VideoWriter, photo: PlatePhoto, plan: ClipPlan, background: np.ndarray,
                noise: list[np.ndarray], first_index: int, size: tuple[int, int]) -> dict[int, Box]:
    """Write one pass; returns the plate box per frame index where it is fully inside the frame."""
    pyramid = _PhotoPyramid(photo.image)
    boxes: dict[int, Box] = {}
    for i in range(plan.frames):
        homography = photo_to_frame(photo, plan, i)
        (cx, cy), (nx, ny) = plan.centre(i), plan.centre(min(i + 1, plan.frames - 1))
        frame = background.copy()
        scale = plan.plate_width(i) / max(photo.box[2] - photo.box[0], 1.0)
        draw_vehicle(frame, pyramid, homography, scale, (nx - cx, ny - cy))
        index = first_index + i
        writer.write(_finish(frame, noise[index % len(noise)], plan.jpeg_quality))
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
                        help="datasets to take photos from (default all three; in_olx_scenes alone gives Indian plates only)")
    parser.add_argument("--name", default="real_val", help="file name of the real-photo video, without .mp4 (default real_val)")
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH (default 1280x720)")
    parser.add_argument("--fps", type=float, default=25.0)
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
        truth = make_real_video([load_photo(r) for r in refs], video, seed=args.seed, size=args.size, fps=args.fps)
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
