"""Inception v3 (Szegedy et al. 2015, "Rethinking the Inception Architecture") and Inception v4 (Szegedy et al. 2016,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning").

Both are built from conv (no bias) -> batch norm (eps 1e-3) -> ReLU units, with unpadded ("VALID") stride-2 convs and
pools in the stems and reduction blocks, so both need at least a 75x75 input (native 299).

- `inception_v3`: module names follow torchvision's Inception3, so its state_dict loads with strict=True. The auxiliary
  classifier only trains the network, and the zoo model (and its parameter count, 23,834,568) has none;
  `aux_logits=True` adds torchvision's `AuxLogits` (3,326,696 parameters more, keys match: torchvision's pretrained
  checkpoint then loads as is) which runs in training mode only, where forward returns (logits, aux).
  `transform_input=True` rescales ImageNet-normalised input to [-1, 1] as torchvision does for its pretrained weights.
- `inception_v4`: keys follow timm's inception_v4 (features.N..., last_linear), so timm's state_dict loads with
  strict=True. The factorised 7x7 and 3x3 convs are ordered as in Google's TF-slim release that timm ports (7x1
  before 1x7 in the second Inception-B branch, 3x1 before 1x3 in Inception-C), which differs from the paper's figures
  in order only: same parameters, same MACs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.models.googlenet import BasicConv2d, to_unit_range
from zoobench.registry import Accuracy, Paper, register, variant

RETHINKING = Paper("Rethinking the Inception Architecture for Computer Vision", "1512.00567")
INCEPTION_V4 = Paper("Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning", "1602.07261")


def bconv(in_ch: int, out_ch: int, kernel: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0):
    return BasicConv2d(in_ch, out_ch, kernel, stride, padding, bn=True, bias=False, eps=1e-3)


def _chain(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


def _avg3(x: torch.Tensor) -> torch.Tensor:
    # torchvision averages over the zero padding too (count_include_pad=True).
    return F.avg_pool2d(x, 3, 1, 1)


# ---- Inception v3 (torchvision key layout)


class MixedA(nn.Module):
    """35x35 module (paper Figure 5): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""

    def __init__(self, in_ch: int, pool_ch: int) -> None:
        super().__init__()
        self.branch1x1 = bconv(in_ch, 64, 1)
        self.branch5x5_1 = bconv(in_ch, 48, 1)
        self.branch5x5_2 = bconv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = bconv(in_ch, 64, 1)
        self.branch3x3dbl_2 = bconv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = bconv(96, 96, 3, padding=1)
        self.branch_pool = bconv(in_ch, pool_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch5x5_1, self.branch5x5_2),
                _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )


class ReduceA(nn.Module):
    """35 -> 17 grid reduction (Figure 10): 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3 = bconv(in_ch, 384, 3, stride=2)
        self.branch3x3dbl_1 = bconv(in_ch, 64, 1)
        self.branch3x3dbl_2 = bconv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = bconv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3)
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, 2)], 1)


class MixedB(nn.Module):
    """17x17 module (Figure 6, n = 7): 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg pool -> 1x1."""

    def __init__(self, in_ch: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = bconv(in_ch, 192, 1)
        self.branch7x7_1 = bconv(in_ch, c7, 1)
        self.branch7x7_2 = bconv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = bconv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = bconv(in_ch, c7, 1)
        self.branch7x7dbl_2 = bconv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = bconv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = bconv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = bconv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = bconv(in_ch, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3)
        dbl = _chain(
            x,
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        )
        return torch.cat([self.branch1x1(x), seven, dbl, self.branch_pool(_avg3(x))], 1)


class ReduceB(nn.Module):
    """17 -> 8 grid reduction: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | 3x3/2 max pool."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3_1 = bconv(in_ch, 192, 1)
        self.branch3x3_2 = bconv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = bconv(in_ch, 192, 1)
        self.branch7x7x3_2 = bconv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = bconv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = bconv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = _chain(x, self.branch3x3_1, self.branch3x3_2)
        seven = _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4)
        return torch.cat([three, seven, F.max_pool2d(x, 3, 2)], 1)


class MixedC(nn.Module):
    """8x8 module with expanded filter banks (Figure 7): the 3x3s split into parallel 1x3 and 3x1 outputs."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch1x1 = bconv(in_ch, 320, 1)
        self.branch3x3_1 = bconv(in_ch, 384, 1)
        self.branch3x3_2a = bconv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = bconv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = bconv(in_ch, 448, 1)
        self.branch3x3dbl_2 = bconv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = bconv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = bconv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = bconv(in_ch, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_1(x)
        b = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )


class AuxHead(nn.Module):
    """Side classifier on the 17x17 grid (Figure 8): 5x5/3 avg pool -> 1x1 conv 128 -> 5x5 conv 768 -> FC."""

    def __init__(self, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = bconv(in_ch, 128, 1)
        self.conv1 = bconv(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, 5, 3)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class InceptionV3(nn.Module):
    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = False,
        transform_input: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        # Stem, paper Table 1: 299 -> 149 -> 147 -> 147 -> pool 73 -> 73 -> 71 -> pool 35.
        self.Conv2d_1a_3x3 = bconv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = bconv(32, 32, 3)
        self.Conv2d_2b_3x3 = bconv(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, 2)
        self.Conv2d_3b_1x1 = bconv(64, 80, 1)
        self.Conv2d_4a_3x3 = bconv(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, 2)
        self.Mixed_5b = MixedA(192, 32)  # outputs 64 + 64 + 96 + pool = 256, 288, 288
        self.Mixed_5c = MixedA(256, 64)
        self.Mixed_5d = MixedA(288, 64)
        self.Mixed_6a = ReduceA(288)  # 384 + 96 + 288 = 768
        self.Mixed_6b = MixedB(768, 128)
        self.Mixed_6c = MixedB(768, 160)
        self.Mixed_6d = MixedB(768, 160)
        self.Mixed_6e = MixedB(768, 192)
        if aux_logits:
            self.AuxLogits = AuxHead(768, num_classes)
        self.Mixed_7a = ReduceB(768)  # 320 + 192 + 768 = 1280
        self.Mixed_7b = MixedC(1280)  # 320 + 768 + 768 + 192 = 2048
        self.Mixed_7c = MixedC(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.transform_input:
            x = to_unit_range(x)
        x = self.maxpool1(_chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3))
        x = self.maxpool2(_chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3))
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a)
        x = _chain(x, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e)
        aux = self.AuxLogits(x) if self.aux_logits and self.training else None
        x = _chain(x, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c)
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return logits if aux is None else (logits, aux)


# ---- Inception v4 (timm key layout)


def _avg3_excluding_pad() -> nn.AvgPool2d:
    # TF "SAME" average pooling divides by the number of real pixels under the window.
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


class StemSplit(nn.Module):
    """Stem steps with a pool and a conv side by side (Figure 3): `pool_first` orders the concatenation."""

    def __init__(self, in_ch: int, out_ch: int, pool_first: bool) -> None:
        super().__init__()
        self.pool_first = pool_first
        self.maxpool = nn.MaxPool2d(3, 2)
        self.conv = bconv(in_ch, out_ch, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.maxpool(x), self.conv(x)]
        return torch.cat(parts if self.pool_first else parts[::-1], 1)


class StemConvs(nn.Module):
    """Stem step of Figure 3 at 73x73: 1x1 64 -> 3x3 96 | 1x1 64 -> 7x1 -> 1x7 -> 3x3 96 (unpadded 3x3s)."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(bconv(in_ch, 64, 1), bconv(64, 96, 3))
        self.branch1 = nn.Sequential(
            bconv(in_ch, 64, 1),
            bconv(64, 64, (1, 7), padding=(0, 3)),
            bconv(64, 64, (7, 1), padding=(3, 0)),
            bconv(64, 96, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x)], 1)


class BlockA(nn.Module):
    """Inception-A (Figure 4), 35x35x384: 1x1 96 | 1x1 64 -> 3x3 96 | 1x1 64 -> 3x3 96 -> 3x3 96 | avg -> 1x1 96."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = bconv(384, 96, 1)
        self.branch1 = nn.Sequential(bconv(384, 64, 1), bconv(64, 96, 3, padding=1))
        self.branch2 = nn.Sequential(bconv(384, 64, 1), bconv(64, 96, 3, padding=1), bconv(96, 96, 3, padding=1))
        self.branch3 = nn.Sequential(_avg3_excluding_pad(), bconv(384, 96, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class BlockReductionA(nn.Module):
    """Reduction-A (Figure 7, k=192 l=224 m=256 n=384): 3x3/2 384 | 1x1 -> 3x3 -> 3x3/2 256 | 3x3/2 max pool."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = bconv(384, 384, 3, stride=2)
        self.branch1 = nn.Sequential(bconv(384, 192, 1), bconv(192, 224, 3, padding=1), bconv(224, 256, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class BlockB(nn.Module):
    """Inception-B (Figure 5), 17x17x1024."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = bconv(1024, 384, 1)
        self.branch1 = nn.Sequential(
            bconv(1024, 192, 1), bconv(192, 224, (1, 7), padding=(0, 3)), bconv(224, 256, (7, 1), padding=(3, 0))
        )
        self.branch2 = nn.Sequential(
            bconv(1024, 192, 1),
            bconv(192, 192, (7, 1), padding=(3, 0)),
            bconv(192, 224, (1, 7), padding=(0, 3)),
            bconv(224, 224, (7, 1), padding=(3, 0)),
            bconv(224, 256, (1, 7), padding=(0, 3)),
        )
        self.branch3 = nn.Sequential(_avg3_excluding_pad(), bconv(1024, 128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class BlockReductionB(nn.Module):
    """Reduction-B (Figure 8): 1x1 192 -> 3x3/2 192 | 1x1 256 -> 1x7 -> 7x1 320 -> 3x3/2 320 | 3x3/2 max pool."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(bconv(1024, 192, 1), bconv(192, 192, 3, stride=2))
        self.branch1 = nn.Sequential(
            bconv(1024, 256, 1),
            bconv(256, 256, (1, 7), padding=(0, 3)),
            bconv(256, 320, (7, 1), padding=(3, 0)),
            bconv(320, 320, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class BlockC(nn.Module):
    """Inception-C (Figure 6), 8x8x1536: the last convs of two branches split into parallel 1x3 and 3x1."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = bconv(1536, 256, 1)
        self.branch1_0 = bconv(1536, 384, 1)
        self.branch1_1a = bconv(384, 256, (1, 3), padding=(0, 1))
        self.branch1_1b = bconv(384, 256, (3, 1), padding=(1, 0))
        self.branch2_0 = bconv(1536, 384, 1)
        self.branch2_1 = bconv(384, 448, (3, 1), padding=(1, 0))
        self.branch2_2 = bconv(448, 512, (1, 3), padding=(0, 1))
        self.branch2_3a = bconv(512, 256, (1, 3), padding=(0, 1))
        self.branch2_3b = bconv(512, 256, (3, 1), padding=(1, 0))
        self.branch3 = nn.Sequential(_avg3_excluding_pad(), bconv(1536, 256, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1_0(x)
        b = _chain(x, self.branch2_0, self.branch2_1, self.branch2_2)
        return torch.cat(
            [
                self.branch0(x),
                self.branch1_1a(a),
                self.branch1_1b(a),
                self.branch2_3a(b),
                self.branch2_3b(b),
                self.branch3(x),
            ],
            1,
        )


class InceptionV4(nn.Module):
    """Figure 9: stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B, 3 x Inception-C, pool, dropout."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            bconv(3, 32, 3, stride=2),  # 299 -> 149
            bconv(32, 32, 3),  # 147
            bconv(32, 64, 3, padding=1),  # 147
            StemSplit(64, 96, pool_first=True),  # 73, 64 + 96 = 160
            StemConvs(160),  # 71, 96 + 96 = 192
            StemSplit(192, 192, pool_first=False),  # 35, 384
            *(BlockA() for _ in range(4)),
            BlockReductionA(),  # 17, 384 + 256 + 384 = 1024
            *(BlockB() for _ in range(7)),
            BlockReductionB(),  # 8, 192 + 320 + 1024 = 1536
            *(BlockC() for _ in range(3)),
        )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(dropout)  # the paper keeps 0.8
        self.last_linear = nn.Linear(1536, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.global_pool(self.features(x)), 1)
        return self.last_linear(self.head_drop(x))


V3_ACCURACY = Accuracy(78.8, 94.4, "paper Table 3, Inception-v3 (BN-auxiliary), 1-crop 299", 1, 299)
V4_ACCURACY = Accuracy(80.0, 95.0, "paper Table 2, single model 1-crop 299", 1, 299)

MODELS = [
    variant(
        "inception_v3", "GoogleNet V3", V3_ACCURACY, torchvision=True, builder=InceptionV3, year=2015, paper=RETHINKING
    ),
    variant("inception_v4", "GoogleNet V4", V4_ACCURACY, builder=InceptionV4, year=2016, paper=INCEPTION_V4),
]
register("inception", MODELS, resolution=299)
