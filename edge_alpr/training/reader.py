"""The reader's training run: the CTC loop with its checkpoints, the int8 export, the confidence
calibration and the model card, and the runs that redo a part of it (--finish-early,
--recalibrate, --re-export). What a run does and its options: ``reader_args``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edge_alpr.bench import macs
from edge_alpr.synth import fonts
from edge_alpr.training import common
from edge_alpr.training.reader_args import parse_args
from edge_alpr.training.reader_data import (
    LABELLED_SETS,
    Crop,
    ReaderDataset,
    data_version,
    load_labelled_val,
    load_real,
    render_bank,
)
from edge_alpr.training.reader_eval import evaluate_float, evaluate_tflite, fit_calibration
from edge_alpr.training.reader_model import INPUT_H, INPUT_W, PlateRecognizer

log = logging.getLogger("edge_alpr.train_reader")


def make_batch(dataset: ReaderDataset, start: int, size: int):
    images, targets, lengths = [], [], []
    for i in range(start, start + size):
        img, label = dataset.sample(i)
        images.append(img)
        targets.extend(label)
        lengths.append(len(label))
    x = torch.from_numpy(np.stack(images)[:, None]).float().div_(255)
    return x, torch.tensor(targets, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)


def ctc_loss(logits: torch.Tensor, targets, lengths) -> torch.Tensor:
    log_probs = F.log_softmax(logits.float(), -1).transpose(0, 1)  # (T, B, C)
    input_lengths = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
    return F.ctc_loss(log_probs, targets, input_lengths, lengths, blank=0, zero_infinity=True)


def train(args: argparse.Namespace) -> int:
    common.setup_logging()
    common.set_threads(args.threads)
    if args.recalibrate:
        return recalibrate(args)
    if args.re_export:
        return re_export(args)
    if args.finish_early:
        return finish_early(args)
    torch.manual_seed(args.seed)
    from edge_alpr.training.detector import cpu_has_bf16

    use_bf16 = args.bf16 == "on" or (args.bf16 == "auto" and cpu_has_bf16())
    real_train, calib, val = training_crops(args)
    labelled_val = load_labelled_val(args.datasets)
    t0 = time.time()
    synthetic = (render_bank(args.synthetic, args.seed, args.two_line_fraction, args.stacked_fraction, args.threads,
                             args.typefaces)
                 if args.synthetic else [])
    log.info("real crops: %d train, %d calibration, %d val; %d rendered in %.0fs; bf16 %s",
             len(real_train), len(calib), len(val), len(synthetic), time.time() - t0, use_bf16)
    context = None
    if args.context_fraction > 0 and args.synthetic:
        from edge_alpr.training.reader_context import ContextBank, training_rows

        context = ContextBank.from_rows(training_rows(args.datasets), args.context_regions, args.seed)
    dataset = ReaderDataset(real_train, synthetic, args.synthetic_fraction, args.seed, args.two_line_whole,
                            context, args.context_fraction, args.tilt_fraction, args.motion_blur,
                            args.shape_jitter)

    model = PlateRecognizer()
    if args.fine_tune:
        common.load_fp16_weights(model, args.init or args.models_dir / f"{args.name}_fp16.pt")
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    ema = common.ModelEMA(model, decay=0.998, tau=500)
    ckpt = common.Checkpointer(args.run_dir, args.checkpoint_minutes * 60)
    step, history = 0, []
    state = ckpt.load()
    if state is not None:
        model.load_state_dict(state["model"])
        ema.ema.load_state_dict(state["ema"])
        ema.updates = state["ema_updates"]
        opt.load_state_dict(state["opt"])
        step, history = state["step"], state["history"]
    base_lr = args.lr * (0.3 if args.fine_tune else 1.0)
    model.train()
    t0, losses = time.time(), []
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = common.cosine_lr(step, args.steps, base_lr, warmup=min(500, args.steps // 10 + 1))
        dataset.epoch = step  # a fresh, reproducible draw per step
        dataset.two_line_whole = whole_share(step, args.two_line_whole, args.whole_warmup)
        x, targets, lengths = make_batch(dataset, 0, args.batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(x)
        loss = ctc_loss(logits, targets, lengths)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        ema.update(model)
        step += 1
        losses.append(float(loss.detach()))
        if step % 100 == 0:
            log.info("step %d/%d loss %.4f lr %.2e %.3fs/step", step, args.steps, np.mean(losses[-100:]),
                     opt.param_groups[0]["lr"], (time.time() - t0) / len(losses))
        if step % args.eval_every == 0 or step == args.steps:
            entry = {"step": step, "loss": round(float(np.mean(losses[-args.eval_every:])), 4),
                     "val_float": evaluate_float(ema.ema, val),
                     "labelled_val_float": evaluate_float(ema.ema, [c for v in labelled_val.values() for c in v])}
            history.append(entry)
            log.info("eval: %s", entry)
        if ckpt.due() or step == args.steps:
            ckpt.save({"model": model.state_dict(), "ema": ema.ema.state_dict(), "ema_updates": ema.updates,
                       "opt": opt.state_dict(), "step": step, "history": history, "args": vars(args)})
    return finish(args, ema.ema, real_train, calib, val, synthetic, history, use_bf16)


def whole_share(step: int, target: float, warmup: int) -> float:
    """Share of two-line plates shown whole at ``step``: 0 during the warm-up, then a linear ramp."""
    if warmup <= 0:
        return target
    return target * min(1.0, max(0.0, (step - warmup) / warmup))


def training_crops(args: argparse.Namespace) -> tuple[list[Crop], list[Crop], list[Crop]]:
    """(train, calibration, val) real crops as a run with ``args`` trains on them."""
    real_train, calib, val = load_real(args.datasets, getattr(args, "agreed_partials", False),
                                       getattr(args, "foreign_plates", "none"))
    labelled = {layout: [c for c in real_train if c.source in LABELLED_SETS and c.layout == layout] for layout in ("one", "two")}
    real_train += labelled["two"] * (args.labelled_repeat - 1) + labelled["one"] * (args.labelled_one_line_repeat - 1)
    for spec in args.extra:
        from edge_alpr.training.reader_data import load_manifest_crops

        path, _, weight = spec.partition(":")
        real_train += load_manifest_crops(Path(path)) * max(1, round(float(weight or 1)))
    return real_train, calib, val


def finish_early(args: argparse.Namespace) -> int:
    """End a run that cannot finish in its time: the run folder's last checkpoint (its EMA
    weights) is exported and measured as if training had ended there; the card records the
    command that trained it and the step it reached."""
    state = common.Checkpointer(args.run_dir, 0).load()
    if state is None:
        raise SystemExit(f"{args.run_dir}: no checkpoint to finish from")
    trained = argparse.Namespace(**state["args"])
    trained.models_dir, trained.datasets = args.models_dir, args.datasets
    planned, trained.steps = trained.steps, state["step"]
    real_train, calib, val = training_crops(trained)
    # Rendered plates only serve the int8 calibration here, as many as at the end of a full run.
    synthetic = render_bank(len(real_train), trained.seed, trained.two_line_fraction, trained.stacked_fraction,
                            typefaces=getattr(trained, "typefaces", "standard"))
    model = PlateRecognizer()
    model.load_state_dict(state["ema"])
    note = f"stopped at step {state['step']} of {planned} (--finish-early): the cosine schedule had not decayed"
    command = getattr(trained, "command_line", None) or "python -m edge_alpr.training.reader (see the run's checkpoint)"
    return finish(trained, model, real_train, calib, val, synthetic, state["history"], False, note=note, command=command)


def export(model, models_dir: Path, real_train: list[Crop], synthetic: list[Crop], seed: int,
           input_hw: tuple[int, int] = (INPUT_H, INPUT_W), stem: str = "plate_reader") -> dict[str, Path]:
    """int8 and float16 TFLite files; int8 activation ranges come from 300 crops, real and rendered."""
    from edge_alpr.ocr import preprocess
    from edge_alpr.training.export import export_reader

    rng = np.random.default_rng(seed)
    pool = real_train + synthetic[: len(real_train)]
    picks = rng.choice(len(pool), min(300, len(pool)), replace=False)

    def calibration_batches():
        for i in picks:
            yield preprocess(pool[int(i)].image, input_hw[1])[None].astype(np.float32) / 255.0

    return export_reader(model, input_hw, models_dir, calibration_batches, stem)


def finish(args, model, real_train, calib, val, synthetic, history, use_bf16, note: str | None = None,
           command: str | None = None) -> int:
    from edge_alpr.training.export import READER_OUTPUT

    model = model.float().eval()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    name = getattr(args, "name", "plate_reader")  # runs checkpointed before --name existed
    common.save_fp16_weights(model, args.models_dir / f"{name}_fp16.pt", {"input": [INPUT_H, INPUT_W]})
    card_path = args.models_dir / f"{name}.json"
    # A fine-tune's base is the card beside the weights it started from.
    init = getattr(args, "init", None)
    base_card = common.card_beside(init) if init else card_path
    base = _base_training(base_card) if args.fine_tune else None
    typefaces = getattr(args, "typefaces", "standard")  # runs checkpointed before --typefaces existed
    paths = export(model, args.models_dir, real_train, synthetic, args.seed, stem=name)
    card = {
        "name": name,
        "version": dt.date.today().strftime("%Y.%m.%d"),
        "architecture": f"all-convolutional CTC recognizer, grey {INPUT_H}x{INPUT_W} input, 2 rows x "
                        f"{INPUT_W // 4} columns -> {INPUT_W // 2}-step sequence (top row then bottom row), "
                        "37 classes (blank + 0-9A-Z)",
        "input": f"grey uint8 {INPUT_H}x{INPUT_W}, whole plate stretched, 2-98 percentile contrast stretch",
        "output": READER_OUTPUT,
        "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "files": {k: p.name for k, p in paths.items()} | {"float_weights": f"{name}_fp16.pt"},
        "calibration": {},
        "training": {
            "command": command or getattr(args, "command_line", "python -m edge_alpr.training.reader"),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "steps": args.steps, "batch": args.batch, "lr": args.lr, "bf16_autocast": use_bf16,
            "fine_tuned": bool(args.fine_tune),
            "real_crops": {"train": len(real_train), "calibration": len(calib), "val": len(val)},
            "real_train_sources": dict(sorted(Counter(c.source for c in real_train).items())),
            "data_version": data_version(real_train, calib, val),
            "synthetic_plates": args.synthetic, "synthetic_fraction": args.synthetic_fraction,
            "typefaces": typefaces,
            "rendered_typefaces": fonts.face_count(typefaces),
            "two_line_fraction": args.two_line_fraction,
            "stacked_fraction": args.stacked_fraction,
            "two_line_whole": args.two_line_whole,
            "whole_warmup": getattr(args, "whole_warmup", 0),
            "labelled_repeat": args.labelled_repeat,
            "labelled_one_line_repeat": getattr(args, "labelled_one_line_repeat", 1),
            "agreed_partials": getattr(args, "agreed_partials", False),
            "foreign_plates": getattr(args, "foreign_plates", "none"),
            "context_fraction": args.context_fraction if args.synthetic else 0.0,
            "tilt_fraction": getattr(args, "tilt_fraction", 0.0),
            "motion_blur": getattr(args, "motion_blur", 0.0),
            "shape_jitter": getattr(args, "shape_jitter", 0.0),
            "validation": "in_plates split=val, status=ok (real Indian crops, never trained on); and the split=val "
                          "ok plates of the sets labelled by eye (in_twowheelers, in_odisha_traffic; metrics int8_<set>_val)",
            "history": history,
        },
        "metrics": {},
    }
    if base:
        card["training"]["base"] = base
    if note:
        card["training"]["note"] = note
    card[macs.CARD_KEY] = macs.count_macs(paths["int8"]).total  # what a Pi's speed is estimated from
    common.write_card(card_path, card)
    calibrate_and_measure(card_path, card, calib, val, card["training"]["data_version"], load_labelled_val(args.datasets))
    return 0


def _base_training(card_path: Path) -> dict | None:
    """What a fine-tune starts from, for its card: the old card's training, one level deep."""
    if not card_path.is_file():
        return None
    old = json.loads(card_path.read_text())
    training = {k: v for k, v in old.get("training", {}).items() if k not in ("history", "base")}
    return training | {"metrics_int8": old.get("metrics", {}).get("int8")}


def calibrate_and_measure(card_path: Path, card: dict, calib: list[Crop], val: list[Crop], version: str,
                          labelled: dict[str, list[Crop]] | None = None) -> None:
    """Fit the card's confidence calibration, then measure the exported models as the daemon
    reads with them, writing the card after each step so an interruption leaves it usable.
    ``labelled``: the validation crops of the sets labelled by eye, measured per set.

    The squarish crops' recognizer (``plate_reader_square``) only ever reads squarish images,
    so it is calibrated and measured on the squarish crops of each set alone."""
    from edge_alpr.ocr import is_squarish

    squarish = card.get("name") == "plate_reader_square"
    if squarish:
        calib, val = [c for c in calib if is_squarish(c.image)], [c for c in val if is_squarish(c.image)]
        labelled = {k: [c for c in v if is_squarish(c.image)] for k, v in (labelled or {}).items()}
    models_dir = card_path.parent
    files = {kind: models_dir / name for kind, name in card["files"].items() if name.endswith(".tflite")}
    card["calibration"] = fit_calibration(files["int8"], calib) | {"data_version": version}
    if squarish:
        card["calibration"]["crops"] = "squarish only (narrower than ocr.TWO_LINE_MAX_ASPECT)"
    common.write_card(card_path, card)
    card["metrics"] = {"settings": "as the daemon reads by default: grammar indian, second looks at unsure crops "
                                   "(reader.retry_unsure)" + ("; squarish crops only, this model alone" if squarish else "")}
    for kind, path in files.items():
        card["metrics"][kind] = evaluate_tflite(path, val)
        log.info("%s: %s", kind, card["metrics"][kind])
    card["metrics"]["int8_without_second_looks"] = evaluate_tflite(files["int8"], val, retry_unsure=False)
    for name, crops in (labelled or {}).items():
        if crops:
            card["metrics"][f"int8_{name}_val"] = evaluate_tflite(files["int8"], crops)
            log.info("int8 on %s val: %s", name, card["metrics"][f"int8_{name}_val"])
    common.write_card(card_path, card)


def _crops_as_trained(args: argparse.Namespace, card: dict) -> tuple[list[Crop], list[Crop], list[Crop]]:
    """(train, calibration, val) real crops as the run that made ``card`` chose them."""
    training = card.get("training", {})
    return load_real(args.datasets, training.get("agreed_partials", False), training.get("foreign_plates", "none"))


def recalibrate(args: argparse.Namespace) -> int:
    card_path = args.models_dir / f"{args.name}.json"
    if not card_path.is_file():
        raise SystemExit(f"{card_path}: no model card to recalibrate")
    card = json.loads(card_path.read_text())
    real_train, calib, val = _crops_as_trained(args, card)
    calibrate_and_measure(card_path, card, calib, val, data_version(real_train, calib, val), load_labelled_val(args.datasets))
    log.info("recalibrated %s: %s", card_path, card["calibration"])
    return 0


def re_export(args: argparse.Namespace) -> int:
    """The card's float weights through the current export code, keeping the card's training
    record; the int8 ranges are measured on the same kind of crops as at training time."""
    from edge_alpr.training.export import READER_OUTPUT

    card_path = args.models_dir / f"{args.name}.json"
    weights = args.models_dir / f"{args.name}_fp16.pt"
    if not (card_path.is_file() and weights.is_file()):
        raise SystemExit(f"{args.models_dir}: --re-export needs {card_path.name} and {weights.name} there")
    card = json.loads(card_path.read_text())
    model = PlateRecognizer()
    # The input size the weights were trained at, not today's default: an older reader keeps its own.
    input_hw = tuple(common.load_fp16_weights(model, weights).get("input", (INPUT_H, INPUT_W)))
    real_train, calib, val = _crops_as_trained(args, card)
    synthetic = render_bank(len(real_train), args.seed, args.two_line_fraction,
                            typefaces=card.get("training", {}).get("typefaces", "standard"))
    paths = export(model.float().eval(), args.models_dir, real_train, synthetic, args.seed, input_hw, args.name)
    card["files"] = {k: p.name for k, p in paths.items()} | {"float_weights": weights.name}
    card["output"] = READER_OUTPUT
    card["version"] = dt.date.today().strftime("%Y.%m.%d")  # a new file, though the same weights
    card["exported"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    common.write_card(card_path, card)
    calibrate_and_measure(card_path, card, calib, val, data_version(real_train, calib, val), load_labelled_val(args.datasets))
    log.info("re-exported %s: %s", card_path, card["metrics"]["int8"])
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.command_line = "python -m edge_alpr.training.reader " + " ".join(argv)  # for the card
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
