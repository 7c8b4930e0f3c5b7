"""SqueezeNet 1.0 (Iandola et al. 2016) and its bypass variants (paper section 6, Figure 2).

Module names follow torchvision's SqueezeNet, so torchvision's squeezenet1_0 state_dict loads with strict=True.
Bypasses are added after a Fire module's concatenation, as in the paper:
- simple: an identity bypass around each Fire module whose input and output widths match (fire3, 5, 7, 9);
- complex: in addition, a 1x1 conv bypass (with bias, like every SqueezeNet conv) around the others (fire2, 4, 6, 8).
`bn=True` builds the seed's variants: every conv bias-free and followed by BatchNorm, the classifier conv included.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size", "1602.07360")

Bypass = Literal["none", "simple", "complex"]


def _conv(in_ch: int, out_ch: int, kernel_size: int, padding: int = 0, stride: int = 1, bn: bool = False) -> nn.Module:
    """A conv with bias (the paper's Caffe layers), or bias-free conv + BN for the seed's variants."""
    if not bn:
        return nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding)
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, bias=False), nn.BatchNorm2d(out_ch))


class Fire(nn.Module):
    """1x1 squeeze, then 1x1 and 3x3 expands side by side, concatenated; an optional bypass is added to the result."""

    def __init__(
        self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int, bypass: Bypass = "none", bn: bool = False
    ) -> None:
        super().__init__()
        out_ch = expand1x1 + expand3x3
        self.squeeze = _conv(in_ch, squeeze, 1, bn=bn)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = _conv(squeeze, expand1x1, 1, bn=bn)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = _conv(squeeze, expand3x3, 3, padding=1, bn=bn)
        self.expand3x3_activation = nn.ReLU(inplace=True)
        self.identity_bypass = bypass != "none" and in_ch == out_ch
        # Registered only where used, so the plain model keeps torchvision's keys.
        self.bypass: nn.Module | None = None
        if bypass == "complex" and in_ch != out_ch:
            self.bypass = _conv(in_ch, out_ch, 1, bn=bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        out = torch.cat([self.expand1x1_activation(self.expand1x1(s)), self.expand3x3_activation(self.expand3x3(s))], 1)
        if self.bypass is not None:
            return out + self.bypass(x)
        return out + x if self.identity_bypass else out


# Fire modules 2..9 of SqueezeNet 1.0, paper Table 1: (squeeze, expand 1x1, expand 3x3); max-pools follow conv1,
# fire4 and fire8.
_FIRES: tuple[tuple[int, int, int], ...] = (
    (16, 64, 64),
    (16, 64, 64),
    (32, 128, 128),
    (32, 128, 128),
    (48, 192, 192),
    (48, 192, 192),
    (64, 256, 256),
    (64, 256, 256),
)
_POOL_AFTER = {4, 8}  # fire module numbers


class SqueezeNet(nn.Module):
    def __init__(
        self, num_classes: int = 1000, bypass: Bypass = "none", bn: bool = False, dropout: float = 0.5
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            _conv(3, 96, 7, stride=2, bn=bn),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
        ]
        in_ch = 96
        for number, (sq, e1, e3) in enumerate(_FIRES, start=2):
            layers.append(Fire(in_ch, sq, e1, e3, bypass, bn))
            in_ch = e1 + e3
            if number in _POOL_AFTER:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        # conv10 is the classifier: 1x1 conv to the classes, ReLU, global average pool.
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            _conv(in_ch, num_classes, 1, bn=bn),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        final = self.classifier[1]
        final_conv = final if isinstance(final, nn.Conv2d) else final[0]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, 0.0, 0.01)  # small logits at the start of training
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def _accuracy(top1: float, top5: float, where: str) -> Accuracy:
    return Accuracy(top1, top5, f"paper {where}, 1-crop val", 1)


MODELS = [
    variant("squeezenet1_0", "SqueezeNet", _accuracy(57.5, 80.3, "Table 2"), torchvision=True),
    variant(
        "squeezenet1_0_simple_bypass", "SqueezeNet + Simple Bypass", _accuracy(60.4, 82.5, "Table 3"), bypass="simple"
    ),
    variant(
        "squeezenet1_0_complex_bypass",
        "SqueezeNet + Complex Bypass",
        _accuracy(58.8, 82.0, "Table 3"),
        bypass="complex",
    ),
    # The seed's SqueezeNet rows (1,252,400 / 1,252,400 / 1,594,928 params).
    variant("squeezenet1_0_bn", bn=True),
    variant("squeezenet1_0_simple_bypass_bn", bypass="simple", bn=True),
    variant("squeezenet1_0_complex_bypass_bn", bypass="complex", bn=True),
]
register("squeezenet", MODELS, builder=SqueezeNet, year=2017, paper=PAPER)
