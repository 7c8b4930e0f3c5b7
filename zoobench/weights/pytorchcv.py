"""pytorchcv's released weights (imgclsmob's model store): one per model, listed with its checksum, top-5 error,
input size and crop fraction in the store's own table (`model_metainfos.csv`, shipped in the wheel). Downloads go
through pytorchcv's `get_model_file` (into ~/.torch/models, sha1-checked). The recipe is imgclsmob's evaluation:
shorter side ceil(size / img_scale), centre crop, bilinear PIL resize, ImageNet mean/std.

pytorchcv names its layers differently, so its state_dict maps into ours by position (every pair checked for kind
and shape; the logits test proves the order).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from zoobench.errors import ZooError
from zoobench.registry import Accuracy, ModelSpec
from zoobench.weights.mapping import IN_ORDER
from zoobench.weights.recipe import IMAGENET_MEAN, IMAGENET_STD, from_crop_pct
from zoobench.weights.sources import Weight, need

# zoo model -> pytorchcv model name. Not its DLAs (their layers come in another order) nor EfficientNets (their
# logits differ): the logits test refuses both.
NAMES = {
    "darknet53": "darknet53",
    "googlenet_v2": "bninception",
    "igcv3_w1_0": "igcv3_w1",
    "peleenet": "peleenet",
    **{f"preact_resnet{d}": f"preresnet{d}" for d in (18, 34, 50, 101, 152)},
    **{n: n for n in ("sqnxt23_w1", "sqnxt23_w2", "sqnxt23v5_w1", "sqnxt23v5_w2")},
    "squeezenet1_0": "squeezenet_v1_0",
    **{f"densenet{d}": f"densenet{d}" for d in (121, 169, 201)},
    "resnet18": "resnet18",  # not resnet50 and deeper: pytorchcv's put the stride in the first 1x1 conv (ResNet v1)
    "resnet34": "resnet34",
    "resnext50_32x4d": "resnext50_32x4d",
    "resnext101_32x4d": "resnext101_32x4d",
    "inception_v3": "inceptionv3",
    "inception_v4": "inceptionv4",
    "squeezenet1_0_simple_bypass": "squeezeresnet_v1_0",
    "mobilenet_v1": "mobilenet_w1",
    # not mobilenet_v2: pytorchcv's mobilenetv2_w1 expands its first block (3,504,960 params vs 3,504,872)
}
STORE_DIR = os.path.join("~", ".torch", "models")  # get_model_file's default


def _store() -> dict[str, list[str]]:
    """The model store's table, name -> its row (pytorchcv's own CSV reader and file)."""
    need("pytorchcv", "pytorchcv")
    from pytorchcv.models.common import model_store

    rows = model_store.load_csv(model_store.get_model_metainfos_file_path())
    header = rows[0]
    return {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}


class PytorchcvSource:
    kind = "pytorchcv"

    def _row(self, name: str) -> dict | None:
        row = _store().get(name)
        return row if row and row["checksum"] != "NA" else None  # NA: listed, never released

    def _weight(self, spec: ModelSpec, name: str, row: dict) -> Weight:
        size, scale = int(row["img_size"]), float(row["img_scale"])
        recipe = from_crop_pct(
            size,
            scale,
            interpolation="bilinear",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            ceil=True,
            origin=f"pytorchcv model store ({name}: img_size {size}, img_scale {scale}), imgclsmob's eval transform",
        )
        top5 = round(100 - int(row["error_value"]) / 100, 2)
        published = Accuracy(
            None,
            top5,
            f"pytorchcv model store {name} (top-5 error {int(row['error_value']) / 100}%)",
            1,
            size,
            "pytorchcv",
        )
        return Weight("pytorchcv", spec.name, name, name, recipe, published, how=IN_ORDER)

    def weights(self, spec: ModelSpec) -> list[Weight]:
        name = NAMES.get(spec.name)
        row = self._row(name) if name and not spec.external else None
        return [self._weight(spec, name, row)] if row else []

    def pick(self, spec: ModelSpec, tag: str | None) -> Weight:
        found = self.weights(spec)
        if not found:
            raise ZooError(f"pytorchcv has no weights for {spec.name}; zoo models with them: {', '.join(NAMES)}")
        if tag not in (None, found[0].tag):
            raise ZooError(f"pytorchcv has no weights {tag!r} for {spec.name}; its one release is {found[0].tag}")
        return found[0]

    def reference(self, weight: Weight) -> nn.Module:
        need("pytorchcv", self.kind)
        from pytorchcv.model_provider import get_model

        return get_model(weight.arch, pretrained=False)

    def cached(self, weight: Weight) -> Path:
        """~/.torch/models/<name>-<error>-<sha1 prefix>.pth, the name get_model_file gives it."""
        row = _store()[weight.arch]
        name = f"{weight.arch}-{row['error_value']}-{row['checksum'][:8]}.pth"
        return Path(os.path.expanduser(STORE_DIR)) / name

    def download(self, weight: Weight) -> Path:
        need("pytorchcv", self.kind)
        from pytorchcv.models.common.model_store import get_model_file

        return Path(get_model_file(weight.arch, local_model_store_dir_path=STORE_DIR))

    def read(self, weight: Weight, path: Path) -> dict[str, torch.Tensor]:
        from zoobench.weights.files import read_checkpoint

        return read_checkpoint(path, f"cached file {path}")

    def fetch_hint(self, weight: Weight) -> str:
        return (
            'fetch it online with: python -c "from pytorchcv.model_provider import get_model; '
            f"get_model('{weight.arch}', pretrained=True)\""
        )


SOURCE = PytorchcvSource()
