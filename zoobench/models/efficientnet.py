"""EfficientNet B0-B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks").

B0 is a stack of MBConv blocks (1x1 expand -> depthwise kxk -> squeeze-excitation -> 1x1 project, SiLU activations);
B1-B7 scale its widths, depths and input resolution together (compound scaling). Module names follow torchvision's
EfficientNet, so its state_dicts (and pretrained weights) load with strict=True; batch-norm eps/momentum follow
torchvision's too (its default for B0-B4, the paper's TensorFlow values eps 1e-3 / momentum 0.01 for B5-B7), so
pretrained weights give the same outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct, SqueezeExcitation, make_divisible
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", "1905.11946")
YEAR = 2019


@dataclass(frozen=True)
class Stage:
    """One row of the paper's Table 1 (B0): MBConv expansion, kernel, first stride, channels in/out, layers."""

    expand: int
    kernel: int
    stride: int
    in_ch: int
    out_ch: int
    layers: int


B0_STAGES = (
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)


class StochasticDepth(nn.Module):
    """Drop the whole residual branch per sample with probability p while training (Huang et al. 2016).

    Survivors are scaled by 1/(1-p) so the expectation is unchanged; in eval mode this is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation; residual (with stochastic depth) when shapes allow."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        expand: int,
        kernel: int,
        stride: int,
        drop_path: float,
        bn: dict[str, float],
    ) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_ch == out_ch
        hidden = make_divisible(in_ch * expand, 8)
        layers: list[nn.Module] = []
        if hidden != in_ch:  # expand_ratio 1 (the first stage) has no expansion conv
            layers.append(ConvBNAct(in_ch, hidden, 1, activation=nn.SiLU, **bn))
        layers += [
            ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, activation=nn.SiLU, **bn),
            # the squeeze width is a quarter of the block's *input* channels, not of the expanded ones
            SqueezeExcitation(hidden, max(1, in_ch // 4), activation=nn.SiLU),
            ConvBNAct(hidden, out_ch, 1, activation=None, **bn),  # linear bottleneck: no activation
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop_path)
        self.out_channels = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    def __init__(
        self,
        width: float,
        depth: float,
        dropout: float,
        num_classes: int = 1000,
        drop_path: float = 0.2,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        bn = {"eps": bn_eps, "momentum": bn_momentum}

        def channels(c: int) -> int:
            return make_divisible(c * width, 8)

        stages = [
            Stage(s.expand, s.kernel, s.stride, channels(s.in_ch), channels(s.out_ch), math.ceil(s.layers * depth))
            for s in B0_STAGES
        ]
        total_blocks = sum(s.layers for s in stages)
        layers: list[nn.Module] = [ConvBNAct(3, stages[0].in_ch, 3, 2, activation=nn.SiLU, **bn)]
        block_id = 0
        for s in stages:
            blocks = []
            for i in range(s.layers):
                in_ch, stride = (s.in_ch, s.stride) if i == 0 else (s.out_ch, 1)
                # drop probability grows linearly with depth, from 0 at the first block
                p = drop_path * block_id / total_blocks
                blocks.append(MBConv(in_ch, s.out_ch, s.expand, s.kernel, stride, p, bn))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
        head_ch = 4 * stages[-1].out_ch  # 1280 for B0
        layers.append(ConvBNAct(stages[-1].out_ch, head_ch, 1, activation=nn.SiLU, **bn))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True), nn.Linear(head_ch, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# name: (width, depth, native resolution, dropout, paper top-1, top-5)
VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2, 76.3, 93.2),
    "b1": (1.0, 1.1, 240, 0.2, 78.8, 94.4),
    "b2": (1.1, 1.2, 260, 0.3, 79.8, 94.9),
    "b3": (1.2, 1.4, 300, 0.3, 81.1, 95.5),
    "b4": (1.4, 1.8, 380, 0.4, 82.6, 96.3),
    "b5": (1.6, 2.2, 456, 0.4, 83.3, 96.7),
    "b6": (1.8, 2.6, 528, 0.5, 84.0, 96.9),
    "b7": (2.0, 3.1, 600, 0.5, 84.4, 97.1),
}
# torchvision builds B5-B7 with the TensorFlow BN settings and B0-B4 with PyTorch's defaults.
TF_BN = {"bn_eps": 1e-3, "bn_momentum": 0.01}

MODELS = [
    variant(
        f"efficientnet_{key}",
        f"EfficientNet-{key.upper()}",
        Accuracy(top1, top5, f"paper Table 2 (ICML 2019 version), single crop {res}", 1, res),
        torchvision=True,
        resolution=res,
        width=width,
        depth=depth,
        dropout=dropout,
        **(TF_BN if key in ("b5", "b6", "b7") else {}),
    )
    for key, (width, depth, res, dropout, top1, top5) in VARIANTS.items()
]
register("efficientnet", MODELS, builder=EfficientNet, year=YEAR, paper=PAPER)
