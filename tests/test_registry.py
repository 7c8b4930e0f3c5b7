import pytest
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.registry import Paper, get_spec, list_models, select, variant


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


FAMILY = {"builder": nn.Identity, "year": 2020, "paper": Paper("x")}


def test_register_rejects_a_bad_table_whole():
    with pytest.raises(ValueError, match="already names"):
        registry.register("x", [variant("ResNet50")], **FAMILY)
    with pytest.raises(ValueError, match="not in the seed table"):
        registry.register("x", [variant("newnet", "NoSuchRow")], **FAMILY)
    with pytest.raises(ValueError, match="'NEWNET' already names newnet"):
        registry.register("x", [variant("newnet"), variant("NEWNET")], **FAMILY)
    with pytest.raises(ValueError, match="'newnet' stands twice"):
        registry.register("x", [variant("newnet"), variant("newnet")], **FAMILY)
    with pytest.raises(ValueError, match="builder, year and paper"):
        registry.register("x", [variant("newnet")], builder=nn.Identity, year=2020)
    # a table with one bad row registers none of its rows
    with pytest.raises(ValueError, match="already names"):
        registry.register("x", [variant("newnet"), variant("resnet50")], **FAMILY)
    assert "newnet" not in list_models()


def test_rows_take_the_family_fields_unless_they_override_them():
    v1, v2 = get_spec("googlenet_v1"), get_spec("googlenet_v2")
    assert (v1.year, v1.paper.arxiv, v2.year, v2.paper.arxiv) == (2014, "1409.4842", 2015, "1502.03167")
    assert (v1.builder.__name__, v2.builder.__name__) == ("GoogLeNet", "BNInception")
    assert get_spec("darknet53").resolution == 256 and get_spec("darknet19").resolution == 224
    # torchvision=True names torchvision's model of the same name; a string names another; none stays None
    assert get_spec("resnet50").torchvision == "resnet50"
    assert get_spec("googlenet_v1_bn").torchvision == "googlenet"
    assert get_spec("densenet264").torchvision is None and get_spec("resnext101_32x4d").torchvision is None
    assert get_spec("dla102x").kwargs["shortcut_root"] is True


def test_natural_key_orders_digit_runs_by_value():
    assert sorted(["resnet101", "resnet18", "resnet34"], key=registry.natural_key) == [
        "resnet18",
        "resnet34",
        "resnet101",
    ]


def test_external_build_is_guarded_and_zoo_build_is_plain():
    with pytest.raises(ZooError, match=r"^cannot build 'tinymodels:unpadded': its builder cannot be called with bad"):
        get_spec("tinymodels:unpadded").build(bad=1)
    assert isinstance(get_spec("tinymodels:unpadded").build(num_classes=3), nn.Module)
    with pytest.raises(TypeError):  # a zoo model's builder is ours: a bad argument is a bug, not user input
        get_spec("resnet18").build(bad=1)


def test_every_published_figure_carries_its_protocol():
    """Crops, test resolution and publisher: what makes a figure comparable with a 1-crop measurement or not."""
    figures = {s.name: s.accuracy for s in registry.all_specs() if s.accuracy and (s.accuracy.top1 or s.accuracy.top5)}
    for name, acc in figures.items():
        assert acc.crops in (1, 10, None) and acc.kind in ("paper", "torchvision"), name
        assert acc.resolution is None or acc.resolution >= 224, name
    assert {n for n, a in figures.items() if a.crops == 10} == {f"resnet{d}" for d in (18, 34, 50, 101, 152)}
    assert {n: (a.crops, a.resolution) for n, a in figures.items() if n in ("vgg11", "vgg16")} == {
        "vgg11": (None, 256),  # single-scale dense evaluation at Q=256
        "vgg16": (None, 384),
    }
    assert figures["vgg16_bn"].kind == "torchvision" and figures["efficientnet_b7"].resolution == 600
    assert figures["preact_resnet152"].protocol == "1-crop 320 (paper)"
    assert figures["resnet50"].protocol == "10-crop 224 (paper)"
    # Comparable only 1-crop at the same test size; not stated is never comparable.
    assert figures["efficientnet_b7"].comparable(600) and not figures["efficientnet_b7"].comparable(224)
    assert not figures["resnet50"].comparable(224) and figures["densenet121"].comparable(224)
    assert not figures["squeezenet1_0"].comparable(224)  # the paper states no test size
