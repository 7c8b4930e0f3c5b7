"""Preprocessing: how a weight's publisher fed images to the model when it measured its accuracy.

One `Preprocessing` per released weight, taken from the source (torchvision's `weights.transforms()`, timm's
`pretrained_cfg`, pytorchcv's model-store table). `eval` turns it into an `EvalTransform`. No torch here: `list
--weights` prints recipes without importing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic")
CROP_MODES = ("center", "squash")  # shorter side then centre crop; or the whole image to a square, then the crop


@dataclass(frozen=True)
class Preprocessing:
    """Resize, crop and normalisation of one evaluation recipe.

    `resize_size` is the shorter side (crop_mode "center") or both sides ("squash"); the crop is `crop_size`
    square from the centre. All three publishers resize the PIL image (PIL's filters antialias when they shrink):
    torchvision's `ImageClassification` resizes whatever it is given, and its reference evaluation gives it PIL
    images; timm's and imgclsmob's eval transforms are PIL pipelines.
    """

    crop_size: int
    resize_size: int
    interpolation: str = "bilinear"
    crop_mode: str = "center"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    origin: str = "the seed: shorter side 256, centre 224, bilinear"

    @property
    def crop_pct(self) -> float:
        return self.crop_size / self.resize_size

    def with_overrides(self, **changes: object) -> Preprocessing:
        """A copy with some fields replaced (the flags that override a recipe); None values change nothing."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given) if given else self

    def describe(self) -> str:
        """One line: '224 inside 232 (shorter side), bilinear, mean ..., std ...'."""
        where = "shorter side" if self.crop_mode == "center" else "squashed to a square"
        return (
            f"{self.crop_size} inside {self.resize_size} ({where}), {self.interpolation}, "
            f"mean {_rgb(self.mean)}, std {_rgb(self.std)}"
        )

    def short(self) -> str:
        """'224/232 bilinear': the list table's cell."""
        squash = " squash" if self.crop_mode == "squash" else ""
        return f"{self.crop_size}/{self.resize_size} {self.interpolation}{squash}"


def _rgb(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


SEED = Preprocessing(224, 256)


def seed_at(crop: int) -> Preprocessing:
    """The seed's recipe at another crop size: the 224-in-256 ratio kept (299 inside 342)."""
    return replace(SEED, crop_size=crop, resize_size=round(crop * 256 / 224))


def from_crop_pct(
    crop: int,
    crop_pct: float,
    *,
    interpolation: str,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    crop_mode: str = "center",
    ceil: bool = False,
    origin: str,
) -> Preprocessing:
    """A recipe stated as input size and crop_pct: resize = floor(crop / crop_pct) as timm computes it (`ceil`:
    as imgclsmob's evaluation script does for pytorchcv's weights)."""
    scale = crop / crop_pct
    size = math.ceil(scale) if ceil else math.floor(scale)
    return Preprocessing(
        crop,
        size,
        interpolation,
        crop_mode,
        tuple(float(v) for v in mean),  # type: ignore[arg-type]
        tuple(float(v) for v in std),  # type: ignore[arg-type]
        origin,
    )
