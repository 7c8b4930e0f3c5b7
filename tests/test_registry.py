import pytest
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.registry import Paper, get_spec, list_models, select


def test_aliases_are_case_insensitive_and_include_seed_names():
    assert get_spec("ResNet50").name == "resnet50"
    assert get_spec("RESNET50").name == "resnet50"
    assert get_spec("resnet50").seed_figures.params_m == pytest.approx(25.557032)
    for spec in registry.all_specs():
        if spec.seed:
            assert spec.seed in spec.aliases
            assert get_spec(spec.seed.upper()) is spec


def test_every_spec_is_complete():
    for spec in registry.all_specs():
        assert spec.name == spec.name.lower()
        assert spec.family and spec.paper.title and spec.year >= 2014
        assert spec.resolution >= 32
        assert spec.accuracy is None or spec.accuracy.source


def test_glob_family_and_all():
    assert list_models("resnet*")[:5] == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert [s.name for s in select(["resnet1*"])] == ["resnet18", "resnet101", "resnet152"]
    assert {s.family for s in select(family="resnet")} == {"resnet"}
    assert len(select(all_models=True)) == len(registry.all_specs())
    # duplicates collapse, order kept
    assert [s.name for s in select(["resnet50", "ResNet50", "resnet5*"])] == ["resnet50"]


def test_unknown_name_suggests():
    with pytest.raises(ZooError, match="did you mean resnet50"):
        get_spec("resnet51")
    with pytest.raises(ZooError, match="matches no model"):
        select(["nosuchnet*"])
    with pytest.raises(ZooError, match="unknown family"):
        select(family="transformers")
    with pytest.raises(ZooError, match="no model given"):
        select([])


def test_external_models():
    spec = get_spec("torchvision:resnet18")
    assert spec.external and isinstance(spec.build(), nn.Module)
    with pytest.raises(ZooError, match="torchvision has no model"):
        get_spec("torchvision:resnet19")
    assert isinstance(get_spec("tinymodels:unpadded").build(), nn.Module)
    with pytest.raises(ZooError, match="cannot import"):
        get_spec("no_such_module:thing")
    with pytest.raises(ZooError, match="cannot import"):
        get_spec("tinymodels:missing")
    with pytest.raises(ZooError, match="not callable"):
        get_spec("tinymodels:NOT_CALLABLE")


def test_register_rejects_a_name_twice():
    with pytest.raises(ValueError, match="already names"):
        registry.register("ResNet50", family="x", year=2020, paper=Paper("x"))(lambda: nn.Identity())
    with pytest.raises(ValueError, match="not in the seed table"):
        registry.register("newnet", family="x", year=2020, paper=Paper("x"), seed="NoSuchRow")(lambda: nn.Identity())
    assert "newnet" not in list_models()
