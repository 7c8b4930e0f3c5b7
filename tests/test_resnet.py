"""ResNet: torchvision's state_dict loads into ours (strict) and the outputs agree."""

import pytest
import torchvision
from equivalence import assert_equivalent

from zoobench import create_model


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_torchvision_weights_load_and_outputs_match(name):
    assert_equivalent(getattr(torchvision.models, name)(), lambda: create_model(name), 32, by_key=True)
