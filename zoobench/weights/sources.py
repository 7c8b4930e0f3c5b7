"""Released weights: what one is (`Weight`), what a library that publishes them provides (`Source`), and
`resolve(spec, text)`, which turns `--weights` text into a choice: a file, one released weight, or nothing.

Sources: torchvision (its weight enums), timm (its pretrained tags), pytorchcv (its model store). Each enumerates
from the library's own offline registry, downloads through the library's own function, and says in one line what
to fetch when ZOOBENCH_OFFLINE=1 and the file is not cached. A library that is not installed is one line naming
the extra that installs it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from zoobench.errors import ZooError
from zoobench.registry import Accuracy, ModelSpec
from zoobench.weights.recipe import Preprocessing

if TYPE_CHECKING:
    import torch
    from torch import nn

OFFLINE_ENV = "ZOOBENCH_OFFLINE"  # set to 1: never download, read the libraries' caches only
EXTRA = "zoobench[weights]"
KINDS = ("torchvision", "timm", "pytorchcv")


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


@dataclass(frozen=True)
class Weight:
    """One released checkpoint for one zoo model, with the preprocessing its publisher evaluated it with."""

    kind: str  # torchvision | timm | pytorchcv
    model: str  # the zoo model it loads into
    tag: str  # torchvision enum name, timm tag (arch.tag), pytorchcv model name
    arch: str  # the library's model name
    recipe: Preprocessing
    published: Accuracy | None = None
    build: dict = field(default_factory=dict)  # builder arguments of the zoo model these weights were trained for
    drop: tuple[str, ...] = ()  # checkpoint prefixes inference never uses (auxiliary heads)
    how: str = "key"  # mapping.BY_KEY or mapping.IN_ORDER
    classifier: bool = True  # False: a features-only release (its classifier is not trained)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.tag}"


class Source(Protocol):
    """What a weight library provides. Everything but `download` works offline."""

    kind: str

    def weights(self, spec: ModelSpec) -> list[Weight]:
        """Every released weight for this zoo model, the library's default first."""
        ...

    def pick(self, spec: ModelSpec, tag: str | None) -> Weight:
        """The weight `tag` names (None: the source's default), or a ZooError listing the choices."""
        ...

    def reference(self, weight: Weight) -> nn.Module:
        """The library's own model for these weights, randomly initialised, built as its pretrained path builds it."""
        ...

    def cached(self, weight: Weight) -> Path:
        """Where the library's cache keeps (or will keep) the checkpoint file."""
        ...

    def download(self, weight: Weight) -> Path:
        """Fetch the file through the library's own function; returns where it is."""
        ...

    def read(self, weight: Weight, path: Path) -> dict[str, torch.Tensor]:
        """The checkpoint's state_dict in the library's own layout."""
        ...

    def fetch_hint(self, weight: Weight) -> str:
        """What to run or copy to put the file in the cache (for the offline error)."""
        ...


def need(module: str, kind: str):
    """Import a weight library, or one line naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ZooError(f"weights={kind!r} needs the {module} package: pip install '{EXTRA}'") from None


def source(kind: str) -> Source:
    """The Source object of one library (imported lazily: listing one needs only that library)."""
    if kind not in KINDS:
        raise ZooError(f"unknown weight source {kind!r}; sources: {', '.join(KINDS)}")
    module = importlib.import_module(f"zoobench.weights.{kind}")
    return module.SOURCE


def available(spec: ModelSpec) -> list[Weight]:
    """Every released weight of every installed source for this model (sources not installed are left out)."""
    found: list[Weight] = []
    for kind in KINDS:
        try:
            found += source(kind).weights(spec)
        except ZooError:
            continue  # the library is not installed
    return found


def best(spec: ModelSpec) -> Weight:
    """`weights='pretrained'`: torchvision's release with the highest published top-1, else timm's default tag,
    else pytorchcv's release. (timm ships no accuracy table in its wheel, so published figures cannot rank it.)"""
    found = [w for w in available(spec) if w.classifier]
    tv = [w for w in found if w.kind == "torchvision"]
    if tv:
        return max(tv, key=lambda w: w.published.top1 if w.published and w.published.top1 else 0.0)
    for kind in ("timm", "pytorchcv"):
        for w in found:
            if w.kind == kind:
                return w
    raise ZooError(
        f"{spec.name} has no released weights in torchvision, timm or pytorchcv (`zoobench list --weights`); "
        "pass weights=PATH"
    )


@dataclass
class Choice:
    """What `weights` names, resolved but not read: nothing (random init), a file, or one released weight."""

    label: str  # "random init", the path as given, or kind:tag
    path: Path | None = None  # the file; for a released weight, its place in the library's cache
    weight: Weight | None = None

    @property
    def build(self) -> dict:
        return dict(self.weight.build) if self.weight else {}

    @property
    def recipe(self) -> Preprocessing | None:
        return self.weight.recipe if self.weight else None


def resolve(spec: ModelSpec | None, text: str | Path | None) -> Choice:
    """`None`, `PATH`, `pretrained`, `torchvision[:ENUM]`, `timm[:TAG]` or `pytorchcv[:NAME]` -> a Choice."""
    if text is None:
        return Choice("random init")
    text = str(text)
    kind, _, tag = text.partition(":")
    if text == "pretrained" or kind in KINDS:
        if spec is None or spec.external and kind != "torchvision":  # torchvision: names the twins
            name = spec.name if spec is not None else "this model"
            raise ZooError(f"{name} is not a zoo model, so weights={text!r} cannot apply; pass weights=PATH")
        weight = best(spec) if text == "pretrained" else source(kind).pick(spec, tag or None)
        return Choice(weight.label, source(weight.kind).cached(weight), weight)
    path = Path(text)
    if path.is_dir():
        raise ZooError(f"weights file {text!r} is a directory; pass the checkpoint file inside it")
    if not path.is_file():
        raise ZooError(f"weights file {text!r} does not exist (or pass weights='torchvision')")
    return Choice(text, path)
