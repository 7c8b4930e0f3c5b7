"""ResNeXt (Xie et al. 2017, "Aggregated Residual Transformations for Deep Neural Networks").

A ResNeXt is a ResNet whose bottleneck 3x3 convolution is grouped: cardinality C groups of d channels each
("C x d d"), so the bottleneck width at the first stage is C*d and doubles per stage. The eight rows of the paper's
Table 3 keep complexity near ResNet-50/101 while trading width for cardinality. The network itself is
zoobench.models.resnet.ResNet (torchvision's layout), built with groups=C and width_per_group=d, so torchvision's
`resnext50_32x4d` and `ResNet(Bottleneck, layers, groups=C, width_per_group=d)` state_dicts load with strict=True.
"""

from __future__ import annotations

from zoobench.models.resnet import Bottleneck, ResNet
from zoobench.registry import Accuracy, Paper, Variant, register, variant

PAPER = Paper("Aggregated Residual Transformations for Deep Neural Networks", "1611.05431")

LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

# (depth, cardinality, width per group) -> paper Table 3 top-1 error (1-crop 224). Table 3 gives no top-5;
# Table 4 gives it for ResNeXt-101 32x4d only.
_TOP1_ERR = {
    (50, 2, 40): 23.0,
    (50, 4, 24): 22.6,
    (50, 8, 14): 22.3,
    (50, 32, 4): 22.2,
    (101, 2, 40): 21.7,
    (101, 4, 24): 21.4,
    (101, 8, 14): 21.3,
    (101, 32, 4): 21.2,
}
_TOP5_ERR = {(101, 32, 4): 5.6}


def resnext(depth: int, cardinality: int, width: int, **kwargs) -> ResNet:
    return ResNet(Bottleneck, LAYERS[depth], groups=cardinality, width_per_group=width, **kwargs)


def _variant(depth: int, cardinality: int, width: int, top1_err: float) -> Variant:
    """One row of Table 3: its name, seed row and accuracy follow from depth, cardinality and width."""
    name = f"resnext{depth}_{cardinality}x{width}d"
    top5_err = _TOP5_ERR.get((depth, cardinality, width))
    source = "paper Table 3 (top-1) and Table 4 (top-5), 1-crop 224" if top5_err else "paper Table 3, 1-crop 224"
    return variant(
        name,
        f"ResNeXt{depth}_{cardinality}x{width}d",
        Accuracy(round(100 - top1_err, 2), round(100 - top5_err, 2) if top5_err else None, source, 1, 224),
        torchvision=name == "resnext50_32x4d",  # the one torchvision builds
        depth=depth,
        cardinality=cardinality,
        width=width,
    )


MODELS = [_variant(*row, top1_err) for row, top1_err in _TOP1_ERR.items()]
register("resnext", MODELS, builder=resnext, year=2017, paper=PAPER)
