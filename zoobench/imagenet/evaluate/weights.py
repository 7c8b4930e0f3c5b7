"""Weights for an evaluation: a state_dict or checkpoint file, or torchvision's published weights via torch's hub
cache (downloaded once, or never with ZOOBENCH_OFFLINE=1), loaded strictly and fingerprinted by sha256.

Files are read with `torch.load(weights_only=True)`: a checkpoint holding pickled objects is refused, not executed.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from zoobench import registry
from zoobench.errors import ZooError, describe, first_line
from zoobench.imagenet.evaluate.dataset import some
from zoobench.output.progress import SILENT, Progress

TORCHVISION_DEFAULT_WEIGHTS = "IMAGENET1K_V1"  # the original releases, trained as the papers did
OFFLINE_ENV = "ZOOBENCH_OFFLINE"  # set to 1: never download, read torch's hub cache only


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class WeightsSource:
    """What `weights` names, resolved but not yet read: nothing (random init), a file, or torchvision's weights."""

    label: str  # "random init", the path as given, or torchvision:<ENUM NAME>
    path: Path | None = None
    tv: object = None  # torchvision's weights enum member
    tv_name: str | None = None


@dataclass
class WeightsInfo:
    label: str
    file: str | None = None
    sha256: str | None = None
    published_top1: float | None = None
    published_top5: float | None = None
    published_source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def random(self) -> bool:
        return self.file is None


# --- reading a file ------------------------------------------------------------------------------------------------


def _state_dict(obj: object, source: str) -> dict[str, torch.Tensor]:
    """A state_dict, or a checkpoint dict holding one under 'state_dict' or 'model'; DDP's 'module.' prefix dropped."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ZooError(f"{source} holds {type(obj).__name__}, not a state_dict (a dict of tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ZooError(f"{source} is not a state_dict: {some([str(k) for k in bad], 3)} hold no tensor")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def load_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load; a mismatch names the missing and unexpected keys (and shape differences) in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {some(missing)}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {some(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches ({len(shapes)}): {some(shapes, 3)}")
        raise ZooError(f"{source} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)


def _unpickler_says(exc: BaseException) -> str:
    """What torch's weights-only unpickler objected to ('Unsupported global: GLOBAL m.Net ...'), else the first
    line; its long preamble about the weights_only default is no help here."""
    found = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
    return found.group(1).strip() if found else first_line(exc)


def _torch_load(path: Path, source: str) -> object:
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": noise on stderr before our one line
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ZooError(f"weights file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ZooError(f"weights file {str(path)!r} is a directory, not a checkpoint file") from None
    except Exception as exc:
        said = _unpickler_says(exc)
        if said.startswith("Unsupported global"):  # a real pickle, of objects beyond tensors and containers
            raise ZooError(
                f"{source} holds more than tensors (a pickled model object?); save model.state_dict() instead"
            ) from exc
        raise ZooError(
            f"cannot read {source}: not a PyTorch checkpoint, not a file written by torch.save "
            f"({type(exc).__name__}: {said[:120]})"
        ) from exc


# --- torchvision's weights -----------------------------------------------------------------------------------------


def _torchvision_name(spec: registry.ModelSpec | None) -> str:
    if spec is not None and spec.torchvision:
        return spec.torchvision
    if spec is not None and spec.external and spec.family == "torchvision":
        return spec.name.split(":", 1)[1]
    name = spec.name if spec is not None else "this model"
    twins = [s.name for s in registry.all_specs() if s.torchvision]
    raise ZooError(
        f"{name} has no torchvision twin, so weights='torchvision' cannot apply; "
        f"models with one: {some(twins, 8) or 'none'}; or pass weights=PATH"
    )


def torchvision_weights(tv_name: str, which: str | None = None):
    """torchvision's weights enum member for a model (IMAGENET1K_V1 unless `which` names another)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(tv_name)
    except Exception as exc:
        raise ZooError(f"torchvision publishes no weights for {tv_name!r}") from exc
    which = which or TORCHVISION_DEFAULT_WEIGHTS
    names = [w.name for w in enum]
    if which not in names:
        raise ZooError(f"torchvision has no weights {which!r} for {tv_name}; choose one of {', '.join(names)}")
    return enum[which]


def torchvision_cache_file(weights) -> Path:
    """Where torch's hub cache keeps these weights (TORCH_HOME/hub/checkpoints/<file name of the URL>)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def _download(url: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]+)\.", dst.name)  # torchvision names files <model>-<sha256 prefix>.pth
    torch.hub.download_url_to_file(url, str(dst), match.group(1) if match else None, progress=False)


def _not_cached(src: WeightsSource, why: str) -> ZooError:
    url = src.tv.url  # type: ignore[attr-defined]
    return ZooError(
        f"torchvision weights {src.tv_name}/{src.tv.name} are not in torch's hub cache ({src.path}) and {why}; "  # type: ignore[attr-defined]
        f"copy {os.path.basename(url)} from {url} there, or pass weights=PATH"
    )


# --- resolve, fetch, apply -----------------------------------------------------------------------------------------


def resolve_weights(spec: registry.ModelSpec | None, weights: str | Path | None) -> WeightsSource:
    if weights is None:
        return WeightsSource("random init")
    text = str(weights)
    if text == "torchvision" or text.startswith("torchvision:"):
        tv_name = _torchvision_name(spec)
        tv = torchvision_weights(tv_name, text.partition(":")[2] or None)
        return WeightsSource(f"torchvision:{tv.name}", torchvision_cache_file(tv), tv, tv_name)
    path = Path(text)
    if path.is_dir():
        raise ZooError(f"weights file {text!r} is a directory; pass the checkpoint file inside it")
    if not path.is_file():
        raise ZooError(f"weights file {text!r} does not exist (or pass weights='torchvision')")
    return WeightsSource(text, path)


def fetch_weights(src: WeightsSource, *, may_download: bool = True, progress: Progress = SILENT) -> None:
    """Put torchvision's file into the hub cache when it is missing: downloaded unless ZOOBENCH_OFFLINE is set.

    Under torchrun one process per machine downloads (`may_download`); the others wait at the next collective.
    """
    if src.tv is None or src.path.is_file():
        return
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise _not_cached(src, f"{OFFLINE_ENV} is set, so nothing is downloaded")
    if may_download:
        # A bar while it downloads on a terminal; nothing in a log, where a failure is the one line that matters.
        task = progress.task(f"downloading {src.path.name}", total=1)  # type: ignore[union-attr]
        try:
            _download(src.tv.url, src.path)  # type: ignore[attr-defined]
        except Exception as exc:  # offline, proxy, hash mismatch: all mean "not available"
            raise _not_cached(src, f"the download failed ({describe(exc)})") from exc
        finally:
            task.close()


def apply_weights(model: nn.Module, src: WeightsSource) -> WeightsInfo:
    """Read the file and load it strictly into `model`; record its sha256 (and torchvision's published accuracy)."""
    if src.path is None:
        return WeightsInfo("random init")
    if not src.path.is_file():
        raise _not_cached(src, "was not downloaded")
    info = WeightsInfo(src.label, file=str(src.path.resolve()), sha256=sha256(src.path))
    source = f"cached file {src.path}" if src.tv is not None else f"weights file {src.label!r}"
    load_state_dict(model, _state_dict(_torch_load(src.path, source), source), source)
    if src.tv is not None:
        # torch.hub checks the hash only when it downloads; check a cached file here too.
        prefix = src.path.name.rsplit("-", 1)[-1].split(".")[0]
        if prefix and not info.sha256.startswith(prefix):
            info.warnings.append(
                f"cached {src.path} has sha256 {info.sha256[:12]}..., not the {prefix} its name promises"
            )
        metrics = src.tv.meta.get("_metrics", {}).get("ImageNet-1K", {})  # type: ignore[attr-defined]
        info.published_top1, info.published_top5 = metrics.get("acc@1"), metrics.get("acc@5")
        info.published_source = f"torchvision {src.tv_name} {src.tv.name}"  # type: ignore[attr-defined]
    return info


def load_weights(
    model: nn.Module, spec: registry.ModelSpec | None, weights: str | Path | None, *, progress: Progress = SILENT
) -> WeightsInfo:
    """Load `weights` into `model`: None (keep the random init), a file, or "torchvision[:ENUM]"."""
    src = resolve_weights(spec, weights)
    fetch_weights(src, progress=progress)
    return apply_weights(model, src)
