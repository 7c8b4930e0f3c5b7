"""MobileNet V1 (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018).

MobileNetV2's module names follow torchvision's, so its state_dicts (and pretrained weights) load with strict=True.
MobileNet V1 has no torchvision twin; its layers are registered in the order of timm's `mobilenetv1_100` and
pytorchcv's `mobilenet_w1`, so their weights copy over one to one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct, init_weights, make_divisible
from zoobench.registry import Accuracy, Paper, register, variant

V1_PAPER = Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications", "1704.04861")
V2_PAPER = Paper("MobileNetV2: Inverted Residuals and Linear Bottlenecks", "1801.04381")

# (output channels, stride) of the 13 depthwise-separable layers, paper Table 1. The paper prints stride 2 for the
# last one, but its own feature-map sizes (7x7 in and out) and every released model use stride 1.
_V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


class MobileNetV1(nn.Module):
    """Stem conv, 13 depthwise-separable layers (3x3 depthwise conv-BN-act, 1x1 pointwise conv-BN-act), GAP, FC.

    The paper uses ReLU; TensorFlow's release (and timm's port of it) uses ReLU6, hence `activation`.
    """

    def __init__(self, num_classes: int = 1000, activation: Callable[..., nn.Module] = nn.ReLU) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2, activation=activation)]
        in_ch = 32
        for out_ch, stride in _V1_LAYERS:
            layers.append(
                nn.Sequential(
                    ConvBNAct(in_ch, in_ch, 3, stride, groups=in_ch, activation=activation),
                    ConvBNAct(in_ch, out_ch, 1, activation=activation),
                )
            )
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class InvertedResidual(nn.Module):
    """1x1 expand (absent when t = 1) -> 3x3 depthwise -> linear 1x1 projection; identity shortcut when shapes match.

    `proj_shortcut` and `always_expand` build the seed's variant (see `mobilenet_v2_proj_shortcut`): a 1x1 conv-BN
    shortcut on stride-1 blocks whose channel count changes, and an expand conv even when t = 1.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        expand_ratio: int,
        proj_shortcut: bool = False,
        always_expand: bool = False,
    ) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        layers: list[nn.Module] = []
        if expand_ratio != 1 or always_expand:
            layers.append(ConvBNAct(in_ch, hidden, 1, activation=nn.ReLU6))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and in_ch == out_ch
        # Registered only in the seed variant, so the canonical state_dict keeps torchvision's keys.
        self.shortcut: nn.Module | None = None
        if proj_shortcut and stride == 1 and in_ch != out_ch:
            self.shortcut = ConvBNAct(in_ch, out_ch, 1, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.shortcut is not None:
            return out + self.shortcut(x)
        return out + x if self.use_res_connect else out


# (expansion t, output channels c, repeats n, first stride s), paper Table 2.
_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        dropout: float = 0.2,
        proj_shortcut: bool = False,
        always_expand: bool = False,
    ) -> None:
        super().__init__()
        in_ch = make_divisible(32 * width_mult, 8)
        # The paper applies the width multiplier to every layer but the last conv when it is below 1.
        last_ch = make_divisible(1280 * max(1.0, width_mult), 8)
        layers: list[nn.Module] = [ConvBNAct(3, in_ch, 3, 2, activation=nn.ReLU6)]
        for t, c, n, s in _V2_SETTINGS:
            out_ch = make_divisible(c * width_mult, 8)
            for i in range(n):
                layers.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t, proj_shortcut, always_expand))
                in_ch = out_ch
        layers.append(ConvBNAct(in_ch, last_ch, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_ch, num_classes))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


V1_ACCURACY = Accuracy(70.6, None, "paper Table 8 (1.0 MobileNet-224), 1-crop 224", 1, 224)
V2_ACCURACY = Accuracy(72.0, None, "paper Table 4 (MobileNetV2, 1.0), 1-crop 224", 1, 224)

MODELS = [
    variant("mobilenet_v1", "MobileNet", V1_ACCURACY, builder=MobileNetV1, year=2017, paper=V1_PAPER),
    variant("mobilenet_v2", "MobileNetV2", V2_ACCURACY, torchvision=True),
    # The seed's MobileNetV2 (3,564,680 params): every block expands, and stride-1 blocks that change width get a
    # 1x1 conv-BN shortcut, as in the widely copied pytorch-cifar MobileNetV2.
    variant("mobilenet_v2_proj_shortcut", proj_shortcut=True, always_expand=True),
]
register("mobilenet", MODELS, builder=MobileNetV2, year=2018, paper=V2_PAPER)
