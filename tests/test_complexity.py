"""Params and MACs: exact figures, agreement with torchvision and with a second, independent counter."""

import pytest
import torch
import torchvision
from equivalence import bias_additions
from ptflops import get_model_complexity_info
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zoobench import complexity, registry
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


@pytest.mark.parametrize("name", ALL)
def test_totals_equal_torchs_public_flop_counter(name):
    """zoobench's pass (torch's formulas summed by its own dispatch mode, meta calls replayed) against the public
    torch.utils.flop_counter.FlopCounterMode: a torch upgrade that changes either fails here, loudly."""
    spec = registry.get_spec(name)
    model = build_meta(spec)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    assert 2 * count_macs(model, 224) == counter.get_total_flops()
    assert 2 * measure(spec, 224).macs == counter.get_total_flops()


@pytest.mark.parametrize("name", ["resnet18", "densenet121", "inception_v3", "efficientnet_b0", "dla34"])
def test_per_module_macs_equal_torchs_module_tracker(name):
    spec = registry.get_spec(name)
    model = build_meta(spec)
    counter = FlopCounterMode(display=False, depth=None)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    theirs = counter.get_flop_counts()
    root = type(model).__name__
    for layer in layer_costs(spec, 224, max_depth=99):
        key = f"{root}.{layer.name}" if layer.name else root
        assert 2 * layer.macs == sum(theirs.get(key, {}).values()), layer.name


class _NeverReplay(dict):
    def get(self, key, default=None):
        return default


@pytest.mark.parametrize("name", ALL)
def test_replayed_meta_calls_give_what_running_them_gives(name, monkeypatch):
    """complexity._MEMO replays a meta call with the same argument metadata; every figure is as if it had run
    (a figure that depended on what ran before in the process would differ here)."""
    spec = registry.get_spec(name)
    replayed = measure(spec, 224, batch=2)
    monkeypatch.setattr(complexity, "_MEMO", _NeverReplay())
    assert measure(spec, 224, batch=2) == replayed


@pytest.mark.parametrize("name", ["igcv3_w1_0", "densenet121", "inception_v3"])
def test_replayed_layer_figures_equal_run_ones(name, monkeypatch):
    spec = registry.get_spec(name)
    replayed = layer_costs(spec, 224, max_depth=2)
    monkeypatch.setattr(complexity, "_MEMO", _NeverReplay())
    assert layer_costs(spec, 224, max_depth=2) == replayed


def test_batch_is_checked():
    with pytest.raises(ZooError, match="batch must be at least 1"):
        measure(registry.get_spec("resnet18"), 224, batch=0)
