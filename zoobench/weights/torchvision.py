"""torchvision's released weights: every enum member of a zoo model's torchvision twin (V1, V2, ...), its
`transforms()` as the recipe and its `meta["_metrics"]` as the published accuracy. Downloads go through the enum's
own `get_state_dict` (torch's hub cache); offline, the cache file is read as it is.

Some torchvision builders change the model when they load weights: googlenet and inception_v3 turn on
`transform_input` (the checkpoints were trained on inputs rescaled from ImageNet's normalisation to [-1, 1]) and
carry auxiliary classifiers that inference drops. Those are the `build` and `drop` of their weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.registry import Accuracy, ModelSpec
from zoobench.weights.recipe import Preprocessing
from zoobench.weights.sources import Weight, need

FIRST = "IMAGENET1K_V1"  # `--weights torchvision`: the original releases, trained as the papers did
DEFAULT = "DEFAULT"  # `--weights torchvision:DEFAULT`: whatever torchvision's own default is
# What torchvision's builder sets when it loads weights (torchvision/models/googlenet.py, inception.py).
WITH_WEIGHTS = {
    "googlenet": ({"transform_input": True, "aux_logits": True, "init_weights": False}, ("aux1.", "aux2.")),
    "inception_v3": ({"transform_input": True, "aux_logits": True, "init_weights": False}, ("AuxLogits.",)),
}
ZOO_BUILD = {"googlenet": {"transform_input": True}, "inception_v3": {"transform_input": True}}


def twin(spec: ModelSpec) -> str | None:
    """The torchvision model whose weights load into this one (a zoo twin, or a `torchvision:<name>` model)."""
    if spec.torchvision:
        return spec.torchvision
    if spec.external and spec.family == "torchvision":
        return spec.name.split(":", 1)[1]
    return None


def _recipe(member) -> Preprocessing:
    t = member.transforms()
    return Preprocessing(
        crop_size=t.crop_size[0],
        resize_size=t.resize_size[0],
        interpolation=t.interpolation.value,
        mean=tuple(t.mean),
        std=tuple(t.std),
        origin=f"torchvision {type(member).__name__}.{member.name}.transforms()",
    )


def _published(member, crop: int) -> Accuracy | None:
    metrics = member.meta.get("_metrics", {}).get("ImageNet-1K", {})
    top1, top5 = metrics.get("acc@1"), metrics.get("acc@5")
    if top1 is None or top1 != top1:  # nan: a features-only release
        return None
    return Accuracy(
        top1, top5, f"torchvision {type(member).__name__}.{member.name} meta['_metrics']", 1, crop, "torchvision"
    )


class TorchvisionSource:
    kind = "torchvision"

    def _enum(self, arch: str):
        tv = need("torchvision", self.kind)
        try:
            return tv.models.get_model_weights(arch)
        except Exception as exc:
            raise ZooError(f"torchvision publishes no weights for {arch!r}") from exc

    def _weight(self, spec: ModelSpec, arch: str, member) -> Weight:
        _, drop = WITH_WEIGHTS.get(arch, ({}, ()))
        recipe = _recipe(member)
        return Weight(
            "torchvision",
            spec.name,
            member.name,
            arch,
            recipe,
            _published(member, recipe.crop_size),
            build=ZOO_BUILD.get(arch, {}),
            drop=() if spec.external else drop,  # torchvision's own model (torchvision:<name>) keeps its aux heads
            classifier="FEATURES" not in member.name,
        )

    def weights(self, spec: ModelSpec) -> list[Weight]:
        arch = twin(spec)
        if arch is None:
            return []
        return [self._weight(spec, arch, m) for m in self._enum(arch)]

    def pick(self, spec: ModelSpec, tag: str | None) -> Weight:
        arch = twin(spec)
        if arch is None:
            twins = [s.name for s in registry.all_specs() if s.torchvision]
            raise ZooError(
                f"{spec.name} has no torchvision twin, so weights='torchvision' cannot apply; "
                f"models with one: {', '.join(twins[:8])} and {len(twins) - 8} more; or pass weights=PATH"
            )
        enum = self._enum(arch)
        names = [m.name for m in enum]
        tag = tag or FIRST
        if tag == DEFAULT:
            tag = enum.DEFAULT.name
        if tag not in names:
            raise ZooError(
                f"torchvision has no weights {tag!r} for {arch}; choose one of {', '.join(names)} or DEFAULT"
            )
        return self._weight(spec, arch, enum[tag])

    def reference(self, weight: Weight) -> nn.Module:
        tv = need("torchvision", self.kind)
        build, _ = WITH_WEIGHTS.get(weight.arch, ({}, ()))
        return tv.models.get_model(weight.arch, weights=None, **build)

    def _member(self, weight: Weight):
        return self._enum(weight.arch)[weight.tag]

    def cached(self, weight: Weight) -> Path:
        """TORCH_HOME/hub/checkpoints/<the URL's file name>, where `get_state_dict` keeps it."""
        return Path(torch.hub.get_dir()) / "checkpoints" / Path(self._member(weight).url).name

    def download(self, weight: Weight) -> Path:
        self._member(weight).get_state_dict(progress=False, check_hash=True)
        return self.cached(weight)

    def read(self, weight: Weight, path: Path) -> dict[str, torch.Tensor]:
        from zoobench.weights.files import read_checkpoint

        return read_checkpoint(path, f"cached file {path}")

    def fetch_hint(self, weight: Weight) -> str:
        url = self._member(weight).url
        return f"copy {Path(url).name} from {url} there"


SOURCE = TorchvisionSource()
