"""IGCV3 (Sun et al. 2018, "IGCV3: Interleaved Low-Rank Group Convolutions for Efficient Deep Neural Networks").

IGCV3-D is MobileNetV2 made deeper (4-6-8-6-6 blocks in the middle stages instead of 2-3-4-3-3) with the dense 1x1
convs of each inverted-residual block replaced by 2-group 1x1 convs, a channel shuffle between the first group conv
and the depthwise conv interleaving the two groups. As in pytorchcv's port (the equivalence reference), only the
depthwise conv is followed by ReLU6; both group convs are linear.
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct, init_weights
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("IGCV3: Interleaved Low-Rank Group Convolutions for Efficient Deep Neural Networks", "1806.00178")

# (output channels, blocks, stride of the first block); the first block of all has no expansion.
_SETTINGS: tuple[tuple[int, int, int], ...] = (
    (16, 1, 1),
    (24, 4, 2),
    (32, 6, 2),
    (64, 8, 2),
    (96, 6, 1),
    (160, 6, 2),
    (320, 1, 1),
)
_GROUPS = 2
_EXPANSION = 6


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels so that each group of the next conv sees channels from every group of the last one."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class IGCV3Block(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, expand: bool) -> None:
        super().__init__()
        mid = in_ch * _EXPANSION if expand else in_ch
        self.conv1 = ConvBNAct(in_ch, mid, 1, groups=_GROUPS, activation=None)
        self.conv2 = ConvBNAct(mid, mid, 3, stride, groups=mid, activation=nn.ReLU6)
        self.conv3 = ConvBNAct(mid, out_ch, 1, groups=_GROUPS, activation=None)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv3(self.conv2(channel_shuffle(self.conv1(x), _GROUPS)))
        return out + x if self.use_residual else out


def _even(value: float) -> int:
    """Width scaling rule of the released models: truncate, then round up to even (2-group convs need even widths)."""
    n = int(value)
    return n + n % 2


class IGCV3(nn.Module):
    def __init__(self, width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        in_ch = _even(32 * width)
        # The 1280-channel last conv widens with the network but is never thinned (as in MobileNetV2).
        last_ch = _even(1280 * width) if width > 1.0 else 1280
        layers: list[nn.Module] = [ConvBNAct(3, in_ch, 3, 2, activation=nn.ReLU6)]
        for i, (c, n, s) in enumerate(_SETTINGS):
            out_ch = _even(c * width)
            for j in range(n):
                layers.append(IGCV3Block(in_ch, out_ch, s if j == 0 else 1, expand=i > 0 or j > 0))
                in_ch = out_ch
        layers.append(ConvBNAct(in_ch, last_ch, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _accuracy(top1: float) -> Accuracy:
    return Accuracy(top1, None, "paper, IGCV3-D vs MobileNetV2 at width multipliers 0.7/1.0/1.4, 1-crop 224", 1, 224)


MODELS = [
    variant("igcv3_w0_7", "IGCV3-D (0.7)", _accuracy(68.45), width=0.7),
    variant("igcv3_w1_0", "IGCV3-D (1.0)", _accuracy(72.20), width=1.0),
    variant("igcv3_w1_4", "IGCV3-D (1.4)", _accuracy(74.70), width=1.4),
]
register("igcv3", MODELS, builder=IGCV3, year=2018, paper=PAPER)
