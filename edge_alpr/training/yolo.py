"""YOLOv4-tiny in PyTorch (CSPDarknet-tiny backbone, two YOLO heads) and its training loss.

Head outputs go through a sigmoid and decode YOLOv5-style (``xy = 2σ - 0.5``,
``wh = (2σ)² · anchor``): bounded box sizes train stably from scratch, and every output lies in
[0, 1], which int8 quantizes with a uniform precision (see ``detector.decode_head``).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

STRIDES = (16, 32)  # head order everywhere: the 2x-upsampled head first


class ConvBN(nn.Module):
    """Conv + BatchNorm + LeakyReLU(0.1), darknet's basic block. Padding is symmetric (k // 2),
    which the TensorFlow export reproduces with an explicit pad."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, momentum=0.03, eps=1e-3)

    def forward(self, x):
        return F.leaky_relu(self.bn(self.conv(x)), 0.1)


class CSPBlock(nn.Module):
    """YOLOv4-tiny's CSP block: conv, route the second half of channels through two convs,
    fuse, concatenate with the block input conv, max-pool. Returns (pooled, pre-pool route)."""

    def __init__(self, c: int):
        super().__init__()
        self.c1 = ConvBN(c, c, 3)
        self.c2 = ConvBN(c // 2, c // 2, 3)
        self.c3 = ConvBN(c // 2, c // 2, 3)
        self.c4 = ConvBN(c, c, 1)

    def forward(self, x):
        x = self.c1(x)
        half = x[:, x.shape[1] // 2 :]
        a = self.c2(half)
        b = self.c3(a)
        route = self.c4(torch.cat([b, a], 1))
        return F.max_pool2d(torch.cat([x, route], 1), 2, 2), route


class YoloV4Tiny(nn.Module):
    def __init__(self, n_anchors: int = 3, width: float = 1.0):
        super().__init__()
        c = lambda n: max(8, int(n * width))  # noqa: E731 - channel width multiplier
        self.n_anchors = n_anchors
        self.stem1 = ConvBN(3, c(32), 3, 2)
        self.stem2 = ConvBN(c(32), c(64), 3, 2)
        self.csp1 = CSPBlock(c(64))
        self.csp2 = CSPBlock(c(128))
        self.csp3 = CSPBlock(c(256))
        self.conv5 = ConvBN(c(512), c(512), 3)
        self.neck = ConvBN(c(512), c(256), 1)
        self.head32_conv = ConvBN(c(256), c(512), 3)
        self.head32_out = nn.Conv2d(c(512), n_anchors * 5, 1)
        self.up_conv = ConvBN(c(256), c(128), 1)
        self.head16_conv = ConvBN(c(128) + c(256), c(256), 3)
        self.head16_out = nn.Conv2d(c(256), n_anchors * 5, 1)
        self._init_biases()

    def _init_biases(self):
        # Objectness starts near "no plate" (~1 plate per 640² image), as YOLOv5 does; without it
        # the first iterations of a from-scratch run are swamped by the negatives' loss.
        for out, stride in ((self.head16_out, 16), (self.head32_out, 32)):
            b = out.bias.view(self.n_anchors, 5).detach()
            b[:, 4] = math.log(8 / (640 / stride) ** 2)
            out.bias = nn.Parameter(b.view(-1))

    def forward(self, x) -> list[torch.Tensor]:
        """Returns raw logits per head, each (B, A, H, W, 5), ordered as ``STRIDES``."""
        x = self.stem2(self.stem1(x))
        x, _ = self.csp1(x)
        x, _ = self.csp2(x)
        x, route16 = self.csp3(x)
        x = self.neck(self.conv5(x))
        p32 = self.head32_out(self.head32_conv(x))
        up = F.interpolate(self.up_conv(x), scale_factor=2, mode="nearest")
        p16 = self.head16_out(self.head16_conv(torch.cat([up, route16], 1)))
        return [self._shape(p16), self._shape(p32)]

    def _shape(self, p):
        b, _, h, w = p.shape
        return p.view(b, self.n_anchors, 5, h, w).permute(0, 1, 3, 4, 2)


def kmeans_anchors(wh: np.ndarray, n: int = 6, iters: int = 60, seed: int = 0) -> np.ndarray:
    """k-means with 1 - IoU distance on box (w, h), sorted by area (smallest first)."""
    rng = np.random.default_rng(seed)
    wh = wh[(wh > 1).all(1)]
    centres = wh[rng.choice(len(wh), n, replace=False)].astype(np.float64)
    for _ in range(iters):
        inter = np.minimum(wh[:, None, 0], centres[None, :, 0]) * np.minimum(wh[:, None, 1], centres[None, :, 1])
        iou = inter / (wh[:, None].prod(2) + centres[None].prod(2) - inter)
        assign = iou.argmax(1)
        new = np.array([np.median(wh[assign == k], 0) if (assign == k).any() else centres[k] for k in range(n)])
        if np.allclose(new, centres):
            break
        centres = new
    return centres[np.argsort(centres.prod(1))].astype(np.float32)


def _bbox_ciou(p: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Complete IoU between (N, 4) cx, cy, w, h boxes."""
    p1, p2 = p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2
    t1, t2 = t[:, :2] - t[:, 2:] / 2, t[:, :2] + t[:, 2:] / 2
    inter = (torch.min(p2, t2) - torch.max(p1, t1)).clamp(0).prod(1)
    union = p[:, 2:].prod(1) + t[:, 2:].prod(1) - inter + eps
    iou = inter / union
    cw = torch.max(p2, t2) - torch.min(p1, t1)
    c2 = (cw**2).sum(1) + eps
    rho2 = ((p[:, :2] - t[:, :2]) ** 2).sum(1)
    v = (4 / math.pi**2) * (torch.atan(t[:, 2] / (t[:, 3] + eps)) - torch.atan(p[:, 2] / (p[:, 3] + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + 1 + eps)
    return iou - (rho2 / c2 + v * alpha)


class YoloLoss:
    """YOLOv5-style assignment: a target goes to every anchor whose shape ratio is within
    ``anchor_ratio`` and to its cell plus the two nearest neighbour cells (more positives, faster
    convergence from scratch). Objectness targets are the predicted box's IoU."""

    def __init__(self, anchors: np.ndarray, anchor_ratio: float = 4.0, balance=(1.0, 0.4)):
        self.anchors = torch.as_tensor(anchors, dtype=torch.float32).view(len(STRIDES), -1, 2)
        self.anchor_ratio = anchor_ratio
        self.balance = balance

    def __call__(self, preds: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """``targets`` is (T, 5): image index in batch, cx, cy, w, h in input pixels."""
        box_loss = torch.zeros(())
        obj_loss = torch.zeros(())
        bs = preds[0].shape[0]
        for level, (p, stride) in enumerate(zip(preds, STRIDES)):
            p = p.float()
            obj_target = torch.zeros_like(p[..., 4])
            if len(targets):
                b, a, gj, gi, tbox = self._assign(targets, level, p.shape[2], p.shape[3], stride)
                if len(b):
                    ps = p[b, a, gj, gi].sigmoid()
                    anchors = self.anchors[level][a] / stride
                    pxy = ps[:, :2] * 2 - 0.5
                    pwh = (ps[:, 2:4] * 2) ** 2 * anchors
                    ciou = _bbox_ciou(torch.cat([pxy, pwh], 1), tbox)
                    box_loss = box_loss + (1 - ciou).mean()
                    obj_target[b, a, gj, gi] = ciou.detach().clamp(0).to(obj_target.dtype)
            obj_loss = obj_loss + F.binary_cross_entropy_with_logits(p[..., 4], obj_target) * self.balance[level]
        loss = (0.05 * box_loss + 1.0 * obj_loss) * bs
        return loss, {"box": float(box_loss.detach()), "obj": float(obj_loss.detach())}

    def _assign(self, targets, level, h, w, stride):
        anchors = self.anchors[level] / stride  # in grid units
        t = targets.clone()
        t[:, 1:] /= stride
        n_a = len(anchors)
        ratio = t[None, :, 3:5] / anchors[:, None]  # (A, T, 2)
        ok = torch.max(ratio, 1 / ratio).max(2).values < self.anchor_ratio
        a_idx, t_idx = ok.nonzero(as_tuple=True)
        if not len(t_idx):
            e = torch.zeros(0, dtype=torch.long)
            return e, e, e, e, torch.zeros(0, 4)
        sel = t[t_idx]
        gxy = sel[:, 1:3]
        frac = gxy % 1
        # Centre cell plus the neighbour cells on the near side in x and in y.
        offsets = [torch.zeros(len(sel), 2)]
        masks = [torch.ones(len(sel), dtype=torch.bool)]
        for dim in (0, 1):
            off = torch.zeros(len(sel), 2)
            near_low = (frac[:, dim] < 0.5) & (gxy[:, dim] > 1)
            off[near_low, dim] = -1
            off[~near_low, dim] = 1
            limit = w if dim == 0 else h
            valid = (gxy[:, dim] + off[:, dim] >= 0) & (gxy[:, dim] + off[:, dim] < limit)
            offsets.append(off)
            masks.append(valid)
        b_list, a_list, gi_list, gj_list, box_list = [], [], [], [], []
        for off, m in zip(offsets, masks):
            cell = (gxy[m] + off[m]).long()
            gi = cell[:, 0].clamp(0, w - 1)
            gj = cell[:, 1].clamp(0, h - 1)
            b_list.append(sel[m, 0].long())
            a_list.append(a_idx[m])
            gi_list.append(gi)
            gj_list.append(gj)
            box_list.append(torch.cat([gxy[m] - torch.stack([gi, gj], 1), sel[m, 3:5]], 1))
        del n_a
        return (torch.cat(b_list), torch.cat(a_list), torch.cat(gj_list), torch.cat(gi_list), torch.cat(box_list))


def decode_predictions(preds: list[torch.Tensor], anchors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Float-model predictions -> the same sigmoid tensors the TFLite model outputs, per image and
    head, so evaluation of the float model uses the daemon's own numpy decoding."""
    out = []
    for p in preds:
        s = p.float().sigmoid().detach().cpu().numpy()  # (B, A, H, W, 5)
        out.append(s)
    return out
