"""Params and MACs: exact figures, agreement with torchvision and with a second, independent counter."""

import pytest
import torch
import torchvision
from equivalence import bias_additions
from ptflops import get_model_complexity_info
from torch import nn

from zoobench import registry
from zoobench.complexity import build_meta, count_macs, count_params, layer_costs, measure
from zoobench.errors import ZooError

ALL = [s.name for s in registry.all_specs()]


def test_resnet50_exact_figures():
    c = measure(registry.get_spec("resnet50"), 224)
    assert c.params == 25_557_032
    assert c.macs == 4_089_184_256
    assert c.flops == 2 * c.macs


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_resnets_count_like_torchvision(name):
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)().eval()
    ours = build_meta(registry.get_spec(name))
    assert count_params(ours) == count_params(ref)
    assert count_macs(ours, 224) == count_macs(ref, 224)


@pytest.mark.parametrize("name", ALL)
def test_two_independent_counters_agree(name):
    """torch.utils.flop_counter vs ptflops' aten backend; they differ exactly by the bias additions."""
    model = build_meta(registry.get_spec(name))
    ours = count_macs(model, 224)
    ptflops_macs, ptflops_params = get_model_complexity_info(
        model, (3, 224, 224), backend="aten", as_strings=False, print_per_layer_stat=False
    )
    assert ptflops_params == count_params(model)
    assert ptflops_macs == ours + bias_additions(model, 224)


@pytest.mark.parametrize("name", ALL)
def test_every_model_runs_at_224_and_native(name):
    spec = registry.get_spec(name)
    at_224, native = measure(spec, 224), measure(spec, None)
    assert at_224.macs > 0 and native.resolution == spec.resolution
    assert at_224.params == native.params


def test_layer_breakdown_sums_to_total():
    costs = layer_costs(registry.get_spec("resnet18"), 224, max_depth=1)
    total = costs[0]
    assert total.name == "" and total.macs == measure(registry.get_spec("resnet18"), 224).macs
    assert sum(c.macs for c in costs[1:]) == total.macs
    assert sum(c.params for c in costs[1:]) == total.params


def test_too_small_and_nonpositive_resolution_are_refused():
    spec = registry.get_spec("tinymodels:unpadded")
    assert measure(spec, 13).macs > 0
    with pytest.raises(ZooError, match="cannot run at 12x12"):
        measure(spec, 12)
    with pytest.raises(ZooError, match="positive"):
        measure(spec, 0)


def test_meta_build_skips_init_and_restores_it():
    """build_meta leaves nn.init out (nothing to fill on meta) and puts it back for real builds."""
    original = nn.init.kaiming_normal_
    model = build_meta(registry.get_spec("resnet18"))
    assert model.conv1.weight.is_meta
    assert nn.init.kaiming_normal_ is original
    real = registry.get_spec("resnet18").build()
    assert real.conv1.weight.std() > 0 and torch.all(real.bn1.weight == 1)
