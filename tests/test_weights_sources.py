"""Weight sources: enumeration from each library's own registry, `pretrained`, downloads only through the
libraries' own functions (replaced here: nothing downloads), ZOOBENCH_OFFLINE, a missing library, and eval using
each weight's own preprocessing (printed, overridable, recorded), with a seeded random initialisation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from clihelp import assert_one_line_error, run_cli
from evalfixtures import make_val

from zoobench.errors import ZooError
from zoobench.imagenet import evaluate as ev
from zoobench.registry import get_spec
from zoobench.weights import sources

TAG = "dla46_c.in1k"  # the smallest zoo model timm has weights for (1.3M parameters)


def test_torchvision_enums_default_and_first() -> None:
    spec = get_spec("resnet50")
    tv = sources.source("torchvision")
    assert [w.tag for w in tv.weights(spec)] == ["IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert tv.pick(spec, None).tag == "IMAGENET1K_V1"  # `torchvision`: the original release
    assert tv.pick(spec, "DEFAULT").tag == "IMAGENET1K_V2"  # torchvision's own default
    v2 = tv.pick(spec, "IMAGENET1K_V2")
    assert (v2.recipe.crop_size, v2.recipe.resize_size, v2.published.top1) == (224, 232, 80.858)
    assert v2.published.comparable(224) and v2.published.kind == "torchvision"
    inc = tv.pick(get_spec("inception_v3"), None)
    assert inc.build == {"transform_input": True} and inc.drop == ("AuxLogits.",)


def test_timm_tags_come_from_timms_registry_default_first() -> None:
    import timm

    found = sources.source("timm").weights(get_spec("resnet50"))
    tags = [w.tag for w in found]
    assert tags[0] == next(iter(timm.models.get_arch_pretrained_cfgs("resnet50")))
    assert "resnet50.bamboo" not in tags  # a headless backbone, not an ImageNet-1k classifier
    a1 = sources.source("timm").pick(get_spec("resnet50"), "a1_in1k")
    assert (a1.recipe.crop_size, a1.recipe.resize_size, a1.recipe.interpolation) == (224, 235, "bicubic")
    with pytest.raises(ZooError, match="choose one of resnet50"):
        sources.source("timm").pick(get_spec("resnet50"), "nope")


def test_pytorchcv_release_and_its_top5() -> None:
    w = sources.source("pytorchcv").pick(get_spec("sqnxt23_w1"), None)
    assert (w.tag, w.published.top5, w.published.top1) == ("sqnxt23_w1", 80.94, None)
    assert sources.source("pytorchcv").weights(get_spec("resnet50")) == []  # another architecture (stride in 1x1)


@pytest.mark.parametrize(
    "model, label",
    [
        ("resnet50", "torchvision:IMAGENET1K_V2"),  # the highest published top-1
        ("dla34", "timm:dla34.in1k"),
        ("preact_resnet18", "pytorchcv:preresnet18"),
    ],
)
def test_pretrained_is_the_best_available(model: str, label: str) -> None:
    assert sources.resolve(get_spec(model), "pretrained").label == label


def test_no_release_and_missing_library_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ZooError, match="densenet264 has no released weights"):
        sources.resolve(get_spec("densenet264"), "pretrained")
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError
    with pytest.raises(ZooError, match=r"needs the timm package: pip install 'zoobench\[weights\]'"):
        sources.resolve(get_spec("dla34"), "timm")


# --- fetching: the libraries' own functions, replaced -----------------------------------------------------------


def _hf_cache(root: Path, repo: str, state: dict) -> Path:
    """The Hugging Face cache's layout for one file: refs/main names the snapshot that holds it."""
    from safetensors.torch import save_file

    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("0" * 40)
    snap = folder / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snap / "model.safetensors"))
    return snap / "model.safetensors"


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import huggingface_hub

    root = tmp_path / "hf"
    root.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(root))
    return root


def _reference_state(tag: str) -> dict:
    src = sources.source("timm")
    return src.reference(src.pick(get_spec(tag.split(".")[0]), tag)).state_dict()


def test_offline_never_downloads_and_names_what_to_fetch(hf_cache, monkeypatch, tmp_path) -> None:
    import timm

    monkeypatch.setenv(sources.OFFLINE_ENV, "1")
    monkeypatch.setattr(timm.models, "load_state_dict_from_hf", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(ZooError) as info:
        ev.load_weights(get_spec("dla46_c").build(), get_spec("dla46_c"), "timm")
    text = str(info.value)
    assert "not in the Hugging Face cache" in text and "ZOOBENCH_OFFLINE is set" in text
    assert f"timm.create_model('{TAG}', pretrained=True)" in text and "\n" not in text

    monkeypatch.setenv("HOME", str(tmp_path))  # pytorchcv's store: ~/.torch/models
    from pytorchcv.models.common import model_store

    monkeypatch.setattr(model_store, "get_model_file", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(ZooError, match=r"pytorchcv weights sqnxt23_w1/sqnxt23_w1 are not in pytorchcv's store"):
        ev.load_weights(get_spec("sqnxt23_w1").build(), get_spec("sqnxt23_w1"), "pytorchcv")


def test_online_fetch_goes_through_the_librarys_function(hf_cache, monkeypatch) -> None:
    import timm

    state = _reference_state(TAG)
    calls = []

    def fake_load_state_dict_from_hf(repo: str, *args, **kwargs):
        calls.append(repo)
        _hf_cache(hf_cache, repo, state)
        return state

    monkeypatch.delenv(sources.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(timm.models, "load_state_dict_from_hf", fake_load_state_dict_from_hf)
    model = get_spec("dla46_c").build()
    info = ev.load_weights(model, get_spec("dla46_c"), "timm")
    assert calls == [f"timm/{TAG}"]
    assert info.label == f"timm:{TAG}" and info.file.endswith("model.safetensors")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())

    # Once cached, offline works and the library is not called again.
    monkeypatch.setenv(sources.OFFLINE_ENV, "1")
    monkeypatch.setattr(timm.models, "load_state_dict_from_hf", lambda *a, **k: pytest.fail("downloaded"))
    assert ev.load_weights(get_spec("dla46_c").build(), get_spec("dla46_c"), f"timm:{TAG}").sha256 == info.sha256


def test_torchvision_download_is_get_state_dict(tmp_path, monkeypatch) -> None:
    from torchvision.models import ResNet18_Weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(sources.OFFLINE_ENV, raising=False)
    source = get_spec("resnet18").build()
    asked = []

    def fake_get_state_dict(self, *args, **kwargs):
        asked.append(self.name)
        dst = tmp_path / "hub" / "checkpoints" / Path(self.url).name
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.save(source.state_dict(), dst)
        return source.state_dict()

    monkeypatch.setattr(type(ResNet18_Weights.IMAGENET1K_V1), "get_state_dict", fake_get_state_dict)
    info = ev.load_weights(get_spec("resnet18").build(), get_spec("resnet18"), "torchvision")
    assert asked == ["IMAGENET1K_V1"] and info.published_protocol == "1-crop 224 (torchvision)"


# --- eval: the recipe used, printed and overridable; a seeded random init ----------------------------------------


def test_eval_config_follows_the_weights_recipe_and_records_overrides() -> None:
    """What evaluate() does per model (run._config_for): the weights' recipe unless preprocess="seed"; every option
    given changes it and is named in `overrides` (the result row's recipe_overrides)."""
    from zoobench.imagenet.evaluate.config import EvalConfig
    from zoobench.imagenet.evaluate.run import _config_for

    spec = get_spec("resnet50")
    cfg = _config_for(spec, EvalConfig(), "timm:a1_in1k")
    t = cfg.transform
    assert (t.crop_size, t.resize_size, t.interpolation, cfg.recipe_from, cfg.overrides) == (
        224,
        235,
        "bicubic",
        "weights",
        (),
    )
    cfg = _config_for(spec, EvalConfig(resolution=288, interpolation="bilinear"), "timm:a1_in1k")
    assert (cfg.transform.crop_size, cfg.transform.resize_size, cfg.transform.interpolation) == (288, 302, "bilinear")
    assert cfg.overrides == ("resolution", "resize_size", "interpolation")
    cfg = _config_for(spec, EvalConfig(preprocess="seed"), "torchvision:IMAGENET1K_V2")
    assert (cfg.transform.crop_size, cfg.transform.resize_size, cfg.recipe_from) == (224, 256, "seed")
    cfg = _config_for(get_spec("inception_v4"), EvalConfig(), "timm")
    assert tuple(cfg.transform.mean) == (0.5, 0.5, 0.5) and cfg.transform.resize_size == 341
    assert _config_for(spec, EvalConfig(), "some/file.pth").recipe_from == "seed"


def test_eval_notes_print_the_recipe_and_what_changed_it() -> None:
    from zoobench.output.views import eval_notes

    row = {
        "images": 3,
        "data": "val",
        "classes": 1000,
        "classes_source": "classes.json",
        "ci": "Wilson",
        "crops": 1,
        "resize": "shorter side 235",
        "crop_size": 224,
        "resize_size": 235,
        "interpolation": "bicubic, antialias",
        "decoder": "PIL",
        "average": "softmax",
        "weights": "timm:resnet50.a1_in1k",
        "weights_sha256": None,
        "dataset_images": 3,
        "wall_s": 1.0,
        "device": "cpu",
        "dtype": "fp32",
        "batch_size": 64,
        "workers": 0,
        "torch_threads": 1,
        "loader_plan": "",
        "decode_s": 0.1,
        "model_s": 0.1,
        "models_in_pass": 1,
        "labels": "imagenet",
        "left_out": 0,
        "random_init": False,
        "top5_k": 5,
        "published_source": None,
        "preprocess": "weights",
        "recipe": "timm pretrained_cfg of resnet50.a1_in1k",
        "recipe_overrides": "",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    note = next(n for n in eval_notes(row, []) if n.startswith("Preprocessing:"))
    assert "the weights' own, timm pretrained_cfg of resnet50.a1_in1k: 224 inside 235, bicubic" in note
    changed = next(n for n in eval_notes({**row, "recipe_overrides": "interpolation"}, []) if "Preprocess" in n)
    assert "changed by interpolation" in changed


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--preprocess", "mine"], "--preprocess must be weights or seed, not 'mine'"),
        (["--interpolation", "nearest"], "--interpolation must be bilinear or bicubic, not 'nearest'"),
        (["--weights", "timm"], "is not a zoo model, so --weights timm cannot apply"),
    ],
)
def test_bad_recipe_flags_are_one_line(tmp_path, capsys, flags: list[str], message: str) -> None:
    make_val(tmp_path)
    data = str(tmp_path / "val")
    code, _, err = run_cli(capsys, "eval", "evalfixtures:pixel_model", "--data", data, "--workers", "0", *flags)
    assert_one_line_error(code, err)
    assert message in err, err


def test_random_init_is_seeded_and_leaves_the_global_generator_alone() -> None:
    from zoobench.imagenet.evaluate.run import _build

    spec = get_spec("squeezenet1_0")
    before = torch.random.get_rng_state()
    first, again, other = (_build(spec, spec.name, spec.name, {}, seed).state_dict() for seed in (3, 3, 4))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["classifier.1.weight"], other["classifier.1.weight"])


def test_list_weights_shows_every_source_its_accuracy_and_recipe(capsys, monkeypatch) -> None:
    code, out, err = run_cli(capsys, "list", "resnet50", "sqnxt23_w1", "--weights", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    rows = {r["weights"]: r for r in doc["rows"]}
    v2 = rows["torchvision:IMAGENET1K_V2"]
    assert (v2["model"], v2["top1"], v2["protocol"], v2["recipe"]) == (
        "resnet50",
        80.858,
        "1-crop 224 (torchvision)",
        "224/232 bilinear",
    )
    assert (
        rows["timm:resnet50.a1_in1k"]["recipe"] == "224/235 bicubic" and rows["timm:resnet50.a1_in1k"]["top1"] is None
    )
    assert rows["pytorchcv:sqnxt23_w1"]["top5"] == 80.94 and rows["pytorchcv:sqnxt23_w1"]["mapping"] == "order"
    assert {r["source"] for r in doc["rows"]} == {"torchvision", "timm", "pytorchcv"}

    monkeypatch.setitem(sys.modules, "timm", None)  # a library missing: the others are listed, and a note says so
    code, out, err = run_cli(capsys, "list", "resnet50", "--weights", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and {r["source"] for r in doc["rows"]} == {"torchvision"}
    assert any("Not listed" in n and "zoobench[weights]" in n for n in doc["notes"])
