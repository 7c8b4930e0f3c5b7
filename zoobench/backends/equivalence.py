"""Does the converted model still compute the same thing? Its logits against eager fp32 on fixed-seed inputs.

The figures: the largest absolute logit difference, the same relative to the largest eager logit (the tolerance is
on that, per precision: random-weight models' logits range from 1e-2 to 1e2), the share of images whose top-1
class agrees and the mean overlap of the top-5 sets. Beyond the tolerance the row is flagged (`equivalent` False)
and a warning says so: an export that silently changed the model must never look like a speed-up.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from zoobench.errors import ZooError, first_line, guarded

IMAGES = 8  # fixed-seed images compared, fed in batches of the bench's batch size (the shapes it was converted for)
SEED_OFFSET = 1  # the images differ from the bench input (seed) but are fixed by it
# max |logit - eager logit| / max |eager logit| allowed per precision, and the share of top-1 agreement required.
TOLERANCES = {"fp32": 1e-3, "fp16": 2e-2, "bf16": 6e-2, "int8": 0.25}
MIN_TOP1 = {"fp32": 1.0, "fp16": 0.0, "bf16": 0.0, "int8": 0.0}


@dataclass(frozen=True)
class Equivalence:
    max_abs_diff: float
    rel_diff: float  # max_abs_diff / max |eager logit|
    top1_agree: float  # share of images, 0..1
    top5_agree: float  # mean share of the eager top-5 classes in the backend's top-5, 0..1
    equivalent: bool
    tolerance: float  # on rel_diff
    min_top1_agree: float
    compared_images: int

    def to_dict(self) -> dict:
        return asdict(self)

    def warnings(self, name: str, backend: str, precision: str) -> list[str]:
        if self.equivalent:
            return []
        return [
            f"{backend} {precision} does not match eager fp32: max |logit difference| {self.max_abs_diff:.3g} "
            f"({100 * self.rel_diff:.3g}% of the largest logit, tolerance {100 * self.tolerance:g}%), top-1 agreement "
            f"{100 * self.top1_agree:.0f}%: its latency is not that of the same model"
        ]


def first_call(name: str, prepared) -> float:
    """The first call on the bench input, timed on its own (lazy initialisation, compilation, allocation)."""
    with torch.inference_mode(), guarded(f"{name}: {prepared.backend}: first call"):
        t0 = time.perf_counter()
        prepared.call()
        return time.perf_counter() - t0


def inputs(batch: int, resolution: int, seed: int, device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """IMAGES fixed-seed images in batches of `batch` (at least one batch), on `device`."""
    gen = torch.Generator().manual_seed(seed + SEED_OFFSET)
    n = max(1, math.ceil(IMAGES / batch))
    return [torch.randn(batch, 3, resolution, resolution, generator=gen).to(device) for _ in range(n)]


def compare(reference: torch.Tensor, got: torch.Tensor, precision: str) -> Equivalence:
    """The figures of `got` against `reference`, both (N, classes) logits."""
    reference, got = reference.float(), got.float()
    if got.shape != reference.shape:
        raise ZooError(f"outputs {tuple(got.shape)} where eager outputs {tuple(reference.shape)}")
    diff = float((got - reference).abs().max()) if got.numel() else 0.0
    if not math.isfinite(diff):
        diff = math.inf
    scale = float(reference.abs().max()) if reference.numel() else 0.0
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
    top1 = float((got.argmax(1) == reference.argmax(1)).float().mean())
    k = min(5, reference.shape[1])
    ref5, got5 = reference.topk(k, 1).indices, got.topk(k, 1).indices
    top5 = float((ref5.unsqueeze(2) == got5.unsqueeze(1)).any(2).float().mean())
    tol, need = TOLERANCES[precision], MIN_TOP1[precision]
    ok = rel <= tol and top1 >= need
    return Equivalence(diff, rel, top1, top5, ok, tol, need, int(reference.shape[0]))


def check(
    name: str, model: torch.nn.Module, prepared, *, batch: int, resolution: int, seed: int, device="cpu"
) -> Equivalence:
    """`prepared.predict` against the eager fp32 `model` on fixed-seed inputs of the converted shape."""
    from zoobench.imagenet.evaluate.loop import logits_of

    refs, outs = [], []
    for x in inputs(batch, resolution, seed, device):
        with torch.inference_mode(), guarded(f"{name}: eager forward (equivalence check)"):
            refs.append(logits_of(model(x)))
        with torch.inference_mode(), guarded(f"{name}: {prepared.backend} forward (equivalence check)"):
            outs.append(logits_of(prepared.predict(x)))
    try:
        return compare(torch.cat(refs), torch.cat(outs), prepared.precision)
    except ZooError as exc:
        raise ZooError(f"{name}: {prepared.backend}: {first_line(exc)}") from exc
