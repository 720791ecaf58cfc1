"""The plate recognizer: a small all-convolutional CTC model that reads one- and two-line plates
in one pass.

The input is a grey 64×W crop of the whole plate (``ocr.INPUT_W`` wide). The feature map is
reduced to two rows of W/4 columns; the CTC sequence is the top row followed by the bottom row
(W/2 steps). A one-line plate is read on either row with blanks on the other; a two-line plate
reads its top line on the top row. No recurrent layers: everything quantizes to int8 and runs
through XNNPACK.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edge_alpr.ocr import INPUT_H, INPUT_W  # noqa: F401  (the training's input size, re-exported)

NUM_CLASSES = 37  # CTC blank + 0-9 + A-Z


class ConvBNReLU(nn.Module):
    def __init__(self, c_in: int, c_out: int, k=3, s=1):
        super().__init__()
        k = (k, k) if isinstance(k, int) else k
        self.conv = nn.Conv2d(c_in, c_out, k, s, (k[0] // 2, k[1] // 2), bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class PlateRecognizer(nn.Module):
    # (out channels, stride): 64xW -> 32xW/2 -> 16xW/4 -> 8xW/4 -> 4xW/4 -> 2xW/4
    PLAN = ((32, 1), (48, 2), (64, 1), (96, 2), (96, 1), (128, (2, 1)), (128, 1), (160, (2, 1)), (160, (2, 1)))

    def __init__(self):
        super().__init__()
        layers, c = [], 1
        for out, stride in self.PLAN:
            layers.append(ConvBNReLU(c, out, 3, stride))
            c = out
        self.body = nn.Sequential(*layers)
        # Context across both rows and ±2 columns per layer: enough to know which row holds
        # a one-line plate and to separate neighbouring characters.
        self.context = nn.Sequential(ConvBNReLU(c, c, (3, 5)), ConvBNReLU(c, c, (3, 5)))
        self.classifier = nn.Conv2d(c, NUM_CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 64, W) in [0, 1] -> logits (B, W/2, 37)."""
        y = self.classifier(self.context(self.body(x)))  # (B, 37, 2, W/4)
        b = y.shape[0]
        return y.permute(0, 2, 3, 1).reshape(b, -1, NUM_CLASSES)
