"""Detector training data: the real photos, a fixed validation split, and augmentation
(mosaic, scale down to far plates, tile-like crops, colour, blur, JPEG, noise) with rendered
Indian plates pasted over real plates and at plausible places in other photos."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_alpr.datasets.kept import apply_kept
from edge_alpr.datasets.manifest import ManifestRow, load_manifest
from edge_alpr.detector import PAD_VALUE, letterbox

log = logging.getLogger(__name__)

#: Detector datasets under ../shared/datasets and how their validation split is chosen.
DETECTOR_SETS = ("openlpr", "openalpr_us", "openalpr_br", "in_olx_scenes", "in_twowheelers", "in_odisha_traffic")
#: Training repeats for the small sets of two-wheelers, autos and trucks (two-line and square
#: plates), which would otherwise be ~5 % of the photos beside openlpr's cars.
SET_REPEAT = {"in_twowheelers": 3, "in_odisha_traffic": 3}
VAL_FRACTION = 0.2
MAX_SIDE = 800  # photos are kept in memory at most this large


def is_val(row: ManifestRow, dataset: str, held_out_texts: frozenset[str] = frozenset()) -> bool:
    """The fixed validation split: the manifest's own (openlpr) or the one the project's kept
    labels fix per source image (``datasets.kept``), else a stable 20 % by file-name hash. Plates
    whose text is in the reader's validation crops are held out too, so neither model trains on
    a plate the other is validated on."""
    if row.split in ("train", "val"):
        return row.split == "val"
    if any(p.text and p.text in held_out_texts for p in row.plates):
        return True
    digest = hashlib.sha1(f"{dataset}/{row.image.name}".encode()).digest()
    return digest[0] / 256.0 < VAL_FRACTION


def reader_val_texts(datasets_dir: Path) -> frozenset[str]:
    labels = datasets_dir / "in_plates" / "labels.jsonl"
    if not labels.is_file():
        return frozenset()
    rows = [json.loads(line) for line in labels.read_text().splitlines() if line.strip()]
    return frozenset(r["text"] for r in rows if r.get("split") == "val" and r.get("text"))


def detector_rows(datasets_dir: Path, name: str) -> list[ManifestRow]:
    """A detector set's manifest rows with the project's kept labels applied (their split above all)."""
    manifest = datasets_dir / name / "manifest.jsonl"
    return apply_kept(load_manifest(manifest), manifest)


@dataclass
class Sample:
    image: np.ndarray  # BGR uint8
    boxes: np.ndarray  # (N, 4) float32 x1y1x2y2 in this image's pixels
    source: str


def load_split(datasets_dir: Path, extra: list[tuple[Path, float]] = ()) -> tuple[list[Sample], list[Sample], dict]:
    """Load the real photos into memory as (train, val, summary). ``extra`` adds a site's own
    manifests (all training) with a repeat weight."""
    held = reader_val_texts(datasets_dir)
    train, val = [], []
    counts: dict[str, dict[str, int]] = {}
    sources = [(datasets_dir / name / "manifest.jsonl", name, 1.0) for name in DETECTOR_SETS]
    sources += [(Path(p), Path(p).parent.name, w) for p, w in extra]
    for manifest, name, weight in sources:
        if not manifest.is_file():
            log.warning("%s missing, skipped", manifest)
            continue
        c = counts.setdefault(name, {"train": 0, "val": 0})
        for row in apply_kept(load_manifest(manifest), manifest):
            image = cv2.imread(str(row.image))
            if image is None:
                log.warning("%s: unreadable image, skipped", row.image)
                continue
            boxes = np.array([p.outline for p in row.plates], np.float32).reshape(-1, 4)
            scale = MAX_SIDE / max(image.shape[:2])
            if scale < 1:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                boxes *= scale
            sample = Sample(image, boxes, name)
            if weight == 1.0 and name in DETECTOR_SETS and is_val(row, name, held):
                val.append(sample)
                c["val"] += 1
            else:
                repeat = max(1, round(weight)) * SET_REPEAT.get(name, 1)
                train.extend([sample] * repeat)
                c["train"] += repeat
    return _drop_val_duplicates(train, val, counts), val, counts


def scene_samples(n_videos: int, seed: int, every: int = 3, work_dir: Path | None = None) -> list[Sample]:
    """Frames of generated roadside videos (synth.scenes) with their plate boxes: whole
    vehicles approaching, plates from far to near. Training only, never validation."""
    import tempfile

    from edge_alpr.synth.scenes import make_video

    out: list[Sample] = []
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for k in range(n_videos):
            path = Path(tmp) / f"scene{k}.mp4"
            truth = make_video(path, seed=seed + 1000 + k, n_vehicles=8)
            cap = cv2.VideoCapture(str(path))
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if index % every == 0:
                    boxes = [v.boxes[index] for v in truth.vehicles if index in v.boxes]
                    scale = MAX_SIDE / max(frame.shape[:2])
                    frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                    out.append(Sample(frame, np.array(boxes, np.float32).reshape(-1, 4) * scale, "synthetic_scenes"))
                index += 1
            cap.release()
    return out


def _drop_val_duplicates(train: list[Sample], val: list[Sample], counts: dict) -> list[Sample]:
    """openlpr's train split repeats some of its val photos: training on them would flatter the
    validation figures, so a training photo whose perceptual hash matches a val photo goes."""
    from edge_alpr.datasets.check import numpy_dhash

    val_hashes = {numpy_dhash(s.image) for s in val}
    kept = [s for s in train if numpy_dhash(s.image) not in val_hashes]
    counts["train_dropped_as_val_duplicates"] = len(train) - len(kept)
    return kept


class PlateBank:
    """Rendered, degraded Indian plates made once and reused, so augmentation stays cheap."""

    def __init__(self, n: int, seed: int):
        from edge_alpr.synth.degrade import degrade
        from edge_alpr.synth.render import render_plate
        from edge_alpr.synth.texts import random_plate_text

        rng = np.random.default_rng(seed)
        self.plates: list[np.ndarray] = []
        for _ in range(n):
            plate = render_plate(random_plate_text(rng), rng)
            self.plates.append(degrade(plate.image, rng, strength=0.6, warp=False))

    def pick(self, rng: np.random.Generator) -> np.ndarray:
        return self.plates[int(rng.integers(len(self.plates)))]


def _quad_for(box: np.ndarray, plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A quadrilateral around ``box``, grown to cover the original plate, with the rendered
    plate's aspect ratio and a little keystone."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    aspect = plate.shape[1] / plate.shape[0]
    h = max(y2 - y1, (x2 - x1) / aspect) * rng.uniform(1.0, 1.15)
    w = h * aspect
    jit = rng.normal(0, 0.03, (4, 2)) * [w, h]
    quad = np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]])
    return (quad + jit).astype(np.float32)


def paste_indian_plates(sample: Sample, bank: PlateBank, rng: np.random.Generator, p_replace: float, p_add: float) -> Sample:
    """Cover real plates with rendered Indian ones and add some at plausible places."""
    from edge_alpr.synth.paste import warp_plate_into

    image, boxes = sample.image, [b for b in sample.boxes]
    out_boxes = []
    for box in boxes:
        if rng.random() < p_replace:
            plate = bank.pick(rng)
            image, new_box = warp_plate_into(image, plate, _quad_for(box, plate, rng))
            out_boxes.append(np.asarray(new_box, np.float32))
        else:
            out_boxes.append(box)
    if rng.random() < p_add:
        h, w = image.shape[:2]
        ref_w = float(np.median([b[2] - b[0] for b in boxes])) if boxes else w * 0.15
        for _ in range(int(rng.integers(1, 3))):
            plate = bank.pick(rng)
            pw = np.clip(ref_w * rng.uniform(0.6, 1.4), 12, w * 0.5)
            ph = pw * plate.shape[0] / plate.shape[1]
            x = rng.uniform(0, max(1, w - pw))
            y = rng.uniform(h * 0.35, max(h * 0.35 + 1, h - ph))  # plates sit low in the frame
            cand = np.array([x, y, x + pw, y + ph], np.float32)
            if out_boxes and _max_iou(cand, np.array(out_boxes)) > 0.0:
                continue
            image, new_box = warp_plate_into(image, plate, _quad_for(cand, plate, rng))
            out_boxes.append(np.asarray(new_box, np.float32))
    return Sample(image, np.array(out_boxes, np.float32).reshape(-1, 4), sample.source)


def _max_iou(box: np.ndarray, others: np.ndarray) -> float:
    tl = np.maximum(box[:2], others[:, :2])
    br = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=1)
    return float(inter.max()) if len(inter) else 0.0


def random_affine(image: np.ndarray, boxes: np.ndarray, size: int, rng: np.random.Generator,
                  scale_range: tuple[float, float], max_rotation_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox-fit, then a random scale and shift into a ``size`` square: scales below 1 make
    far plates, above 1 mimic tiles and ROI crops of big frames. With ``max_rotation_deg``, also a
    random turn about the photo's centre: riders' plates hang tilted and cameras are not level.
    Each box becomes the axis-aligned box round its turned corners, which is the turned plate's
    own box while the plate fills its box (a checked outline does)."""
    h, w = image.shape[:2]
    fit = size / max(h, w)
    s = fit * np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1])))
    nw, nh = w * s, h * s
    tx = rng.uniform(min(0, size - nw), max(0, size - nw))
    ty = rng.uniform(min(0, size - nh), max(0, size - nh))
    angle = float(rng.uniform(-max_rotation_deg, max_rotation_deg)) if max_rotation_deg > 0 else 0.0
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, s).astype(np.float32)
    m[:, 2] += (tx + nw / 2 - w / 2, ty + nh / 2 - h / 2)  # the centre lands where the shift puts it
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                         borderValue=(PAD_VALUE,) * 3)
    if not len(boxes):
        return out, boxes.copy()
    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1)
    moved = corners @ m[:, :2].T + m[:, 2]
    return out, np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1).astype(boxes.dtype)


def clip_boxes(boxes: np.ndarray, size: int, min_visible: float = 0.6, min_side: float = 2.0) -> np.ndarray:
    """Clip to the canvas; drop boxes mostly outside it or too small to learn from."""
    if not len(boxes):
        return boxes
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    c = boxes.copy()
    c[:, [0, 2]] = c[:, [0, 2]].clip(0, size)
    c[:, [1, 3]] = c[:, [1, 3]].clip(0, size)
    wh = c[:, 2:] - c[:, :2]
    keep = (np.prod(wh, axis=1) >= min_visible * np.maximum(area, 1e-6)) & (wh.min(axis=1) >= min_side)
    return c[keep]


def mosaic(samples: list[Sample], size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four photos in the quadrants around a random centre, each scaled independently."""
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    cx, cy = (int(rng.uniform(0.3, 0.7) * size) for _ in range(2))
    regions = [(0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size)]
    all_boxes = []
    for sample, (x1, y1, x2, y2) in zip(samples, regions):
        rw, rh = x2 - x1, y2 - y1
        if rw < 8 or rh < 8:
            continue
        img, b = random_affine(sample.image, sample.boxes, max(rw, rh), rng, (0.5, 1.6))
        img, b = img[:rh, :rw], b
        canvas[y1:y2, x1:x2] = img
        b = b.copy()
        b = clip_boxes(b, max(rw, rh))
        b = b[(b[:, 0] < rw) & (b[:, 1] < rh)] if len(b) else b
        if len(b):
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, rw) + x1
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, rh) + y1
            all_boxes.append(b)
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    return canvas, clip_boxes(boxes, size)


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour, light, blur, noise and JPEG: what roadside cameras do to a picture."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.5, 1.5)
    hsv[..., 2] *= rng.uniform(0.4, 1.5)
    out = cv2.cvtColor(hsv.clip(0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.05:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    r = rng.random()
    if r < 0.15:
        k = int(rng.integers(1, 3)) * 2 + 1
        out = cv2.GaussianBlur(out, (k, k), 0)
    elif r < 0.3:
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        out = cv2.filter2D(out, -1, cv2.warpAffine(kernel, rot, (k, k)))
    if rng.random() < 0.3:
        noise = rng.normal(0, rng.uniform(2, 12), out.shape)
        out = (out.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 90))])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return out


class DetectorDataset:
    """Indexable training set of augmented ``size``² samples: (RGB uint8 image, boxes)."""

    def __init__(self, samples: list[Sample], size: int, bank: PlateBank | None, seed: int = 0,
                 p_mosaic: float = 0.5, p_replace: float = 0.35, p_add: float = 0.3, max_rotation_deg: float = 0.0):
        self.samples, self.size, self.bank = samples, size, bank
        self.max_rotation_deg = max_rotation_deg
        self.seed, self.epoch = seed, 0
        self.p_mosaic, self.p_replace, self.p_add = p_mosaic, p_replace, p_add

    def __len__(self) -> int:
        return len(self.samples)

    def _source(self, i: int, rng: np.random.Generator) -> Sample:
        s = self.samples[i]
        if self.bank is not None:
            s = paste_indian_plates(s, self.bank, rng, self.p_replace, self.p_add)
        return s

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if rng.random() < self.p_mosaic:
            picks = [i] + list(rng.integers(0, len(self.samples), 3))
            image, boxes = mosaic([self._source(int(j), rng) for j in picks], self.size, rng)
        else:
            s = self._source(i, rng)
            image, boxes = random_affine(s.image, s.boxes, self.size, rng, (0.35, 2.5), self.max_rotation_deg)
            boxes = clip_boxes(boxes, self.size)
        if rng.random() < 0.5:
            image = image[:, ::-1].copy()
            if len(boxes):
                boxes = boxes.copy()
                boxes[:, [0, 2]] = self.size - boxes[:, [2, 0]]
        image = photometric(image, rng)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), boxes.astype(np.float32)


def val_input(sample: Sample, size: int) -> tuple[np.ndarray, object]:
    image, lb = letterbox(sample.image, size)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), lb


def data_version(train: list[Sample], val: list[Sample], counts: dict) -> str:
    """A short hash of what the model saw, for the model card: the photo counts and every box (a
    relabelled box is new data even where the photos are the same)."""
    digest = hashlib.sha1(json.dumps(counts, sort_keys=True).encode())
    for sample in [*train, *val]:
        digest.update(np.round(sample.boxes).astype(np.int32).tobytes())
    return digest.hexdigest()[:12]
