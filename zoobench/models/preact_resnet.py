"""Pre-activation ResNet (He et al. 2016, "Identity Mappings in Deep Residual Networks").

Each residual unit computes BN -> ReLU -> conv (x2 or x3) on the residual path and adds a clean identity, so no
activation sits on the shortcut. A projection shortcut (1x1 conv, no BN) takes the pre-activated input, which the
residual path shares. The network is conv 7x7 -> BN -> ReLU -> max-pool, four stages of units, then a final
BN -> ReLU before global pooling: the layout of pytorchcv's preresnet18..152, which these models equal in
parameters, MACs and outputs (weights copied in registration order; see tests/test_models_preact_resnet.py).

Bottleneck units stride in their first 1x1 convolution by default (the original ResNet convention, pytorchcv's
`preresnet50`); `stride_in_1x1=False` moves the stride to the 3x3 convolution (pytorchcv's `preresnet50b`,
torchvision's "v1.5" placement).
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.models.resnet import conv1x1, conv3x3
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("Identity Mappings in Deep Residual Networks", "1603.05027")


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Conv2d | None:
    """1x1 projection where the shape changes; no BN after it, since the sum is normalised by the next unit."""
    return conv1x1(in_ch, out_ch, stride) if stride != 1 or in_ch != out_ch else None


class PreActBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, stride_in_1x1: bool = True) -> None:
        super().__init__()
        del stride_in_1x1  # a basic block has no 1x1 convolution; accepted so both blocks share one signature
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv3x3(in_ch, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = _shortcut(in_ch, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(pre)
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + shortcut


class PreActBottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, stride_in_1x1: bool = True) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(in_ch, planes, stride if stride_in_1x1 else 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, 1 if stride_in_1x1 else stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, out_ch)
        self.downsample = _shortcut(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(pre)
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(
        self,
        block: type[PreActBasicBlock | PreActBottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        stride_in_1x1: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_ch = 64
        stages = []
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            units = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                units.append(block(in_ch, planes, stride, stride_in_1x1))
                in_ch = planes * block.expansion
            stages.append(nn.Sequential(*units))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        # The units end in a bare sum, so the trunk needs one more BN -> ReLU before pooling, as the paper prescribes.
        self.final_bn = nn.BatchNorm2d(in_ch)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.relu(self.final_bn(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# The paper reports ImageNet results only for ResNet-152 and ResNet-200 (Table 5).
_ACC_152 = Accuracy(78.9, 94.5, "paper Table 5, 1-crop 320 (trained at 224)", 1, 320)

MODELS = [
    variant("preact_resnet18", "PreActResNet18", block=PreActBasicBlock, layers=(2, 2, 2, 2)),
    variant("preact_resnet34", "PreActResNet34", block=PreActBasicBlock, layers=(3, 4, 6, 3)),
    variant("preact_resnet50", "PreActResNet50", block=PreActBottleneck, layers=(3, 4, 6, 3)),
    variant("preact_resnet101", "PreActResNet101", block=PreActBottleneck, layers=(3, 4, 23, 3)),
    variant("preact_resnet152", "PreActResNet152", _ACC_152, block=PreActBottleneck, layers=(3, 8, 36, 3)),
]
register("preact_resnet", MODELS, builder=PreActResNet, year=2016, paper=PAPER)
