"""timm's released weights: every pretrained tag timm's own offline registry lists for the architecture that equals a
zoo model (`timm.models.get_arch_pretrained_cfgs`, the default tag first), each tag's `pretrained_cfg` as its recipe
(input_size, crop_pct, interpolation, mean, std, crop_mode, as `resolve_data_config` reads them). Downloads go
through timm's `load_state_dict_from_hf` (the Hugging Face cache). timm's wheel ships no accuracy table (its
results-imagenet.csv lives in its repository only), so timm weights carry no published figure here.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from zoobench.errors import ZooError
from zoobench.registry import ModelSpec
from zoobench.weights.mapping import BY_KEY, FLATTEN, IN_ORDER
from zoobench.weights.recipe import CROP_MODES, from_crop_pct
from zoobench.weights.sources import Weight, need

# zoo model -> (timm architecture, how its state_dict maps, the zoo builder arguments its weights need).
# darknet53: timm's LeakyReLU slope is 0.01, not darknet's 0.1; mobilenetv1_100: ReLU6, not ReLU.
ARCHS: dict[str, tuple[str, str, dict]] = {
    **{f"resnet{d}": (f"resnet{d}", BY_KEY, {}) for d in (18, 34, 50, 101, 152)},
    "resnext50_32x4d": ("resnext50_32x4d", BY_KEY, {}),
    "resnext101_32x4d": ("resnext101_32x4d", BY_KEY, {}),
    **{f"densenet{d}": (f"densenet{d}", BY_KEY, {}) for d in (121, 169, 201)},
    **{
        n: (n, BY_KEY, {})
        for n in ("dla34", "dla46_c", "dla46x_c", "dla60", "dla60x", "dla60x_c", "dla102", "dla102x", "dla169")
    },
    "inception_v3": ("inception_v3", BY_KEY, {}),
    "inception_v4": ("inception_v4", BY_KEY, {}),
    "darknet53": ("darknet53", IN_ORDER, {"negative_slope": 0.01}),
    "mobilenet_v1": ("mobilenetv1_100", IN_ORDER, {"activation": nn.ReLU6}),
    "mobilenet_v2": ("mobilenetv2_100", IN_ORDER, {}),
    **{f"efficientnet_b{i}": (f"efficientnet_b{i}", IN_ORDER, {}) for i in range(5)},
    # timm's VGG heads are convolutions (7x7, then 1x1): the same numbers as torchvision's linear classifier
    **{f"vgg{d}{bn}": (f"vgg{d}{bn}", FLATTEN, {}) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
}


def _usable(cfg) -> bool:
    """An ImageNet-1k classifier whose eval transform zoobench reproduces (not in12k, not a headless backbone)."""
    return cfg.num_classes == 1000 and (cfg.crop_mode or "center") in CROP_MODES and bool(cfg.hf_hub_id)


class TimmSource:
    kind = "timm"

    def _cfgs(self, arch: str) -> dict:
        timm = need("timm", self.kind)
        return {name: cfg for name, cfg in timm.models.get_arch_pretrained_cfgs(arch).items() if _usable(cfg)}

    def _weight(self, spec: ModelSpec, tag: str, cfg) -> Weight:
        arch, how, build = ARCHS[spec.name]
        recipe = from_crop_pct(
            cfg.input_size[-1],
            cfg.crop_pct or 0.875,
            interpolation=cfg.interpolation or "bilinear",
            mean=cfg.mean,
            std=cfg.std,
            crop_mode=cfg.crop_mode or "center",
            origin=f"timm pretrained_cfg of {tag}",
        )
        return Weight("timm", spec.name, tag, arch, recipe, None, build=build, how=how)

    def weights(self, spec: ModelSpec) -> list[Weight]:
        if spec.name not in ARCHS or spec.external:
            return []
        return [self._weight(spec, tag, cfg) for tag, cfg in self._cfgs(ARCHS[spec.name][0]).items()]

    def pick(self, spec: ModelSpec, tag: str | None) -> Weight:
        found = self.weights(spec)
        if not found:
            have = ", ".join(sorted(ARCHS))
            raise ZooError(f"timm has no weights for {spec.name}; zoo models with timm weights: {have}")
        if tag is None:
            return found[0]
        for w in found:
            if tag in (w.tag, w.tag.split(".", 1)[1]):  # resnet50.a1_in1k or a1_in1k
                return w
        raise ZooError(f"timm has no weights {tag!r} for {spec.name}; choose one of {', '.join(w.tag for w in found)}")

    def reference(self, weight: Weight) -> nn.Module:
        return need("timm", self.kind).create_model(weight.arch, pretrained=False)

    def _repo(self, weight: Weight) -> str:
        return self._cfgs(weight.arch)[weight.tag].hf_hub_id

    def cached(self, weight: Weight) -> Path:
        """The file in the Hugging Face cache (safetensors first, as timm prefers), else the repo's cache folder."""
        hub = need("huggingface_hub", self.kind)
        repo = self._repo(weight)
        for name in ("model.safetensors", "pytorch_model.bin"):
            found = hub.try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return Path(found)
        return Path(hub.constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"

    def download(self, weight: Weight) -> Path:
        need("timm", self.kind).models.load_state_dict_from_hf(self._repo(weight))
        return self.cached(weight)

    def read(self, weight: Weight, path: Path) -> dict[str, torch.Tensor]:
        from zoobench.weights.files import read_checkpoint

        return read_checkpoint(path, f"cached file {path}")

    def fetch_hint(self, weight: Weight) -> str:
        return f"fetch it online with: python -c \"import timm; timm.create_model('{weight.tag}', pretrained=True)\""


SOURCE = TimmSource()
