"""Each released weight's preprocessing, as eval builds it, gives the very input tensor its library's own eval
transform gives: torchvision's `weights.transforms()` for every enum of every zoo twin, timm's
`create_transform(**resolve_data_config(pretrained_cfg))` for every tag, on images of several sizes and aspect
ratios. Both decode with PIL and run the same PIL resize, crop and normalisation operations in the same order, so
the tensors are equal bit for bit (asserted: max abs difference 0, inside the 1e-6 the issue allows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoobench.imagenet.evaluate.config import EvalConfig
from zoobench.registry import all_specs, get_spec
from zoobench.weights import recipe, sources

SIZES = [(500, 375), (375, 500), (300, 300), (640, 427), (211, 517)]  # landscape, portrait, square, wide, tall + odd


def _weights(kind: str) -> list[tuple[str, sources.Weight]]:
    return [(s.name, w) for s in all_specs() for w in sources.source(kind).weights(s)]


TV = _weights("torchvision")
TIMM = _weights("timm")
CV = _weights("pytorchcv")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Smooth gradients plus noise: every resize filter's weights matter, and PNG decodes the same everywhere."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("recipe")
    paths = []
    for i, (w, h) in enumerate(SIZES):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)
        paths.append(folder / f"img{i}_{w}x{h}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _ours(name: str, w: sources.Weight) -> torch.nn.Module:
    spec = get_spec(name)
    return EvalConfig().validate(spec.resolution, w.recipe).transform


def _assert_same(ours, reference, images: list[Path]) -> None:
    for path in images:
        with Image.open(path) as img:
            expected = reference(img.convert("RGB"))
        got = ours(path)[0]
        assert got.shape == expected.shape, path.name
        assert (got - expected).abs().max().item() == 0.0, path.name


@pytest.mark.parametrize("name, weight", TV, ids=[f"{n}-{w.tag}" for n, w in TV])
def test_torchvision_recipe_equals_weights_transforms(name: str, weight: sources.Weight, images) -> None:
    import torchvision

    member = torchvision.models.get_model_weights(weight.arch)[weight.tag]
    _assert_same(_ours(name, weight), member.transforms(), images)


@pytest.mark.parametrize("name, weight", TIMM, ids=[w.tag for _, w in TIMM])
def test_timm_recipe_equals_timm_eval_transform(name: str, weight: sources.Weight, images) -> None:
    import timm
    from timm.data import create_transform, resolve_data_config

    cfg = timm.models.get_pretrained_cfg(weight.tag)
    reference = create_transform(**resolve_data_config({}, pretrained_cfg=cfg.to_dict()))
    _assert_same(_ours(name, weight), reference, images)


@pytest.mark.parametrize("name, weight", CV, ids=[w.tag for _, w in CV])
def test_pytorchcv_recipe_is_its_store_row(name: str, weight: sources.Weight) -> None:
    """pytorchcv ships no eval transform; its store row says input size and crop fraction, and imgclsmob's eval
    script resizes to ceil(size / fraction) with PIL bilinear and ImageNet's mean and std."""
    from pytorchcv.models.common import model_store

    row = {r[0]: r for r in model_store.load_csv(model_store.get_model_metainfos_file_path())}[weight.tag]
    size, scale = int(row[8]), float(row[9])
    r = weight.recipe
    assert (r.crop_size, r.resize_size) == (size, int(np.ceil(size / scale)))
    assert (r.interpolation, r.mean, r.std) == ("bilinear", recipe.IMAGENET_MEAN, recipe.IMAGENET_STD)


def test_every_source_and_the_seed_recipe() -> None:
    assert len(TV) >= 36 and len(TIMM) >= 80 and len(CV) >= 20
    seed = EvalConfig().validate(224).transform
    assert (seed.crop_size, seed.resize_size, seed.interpolation) == (224, 256, "bilinear")
    assert recipe.seed_at(299).resize_size == 342
