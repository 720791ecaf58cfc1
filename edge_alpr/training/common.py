"""What both trainers share: checkpoints that resume, a weight EMA, fp16 weight files,
timing, and the paths of the shared datasets."""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from pathlib import Path

import torch
from torch import nn

from edge_alpr.datasets import DEFAULT_DATASETS  # noqa: F401  (the training commands' default)

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = REPO_ROOT / "models"


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def set_threads(n: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # augmentation runs in a loader worker beside training; keep it to one core
    torch.set_num_threads(n)
    os.environ.setdefault("OMP_NUM_THREADS", str(n))


class ModelEMA:
    """Exponential moving average of weights; evaluated and exported instead of the raw model
    (steadier from-scratch training). The decay ramps up so early averages are not stale."""

    def __init__(self, model: nn.Module, decay: float = 0.999, tau: float = 1000.0):
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


def cosine_lr(step: int, total: int, base: float, warmup: int, floor: float = 0.05) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


class Checkpointer:
    """One rolling checkpoint file in the run folder, written atomically every ``every_s``
    seconds and at epoch ends; ``load`` resumes from it."""

    def __init__(self, run_dir: Path, every_s: float):
        self.path = run_dir / "last.ckpt"
        self.every_s = every_s
        self._last = time.monotonic()
        run_dir.mkdir(parents=True, exist_ok=True)

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_s

    def save(self, state: dict) -> None:
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self._last = time.monotonic()
        log.info("checkpoint saved: %s (epoch %s, step %s)", self.path, state.get("epoch"), state.get("step"))

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        log.info("resuming from %s", self.path)
        return torch.load(self.path, map_location="cpu", weights_only=False)


def save_fp16_weights(model: nn.Module, path: Path, meta: dict) -> None:
    """The float weights the next training continues from: one fp16 file per model."""
    state = {k: (v.half() if v.dtype.is_floating_point else v) for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": state, "meta": meta}, tmp)
    os.replace(tmp, path)


def load_fp16_weights(model: nn.Module, path: Path) -> dict:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict({k: v.float() if v.dtype == torch.float16 else v for k, v in blob["state_dict"].items()})
    return blob.get("meta", {})


def card_beside(weights: Path) -> Path:
    """The model card that goes with float weights: NAME_fp16.pt -> NAME.json beside it."""
    return weights.with_name(weights.name.removesuffix("_fp16.pt") + ".json")


def write_card(path: Path, card: dict) -> None:
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
