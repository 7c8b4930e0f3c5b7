"""Every (zoo model, weight source) pair: the source's own model, randomly initialised as its pretrained path builds
it, hands its state_dict through the mapping the real download uses (zoobench.weights.mapping.load_into), into the
zoo model built with the weight's builder arguments, strictly; both give the same logits in eval mode."""

from __future__ import annotations

import pytest
from equivalence import assert_same_outputs, on_meta, randomize
from torch import nn

from zoobench.registry import all_specs
from zoobench.weights import mapping, sources

# The smallest input each model takes (the zoo's own model tests explain each); 32 for the rest.
AUX_HEADS = ("AuxLogits", "aux1", "aux2")  # torchvision's inception_v3 and googlenet
SMALLEST = {"inception_v3": 75, "inception_v4": 75, "googlenet_v1_bn": 15}


def _pairs() -> list[tuple[str, str]]:
    return [(spec.name, kind) for spec in all_specs() for kind in sources.KINDS if sources.source(kind).weights(spec)]


PAIRS = _pairs()


def _global_pool(model: nn.Module) -> nn.Module:
    """pytorchcv's final pool is a fixed 7x7 window (global at 224 only): global pooling lets it run small."""
    for module in model.modules():
        if type(getattr(module, "final_pool", None)) is nn.AvgPool2d:
            module.final_pool = nn.AdaptiveAvgPool2d(1)
    return model


@pytest.mark.parametrize("name, kind", PAIRS, ids=[f"{n}-{k}" for n, k in PAIRS])
def test_source_state_dict_maps_strictly_and_gives_equal_logits(name: str, kind: str) -> None:
    from zoobench.registry import get_spec

    spec = get_spec(name)
    source = sources.source(kind)
    weight = source.weights(spec)[0]  # every tag of a source shares its architecture
    res = SMALLEST.get(name, 32)
    ref = _global_pool(source.reference(weight))
    # The checkpoint layout keeps the auxiliary heads (the mapping drops them); the calibrating train-mode pass at a
    # small input cannot run them, so they sit out of it and come back, random, for the state_dict.
    aux = {a: getattr(ref, a) for a in AUX_HEADS if getattr(ref, a, None) is not None}
    for attr in aux:
        setattr(ref, attr, None)
    ref = randomize(ref, res)
    for attr, head in aux.items():
        setattr(ref, attr, head)
    ours = on_meta(lambda: spec.build(**weight.build))
    mapping.load_into(ours, weight, ref.state_dict(), weight.label, assign=True)
    assert_same_outputs(ref, ours, res)


def test_the_pairs_cover_every_source() -> None:
    kinds = {k for _, k in PAIRS}
    assert kinds == set(sources.KINDS)
    print(f"{len(PAIRS)} (model, source) pairs")
