"""EfficientNet B0-B7: torchvision's state_dicts load strict and outputs agree; params equal the seed's; MACs count
every convolution (where the seed's module-hook counter saw none), at 224 and at each native resolution."""

from __future__ import annotations

import pytest
import torch
import torchvision
from ptflops import get_model_complexity_info
from torch import nn

from zoobench.complexity import count_macs, count_params, measure
from zoobench.registry import get_spec, list_models, seed_table

NAMES = [f"efficientnet_b{i}" for i in range(8)]
NATIVE = dict(zip(NAMES, (224, 240, 260, 300, 380, 456, 528, 600), strict=True))
SMALLEST = 32  # five stride-2 stages


def _meta(build) -> nn.Module:
    with torch.device("meta"):
        return build().eval()


def _seed(name: str):
    return seed_table()[get_spec(name).seed.lower()]


@torch.no_grad()
def _randomise(model: nn.Module) -> nn.Module:
    """Random BN affine terms and conv/linear biases; BN statistics calibrated on random data.

    With fresh statistics BN would be the identity and hide a wrong eps or a mis-wired BN; calibrating keeps the
    signal alive through 50+ blocks so that atol 1e-5 means something.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0.0, 0.1)
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.normal_(0.0, 0.1)
    model.train()
    model(torch.randn(4, 3, SMALLEST, SMALLEST))
    for bn, momentum in zip(bns, momenta, strict=True):
        bn.momentum = momentum
    return model.eval()


def test_family_registered() -> None:
    assert sorted(list_models(family="efficientnet")) == NAMES
    for name in NAMES:
        spec = get_spec(name)
        assert spec.torchvision == name and spec.resolution == NATIVE[name]
        assert get_spec(spec.seed) is spec and spec.year == 2019 and spec.paper.arxiv == "1905.11946"
        # the seed's accuracy columns are the paper's Table 2 (ICML 2019 version), which we cite
        assert (spec.accuracy.top1, spec.accuracy.top5) == (_seed(name).top1, _seed(name).top5)


@pytest.mark.parametrize("name", NAMES)
def test_params_macs_bn_equal_torchvision_and_seed(name: str) -> None:
    ours = _meta(get_spec(name).build)
    ref = _meta(lambda: torchvision.models.get_model(name))
    ours.load_state_dict(ref.state_dict(), strict=True)  # key names and shapes, no weights allocated
    assert count_params(ours) == count_params(ref) == round(_seed(name).params_m * 1e6)
    assert count_macs(ours, 224) == count_macs(ref, 224)
    # eps/momentum are not in the state_dict but change eval outputs (eps) and training (momentum)
    bn_ours = [(m.eps, m.momentum) for m in ours.modules() if isinstance(m, nn.BatchNorm2d)]
    bn_ref = [(m.eps, m.momentum) for m in ref.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn_ours == bn_ref


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_b7"])  # b7: TF BN eps 1e-3
def test_torchvision_weights_give_equal_outputs(name: str) -> None:
    ref = _randomise(torchvision.models.get_model(name))
    ours = get_spec(name).build().eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, SMALLEST, SMALLEST)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.std() > 1e-2 and not torch.allclose(expected[0], expected[1], atol=1e-3)  # a real signal
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


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


@pytest.mark.parametrize("name", NAMES)
def test_profiles_at_224_and_native(name: str) -> None:
    spec = get_spec(name)
    at_224, native = measure(spec, 224), measure(spec, None)
    assert native.resolution == NATIVE[name] and at_224.resolution == 224
    assert at_224.params == native.params
    assert (native.macs > at_224.macs) if NATIVE[name] > 224 else (native.macs == at_224.macs)


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


@torch.no_grad()
def _bias_adds(model: nn.Module, resolution: int) -> int:
    """One add per output element of every biased conv/linear: the hook counter counts them, aten MACs do not."""
    total = 0

    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if module.bias is not None:
            total += output.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model(torch.zeros(1, 3, resolution, resolution))
    for h in handles:
        h.remove()
    return total


def test_hook_counter_misses_nothing_on_ours_but_everything_on_a_conv_subclass() -> None:
    model = get_spec("efficientnet_b0").build().eval()
    aten = count_macs(model, 224)
    # Our convs are plain nn.Conv2d: the module-hook counter sees every one; it differs only by the bias adds.
    assert _hook_counter_macs(model, 224) == aten + _bias_adds(model, 224)

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
    model = _meta(get_spec(name).build)
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
    assert round(seed_like / 1e9, 5) == _seed(name).flops_g
    assert count_macs(model, 224) > 20 * seed_like  # our MACs alone are 21-60x the seed's whole figure
