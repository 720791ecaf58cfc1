"""Train the plate detector end to end: data, YOLOv4-tiny training, int8 export, evaluation,
model card. Resumes from the run folder's checkpoint after an interruption.

    python -m edge_alpr.training.detector --epochs 30          # or: edge-alpr train-detector
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from edge_alpr.bench import macs
from edge_alpr.training import common
from edge_alpr.training.detector_data import (
    DetectorDataset,
    PlateBank,
    Sample,
    data_version,
    load_split,
    scene_samples,
    val_input,
)
from edge_alpr.training.yolo import STRIDES, YoloLoss, YoloV4Tiny, kmeans_anchors

log = logging.getLogger("edge_alpr.train_detector")

SCORE_THRESHOLD = 0.3  # the daemon's default; the card records it
NMS_IOU = 0.45
MIN_EVAL_HEIGHT = 16  # recall is reported for plates at least this many pixels high


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="edge-alpr train-detector", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=Path, default=common.DEFAULT_DATASETS, help="the shared datasets folder")
    p.add_argument("--extra", action="append", default=[], metavar="MANIFEST[:WEIGHT]",
                   help="a site's own manifest, trained on with WEIGHT repeats (default 1); repeatable")
    p.add_argument("--size", type=int, default=320, choices=(320, 416), help="input size")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--synthetic-plates", type=int, default=1500, help="rendered Indian plates to paste (0: none)")
    p.add_argument("--synthetic-scenes", type=int, default=2, help="generated roadside videos whose frames join training")
    p.add_argument("--run-dir", type=Path, default=common.REPO_ROOT / "runs" / "detector")
    p.add_argument("--models-dir", type=Path, default=common.DEFAULT_MODELS)
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--eval-every", type=int, default=5, help="epochs between float validations")
    p.add_argument("--fine-tune", action="store_true",
                   help="start from trained float weights (--init) at a lower learning rate, keep their anchors")
    p.add_argument("--init", type=Path, metavar="FP16_PT",
                   help="the weights a fine-tune starts from (default: plate_detector_fp16.pt in --models-dir)")
    p.add_argument("--limit", type=int, default=0, help="use only this many train/val photos (smoke tests)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="bf16 autocast: auto uses it when the CPU has native bf16 (AVX512-BF16/AMX)")
    p.add_argument("--export-only", action="store_true",
                   help="skip training: export and evaluate the run folder's last checkpoint (EMA weights)")
    p.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                   help="turn single (non-mosaic) training photos by up to this many degrees (tilted plates)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.fine_tune and args.init is None:
        args.init = args.models_dir / "plate_detector_fp16.pt"
    if args.fine_tune and not args.init.is_file():
        # checked before the minute of photo loading, not after it
        p.error(f"--fine-tune starts from {args.init}, which does not exist; give --init the weights to start from")
    return args


def base_version(init: Path) -> str | None:
    """The version of the model a fine-tune started from, from the card beside its weights."""
    try:
        return json.loads(common.card_beside(init).read_text()).get("version")
    except (OSError, ValueError):
        return None


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def collate(batch: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.stack([b[0] for b in batch])).permute(0, 3, 1, 2).float().div_(255)
    targets = []
    for i, (_, boxes) in enumerate(batch):
        if len(boxes):
            cxcywh = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)
            targets.append(np.concatenate([np.full((len(boxes), 1), i), cxcywh], 1))
    t = torch.from_numpy(np.concatenate(targets)).float() if targets else torch.zeros(0, 5)
    return images.contiguous(memory_format=torch.channels_last), t


def compute_anchors(train: list[Sample], size: int, seed: int = 0) -> np.ndarray:
    """k-means anchors over the box sizes the model will see: letterboxed, then rescaled as the
    augmentation rescales (mosaic quadrants and far/near single photos)."""
    rng = np.random.default_rng(seed)
    wh = []
    for s in train:
        if len(s.boxes):
            scale = size / max(s.image.shape[:2])
            aug = np.exp(rng.uniform(np.log(0.3), np.log(2.0), (len(s.boxes), 1)))
            wh.append((s.boxes[:, 2:] - s.boxes[:, :2]) * scale * aug)
    return kmeans_anchors(np.concatenate(wh), n=3 * len(STRIDES))


@torch.no_grad()
def evaluate_float(model, val: list[Sample], size: int, anchors: np.ndarray) -> dict:
    """Validate the float model with the daemon's own decoding and NMS."""
    from edge_alpr.detector import decode_head, suppress
    from edge_alpr.evaluation.metrics import DetectionAccumulator, small_box_mask

    model.eval()
    acc_all, acc_16 = DetectionAccumulator(0.5), DetectionAccumulator(0.5)
    heads = anchors.reshape(len(STRIDES), -1, 2)
    for i in range(0, len(val), 16):
        chunk = val[i : i + 16]
        inputs = [val_input(s, size) for s in chunk]
        x = torch.from_numpy(np.stack([im for im, _ in inputs])).permute(0, 3, 1, 2).float().div(255)
        preds = [p.float().sigmoid().numpy() for p in model(x)]
        for j, (sample, (_, lb)) in enumerate(zip(chunk, inputs)):
            boxes, scores = [], []
            for p, stride, a in zip(preds, STRIDES, heads):
                s = p[j]  # (A, H, W, 5)
                b, sc = decode_head(s[..., :4].transpose(1, 2, 0, 3).reshape(s.shape[1], s.shape[2], -1),
                                    s[..., 4].transpose(1, 2, 0), a, stride, 0.01)
                boxes.append(b)
                scores.append(sc)
            b, sc = np.concatenate(boxes), np.concatenate(scores)
            b, sc = suppress(b, sc, NMS_IOU)
            b = lb.to_image(b)
            acc_all.add(b, sc, sample.boxes)
            acc_16.add(b, sc, sample.boxes, small_box_mask(sample.boxes, MIN_EVAL_HEIGHT))
    model.train()
    return summarise(acc_all, acc_16)


def summarise(acc_all, acc_16) -> dict:
    pr = acc_16.precision_recall(SCORE_THRESHOLD)
    return {
        "ap50": round(acc_all.ap50(), 4),
        "ap50_min16px": round(acc_16.ap50(), 4),
        "precision_min16px": round(pr.precision, 4),
        "recall_min16px": round(pr.recall, 4),
        "recall_all": round(acc_all.precision_recall(SCORE_THRESHOLD).recall, 4),
        "plates": acc_all.num_gt,
        "plates_min16px": acc_16.num_gt,
        "images": acc_all.num_images,
    }


def evaluate_tflite(model_path: Path, val: list[Sample]) -> dict:
    """Validate an exported model exactly as the daemon runs it."""
    from edge_alpr.detector import PlateDetector
    from edge_alpr.evaluation.metrics import DetectionAccumulator, small_box_mask

    det = PlateDetector(model_path, num_threads=2, score_threshold=0.01)
    acc_all, acc_16 = DetectionAccumulator(0.5), DetectionAccumulator(0.5)
    times = []
    for s in val:
        t0 = time.perf_counter()
        d = det.detect(s.image)
        times.append((time.perf_counter() - t0) * 1000)
        acc_all.add(d.boxes, d.scores, s.boxes)
        acc_16.add(d.boxes, d.scores, s.boxes, small_box_mask(s.boxes, MIN_EVAL_HEIGHT))
    out = summarise(acc_all, acc_16)
    out["ms_per_image_mean"] = round(float(np.mean(times)), 2)
    return out


def train(args: argparse.Namespace) -> int:
    common.setup_logging()
    common.set_threads(args.threads)
    torch.manual_seed(args.seed)
    use_bf16 = args.bf16 == "on" or (args.bf16 == "auto" and cpu_has_bf16())
    extra = [(Path(e.split(":")[0]), float(e.split(":")[1]) if ":" in e else 1.0) for e in args.extra]
    train_set, val_set, counts = load_split(args.datasets, extra)
    if args.limit:
        train_set, val_set = train_set[: args.limit], val_set[: max(2, args.limit // 4)]
    if args.synthetic_scenes:
        scenes = scene_samples(args.synthetic_scenes, args.seed)
        train_set += scenes
        counts["synthetic_scenes"] = {"train": len(scenes), "val": 0}
    if not train_set:
        log.error("no training photos found under %s", args.datasets)
        return 5
    log.info("photos: %d train, %d val (%s); bf16 autocast: %s", len(train_set), len(val_set), counts, use_bf16)

    ckpt = common.Checkpointer(args.run_dir, args.checkpoint_minutes * 60)
    state = ckpt.load()
    model = YoloV4Tiny()
    if state is not None:
        anchors = np.asarray(state["anchors"], np.float32)
    elif args.fine_tune:
        meta = common.load_fp16_weights(model, args.init)
        anchors = np.asarray(meta["anchors"], np.float32)
        log.info("fine-tuning from %s", args.init)
    else:
        anchors = compute_anchors(train_set, args.size)
    log.info("anchors (w, h at %d px): %s", args.size, anchors.round(1).tolist())

    model = model.to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for _name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999))
    ema = common.ModelEMA(model)
    loss_fn = YoloLoss(anchors)
    start_epoch, step = 0, 0
    history: list[dict] = []
    if state is not None:
        model.load_state_dict(state["model"])
        ema.ema.load_state_dict(state["ema"])
        ema.updates = state["ema_updates"]
        opt.load_state_dict(state["opt"])
        start_epoch, step, history = state["epoch"], state["step"], state.get("history", [])

    bank = PlateBank(args.synthetic_plates, args.seed) if args.synthetic_plates else None
    dataset = DetectorDataset(train_set, args.size, bank, seed=args.seed, max_rotation_deg=args.rotate)
    steps_per_epoch = len(dataset) // args.batch
    total = steps_per_epoch * args.epochs
    warmup = min(500, total // 10 + 1)
    base_lr = args.lr * (0.3 if args.fine_tune else 1.0)

    def snapshot(epoch: int, batch_in_epoch: int) -> dict:
        return {"model": model.state_dict(), "ema": ema.ema.state_dict(), "ema_updates": ema.updates,
                "opt": opt.state_dict(), "epoch": epoch, "batch": batch_in_epoch, "step": step,
                "anchors": anchors.tolist(), "history": history, "args": vars(args)}

    resume_batch = state.get("batch", 0) if state is not None else 0
    model.train()
    for epoch in range(start_epoch, 0 if args.export_only else args.epochs):
        dataset.epoch = epoch
        order = np.random.default_rng([args.seed, epoch]).permutation(len(dataset))
        loader = torch.utils.data.DataLoader(
            [int(i) for i in order[: steps_per_epoch * args.batch]], batch_size=args.batch,
            collate_fn=lambda idx: collate([dataset[i] for i in idx]), num_workers=1, prefetch_factor=4,
            persistent_workers=False,
        )
        t0, losses = time.time(), []
        for b, (x, targets) in enumerate(loader):
            if b < resume_batch:
                continue
            for g in opt.param_groups:
                g["lr"] = common.cosine_lr(step, total, base_lr, warmup)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                preds = model(x)
            loss, parts = loss_fn(preds, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            step += 1
            losses.append(float(loss.detach()) / args.batch)
            if b % 50 == 0:
                log.info("epoch %d batch %d/%d loss %.4f (box %.3f obj %.4f) lr %.2e %.2fs/batch",
                         epoch, b, steps_per_epoch, losses[-1], parts["box"], parts["obj"],
                         opt.param_groups[0]["lr"], (time.time() - t0) / (b + 1 - resume_batch))
            if ckpt.due():
                ckpt.save(snapshot(epoch, b + 1))
        resume_batch = 0
        entry = {"epoch": epoch, "loss": round(float(np.mean(losses)) if losses else float("nan"), 5),
                 "seconds": round(time.time() - t0, 1)}
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            entry["val_float"] = evaluate_float(ema.ema, val_set, args.size, anchors)
        history.append(entry)
        log.info("epoch %d done: %s", epoch, entry)
        ckpt.save(snapshot(epoch + 1, 0))

    return finish(args, ema.ema, anchors, train_set, val_set, counts, history, use_bf16)


def calibration_batches(train: list[Sample], size: int, n: int = 200, seed: int = 0):
    """Real training photos, letterboxed exactly as the daemon feeds the model."""
    idx = np.random.default_rng(seed).choice(len(train), min(n, len(train)), replace=False)

    def gen():
        for i in idx:
            image, _ = val_input(train[int(i)], size)
            yield image[None].astype(np.float32) / 255.0

    return gen


def finish(args, model, anchors, train_set, val_set, counts, history, use_bf16) -> int:
    from edge_alpr.training.export import export_detector

    model = model.float().eval()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    common.save_fp16_weights(model, args.models_dir / "plate_detector_fp16.pt",
                             {"anchors": anchors.tolist(), "input_size": args.size})
    paths = export_detector(model, args.size, args.models_dir, calibration_batches(train_set, args.size))
    per_head = anchors.reshape(len(STRIDES), -1, 2)
    card = {
        "name": "plate_detector",
        "version": dt.date.today().strftime("%Y.%m.%d"),
        "architecture": "YOLOv4-tiny (CSPDarknet-tiny backbone, two YOLO heads), 1 class 'plate', "
                        "sigmoid outputs decoded YOLOv5-style",
        "input_size": args.size,
        "input": "RGB uint8, letterboxed (aspect kept, grey 114 padding, centred)",
        "heads": [{"stride": s, "anchors": a.round(2).tolist()} for s, a in zip(STRIDES, per_head)],
        "score_threshold": SCORE_THRESHOLD,
        "nms_iou_threshold": NMS_IOU,
        "files": {k: p.name for k, p in paths.items()} | {"float_weights": "plate_detector_fp16.pt"},
        "training": {
            "command": "python -m edge_alpr.training.detector " + " ".join(sys.argv[1:]),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "bf16_autocast": use_bf16,
            "fine_tuned": bool(args.fine_tune),
            "base_version": base_version(args.init) if args.fine_tune else None,
            "data": counts, "data_version": data_version(train_set, val_set, counts),
            "synthetic_indian_plates": args.synthetic_plates,
            "synthetic_scene_videos": args.synthetic_scenes,
            "max_rotation_deg": args.rotate,
            "validation": "openlpr val split + a fixed 20% (file-name hash) of openalpr_us, openalpr_br, "
                          "in_olx_scenes (plus olx photos whose plate is in in_plates val) + the val split the "
                          "project's kept labels fix per source image for in_twowheelers and in_odisha_traffic; "
                          "never trained on",
            "history": history,
        },
        "metrics": {},
        # The work per inference, counted from the graph: what a Pi's speed is estimated from.
        macs.CARD_KEY: macs.count_macs(paths["int8"]).total,
    }
    common.write_card(args.models_dir / "plate_detector.json", card)
    for kind, path in paths.items():
        card["metrics"][kind] = evaluate_tflite(path, val_set)
        log.info("%s: %s", kind, card["metrics"][kind])
    common.write_card(args.models_dir / "plate_detector.json", card)
    return 0


def main(argv: list[str] | None = None) -> int:
    return train(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
