"""`zoobench list --weights`: one raw row per released weight of each model (every installed source, every tag), with
its published accuracy and protocol where the source publishes one, and its preprocessing."""

from __future__ import annotations

from collections.abc import Iterable

from zoobench.errors import first_line
from zoobench.registry import ModelSpec
from zoobench.weights.recipe import IMAGENET_MEAN, IMAGENET_STD
from zoobench.weights.sources import KINDS, Weight, source


def _rgb(values: tuple[float, ...]) -> str:
    """'0.5' for (0.5, 0.5, 0.5); '(0.4824, 0.4588, 0.4078)' otherwise: the table's short form (CSV/JSON: exact)."""
    cells = [f"{v:.4g}" for v in values]
    return cells[0] if len(set(cells)) == 1 else f"({', '.join(cells)})"


def _row(w: Weight) -> dict:
    r, p = w.recipe, w.published
    normalisation = (
        "imagenet" if (r.mean, r.std) == (IMAGENET_MEAN, IMAGENET_STD) else f"{_rgb(r.mean)} / {_rgb(r.std)}"
    )
    return {
        "model": w.model,
        "source": w.kind,
        "weights": w.label,
        "tag": w.tag,
        "top1": p.top1 if p else None,
        "top5": p.top5 if p else None,
        "protocol": p.protocol if p else None,
        "published_source": p.source if p else None,
        "crop_size": r.crop_size,
        "resize_size": r.resize_size,
        "crop_pct": round(r.crop_pct, 4),
        "interpolation": r.interpolation,
        "crop_mode": r.crop_mode,
        "normalisation": normalisation,
        "mean": list(r.mean),
        "std": list(r.std),
        "recipe": r.short(),
        "recipe_source": r.origin,
        "mapping": w.how,
        "build": ", ".join(f"{k}={getattr(v, '__name__', v)}" for k, v in w.build.items()),
        "classifier": w.classifier,
    }


def catalog(specs: Iterable[ModelSpec]) -> tuple[list[dict], dict[str, str]]:
    """The rows, and for each source that could not be listed (its library missing) the one-line reason."""
    rows: list[dict] = []
    missing: dict[str, str] = {}
    specs = list(specs)
    for kind in KINDS:
        try:
            src = source(kind)
            found = {s.name: src.weights(s) for s in specs}
        except Exception as exc:  # ZooError naming the extra; any other import failure of the library alike
            missing[kind] = first_line(exc)
            continue
        rows += [_row(w) for ws in found.values() for w in ws]
    order = {s.name: i for i, s in enumerate(specs)}
    rows.sort(key=lambda r: (order[r["model"]], KINDS.index(r["source"])))  # stable: each source's own order kept
    return rows, missing
