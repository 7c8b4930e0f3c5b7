"""PeleeNet (Wang et al. 2018, "Pelee: A Real-Time Object Detection System on Mobile Devices").

A DenseNet variant: a stem block (3x3 s2 conv, then a 1x1 -> 3x3 s2 branch beside a 2x2 max-pool, concatenated and
fused by a 1x1 conv), four stages of two-way dense layers (growth 32, bottleneck widths 1, 2, 4, 4 times half the
growth rate), transitions without compression (1x1 conv + 2x2 average pool), a final 1x1 conv, GAP and FC.
Layers are registered in the order of pytorchcv's `peleenet`, the equivalence reference.
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct, init_weights
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("Pelee: A Real-Time Object Detection System on Mobile Devices", "1804.06882")


class StemBlock(nn.Module):
    def __init__(self, out_ch: int) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(3, out_ch, 3, 2)
        self.branch_conv = nn.Sequential(ConvBNAct(out_ch, out_ch // 2, 1), ConvBNAct(out_ch // 2, out_ch, 3, 2))
        self.branch_pool = nn.MaxPool2d(2, 2)
        self.fuse = ConvBNAct(2 * out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.fuse(torch.cat([self.branch_conv(x), self.branch_pool(x)], 1))


class DenseLayer(nn.Module):
    """Two-way dense layer: a 1x1 -> 3x3 branch (small receptive field) and a 1x1 -> 3x3 -> 3x3 branch (large), each
    adding half the growth rate to the concatenation."""

    def __init__(self, in_ch: int, growth: int, bottleneck: int) -> None:
        super().__init__()
        half = growth // 2
        mid = half * bottleneck
        self.branch1 = nn.Sequential(ConvBNAct(in_ch, mid, 1), ConvBNAct(mid, half, 3))
        self.branch2 = nn.Sequential(ConvBNAct(in_ch, mid, 1), ConvBNAct(mid, half, 3), ConvBNAct(half, half, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.branch1(x), self.branch2(x)], 1)


class PeleeNet(nn.Module):
    def __init__(
        self,
        num_classes: int = 1000,
        stem_channels: int = 32,
        growth: int = 32,
        layers: tuple[int, ...] = (3, 4, 8, 6),
        bottlenecks: tuple[int, ...] = (1, 2, 4, 4),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.stem = StemBlock(stem_channels)
        ch = stem_channels
        stages: list[nn.Module] = []
        for i, (n, b) in enumerate(zip(layers, bottlenecks, strict=True)):
            stage: list[nn.Module] = []
            if i > 0:  # transition, without compression, between stages
                stage += [ConvBNAct(ch, ch, 1), nn.AvgPool2d(2, 2)]
            for _ in range(n):
                stage.append(DenseLayer(ch, growth, b))
                ch += growth
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.final_conv = ConvBNAct(ch, ch, 1)  # the last transition, without pooling
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(ch, num_classes))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_conv(self.stages(self.stem(x)))
        return self.classifier(torch.flatten(self.avgpool(x), 1))


MODELS = [
    variant(
        "peleenet", "PeleeNet", Accuracy(72.6, 90.6, "paper, ImageNet ILSVRC 2012 results table, 1-crop 224", 1, 224)
    ),
    # The seed's PeleeNet (4,519,880 params): a 224-channel stem instead of 32, which widens every later layer by 192
    # channels.
    variant("peleenet_stem224", stem_channels=224),
]
register("peleenet", MODELS, builder=PeleeNet, year=2018, paper=PAPER)
