"""EfficientNet B0-B7: torchvision's state_dicts load strict and outputs agree; params equal the seed's; MACs count
every convolution (where the seed's module-hook counter saw none), at 224 and at each native resolution."""

from __future__ import annotations

import pytest
import torch
import torchvision
from equivalence import assert_equivalent, bias_additions, on_meta, seed_params
from ptflops import get_model_complexity_info
from torch import nn

from zoobench.complexity import count_macs, count_params, measure
from zoobench.registry import get_spec, list_models

NAMES = [f"efficientnet_b{i}" for i in range(8)]
NATIVE = dict(zip(NAMES, (224, 240, 260, 300, 380, 456, 528, 600), strict=True))
SMALLEST = 32  # five stride-2 stages


def test_family_registered() -> None:
    assert sorted(list_models(family="efficientnet")) == NAMES
    for name in NAMES:
        spec = get_spec(name)
        assert spec.torchvision == name and spec.resolution == NATIVE[name]
        assert get_spec(spec.seed) is spec and spec.year == 2019 and spec.paper.arxiv == "1905.11946"
        # the seed's accuracy columns are the paper's Table 2 (ICML 2019 version), which we cite
        assert (spec.accuracy.top1, spec.accuracy.top5) == (spec.seed_figures.top1, spec.seed_figures.top5)


@pytest.mark.parametrize("name", NAMES)
def test_params_macs_bn_equal_torchvision_and_seed(name: str) -> None:
    ours = on_meta(get_spec(name).build)
    ref = on_meta(lambda: torchvision.models.get_model(name))
    ours.load_state_dict(ref.state_dict(), strict=True)  # key names and shapes, no weights allocated
    assert count_params(ours) == count_params(ref) == seed_params(get_spec(name).seed)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    # and at the native resolution, where every model above B0 costs more
    at_native = count_macs(ours, NATIVE[name])
    assert at_native == count_macs(ref, NATIVE[name])
    assert (at_native > count_macs(ours, 224)) if NATIVE[name] > 224 else (at_native == count_macs(ours, 224))
    # eps/momentum are not in the state_dict but change eval outputs (eps) and training (momentum)
    bn_ours = [(m.eps, m.momentum) for m in ours.modules() if isinstance(m, nn.BatchNorm2d)]
    bn_ref = [(m.eps, m.momentum) for m in ref.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn_ours == bn_ref


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_b7"])  # b7: TF BN eps 1e-3
def test_torchvision_weights_give_equal_outputs(name: str) -> None:
    ref = torchvision.models.get_model(name)
    assert_equivalent(ref, get_spec(name).build, SMALLEST, by_key=True, min_std=1e-2)


def test_stochastic_depth_only_while_training() -> None:
    model = get_spec("efficientnet_b0").build()
    last = model.features[6][-1].stochastic_depth
    assert last.p > 0  # grows with depth: 0.2 * 15 / 16 for B0's last block
    x = torch.ones(64, 8, 2, 2)
    assert torch.equal(last.eval()(x), x)
    dropped = last.train()(x)
    kept = dropped.flatten(1).amax(1) > 0
    assert 0 < kept.sum() < 64  # whole samples dropped, the rest scaled by 1 / (1 - p)
    torch.testing.assert_close(dropped[kept], torch.full_like(dropped[kept], 1 / (1 - last.p)))


def test_b0_macs_count_every_convolution() -> None:
    assert measure(get_spec("efficientnet_b0"), 224).macs == 385_814_752  # ~0.386 G, the paper's "0.39B FLOPS"


def _hook_counter_macs(model: nn.Module, resolution: int) -> int:
    """ptflops' module-hook ('pytorch') backend restricted to conv and linear modules (no BN, pooling, functionals)."""
    macs, _ = get_model_complexity_info(
        model,
        (3, resolution, resolution),
        as_strings=False,
        print_per_layer_stat=False,
        backend="pytorch",
        ignore_modules=[nn.BatchNorm2d, nn.AdaptiveAvgPool2d, nn.Dropout],
        backend_specific_config={"count_functional": False},
    )
    return macs


def test_hook_counter_misses_nothing_on_ours_but_everything_on_a_conv_subclass() -> None:
    model = get_spec("efficientnet_b0").build().eval()
    aten = count_macs(model, 224)
    # Our convs are plain nn.Conv2d: the module-hook counter sees every one; it differs only by the bias adds.
    assert _hook_counter_macs(model, 224) == aten + bias_additions(model, 224)

    # The seed profiled an EfficientNet whose convs subclass nn.Conv2d (a "same"-padding conv). ptflops (and thop)
    # look hooks up by exact type, so every conv then counts 0 and only the classifier remains.
    class SamePaddingConv(nn.Conv2d):
        pass

    for m in model.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = SamePaddingConv
    assert count_macs(model, 224) == aten  # aten-level counting does not care how a conv is spelt
    assert _hook_counter_macs(model, 224) == 1280 * 1000 + 1000  # the linear layer, its bias included


@pytest.mark.parametrize("name", NAMES)
def test_seed_flops_column_is_batchnorm_and_classifier_only(name: str) -> None:
    """The seed's FLOPs = 2 x BN output elements + (2 x in + 1) x out of the classifier, no conv at all."""
    model = on_meta(get_spec(name).build)
    bn_elements = 0

    def hook(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal bn_elements
        bn_elements += output.numel()

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    fc = model.classifier[1]
    seed_like = 2 * bn_elements + (2 * fc.in_features + 1) * fc.out_features
    assert round(seed_like / 1e9, 5) == get_spec(name).seed_figures.flops_g
    assert count_macs(model, 224) > 20 * seed_like  # our MACs alone are 21-60x the seed's whole figure
