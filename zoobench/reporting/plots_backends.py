"""The backend plot: each backend's speed-up over eager fp32, per model across the zoo (reporting.backends).

One series per backend, precision and thread count; models along x sorted by their median speed-up, the y axis
logarithmic (2x faster and 2x slower are as far from 1); a hollow point is a run flagged not equivalent to eager.
Drawn only when the results have backend rows (plots.render adds it; no note when there are none).
"""

from __future__ import annotations

import statistics

from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from zoobench.reporting import plots as base
from zoobench.reporting.backends import BackendTable

NAME = "backend_speedup"


def backend_speedup(table: BackendTable | None) -> base.Plot | None:
    if table is None:
        return None
    series = table.speedups()
    if not series:
        return None
    flagged = {
        (r["backend"], r["precision"], r["threads"], r["model"] + (f" [{r['machine']}]" if table.machines else ""))
        for r in table.rows
        if r["equivalent"] is False
    }
    per_model: dict[str, list[float]] = {}
    for points in series.values():
        for model, x in points.items():
            per_model.setdefault(model, []).append(x)
    order = sorted(per_model, key=lambda m: statistics.median(per_model[m]))
    where = {m: i for i, m in enumerate(order)}
    title = "Speed-up over eager fp32 per backend"
    fig, ax = base._figure(title)
    fig.set_size_inches(max(10, 0.22 * len(order) + 3), 6.5)
    ax.axhline(1.0, color="#555555", lw=1, ls="--")
    shift = 0.5 / max(len(series), 1)  # side by side within a model's slot, so that equal points stay visible
    for k, ((backend, precision, threads), points) in enumerate(sorted(series.items(), key=lambda kv: str(kv[0]))):
        colour = base.MACHINE_COLOURS[k % len(base.MACHINE_COLOURS)][k // len(base.MACHINE_COLOURS) % 2]
        marker = base.MARKERS[k % len(base.MARKERS)]
        names = sorted(points, key=where.get)
        xs = [where[m] + (k - (len(series) - 1) / 2) * shift for m in names]
        ys = [points[m] for m in names]
        bad = [(backend, precision, threads, m) in flagged for m in names]
        face = ["none" if b else colour for b in bad]
        at = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
        med = statistics.median(ys)
        ax.scatter(xs, ys, s=34, marker=marker, facecolors=face, edgecolors=colour,
                   label=f"{backend} {precision}{at} (median {med:.2f}x)")  # fmt: skip
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2.5, 1)))
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("model (sorted by its median speed-up over the backends shown)")
    ax.set_ylabel("eager median / backend median (log)")  # short: a long label overran the axis
    handles, _ = ax.get_legend_handles_labels()
    if flagged:
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", color="#555555", label="not equivalent to eager"))
    ax.legend(handles=handles, fontsize=7, loc="best")
    counts = "; ".join(
        f"{c['backend']} {c['precision']}"
        + (f" at {c['threads']} thread(s)" if c["threads"] else "")
        + f": {c['converted']} converted, {c['failed']} failed"
        for c in table.counts
    )
    lines = [
        f"{len(order)} models measured by `zoobench bench --backend` and by eager at the same machine, threads, "
        "batch and resolution; above the dashed line the backend is faster.",
        f"Per backend: {counts}. Hollow: flagged not equivalent (logits beyond the tolerance): not the same model.",
        *table.notes()[2:],
    ]
    return base._finish(fig, NAME, title, base._wrap(lines))
