"""VGG (Simonyan & Zisserman 2014, "Very Deep Convolutional Networks for Large-Scale Image Recognition").

Configurations A, B, D and E of the paper's Table 1 (VGG-11/13/16/19), with and without batch norm after every
convolution. Module indices follow torchvision's VGG (`features.<i>`, `classifier.0/3/6`) so its state_dicts (and
pretrained weights) load with strict=True.

`vgg*_bn_gap` is the variant the seed table measured: batch-norm convolutions, global average pooling and a single
512 x 1000 linear classifier instead of the three fully connected layers (see docs/_recon/vgg.md).
"""

from __future__ import annotations

import torch
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.registry import Accuracy, Paper, Variant, register, variant

PAPER = Paper("Very Deep Convolutional Networks for Large-Scale Image Recognition", "1409.1556")

WIDTHS = (64, 128, 256, 512, 512)  # output channels of the five stages, each closed by a 2x2 max-pool

# Convolutions per stage, paper Table 1.
DEPTHS: dict[str, tuple[int, int, int, int, int]] = {
    "A": (1, 1, 2, 2, 2),  # VGG-11
    "B": (2, 2, 2, 2, 2),  # VGG-13
    "D": (2, 2, 3, 3, 3),  # VGG-16
    "E": (2, 2, 4, 4, 4),  # VGG-19
}


def make_features(depths: tuple[int, ...], batch_norm: bool) -> nn.Sequential:
    """The convolutional trunk as one flat Sequential: its indices are the state_dict keys torchvision uses."""
    layers: list[nn.Module] = []
    in_ch = 3
    for width, n in zip(WIDTHS, depths, strict=True):
        for _ in range(n):
            # 3x3, stride 1, padding 1 throughout; the conv keeps its bias even with BN, as torchvision does.
            layers.append(nn.Conv2d(in_ch, width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            in_ch = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG trunk + head.

    `pooled_head=False`: the paper's head, 7x7 adaptive pool -> FC-4096 -> FC-4096 -> FC-classes (with dropout).
    `pooled_head=True`: global average pool -> one linear layer (the seed's variant).
    """

    def __init__(
        self,
        depths: tuple[int, int, int, int, int],
        batch_norm: bool = False,
        pooled_head: bool = False,
        num_classes: int = 1000,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.features = make_features(depths, batch_norm)
        last = WIDTHS[-1]
        if pooled_head:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier: nn.Module = nn.Linear(last, num_classes)
        else:
            # The adaptive pool makes the 25088-wide FC layer work at any input size >= 32.
            self.avgpool = nn.AdaptiveAvgPool2d(7)
            self.classifier = nn.Sequential(
                nn.Linear(last * 7 * 7, 4096),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(4096, 4096),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(4096, num_classes),
            )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _paper_accuracy(top1_err: float, top5_err: float, scales: str, test_scale: int) -> Accuracy:
    # Dense evaluation: the fully convolutional net over the whole image at scale Q, class scores averaged.
    return Accuracy(
        round(100 - top1_err, 2),
        round(100 - top5_err, 2),
        f"paper Table 3, single-scale dense evaluation, {scales}",
        None,
        test_scale,
    )


def _torchvision_accuracy(top1: float, top5: float, weights: str) -> Accuracy:
    # No paper reports VGG with batch norm; these are torchvision's published figures for its weights.
    return Accuracy(top1, top5, f"torchvision {weights} weights, 1-crop 224 (no paper figure)", 1, 224, "torchvision")


# name -> (config, seed row, paper top-1/top-5 error and the Table 3 row they come from)
_PAPER_ROWS = {
    "vgg11": ("A", "Vgg11", _paper_accuracy(29.6, 10.4, "train S=256, test Q=256", 256)),
    "vgg13": ("B", "Vgg13", _paper_accuracy(28.7, 9.9, "train S=256, test Q=256", 256)),
    "vgg16": ("D", "Vgg16", _paper_accuracy(25.6, 8.1, "train S in [256,512], test Q=384", 384)),
    "vgg19": ("E", "Vgg19", _paper_accuracy(25.5, 8.0, "train S in [256,512], test Q=384", 384)),
}
_BN_ACCURACY = {
    "vgg11": _torchvision_accuracy(70.37, 89.81, "VGG11_BN_Weights.IMAGENET1K_V1"),
    "vgg13": _torchvision_accuracy(71.586, 90.374, "VGG13_BN_Weights.IMAGENET1K_V1"),
    "vgg16": _torchvision_accuracy(73.36, 91.516, "VGG16_BN_Weights.IMAGENET1K_V1"),
    "vgg19": _torchvision_accuracy(74.218, 91.842, "VGG19_BN_Weights.IMAGENET1K_V1"),
}


def vgg(config: str, batch_norm: bool = False, pooled_head: bool = False, **kwargs) -> VGG:
    return VGG(DEPTHS[config], batch_norm=batch_norm, pooled_head=pooled_head, **kwargs)


def _variants(name: str, config: str, seed: str, accuracy: Accuracy) -> list[Variant]:
    """A configuration's three models: the paper's, with batch norm, and with batch norm and a pooled head."""
    return [
        variant(name, seed, accuracy, torchvision=True, config=config),
        variant(f"{name}_bn", accuracy=_BN_ACCURACY[name], torchvision=True, config=config, batch_norm=True),
        variant(f"{name}_bn_gap", config=config, batch_norm=True, pooled_head=True),
    ]


MODELS = [row for name, info in _PAPER_ROWS.items() for row in _variants(name, *info)]
register("vgg", MODELS, builder=vgg, year=2015, paper=PAPER)
