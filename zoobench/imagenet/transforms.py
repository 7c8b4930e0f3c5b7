"""Image transforms for ImageNet: 1-, 5- and 10-crop evaluation, and the seed's training augmentation.

Evaluation (the seed's "CROP-1, CROP-5 and CROP-10" section, and the convention behind published accuracies):
resize the shorter side to 256 (or the whole image to 256x256 with `resize="square"`), then cut 224x224 crops:
the centre (1), the four corners and the centre (5), and those five again from the horizontally flipped image (10).
A different resolution scales crop and resize together: crop r inside round(r * 256 / 224), e.g. 299 inside 342.

Each image is decoded and resized once; every crop is a view of that one resized image. Resizing is bilinear with
antialias (PIL's resize filters over the whole footprint when it shrinks; a tensor resize without antialias samples
and costs about 0.8 points of top-1 on ResNet-18). Crop positions and the flip order match torchvision's
CenterCrop / FiveCrop / TenCrop, which the tests check pixel for pixel.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from zoobench.errors import ZooError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROPS = (1, 5, 10)
RESIZE_MODES = ("shorter", "square")
DECODERS = ("pil", "torchvision")
INTERPOLATIONS = ("bilinear", "bicubic")
_PIL_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
BASE_CROP, BASE_RESIZE = 224, 256


def resize_for(crop: int) -> int:
    """The resize that keeps the 224-in-256 ratio at another crop size (299 -> 342, 320 -> 366)."""
    return round(crop * BASE_RESIZE / BASE_CROP)


def shorter_side_size(width: int, height: int, shorter: int) -> tuple[int, int]:
    """(width, height) with the shorter side set to `shorter` and the aspect ratio kept.

    The longer side is truncated, not rounded: torchvision's Resize(int) does the same, so published numbers and
    ours see the same pixels.
    """
    if width <= height:
        return shorter, int(shorter * height / width)
    return int(shorter * width / height), shorter


def _centre_offset(full: int, crop: int) -> int:
    # Python's round (half to even) on the half-pixel case, the same choice torchvision's CenterCrop makes.
    return int(round((full - crop) / 2.0))


def crop_boxes(height: int, width: int, size: int, crops: int) -> list[tuple[int, int]]:
    """Top-left corners (top, left) of the crops of one (unflipped) image: centre, or TL, TR, BL, BR, centre."""
    if size > height or size > width:
        raise ValueError(f"crop {size} does not fit a {width}x{height} image")
    centre = (_centre_offset(height, size), _centre_offset(width, size))
    if crops == 1:
        return [centre]
    return [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size), centre]


def cut_crops(image: torch.Tensor, size: int, crops: int) -> torch.Tensor:
    """(crops, C, size, size) views of a (C, H, W) image; 10-crop repeats the five on the flipped image.

    `crops` is one of CROPS: EvalTransform checks it once, not once per image.
    """
    _, h, w = image.shape
    five = min(crops, 5)
    sources = [image] if crops < 10 else [image, image.flip(-1)]
    # The flipped five are cut from the flipped image, not flipped after cutting: when (W - size) is odd the centre
    # of the flipped image is one pixel away from the mirror of the centre, and TenCrop cuts from the flipped image.
    return torch.stack([src[:, t : t + size, x : x + size] for src in sources for t, x in crop_boxes(h, w, size, five)])


def _choices(values: Sequence[object]) -> str:
    return ", ".join(map(str, values[:-1])) + f" or {values[-1]}"


def positive_pixels(name: str, value: object) -> None:
    """Refuse a size that is not a positive whole number of pixels (bool too: True would be a 1-pixel crop)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ZooError(f"{name} must be a positive number of pixels, not {value!r}")


def _rgb(name: str, values: Sequence[float]) -> tuple[float, float, float]:
    try:
        rgb = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or not all(math.isfinite(v) for v in rgb):
        raise ZooError(f"{name} must be three finite numbers (R, G, B), not {values!r}")
    return rgb  # type: ignore[return-value]


@dataclass(frozen=True)
class EvalTransform:
    """Path -> (crops, 3, crop, crop) float tensor, normalised. One decode, one resize, `crops` views.

    `resize_size` defaults to round(crop_size * 256 / 224). `decoder` "pil" (default) decodes with PIL and resizes
    with PIL's antialiased filter (`interpolation` bilinear or bicubic), as torchvision's `weights.transforms()`
    and timm's and pytorchcv's eval transforms do on a PIL image. "torchvision" decodes with torchvision.io
    (libjpeg-turbo / libpng) and resizes the uint8 tensor with antialias=True.
    """

    crops: int = 1
    crop_size: int = BASE_CROP
    resize_size: int | None = None
    resize: str = "shorter"
    decoder: str = "pil"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"
    _mean: torch.Tensor = field(init=False, repr=False, compare=False)
    _std: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """The one check of the geometry and the normalisation (evaluate relies on it, cut_crops trusts it)."""
        if self.crops not in CROPS:
            raise ZooError(f"crops must be {_choices(CROPS)}, not {self.crops!r}")
        if self.resize not in RESIZE_MODES:
            raise ZooError(f"resize must be {_choices(RESIZE_MODES)}, not {self.resize!r}")
        if self.decoder not in DECODERS:
            raise ZooError(f"decoder must be {_choices(DECODERS)}, not {self.decoder!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise ZooError(f"interpolation must be {_choices(INTERPOLATIONS)}, not {self.interpolation!r}")
        positive_pixels("crop_size", self.crop_size)
        if self.resize_size is None:
            object.__setattr__(self, "resize_size", resize_for(self.crop_size))
        positive_pixels("resize_size", self.resize_size)
        if self.resize_size < self.crop_size:
            raise ZooError(f"resize_size={self.resize_size} is smaller than the crop {self.crop_size}")
        # A zero or nan std divides every pixel into inf/nan: the model then scores chance and nothing says why.
        mean, std = _rgb("mean", self.mean), _rgb("std", self.std)
        if not all(v > 0 for v in std):
            raise ZooError(f"std must be three finite numbers > 0, not {self.std!r}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        object.__setattr__(self, "_mean", torch.tensor(mean).view(1, 3, 1, 1))
        object.__setattr__(self, "_std", torch.tensor(std).view(1, 3, 1, 1))

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        if self.resize == "square":
            return self.resize_size, self.resize_size
        return shorter_side_size(width, height, self.resize_size)

    def load(self, path: str | Path) -> torch.Tensor:
        """Decode and resize once: a (3, H, W) uint8 tensor."""
        if self.decoder == "pil":
            with Image.open(path) as img:
                img = img.convert("RGB")  # forces the full decode: a truncated file fails here, naming no crop
            size = self.target_size(*img.size)
            if img.size != size:
                img = img.resize(size, _PIL_FILTERS[self.interpolation])
            return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        from torchvision.io import ImageReadMode, decode_image, read_file
        from torchvision.transforms.v2 import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
        width, height = image.shape[-1], image.shape[-2]
        size = self.target_size(width, height)
        if (width, height) != size:
            mode = InterpolationMode(self.interpolation)
            image = F.resize(image, [size[1], size[0]], interpolation=mode, antialias=True)
        return image

    def cut(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (3, H, W) -> uint8 (crops, 3, crop, crop): what loader workers send (a quarter of the float bytes)."""
        return cut_crops(image, self.crop_size, self.crops)

    def normalize(self, crops: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3, h, w) on any device -> normalised float32, where the model runs (batched, or on the GPU).

        Same operations in the same order as ToTensor + Normalize (divide by 255, subtract the mean, divide by the
        std), each exactly rounded: equal bits wherever it runs.
        """
        shape = (3, 1, 1)
        mean = self._mean.view(shape).to(crops.device)
        std = self._std.view(shape).to(crops.device)
        return crops.float().div_(255).sub_(mean).div_(std)

    def finish(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 (3, H, W) -> normalised float (crops, 3, crop, crop). Crop first: fewer pixels to convert."""
        return self.normalize(self.cut(image))

    def timed(self, path: str | Path) -> tuple[torch.Tensor, float, float]:
        """(uint8 crops, decode + resize seconds, cutting seconds): the loader's share of the work, for reports."""
        t0 = time.perf_counter()
        image = self.load(path)
        t1 = time.perf_counter()
        out = self.cut(image)
        return out, t1 - t0, time.perf_counter() - t1

    def __call__(self, path: str | Path) -> torch.Tensor:
        return self.finish(self.load(path))

    def describe(self) -> dict:
        """Every setting that changes the pixels the model sees, for the result's metadata."""
        if self.decoder == "pil":
            decoder = f"PIL {PIL.__version__} (Image.open + convert('RGB'))"
            resizer = f"PIL Image.resize {self.interpolation.upper()} (antialiased: the filter widens when shrinking)"
        else:
            import torchvision

            decoder = f"torchvision {torchvision.__version__} io.decode_image (RGB)"
            resizer = f"torchvision v2 functional.resize on uint8, {self.interpolation.upper()}, antialias=True"
        if self.resize == "square":
            resize = f"square {self.resize_size}x{self.resize_size}"
        else:
            resize = f"shorter side {self.resize_size}"
        return {
            "crops": self.crops,
            "crop_size": self.crop_size,
            "resize_size": self.resize_size,
            "resize": resize,
            "interpolation": f"{self.interpolation}, antialias",
            "decoder": decoder,
            "resizer": resizer,
            "mean": list(self.mean),
            "std": list(self.std),
        }


class SeedTrainTransform:
    """The seed's training augmentation: shorter side to 256, a random 224x224 crop, per-channel mean subtraction,
    a random horizontal flip (probability 1/2). The seed subtracts the mean only, without dividing by the std.

    Input: a path or a PIL image; output: a (3, crop, crop) float tensor. Randomness comes from torch's generator
    (`generator`, or the global one, which DataLoader seeds per worker), so a seeded loader is reproducible.
    Random sampling order ("取图片时随机取") is the loader's job: `shuffled_loader`.
    """

    def __init__(
        self,
        crop_size: int = BASE_CROP,
        resize_size: int = BASE_RESIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        generator: torch.Generator | None = None,
    ) -> None:
        if resize_size < crop_size:
            raise ValueError(f"resize {resize_size} is smaller than the crop {crop_size}")
        self.crop_size, self.resize_size = crop_size, resize_size
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(3, 1, 1)
        self.generator = generator

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def __call__(self, source: str | Path | Image.Image) -> torch.Tensor:
        if isinstance(source, Image.Image):
            img = source.convert("RGB")
        else:
            with Image.open(source) as opened:
                img = opened.convert("RGB")
        size = shorter_side_size(*img.size, self.resize_size)
        if img.size != size:
            img = img.resize(size, Image.BILINEAR)
        image = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        _, h, w = image.shape
        top, left = self._randint(h - self.crop_size + 1), self._randint(w - self.crop_size + 1)
        out = image[:, top : top + self.crop_size, left : left + self.crop_size]
        if self._randint(2):
            out = out.flip(-1)
        return out.float().div_(255).sub_(self.mean)

    def __repr__(self) -> str:
        return f"SeedTrainTransform(crop_size={self.crop_size}, resize_size={self.resize_size})"


# Named transforms, so scripts and docs can ask for them by name.
TRANSFORMS = {
    "seed_train": SeedTrainTransform,
    "crop1": lambda **kw: EvalTransform(crops=1, **kw),
    "crop5": lambda **kw: EvalTransform(crops=5, **kw),
    "crop10": lambda **kw: EvalTransform(crops=10, **kw),
}


def get_transform(name: str, **kwargs):
    """A transform by name: seed_train, crop1, crop5, crop10; kwargs go to its constructor."""
    try:
        return TRANSFORMS[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORMS)}") from None


def shuffled_loader(
    dataset: Dataset,
    batch_size: int = 256,
    *,
    seed: int | None = None,
    workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A loader that visits the dataset in a fresh random order each epoch (the seed's random sampling).

    With `seed` the order and the per-worker augmentation streams are reproducible.
    """
    generator = torch.Generator()
    generator.manual_seed(seed if seed is not None else int(torch.empty((), dtype=torch.int64).random_()))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
        num_workers=workers,
        drop_last=drop_last,
        persistent_workers=workers > 0,
    )
