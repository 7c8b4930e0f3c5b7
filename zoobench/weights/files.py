"""Checkpoint files: read with `torch.load(weights_only=True)` (a pickle of objects is refused, not executed), the
state_dict found inside (top level, `state_dict` or `model`; DataParallel's `module.` dropped), and sha256."""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import torch

from zoobench.errors import ZooError, first_line


def _some(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_of(obj: object, source: str) -> dict[str, torch.Tensor]:
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
        raise ZooError(f"{source} is not a state_dict: {_some([str(k) for k in bad], 3)} hold no tensor")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _unpickler_says(exc: BaseException) -> str:
    """What torch's weights-only unpickler objected to ('Unsupported global: GLOBAL m.Net ...'), else the first
    line; its long preamble about the weights_only default is no help here."""
    found = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
    return found.group(1).strip() if found else first_line(exc)


def torch_load(path: Path, source: str) -> object:
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


def read_checkpoint(path: Path, source: str) -> dict[str, torch.Tensor]:
    """The state_dict in a torch.save file (or a .safetensors file, as the Hugging Face cache holds timm's)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:
            raise ZooError(f"cannot read {source}: {type(exc).__name__}: {first_line(exc)[:120]}") from exc
    return state_dict_of(torch_load(path, source), source)
