"""DenseNet-BC (Huang et al. 2017, "Densely Connected Convolutional Networks"), ImageNet configurations of Table 1.

Every layer is BN -> ReLU -> 1x1 conv (4k channels) -> BN -> ReLU -> 3x3 conv (k channels) and its output is
concatenated to everything before it in the block; transitions halve channels (compression 0.5) and resolution.
Module names follow torchvision's current DenseNet keys (`features.denseblock1.denselayer1.norm1`, ...) so
`torchvision.models.densenet121().state_dict()` loads with strict=True. torchvision's downloadable checkpoints
still use the legacy keys (`norm.1`, `conv.2`); `convert_legacy_state_dict` renames those.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("Densely Connected Convolutional Networks", "1608.06993")


class DenseLayer(nn.Module):
    def __init__(self, in_ch: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        inner = bn_size * growth_rate  # the "B" of DenseNet-BC: a 1x1 bottleneck to 4k channels
        self.norm1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_ch, inner, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(inner)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = drop_rate

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        # The concatenation is made here, not in the block, so BN sees one tensor; inplace ReLU acts on BN's output.
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        x = self.conv2(self.relu2(self.norm2(x)))
        return F.dropout(x, self.drop_rate, self.training) if self.drop_rate > 0 else x


class DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, in_ch: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        for i in range(n):
            self[f"denselayer{i + 1}"] = DenseLayer(in_ch + i * growth_rate, growth_rate, bn_size, drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            OrderedDict(
                norm=nn.BatchNorm2d(in_ch),
                relu=nn.ReLU(inplace=True),
                conv=nn.Conv2d(in_ch, out_ch, 1, bias=False),
                pool=nn.AvgPool2d(2, 2),
            )
        )


class DenseNet(nn.Module):
    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        stem = OrderedDict(
            conv0=nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False),
            norm0=nn.BatchNorm2d(num_init_features),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(3, 2, 1),
        )
        self.features = nn.Sequential(stem)
        ch = num_init_features
        for i, n in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, ch, growth_rate, bn_size, drop_rate))
            ch += n * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(ch, ch // 2))
                ch //= 2
        # Layers are pre-activated, so the trunk ends with one more BN (ReLU in forward, as torchvision does).
        self.features.add_module("norm5", nn.BatchNorm2d(ch))
        self.classifier = nn.Linear(ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# Legacy keys give the layer index its own path component: "denselayer3.norm.1.weight" = "denselayer3.norm1.weight".
_LEGACY_PART = re.compile(r"(denselayer\d+)\.(norm|conv)\.([12])\.")


def convert_legacy_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename old torchvision DenseNet keys (`...denselayer1.norm.1.weight`) to current ones (`...norm1.weight`).

    torchvision's pretrained DenseNet files predate PyTorch allowing dots in module names; this lets them load
    into our models. Current keys pass through unchanged.
    """
    return {_LEGACY_PART.sub(r"\1.\2\3.", key): value for key, value in state_dict.items()}


def _accuracy(top1_err: float, top5_err: float) -> Accuracy:
    return Accuracy(round(100 - top1_err, 2), round(100 - top5_err, 2), "paper Table 3, 1-crop 224", 1, 224)


def densenet(block_config: tuple[int, ...], **kwargs) -> DenseNet:
    return DenseNet(32, block_config, 64, **kwargs)


MODELS = [
    variant("densenet121", "DenseNet121", _accuracy(25.02, 7.71), torchvision=True, block_config=(6, 12, 24, 16)),
    variant("densenet169", "DenseNet169", _accuracy(23.80, 6.85), torchvision=True, block_config=(6, 12, 32, 32)),
    variant("densenet201", "DenseNet201", _accuracy(22.58, 6.34), torchvision=True, block_config=(6, 12, 48, 32)),
    variant("densenet264", "DenseNet264", _accuracy(22.15, 6.12), block_config=(6, 12, 64, 48)),
]
register("densenet", MODELS, builder=densenet, year=2017, paper=PAPER)
