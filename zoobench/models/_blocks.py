"""Small building blocks shared by several families."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor`, never more than 10 % below `value` (MobileNet rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNAct(nn.Sequential):
    """conv -> batch norm -> activation, as a Sequential so its keys are `0.weight`, `1.weight`, ...

    That is the layout of torchvision's Conv2dNormActivation, so torchvision state_dicts load unchanged.
    `activation=None` leaves the activation out.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: int | tuple[int, int] | None = None,
        groups: int = 1,
        activation: Callable[..., nn.Module] | None = nn.ReLU,
        bias: bool = False,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dilation: int = 1,
    ) -> None:
        if padding is None:
            k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            padding = ((k[0] - 1) // 2 * dilation, (k[1] - 1) // 2 * dilation)
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            ),
            nn.BatchNorm2d(out_channels, eps=eps, momentum=momentum),
        ]
        if activation is not None:
            layers.append(activation(inplace=True) if _takes_inplace(activation) else activation())
        super().__init__(*layers)
        self.out_channels = out_channels


def _takes_inplace(activation: Callable[..., nn.Module]) -> bool:
    return activation in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.LeakyReLU)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global pool -> 1x1 reduce -> act -> 1x1 expand -> gate.

    Names fc1/fc2 follow torchvision's SqueezeExcitation so its state_dicts load.
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        gate: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = activation()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal convs (fan_out), unit BN, small-normal linears: the usual ImageNet CNN initialisation."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
