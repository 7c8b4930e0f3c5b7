"""Weights for an evaluation: a state_dict or checkpoint file, or a released weight of torchvision, timm or pytorchcv
(zoobench.weights: fetched through the library's own download into its own cache, or never with ZOOBENCH_OFFLINE=1),
mapped into the zoo model, loaded strictly and fingerprinted by sha256.

Files are read with `torch.load(weights_only=True)`: a checkpoint holding pickled objects is refused, not executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError, describe
from zoobench.output.progress import SILENT, Progress
from zoobench.weights import files, mapping
from zoobench.weights import sources as released
from zoobench.weights.recipe import Preprocessing
from zoobench.weights.sources import OFFLINE_ENV, Choice, offline
from zoobench.weights.torchvision import FIRST as TORCHVISION_DEFAULT_WEIGHTS

sha256 = files.sha256
WeightsSource = Choice  # the name this module's callers know
CACHE_NAMES = {"torchvision": "torch's hub cache", "timm": "the Hugging Face cache", "pytorchcv": "pytorchcv's store"}

__all__ = [
    "OFFLINE_ENV",
    "TORCHVISION_DEFAULT_WEIGHTS",
    "WeightsInfo",
    "WeightsSource",
    "apply_weights",
    "fetch_weights",
    "load_state_dict",
    "load_weights",
    "released_recipe",
    "resolve_weights",
    "sha256",
    "torchvision_cache_file",
    "torchvision_weights",
]


@dataclass
class WeightsInfo:
    label: str
    file: str | None = None
    sha256: str | None = None
    published_top1: float | None = None
    published_top5: float | None = None
    published_source: str | None = None
    published_protocol: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def random(self) -> bool:
        return self.file is None


def load_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load; a mismatch names the missing and unexpected keys (and shape differences) in one line."""
    model.load_state_dict(mapping.by_key(state, model.state_dict(), source), strict=True)


def torchvision_weights(tv_name: str, which: str | None = None):
    """torchvision's weights enum member for a model (IMAGENET1K_V1 unless `which` names another)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(tv_name)
    except Exception as exc:
        raise ZooError(f"torchvision publishes no weights for {tv_name!r}") from exc
    names = [w.name for w in enum]
    which = which or TORCHVISION_DEFAULT_WEIGHTS
    if which not in names:
        raise ZooError(f"torchvision has no weights {which!r} for {tv_name}; choose one of {', '.join(names)}")
    return enum[which]


def torchvision_cache_file(weights) -> Path:
    """Where torch's hub cache keeps these weights (TORCH_HOME/hub/checkpoints/<file name of the URL>)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def _download(choice: Choice) -> Path:
    """The one place that downloads: the weight library's own function (tests replace this)."""
    return released.source(choice.weight.kind).download(choice.weight)  # type: ignore[union-attr]


def _not_cached(choice: Choice, why: str) -> ZooError:
    w = choice.weight
    src = released.source(w.kind)  # type: ignore[union-attr]
    return ZooError(
        f"{w.kind} weights {w.arch}/{w.tag} are not in {CACHE_NAMES[w.kind]} ({choice.path}) and {why}; "  # type: ignore[union-attr]
        f"{src.fetch_hint(w)}, or pass weights=PATH"
    )


def resolve_weights(spec: registry.ModelSpec | None, weights: str | Path | None) -> Choice:
    return released.resolve(spec, weights)


def released_recipe(spec: registry.ModelSpec | None, weights: str | Path | None) -> Preprocessing | None:
    """The preprocessing of the released weight `weights` names (None for a file or no weights). Only names are
    looked up, no file: every rank gets the same answer before any collective step. None too when the name does
    not resolve for this model: its weights step then fails it alone, and a many-model run goes on."""
    text = str(weights) if weights is not None else ""
    if text != "pretrained" and text.partition(":")[0] not in released.KINDS:
        return None
    try:
        return released.resolve(spec, text).recipe
    except ZooError:
        return None


def fetch_weights(src: Choice, *, may_download: bool = True, progress: Progress = SILENT) -> None:
    """Put a released weight's file into its library's cache when it is missing: downloaded unless ZOOBENCH_OFFLINE
    is set. Under torchrun one process per machine downloads (`may_download`); the others wait at the next
    collective, then look again."""
    if src.weight is None or src.path.is_file():  # type: ignore[union-attr]
        return
    if offline():
        raise _not_cached(src, f"{OFFLINE_ENV} is set, so nothing is downloaded")
    if may_download:
        # A bar while it downloads on a terminal; nothing in a log, where a failure is the one line that matters.
        task = progress.task(f"downloading {src.label}", total=1)
        try:
            src.path = Path(_download(src))
        except Exception as exc:  # offline, proxy, hash mismatch: all mean "not available"
            raise _not_cached(src, f"the download failed ({describe(exc)})") from exc
        finally:
            task.close()


def _check_name_hash(info: WeightsInfo, path: Path) -> None:
    # torch.hub checks the hash only when it downloads; torchvision's file names promise a sha256 prefix.
    prefix = path.name.rsplit("-", 1)[-1].split(".")[0]
    if prefix and not info.sha256.startswith(prefix):  # type: ignore[union-attr]
        info.warnings.append(f"cached {path} has sha256 {info.sha256[:12]}..., not the {prefix} its name promises")  # type: ignore[index]


def apply_weights(model: nn.Module, src: Choice) -> WeightsInfo:
    """Read the file, map a released weight into the zoo model's layout, load strictly; record its sha256 and the
    publisher's accuracy with its protocol."""
    if src.path is None:
        return WeightsInfo("random init")
    w = src.weight
    if w is not None and not src.path.is_file():
        w_source = released.source(w.kind)
        src.path = w_source.cached(w)  # another process of this machine may have fetched it meanwhile
        if not src.path.is_file():
            raise _not_cached(src, "was not downloaded")
    info = WeightsInfo(src.label, file=str(src.path.resolve()), sha256=sha256(src.path))
    if w is None:
        source = f"weights file {src.label!r}"
        load_state_dict(model, files.read_checkpoint(src.path, source), source)
        return info
    what = f"{w.label} ({src.path})"
    state = released.source(w.kind).read(w, src.path)
    mapping.load_into(model, w, state, what)
    if w.kind == "torchvision":
        _check_name_hash(info, src.path)
    if w.published is not None:
        p = w.published
        info.published_top1, info.published_top5, info.published_source = p.top1, p.top5, p.source
        info.published_protocol = p.protocol
    if not w.classifier:
        info.warnings.append(f"{w.label} is a features-only release: its classifier is not trained")
    return info


def load_weights(
    model: nn.Module, spec: registry.ModelSpec | None, weights: str | Path | None, *, progress: Progress = SILENT
) -> WeightsInfo:
    """Load `weights` into `model`: None (keep the random init), a file, or a released weight (kind[:tag]).
    The model must be built with the weight's `Choice.build` arguments (evaluate does so)."""
    src = resolve_weights(spec, weights)
    fetch_weights(src, progress=progress)
    return apply_weights(model, src)
