"""ResNet: torchvision's state_dict loads into ours (strict) and the outputs agree."""

import pytest
import torch
import torchvision

from zoobench import create_model


def randomise_bn(model: torch.nn.Module) -> None:
    """Random BN statistics and affine terms, so that equal outputs mean equal computation."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_torchvision_weights_load_and_outputs_match(name):
    ref = getattr(torchvision.models, name)().eval()
    randomise_bn(ref)
    ours = create_model(name).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
