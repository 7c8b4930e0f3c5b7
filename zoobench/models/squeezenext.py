"""SqueezeNext (Gholami et al. 2018, "SqueezeNext: Hardware-Aware Neural Network Design").

The block follows the paper: two 1x1 squeezes, a separable 1x3 then 3x1 conv, a 1x1 expand, and a residual
add; every conv has a bias and is followed by BN and ReLU (the authors' Caffe release). Channel rules follow that
release (as ported by pytorchcv, the equivalence reference): a stride-2 block squeezes by 1 then 2, a block that
narrows (64 -> 32 at the start of stage 1) by 4 then 8, any other block by 2 then 4; blocks whose shape changes get a
1x1 conv-BN-ReLU on the shortcut.
`23` is 6-6-8-1 blocks per stage; `23v5` (the paper's hardware-tuned v5) is 2-4-14-1.
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct, init_weights
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("SqueezeNext: Hardware-Aware Neural Network Design", "1803.10615")

_DEPTHS = {"23": (6, 6, 8, 1), "23v5": (2, 4, 14, 1)}
_WIDTHS = (32, 64, 128, 256)


class SqnxtBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if stride != 1:
            reduction = 1
        elif in_ch > out_ch:
            reduction = 4
        else:
            reduction = 2
        mid = in_ch // reduction
        self.conv1 = ConvBNAct(in_ch, mid, 1, stride, bias=True)
        self.conv2 = ConvBNAct(mid, mid // 2, 1, bias=True)
        self.conv3 = ConvBNAct(mid // 2, mid, (1, 3), bias=True)
        self.conv4 = ConvBNAct(mid, mid, (3, 1), bias=True)
        self.conv5 = ConvBNAct(mid, out_ch, 1, bias=True)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = ConvBNAct(in_ch, out_ch, 1, stride, bias=True)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.conv5(self.conv4(self.conv3(self.conv2(self.conv1(x)))))
        return self.relu(out + identity)


class SqueezeNext(nn.Module):
    def __init__(self, depth: str = "23", width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        stem_ch, final_ch = int(64 * width), int(128 * width)
        # The Caffe release pads the 7x7 stem conv by 1, not 3.
        self.stem = nn.Sequential(ConvBNAct(3, stem_ch, 7, 2, padding=1, bias=True), nn.MaxPool2d(3, 2, ceil_mode=True))
        stages: list[nn.Module] = []
        in_ch = stem_ch
        for i, (n, c) in enumerate(zip(_DEPTHS[depth], _WIDTHS, strict=True)):
            out_ch = int(c * width)
            blocks = []
            for j in range(n):
                blocks.append(SqnxtBlock(in_ch, out_ch, 2 if j == 0 and i > 0 else 1))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_conv = ConvBNAct(in_ch, final_ch, 1, bias=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(final_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_conv(self.stages(self.stem(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _accuracy(top1: float, top5: float) -> Accuracy:
    return Accuracy(top1, top5, "paper ImageNet results tables, 1-crop val", 1)


MODELS = [
    variant("sqnxt23_w1", "1.0-SqNxt-23", _accuracy(59.05, 82.60), depth="23", width=1.0),
    variant("sqnxt23v5_w1", "1.0-SqNxt-23v5", _accuracy(59.24, 82.41), depth="23v5", width=1.0),
    variant("sqnxt23_w2", "2.0-SqNxt-23", _accuracy(67.18, 88.17), depth="23", width=2.0),
    variant("sqnxt23v5_w2", "2.0-SqNxt-23v5", _accuracy(67.44, 88.20), depth="23v5", width=2.0),
]
register("squeezenext", MODELS, builder=SqueezeNext, year=2018, paper=PAPER)
