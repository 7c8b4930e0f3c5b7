"""ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition").

Module names follow torchvision's ResNet so its state_dicts (and pretrained weights) load with strict=True.
`groups` and `width_per_group` make the same class build ResNeXt.
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("Deep Residual Learning for Image Recognition", "1512.03385")


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride, 1, groups=groups, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)


def downsample(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    """Projection shortcut (option B of the paper) where the shape changes, identity otherwise."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(conv1x1(in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64")
        self.conv1 = conv3x3(in_ch, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample(in_ch, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (stride here, as in torchvision "ResNet v1.5") -> 1x1 expand."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        out_ch = planes * self.expansion
        self.conv1 = conv1x1(in_ch, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_ch)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        groups: int = 1,
        width_per_group: int = 64,
    ) -> None:
        super().__init__()
        self.groups = groups
        self.base_width = width_per_group
        self.in_ch = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1)
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_weights(self)

    def _make_layer(self, block: type[BasicBlock | Bottleneck], planes: int, n: int, stride: int) -> nn.Sequential:
        blocks = []
        for i in range(n):
            blocks.append(block(self.in_ch, planes, stride if i == 0 else 1, self.groups, self.base_width))
            self.in_ch = planes * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _accuracy(top1: float, top5: float | None, table: str = "Table 3, option B/C") -> Accuracy:
    return Accuracy(top1, top5, f"paper {table}, 10-crop val", 10, 224)


MODELS = [
    variant(
        "resnet18",
        "ResNet18",
        _accuracy(72.12, None, "Table 2"),
        torchvision=True,
        block=BasicBlock,
        layers=(2, 2, 2, 2),
    ),
    variant("resnet34", "ResNet34", _accuracy(75.81, 92.60), torchvision=True, block=BasicBlock, layers=(3, 4, 6, 3)),
    variant("resnet50", "ResNet50", _accuracy(77.15, 93.29), torchvision=True, block=Bottleneck, layers=(3, 4, 6, 3)),
    variant(
        "resnet101", "ResNet101", _accuracy(78.25, 93.95), torchvision=True, block=Bottleneck, layers=(3, 4, 23, 3)
    ),
    variant(
        "resnet152", "ResNet152", _accuracy(78.57, 94.29), torchvision=True, block=Bottleneck, layers=(3, 8, 36, 3)
    ),
]
register("resnet", MODELS, builder=ResNet, year=2016, paper=PAPER)
