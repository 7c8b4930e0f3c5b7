"""DarkNet classifiers: Darknet-19 (YOLOv2 / YOLO9000, Redmon & Farhadi 2016) and Darknet-53 (YOLOv3, Redmon &
Farhadi 2018).

Every convolution is conv (no bias) -> batch norm -> leaky ReLU with slope 0.1, the "leaky" activation of the darknet
framework both papers were trained in. Darknet-19 ends in a 1x1 convolution to the classes followed by global average
pooling (paper Table 6); Darknet-53 in global average pooling and a fully connected layer (YOLOv3 Table 1).
No torchvision twin exists: the tests prove both equal pytorchcv's darknet19/darknet53 (params, MACs, outputs after
copying weights in order). timm's darknet53 is the same network except for a leaky slope of 0.01 (timm's default for
"leaky_relu"), so it is no reference for outputs; `negative_slope=0.01` builds timm's variant.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from zoobench.models._blocks import ConvBNAct
from zoobench.registry import Accuracy, Paper, register, variant

YOLO9000 = Paper("YOLO9000: Better, Faster, Stronger", "1612.08242")
YOLOV3 = Paper("YOLOv3: An Incremental Improvement", "1804.02767")

LEAKY_SLOPE = 0.1

# Darknet-19, paper Table 6: one list per resolution, (out_channels, kernel) per conv; a 2x2/2 max pool between lists.
DARKNET19_STAGES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((32, 3),),
    ((64, 3),),
    ((128, 3), (64, 1), (128, 3)),
    ((256, 3), (128, 1), (256, 3)),
    ((512, 3), (256, 1), (512, 3), (256, 1), (512, 3)),
    ((1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)),
)

# Darknet-53, YOLOv3 Table 1: residual units per stage; each stage opens with a 3x3 stride-2 conv doubling the width.
DARKNET53_UNITS = (1, 2, 8, 8, 4)


def _conv(in_ch: int, out_ch: int, kernel: int, negative_slope: float, stride: int = 1) -> ConvBNAct:
    return ConvBNAct(in_ch, out_ch, kernel, stride, activation=partial(nn.LeakyReLU, negative_slope, inplace=True))


class DarkNet19(nn.Module):
    def __init__(self, num_classes: int = 1000, negative_slope: float = LEAKY_SLOPE) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        in_ch = 3
        for i, convs in enumerate(DARKNET19_STAGES):
            layers: list[nn.Module] = [nn.MaxPool2d(2, 2)] if i else []  # pool opens every stage but the first
            for out_ch, kernel in convs:
                layers.append(_conv(in_ch, out_ch, kernel, negative_slope))
                in_ch = out_ch
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        # Fully convolutional head: the class scores are computed per position, then averaged.
        self.classifier = nn.Conv2d(in_ch, num_classes, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.classifier(self.features(x))), 1)


class DarkResidual(nn.Module):
    """1x1 halving conv -> 3x3 conv back to the width, added to the input (no activation after the sum)."""

    def __init__(self, channels: int, negative_slope: float) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels // 2, 1, negative_slope)
        self.conv2 = _conv(channels // 2, channels, 3, negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class DarkNet53(nn.Module):
    def __init__(self, num_classes: int = 1000, negative_slope: float = LEAKY_SLOPE) -> None:
        super().__init__()
        self.stem = _conv(3, 32, 3, negative_slope)
        stages: list[nn.Module] = []
        width = 32
        for units in DARKNET53_UNITS:
            down = _conv(width, width * 2, 3, negative_slope, stride=2)
            width *= 2
            stages.append(nn.Sequential(down, *(DarkResidual(width, negative_slope) for _ in range(units))))
        self.stages = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.stages(self.stem(x))), 1))


def _init(model: nn.Module) -> None:
    # Kaiming for the leaky convs; the class scores start small so the first softmax is near uniform.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=LEAKY_SLOPE, mode="fan_out", nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Conv2d):
        nn.init.normal_(head.weight, 0, 0.01)


# Each model's published accuracy, from its own paper (YOLOv2 is YOLO9000's detector).
V2_ACCURACY = Accuracy(72.9, 91.2, "paper §3 (Faster: Training for classification), 1-crop 224", 1, 224)
V3_ACCURACY = Accuracy(77.2, 93.8, "paper Table 2, 1-crop 256", 1, 256)

MODELS = [
    variant("darknet19", "DarkNet19(YOLOv2)", V2_ACCURACY, builder=DarkNet19, year=2016, paper=YOLO9000),
    # "tested at 256 x 256, single crop" (YOLOv3 §2.4)
    variant("darknet53", "DarkNet53(YOLOv3)", V3_ACCURACY, builder=DarkNet53, year=2018, paper=YOLOV3, resolution=256),
]
register("darknet", MODELS)
