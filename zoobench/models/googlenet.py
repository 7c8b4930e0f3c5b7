"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going Deeper with Convolutions") and BN-Inception, called
GoogLeNet v2 (Ioffe & Szegedy 2015, "Batch Normalization").

Four v1 models share one class, set by a `V1Config`:
- `googlenet_v1`: the paper's Table 1 network (convs with bias, no normalisation, true 5x5 convs, 3x3/2 max pools with
  Caffe's ceil rounding, dropout 0.4). No implementation exists to compare against; the tests derive its count from
  Table 1.
- `googlenet_v1_lrn`: the same plus the two LocalResponseNorm layers of the paper's Figure 3 (after pool1, after the
  3x3 conv2), as in the released Caffe model. LRN has no parameters.
- `googlenet_v1_bn`: torchvision's `googlenet` (module names match, its state_dict loads with strict=True): batch
  norm (eps 1e-3) after every bias-free conv, and two quirks inherited from the TF-slim weights torchvision ships:
  the "5x5" branch uses a 3x3 conv, and pool4 is 2x2/2.
- `googlenet_v1_bn_5x5`: the seed's "GoogleNet V1 (Bn)": the paper's network (true 5x5, 3x3/2 pool4) with batch norm
  after every conv and the conv biases kept.
Auxiliary classifiers: the paper discards them at inference, so the zoo models (and their counts) have none;
`aux_logits=True` adds torchvision's `aux1`/`aux2` (keys match), which then run only in training mode, where forward
returns (logits, aux2, aux1) like torchvision. `transform_input=True` reproduces torchvision's rescaling of
ImageNet-normalised input to [-1, 1], which its pretrained weights expect.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from zoobench.models._blocks import init_weights
from zoobench.registry import Accuracy, Paper, register, variant

GOING_DEEPER = Paper("Going Deeper with Convolutions", "1409.4842")
BATCH_NORM = Paper(
    "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift", "1502.03167"
)

# Paper Table 1, one row per Inception module: in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
V1_MODULES: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std-normalised input -> [-1, 1] per channel (x * std / 0.5 + (mean - 0.5) / 0.5), the input
    scale of Google's TF-trained weights that torchvision's googlenet and inception_v3 ship."""
    # Constants computed in double precision, then rounded once: the same float32 factors torchvision applies.
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    scale = torch.tensor([s / 0.5 for s in std], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    shift = torch.tensor([(m - 0.5) / 0.5 for m in mean], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x * scale + shift


class BasicConv2d(nn.Module):
    """conv -> optional batch norm -> ReLU, with torchvision's keys (conv.*, bn.*)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
        *,
        bn: bool = True,
        bias: bool = False,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=bias)
        self.bn = nn.BatchNorm2d(out_ch, eps=eps) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True)


@dataclass(frozen=True)
class V1Config:
    bn: bool
    bias: bool
    big_kernel: int = 5  # kernel of the "5x5" branch (torchvision: 3)
    lrn: bool = False
    pool4_kernel: int = 3  # torchvision: 2
    dropout: float = 0.4
    eps: float = 1e-3


PAPER_V1 = V1Config(bn=False, bias=True)
PAPER_V1_LRN = V1Config(bn=False, bias=True, lrn=True)
TORCHVISION_BN = V1Config(bn=True, bias=False, big_kernel=3, pool4_kernel=2, dropout=0.2)
SEED_BN = V1Config(bn=True, bias=True)


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: 1x1 | 1x1 -> 3x3 | 1x1 -> kxk | 3x3 max pool -> 1x1."""

    def __init__(
        self, in_ch: int, ch1: int, red3: int, ch3: int, red5: int, ch5: int, proj: int, cfg: V1Config
    ) -> None:
        super().__init__()

        def conv(i: int, o: int, k: int) -> BasicConv2d:
            return BasicConv2d(i, o, k, padding=k // 2, bn=cfg.bn, bias=cfg.bias, eps=cfg.eps)

        self.branch1 = conv(in_ch, ch1, 1)
        self.branch2 = nn.Sequential(conv(in_ch, red3, 1), conv(red3, ch3, 3))
        self.branch3 = nn.Sequential(conv(in_ch, red5, 1), conv(red5, ch5, cfg.big_kernel))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv(in_ch, proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in (self.branch1, self.branch2, self.branch3, self.branch4)], 1)


class InceptionAux(nn.Module):
    """Training-time side classifier (paper §5): 5x5/3 average pool -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> FC."""

    def __init__(self, in_ch: int, num_classes: int, cfg: V1Config) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_ch, 128, 1, bn=cfg.bn, bias=cfg.bias, eps=cfg.eps)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, 4))  # = the paper's 5x5/3 pool on the 14x14 map of a 224 input
        return self.fc2(self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True)))


class GoogLeNet(nn.Module):
    def __init__(
        self,
        cfg: V1Config = PAPER_V1,
        num_classes: int = 1000,
        aux_logits: bool = False,
        transform_input: bool = False,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        def conv(i: int, o: int, k: int, stride: int = 1) -> BasicConv2d:
            return BasicConv2d(i, o, k, stride, k // 2, bn=cfg.bn, bias=cfg.bias, eps=cfg.eps)

        def pool(k: int = 3) -> nn.MaxPool2d:
            return nn.MaxPool2d(k, 2, ceil_mode=True)  # Caffe rounds pooled sizes up

        def lrn() -> nn.Module:
            # Caffe's LRN: 5 channels, alpha 1e-4 (divided by the size, as torch does), beta 0.75, k 1.
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if cfg.lrn else nn.Identity()

        self.conv1 = conv(3, 64, 7, 2)
        self.maxpool1 = pool()
        self.lrn1 = lrn()
        self.conv2 = conv(64, 64, 1)
        self.conv3 = conv(64, 192, 3)
        self.lrn2 = lrn()
        self.maxpool2 = pool()
        m = {name: Inception(*row, cfg) for name, row in V1_MODULES.items()}
        self.inception3a, self.inception3b = m["3a"], m["3b"]
        self.maxpool3 = pool()
        self.inception4a, self.inception4b, self.inception4c = m["4a"], m["4b"], m["4c"]
        self.inception4d, self.inception4e = m["4d"], m["4e"]
        self.maxpool4 = pool(cfg.pool4_kernel)
        self.inception5a, self.inception5b = m["5a"], m["5b"]
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, cfg)
            self.aux2 = InceptionAux(528, num_classes, cfg)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(1024, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.transform_input:
            x = to_unit_range(x)
        x = self.lrn1(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        side = self.aux_logits and self.training
        aux1 = self.aux1(x) if side else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if side else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (logits, aux2, aux1) if side else logits


# BN-Inception, paper (1502.03167) Figure 5, one row per module: #1x1, #3x3 reduce, #3x3, double #3x3 reduce,
# double #3x3, pool ("avg"/"max") and pool proj; #1x1 = 0 and proj = 0 mark the stride-2 modules (max pool
# pass-through).
V2_MODULES: dict[str, tuple[int, int, int, int, int, str, int]] = {
    "3a": (64, 64, 64, 64, 96, "avg", 32),
    "3b": (64, 64, 96, 64, 96, "avg", 64),
    "3c": (0, 128, 160, 64, 96, "max", 0),
    "4a": (224, 64, 96, 96, 128, "avg", 128),
    "4b": (192, 96, 128, 96, 128, "avg", 128),
    "4c": (160, 128, 160, 128, 160, "avg", 128),
    "4d": (96, 128, 192, 160, 192, "avg", 128),
    "4e": (0, 128, 192, 192, 256, "max", 0),
    "5a": (352, 192, 320, 160, 224, "avg", 128),
    "5b": (352, 192, 320, 192, 224, "max", 128),
}


class BNInceptionModule(nn.Module):
    """1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1; a stride-2 module drops the 1x1 and the projection, strides
    the last conv of both 3x3 branches and passes the input through a 3x3/2 max pool."""

    def __init__(self, in_ch: int, row: tuple[int, int, int, int, int, str, int], bias: bool, eps: float) -> None:
        super().__init__()
        ch1, red3, ch3, red_dbl, ch_dbl, pool_kind, proj = row
        reduce = ch1 == 0
        stride = 2 if reduce else 1

        def conv(i: int, o: int, k: int, s: int = 1) -> BasicConv2d:
            return BasicConv2d(i, o, k, s, k // 2, bn=True, bias=bias, eps=eps)

        self.branch1 = None if reduce else conv(in_ch, ch1, 1)
        self.branch2 = nn.Sequential(conv(in_ch, red3, 1), conv(red3, ch3, 3, stride))
        self.branch3 = nn.Sequential(conv(in_ch, red_dbl, 1), conv(red_dbl, ch_dbl, 3), conv(ch_dbl, ch_dbl, 3, stride))
        if reduce:
            self.branch4: nn.Module = nn.MaxPool2d(3, 2, ceil_mode=True)
        else:
            pool = (
                nn.AvgPool2d(3, 1, 1, ceil_mode=True, count_include_pad=True)
                if pool_kind == "avg"
                else nn.MaxPool2d(3, 1, 1, ceil_mode=True)
            )
            self.branch4 = nn.Sequential(pool, conv(in_ch, proj, 1))
        self.out_channels = ch1 + ch3 + ch_dbl + (proj if proj else in_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [] if self.branch1 is None else [self.branch1(x)]
        return torch.cat([*outs, self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class BNInception(nn.Module):
    """GoogLeNet with batch norm, the 5x5 convs factored into two 3x3, and stride-2 Inception modules for 28->14->7.

    `bias=True` keeps the conv biases of the released Caffe model (pytorchcv's bninception, whose weights copy in);
    `bias=False` gives the strictly necessary 10,016 parameters fewer.
    """

    def __init__(self, num_classes: int = 1000, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()

        def conv(i: int, o: int, k: int, s: int = 1) -> BasicConv2d:
            return BasicConv2d(i, o, k, s, k // 2, bn=True, bias=bias, eps=eps)

        self.conv1 = conv(3, 64, 7, 2)
        self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = conv(64, 64, 1)
        self.conv3 = conv(64, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        in_ch = 192
        for name, row in V2_MODULES.items():
            module = BNInceptionModule(in_ch, row, bias, eps)
            self.add_module(f"inception{name}", module)
            in_ch = module.out_channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        for name in V2_MODULES:
            x = getattr(self, f"inception{name}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


V1_PAPER_ACCURACY = Accuracy(
    None, 89.93, "paper Table 3, 1 model 1 crop 224 (top-5 error 10.07%; no top-1 given)", 1, 224
)
# Going Deeper has no BN variant; the Inception authors' later paper reports "BN-GoogLeNet".
BN_GOOGLENET_ACCURACY = Accuracy(73.2, None, "1512.00567 Table 3, BN-GoogLeNet, 1-crop (top-1 error 26.8%)", 1, 224)
MODELS = [
    variant("googlenet_v1", "GoogleNet V1", V1_PAPER_ACCURACY, cfg=PAPER_V1),
    # the paper's network has the LRN layers (Figure 3)
    variant("googlenet_v1_lrn", "GoogleNet V1 (LRN)", V1_PAPER_ACCURACY, cfg=PAPER_V1_LRN),
    variant("googlenet_v1_bn", "GoogleNet V1 (Bn)", BN_GOOGLENET_ACCURACY, torchvision="googlenet", cfg=TORCHVISION_BN),
    variant("googlenet_v1_bn_5x5", accuracy=Accuracy(None, None, "no published figure for this variant"), cfg=SEED_BN),
    # v2 (BN-Inception) is the Batch Normalization paper's own network: its builder, year and paper.
    variant(
        "googlenet_v2",
        "GoogleNet V2",
        Accuracy(74.8, 92.18, "paper Figure 4, BN-Inception single crop 224 (errors 25.2% / 7.82%)", 1, 224),
        aliases=["bninception", "bn_inception"],
        builder=BNInception,
        year=2015,
        paper=BATCH_NORM,
    ),
]
register("googlenet", MODELS, builder=GoogLeNet, year=2014, paper=GOING_DEEPER)
