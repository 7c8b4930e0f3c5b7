"""Model registry: one ModelSpec per model, registered a family at a time, and selection by name/alias/glob.

Each family module ends with a table `MODELS = [variant(...), ...]`, one row per model, and one call
`register(family, MODELS, builder=..., year=..., paper=...)` with the fields the rows share. Lookup is
case-insensitive over canonical names and aliases; globs match canonical names. `torchvision:<name>` and
`package.module:callable` let users run every command on models outside the zoo; their import and build go through
one guarded path, so whatever the user's code does ends in one ZooError.
"""

from __future__ import annotations

import csv
import difflib
import fnmatch
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TypeVar

from torch import nn

from zoobench.errors import ZooError, guarded

Builder = Callable[..., nn.Module]
T = TypeVar("T")


@dataclass(frozen=True)
class Paper:
    title: str
    arxiv: str | None = None  # arXiv id, e.g. "1512.03385"

    @property
    def url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None


@dataclass(frozen=True)
class Accuracy:
    """Published ImageNet-1k val accuracy and the protocol it was measured under.

    `crops`: crops per image the figure averages (1, 10, ...; None: dense or multi-scale evaluation); `resolution`:
    the test crop's side in pixels (None: not stated); `kind`: who published it (paper, torchvision, timm,
    pytorchcv). A figure is comparable with a 1-crop measurement at R pixels only if it is 1-crop at R.
    """

    top1: float | None
    top5: float | None
    source: str
    crops: int | None = 1
    resolution: int | None = None
    kind: str = "paper"

    def comparable(self, resolution: int | None) -> bool:
        """1-crop at `resolution`: the protocol of `zoobench eval`'s default, so the figures can stand side by side."""
        return self.crops == 1 and self.resolution is not None and self.resolution == resolution

    @property
    def protocol(self) -> str:
        """'1-crop 224 (paper)', '10-crop 224 (paper)', 'dense 384 (paper)'."""
        crops = "dense" if self.crops is None else f"{self.crops}-crop"
        at = f" {self.resolution}" if self.resolution else " (resolution not stated)"
        return f"{crops}{at} ({self.kind})"


@dataclass(frozen=True)
class SeedFigures:
    """One row of the seed repo's table, as published (params in millions, FLOPs in G, time in ms)."""

    name: str
    year: int
    params_m: float
    flops_g: float
    time_ms: float
    top1: float | None
    top5: float | None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Builder
    family: str
    year: int
    paper: Paper
    aliases: tuple[str, ...] = ()
    resolution: int = 224  # native input resolution (the paper's evaluation size)
    seed: str | None = None  # display name of the seed table row this model stands for
    accuracy: Accuracy | None = None
    torchvision: str | None = None  # torchvision model whose state_dict loads into ours (pretrained weights)
    kwargs: dict = field(default_factory=dict)
    external: bool = False  # built from torchvision:<name> or module:callable, not registered

    def build(self, **overrides) -> nn.Module:
        """The model with random weights; `overrides` go to the builder on top of the spec's kwargs.

        A zoo model is built plainly. An external one runs user code: its failure, a call it cannot take, or a
        result that is not an nn.Module becomes one ZooError naming the model.
        """
        kwargs = {**self.kwargs, **overrides}
        if not self.external:
            return self.builder(**kwargs)
        what = f"cannot build {self.name!r}"
        _check_call(self.builder, kwargs, what)
        with guarded(what):
            model = self.builder(**kwargs)
        if not isinstance(model, nn.Module):
            got = "None" if model is None else type(model).__name__
            raise ZooError(f"{what}: its builder returned {got}, not a torch.nn.Module")
        return model

    @property
    def seed_figures(self) -> SeedFigures | None:
        return seed_table().get(self.seed.lower()) if self.seed else None


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}  # lowercased name or alias -> canonical name


def _check_call(builder: Builder, kwargs: dict, what: str) -> None:
    """Refuse a builder that cannot be called with `kwargs` (one that needs arguments) before calling it."""
    try:
        signature = inspect.signature(builder)
    except Exception:  # no usable signature (C callables, odd objects): the guarded call itself will tell
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        args = ", ".join(kwargs) if kwargs else "no arguments"
        raise ZooError(f"{what}: its builder cannot be called with {args}: {exc}") from exc


@dataclass(frozen=True)
class Variant:
    """One model of a family's table: what differs from its siblings. None fields take the family's value."""

    name: str
    seed: str | None = None
    accuracy: Accuracy | None = None
    torchvision: str | bool = False  # True: torchvision's model of the same name
    aliases: tuple[str, ...] = ()
    resolution: int | None = None
    year: int | None = None
    paper: Paper | None = None
    builder: Builder | None = None
    kwargs: dict = field(default_factory=dict)


def variant(
    name: str,
    seed: str | None = None,
    accuracy: Accuracy | None = None,
    *,
    torchvision: str | bool = False,
    aliases: Iterable[str] = (),
    resolution: int | None = None,
    year: int | None = None,
    paper: Paper | None = None,
    builder: Builder | None = None,
    **kwargs,
) -> Variant:
    """One row of a family's table: name, seed row, published accuracy, metadata; extra kwargs go to the builder.

    `torchvision` names the torchvision model whose state_dict loads into this one; True: the one of the same name.
    """
    return Variant(name, seed, accuracy, torchvision, tuple(aliases), resolution, year, paper, builder, kwargs)


def register(
    family: str,
    variants: Iterable[Variant],
    *,
    builder: Builder | None = None,
    year: int | None = None,
    paper: Paper | None = None,
    resolution: int = 224,
) -> None:
    """Register a family's table of `variant(...)` rows, with the fields the rows share (a row may override them).

    Why one table per family: shared fields are written once and each model is one row, grid or hand-written alike.
    The seed display name is always an alias. Every row is checked before any is registered, so a bad table
    registers nothing.
    """
    specs = [_spec(family, v, builder, year, paper, resolution) for v in variants]
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"{name!r} stands twice in the {family} table")
    # A name or alias may be registered again only for the same model of the same family (a module reloaded).
    taken = {key: (name, _REGISTRY[name].family) for key, name in _ALIASES.items()}
    for spec in specs:
        for key in (spec.name, *spec.aliases):
            owner = taken.setdefault(key.lower(), (spec.name, family))
            if owner != (spec.name, family):
                raise ValueError(f"{key!r} already names {owner[0]}")
    for spec in specs:
        _REGISTRY[spec.name] = spec
        _ALIASES.update((key.lower(), spec.name) for key in (spec.name, *spec.aliases))


def _spec(
    family: str, row: Variant, builder: Builder | None, year: int | None, paper: Paper | None, resolution: int
) -> ModelSpec:
    """A row with the family's fields filled in; ValueError (a bug in a family module) when one is missing."""
    if row.seed and row.seed.lower() not in seed_table():
        raise ValueError(f"{row.name}: seed row {row.seed!r} is not in the seed table")
    builder, year, paper = _given(row.builder, builder), _given(row.year, year), _given(row.paper, paper)
    if builder is None or year is None or paper is None:
        raise ValueError(f"{row.name}: builder, year and paper must be given by the row or its family")
    return ModelSpec(
        name=row.name,
        builder=builder,
        family=family,
        year=year,
        paper=paper,
        aliases=tuple(dict.fromkeys([*row.aliases, *([row.seed] if row.seed else [])])),
        resolution=_given(row.resolution, resolution),
        seed=row.seed,
        accuracy=row.accuracy,
        torchvision=row.name if row.torchvision is True else row.torchvision or None,
        kwargs=row.kwargs,
    )


def _given(value: T | None, default: T | None) -> T | None:
    return default if value is None else value


@cache
def seed_table() -> dict[str, SeedFigures]:
    """The seed README's table, keyed by lowercased display name."""

    def num(text: str) -> float | None:
        return float(text) if text.strip() else None

    rows: dict[str, SeedFigures] = {}
    with resources.files("zoobench.data").joinpath("seed_table.csv").open() as fh:
        for r in csv.DictReader(fh):
            rows[r["model"].lower()] = SeedFigures(
                name=r["model"],
                year=int(r["year"]),
                params_m=float(r["params_m"]),
                flops_g=float(r["flops_g"]),
                time_ms=float(r["time_ms"]),
                top1=num(r["top1"]),
                top5=num(r["top5"]),
            )
    return rows


@cache
def _load_families() -> None:
    # Every module in zoobench.models registers its family on import; discovering them keeps this file untouched
    # when a family is added.
    import zoobench.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"zoobench.models.{info.name}")


def all_specs() -> list[ModelSpec]:
    """Every registered model, ordered by year, then family, then name in natural order (resnet18 < resnet101)."""
    _load_families()
    return sorted(_REGISTRY.values(), key=lambda s: (s.year, s.family, natural_key(s.name)))


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: resnet18 < resnet34 < resnet101."""
    return [int(part) if part.isdecimal() else part for part in re.split(r"(\d+)", name)]


def families() -> list[str]:
    return sorted({s.family for s in all_specs()})


def get_spec(name: str) -> ModelSpec:
    """Resolve one name, alias (case-insensitive), `torchvision:<name>` or `package.module:callable`."""
    _load_families()
    if ":" in name:
        return _external_spec(name)
    canonical = _ALIASES.get(name.strip().lower())
    if canonical is None:
        raise ZooError(f"unknown model {name!r}{_suggest(name)}")
    return _REGISTRY[canonical]


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), list(_ALIASES), n=3, cutoff=0.6)
    names = list(dict.fromkeys(_ALIASES[c] for c in close))
    hint = f"; did you mean {', '.join(names)}?" if names else ""
    return f"{hint} (`zoobench list` shows every model)"


def _external_spec(ref: str) -> ModelSpec:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ZooError(f"bad model reference {ref!r}: expected torchvision:<name> or package.module:callable")
    if module_name == "torchvision":
        import torchvision

        if attr not in torchvision.models.list_models():
            close = difflib.get_close_matches(attr, torchvision.models.list_models(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ZooError(f"torchvision has no model {attr!r}{hint}")

        def builder(**kw) -> nn.Module:
            return torchvision.models.get_model(attr, weights=None, **kw)

        family = "torchvision"
    else:
        # Importing runs the user's module: whatever it raises, sys.exit() included, is their input, in one line.
        with guarded(f"cannot import {ref!r}"):
            builder = getattr(importlib.import_module(module_name), attr)
        if not callable(builder):
            raise ZooError(f"{ref!r} is not callable")
        family = "external"
    return ModelSpec(name=ref, builder=builder, family=family, year=0, paper=Paper(ref), external=True)


def select(patterns: Iterable[str] = (), *, all_models: bool = False, family: str | None = None) -> list[ModelSpec]:
    """Resolve names, aliases, globs ('resnet*'), `--all` and `--family` to specs, without duplicates."""
    patterns = list(patterns)
    specs = all_specs()
    if family is not None:
        if family.lower() not in families():
            raise ZooError(f"unknown family {family!r}; families: {', '.join(families())}")
        specs = [s for s in specs if s.family == family.lower()]
        if not patterns:
            return specs
    if all_models:
        if patterns:
            raise ZooError("give model names or --all, not both")
        return specs
    if not patterns:
        raise ZooError("no model given: name one or more models, a pattern such as 'resnet*', or --all")
    chosen: dict[str, ModelSpec] = {}
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            hits = [s for s in specs if fnmatch.fnmatchcase(s.name, pattern.lower())]
            if not hits:
                raise ZooError(f"pattern {pattern!r} matches no model (`zoobench list` shows every model)")
        else:
            spec = get_spec(pattern)
            if family is not None and spec.family != family.lower():
                raise ZooError(f"{spec.name} is not in family {family!r}")
            hits = [spec]
        chosen.update((s.name, s) for s in hits)
    return list(chosen.values())


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Canonical names matching an fnmatch pattern (timm's `list_models`)."""
    return [
        s.name
        for s in all_specs()
        if fnmatch.fnmatchcase(s.name, pattern.lower()) and (family is None or s.family == family)
    ]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a zoo model (random weights) by name or alias; kwargs go to the builder."""
    return get_spec(name).build(**kwargs)
