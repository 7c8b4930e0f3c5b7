"""A source's state_dict into zoobench's model: by key (the same names) or by position (the same layers in the same
order under other names). Both check every tensor's shape, and the result is loaded with strict=True by the caller:
nothing is ever left out or guessed. The tests hand each source's randomly initialised model through these same
functions and compare logits, which is what makes a positional mapping trustworthy.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from zoobench.errors import ZooError

BY_KEY, IN_ORDER = "key", "order"
FLATTEN = "order, conv as linear"  # in order; a (out, in, k, k) conv head lands flattened on a linear layer


def _some(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def dropped(state: dict[str, torch.Tensor], prefixes: Iterable[str]) -> dict[str, torch.Tensor]:
    """Without the tensors under `prefixes` (auxiliary heads a checkpoint carries and inference never runs)."""
    prefixes = tuple(prefixes)
    return {k: v for k, v in state.items() if not (prefixes and k.startswith(prefixes))}


def by_key(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """`state` as it is, when its keys and shapes are exactly the target's."""
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in target.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        listed = (("missing keys", missing, 5), ("unexpected keys", unexpected, 5), ("shape mismatches", shapes, 3))
        parts = [f"{label} ({len(items)}): {_some(items, n)}" for label, items, n in listed if items]
        raise ZooError(f"{what} does not fit the model: {'; '.join(parts)}")
    return state


def _fits(value: torch.Tensor, slot: torch.Tensor, flatten: bool) -> torch.Tensor | None:
    """`value` shaped for `slot`: as it is, or (flatten) a conv kernel as the linear layer it equals on a map of the
    kernel's size (channel-major, as torch.flatten orders the map), e.g. timm's VGG pre_logits; else None."""
    if value.shape == slot.shape:
        return value
    if flatten and value.ndim == 4 and slot.ndim == 2 and value.reshape(value.shape[0], -1).shape == slot.shape:
        return value.reshape(slot.shape)
    return None


def in_order(
    state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], what: str, flatten: bool = False
) -> dict[str, torch.Tensor]:
    """`state`'s tensors under the target's keys, position by position; each pair must be the same kind of tensor
    (weight, bias, running_mean, ...) of the same shape (or `flatten`: a conv kernel onto a linear layer), and the
    counts must agree."""
    src, dst = list(state.items()), list(target.items())
    if len(src) != len(dst):
        raise ZooError(f"{what} holds {len(src)} tensors but the model has {len(dst)}")
    out = {}
    for (src_key, value), (dst_key, slot) in zip(src, dst, strict=True):
        fitted = _fits(value, slot, flatten)
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or fitted is None:
            raise ZooError(
                f"{what} does not fit the model: {src_key} {tuple(value.shape)} lands on {dst_key} {tuple(slot.shape)}"
            )
        out[dst_key] = fitted
    return out


def mapped(
    state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], how: str, what: str, drop: Iterable[str] = ()
) -> dict[str, torch.Tensor]:
    """The one entry point: drop the auxiliary prefixes, then map by key or in order."""
    state = dropped(state, drop)
    if how == BY_KEY:
        return by_key(state, target, what)
    return in_order(state, target, what, flatten=how == FLATTEN)


def load_into(model, weight, state: dict[str, torch.Tensor], what: str, *, assign: bool = False) -> None:
    """A released weight's state_dict (the library's layout) into the zoo model, strictly: the one path the real
    download and the tests share. `assign`: take the tensors as they are (a model built on the meta device)."""
    model.load_state_dict(mapped(state, model.state_dict(), weight.how, what, weight.drop), strict=True, assign=assign)
