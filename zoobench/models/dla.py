"""DLA (Yu, Wang, Shelhamer & Darrell 2018, "Deep Layer Aggregation").

Hierarchical deep aggregation: each stage is a binary tree of residual blocks whose "root" nodes (1x1 conv + BN +
ReLU over the concatenated children) merge features across depths; a stage's input (max-pooled) also joins the
deepest root of that stage. Module names follow timm's `dla*` so its state_dicts load with strict=True.

timm (and pytorchcv) keep a projection shortcut only where it is used, in the one-level trees that feed it to their
first block. The authors' code also builds one in every deeper tree whose width changes, which its forward never
uses; those weights are what separate the seed's counts from ours (docs/_recon/dla.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoobench.registry import Accuracy, Paper, register, variant

PAPER = Paper("Deep Layer Aggregation", "1707.06484")
YEAR = 2018  # the seed table's year (CVPR 2018)


class BasicBlock(nn.Module):
    """Two 3x3 convs; the shortcut comes from the enclosing tree (projected when the width changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, cardinality: int = 1, base_width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor, shortcut: torch.Tensor | None = None) -> torch.Tensor:
        shortcut = x if shortcut is None else shortcut
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (grouped for the X variants) -> 1x1 expand, with DLA's expansion of 2.

    The middle width is floor(out * base_width / 64) * cardinality / 2: out/2 for the plain blocks
    (cardinality 1, width 64), and out with 32 groups for the ResNeXt-style X blocks (cardinality 32, width 4).
    """

    expansion = 2

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, cardinality: int = 1, base_width: int = 64) -> None:
        super().__init__()
        mid = math.floor(out_ch * base_width / 64) * cardinality // self.expansion
        self.conv1 = nn.Conv2d(in_ch, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, shortcut: torch.Tensor | None = None) -> torch.Tensor:
        shortcut = x if shortcut is None else shortcut
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


Block = type[BasicBlock] | type[Bottleneck]


class Root(nn.Module):
    """Aggregation node: 1x1 conv over the concatenated children, BN, optional residual from the first child, ReLU."""

    def __init__(self, in_ch: int, out_ch: int, shortcut: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut

    def forward(self, children: list[torch.Tensor]) -> torch.Tensor:
        out = self.bn(self.conv(torch.cat(children, 1)))
        if self.shortcut:
            out = out + children[0]
        return self.relu(out)


class Tree(nn.Module):
    """A stage of `levels` levels: two subtrees (or two blocks at level 1) and, at level 1, the root.

    Deeper trees pass their intermediate outputs down as `children`, so the level-1 root at the bottom of the
    right spine aggregates every subtree of the stage (and the stage input when `level_root`).
    """

    def __init__(
        self,
        levels: int,
        block: Block,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        level_root: bool = False,
        root_dim: int = 0,
        root_shortcut: bool = False,
        cardinality: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        root_dim = root_dim or 2 * out_ch
        if level_root:
            root_dim += in_ch
        self.downsample = nn.MaxPool2d(stride, stride) if stride > 1 else nn.Identity()
        self.project: nn.Module = nn.Identity()
        self.root: Root | None = None
        block_args = {"cardinality": cardinality, "base_width": base_width}
        if levels == 1:
            self.tree1: nn.Module = block(in_ch, out_ch, stride, **block_args)
            self.tree2: nn.Module = block(out_ch, out_ch, 1, **block_args)
            if in_ch != out_ch:
                # Only the first block of a level-1 tree consumes the shortcut, so only here is a projection needed.
                self.project = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))
            self.root = Root(root_dim, out_ch, root_shortcut)
        else:
            sub_args = {"root_shortcut": root_shortcut, **block_args}
            self.tree1 = Tree(levels - 1, block, in_ch, out_ch, stride, root_dim=0, **sub_args)
            self.tree2 = Tree(levels - 1, block, out_ch, out_ch, 1, root_dim=root_dim + out_ch, **sub_args)
        self.level_root = level_root

    def forward(
        self, x: torch.Tensor, shortcut: torch.Tensor | None = None, children: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x)
        if self.level_root:
            children.append(bottom)
        if self.root is not None:
            x1 = self.tree1(x, self.project(bottom))
            x2 = self.tree2(x1)
            return self.root([x2, x1, *children])
        x1 = self.tree1(x)
        children.append(x1)
        return self.tree2(x1, None, children)


class DLA(nn.Module):
    """Stem (7x7 conv, then two conv levels), four aggregation trees, global pool, 1x1-conv classifier."""

    def __init__(
        self,
        levels: tuple[int, ...],
        channels: tuple[int, ...],
        block: Block,
        num_classes: int = 1000,
        cardinality: int = 1,
        base_width: int = 64,
        shortcut_root: bool = False,
    ) -> None:
        super().__init__()
        self.base_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], 7, 1, 3, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)
        )
        self.level0 = _conv_level(channels[0], channels[0], levels[0], 1)
        self.level1 = _conv_level(channels[0], channels[1], levels[1], 2)
        tree_args = {"root_shortcut": shortcut_root, "cardinality": cardinality, "base_width": base_width}
        self.level2 = Tree(levels[2], block, channels[1], channels[2], 2, level_root=False, **tree_args)
        self.level3 = Tree(levels[3], block, channels[2], channels[3], 2, level_root=True, **tree_args)
        self.level4 = Tree(levels[4], block, channels[3], channels[4], 2, level_root=True, **tree_args)
        self.level5 = Tree(levels[5], block, channels[4], channels[5], 2, level_root=True, **tree_args)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels[5], num_classes, 1)  # the authors' classifier is a 1x1 conv with bias
        self.flatten = nn.Flatten(1)
        for m in self.modules():
            # The authors' initialisation: normal(0, sqrt(2 / (k*k*out))) convs, unit BN.
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.level1(self.level0(self.base_layer(x)))
        x = self.level5(self.level4(self.level3(self.level2(x))))
        return self.flatten(self.fc(self.global_pool(x)))


def _conv_level(in_ch: int, out_ch: int, convs: int, stride: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(in_ch, out_ch, 3, stride if i == 0 else 1, 1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        ]
        in_ch = out_ch
    return nn.Sequential(*layers)


_LEVELS_34 = (1, 1, 1, 2, 2, 1)
_LEVELS_60 = (1, 1, 1, 2, 3, 1)
_LEVELS_102 = (1, 1, 1, 3, 4, 1)
_LEVELS_169 = (1, 1, 2, 3, 5, 1)
_WIDE = (16, 32, 128, 256, 512, 1024)
_COMPACT = (16, 32, 64, 64, 128, 256)
_X = {"cardinality": 32, "base_width": 4}  # ResNeXt-style 32 groups

_NO_TABLE = Accuracy(None, None, "paper reports the non-compact DLAs' ImageNet error only as a plot (error vs. params)")


def _compact(top1_err: float, top5_err: float) -> Accuracy:
    return Accuracy(
        round(100 - top1_err, 2),
        round(100 - top5_err, 2),
        "paper, compact-model table (top-1/top-5 error), 224 crop",
        1,
        224,
    )


MODELS = [
    variant("dla34", "DLA-34", _NO_TABLE, levels=_LEVELS_34, channels=(16, 32, 64, 128, 256, 512), block=BasicBlock),
    variant("dla46_c", "DLA-46-C", _compact(35.1, 13.3), levels=_LEVELS_34, channels=_COMPACT, block=Bottleneck),
    variant(
        "dla46x_c", "DLA-X-46-C", _compact(34.0, 13.0), levels=_LEVELS_34, channels=_COMPACT, block=Bottleneck, **_X
    ),
    variant(
        "dla60x_c", "DLA-X-60-C", _compact(32.0, 11.6), levels=_LEVELS_60, channels=_COMPACT, block=Bottleneck, **_X
    ),
    variant("dla60", "DLA-60", _NO_TABLE, levels=_LEVELS_60, channels=_WIDE, block=Bottleneck),
    variant("dla60x", "DLA-X-60", _NO_TABLE, levels=_LEVELS_60, channels=_WIDE, block=Bottleneck, **_X),
    variant("dla102", "DLA-102", _NO_TABLE, levels=_LEVELS_102, channels=_WIDE, block=Bottleneck, shortcut_root=True),
    variant(
        "dla102x",
        "DLA-X-102",
        _NO_TABLE,
        levels=_LEVELS_102,
        channels=_WIDE,
        block=Bottleneck,
        shortcut_root=True,
        **_X,
    ),
    variant("dla169", "DLA-169", _NO_TABLE, levels=_LEVELS_169, channels=_WIDE, block=Bottleneck, shortcut_root=True),
]
register("dla", MODELS, builder=DLA, year=YEAR, paper=PAPER)
