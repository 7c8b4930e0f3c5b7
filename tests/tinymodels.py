"""Tiny models that tests reach through zoobench's `package.module:callable` model references."""

from torch import nn


def unpadded(num_classes: int = 10) -> nn.Module:
    """Two unpadded 7x7 convs: needs at least 13x13 input, so small resolutions must be refused cleanly."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 7),
        nn.ReLU(),
        nn.Conv2d(8, 8, 7),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


NOT_CALLABLE = 42
