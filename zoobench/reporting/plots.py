"""Plots of merged results (reporting.results) as PNG and SVG, drawn with matplotlib's Agg canvas. Never measures.

- top1_vs_gmacs: accuracy against compute (filled: measured by eval, hollow: the paper's figure);
- top1_vs_latency: accuracy against measured latency, the Pareto front (nothing both faster and more accurate) drawn;
- params_vs_latency: size against latency;
- latency_vs_threads: latency against thread count, from a `zoobench bench --threads 1,2,4` sweep;
- backend_speedup (plots_backends.py): each backend's speed-up over eager, when the results have backend rows.
Every point is labelled with its model; axes are logarithmic where the data spans a decade or more; the caption names
the machine and the setting. Points from different machines get different markers and M1, M2... tags.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from zoobench.errors import ZooError
from zoobench.output import views
from zoobench.output.files import atomic_write, check_output
from zoobench.reporting import results as res

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Per machine: (points, Pareto front); the first machine's front is red.
MACHINE_COLOURS = (("#1f77b4", "#d62728"), ("#ff7f0e", "#9467bd"), ("#2ca02c", "#8c564b"), ("#17becf", "#e377c2"))
STYLE = {
    "svg.fonttype": "none",  # text stays text in the SVG: smaller, searchable, selectable in the HTML report
    "text.parse_math": False,  # names and machine labels come from files: a '$' in one is text, not mathtext
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@dataclass(frozen=True)
class Plot:
    name: str  # file stem, e.g. "top1_vs_latency"
    title: str
    caption: str
    png: bytes
    svg: str


# --- the Pareto front -------------------------------------------------------------------------------------------


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats, lower x (latency) and higher y (accuracy) being better.

    A point is dominated when another is at least as good on both axes and better on one. Returned in increasing x.
    Equal points do not dominate each other, so duplicates on the front are all kept.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = -math.inf
    for i in order:
        x, y = points[i]
        if y > best_y:
            front.append(i)
            best_y = y
        elif front and points[front[-1]] == (x, y):
            front.append(i)
    return front


# --- drawing ----------------------------------------------------------------------------------------------------


def _figure(title: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.margins(0.08)  # room for the labels of the outermost points
    return fig, ax


def _log_if_wide(ax: object, axis: str, values: Sequence[float]) -> None:
    """Log scale when the values span a decade or more (GMACs, params, latency across a zoo), else linear."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) >= 10:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        # Plain numbers (3, 20, 0.5) rather than 3x10^0; minor ticks labelled only where a decade has room.
        which = ax.xaxis if axis == "x" else ax.yaxis
        which.set_major_formatter(LogFormatter(labelOnlyBase=False))
        which.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2.5, 1)))


# Where a point's label may go, in points from the point, tried in order until one overlaps no earlier label.
LABEL_SPOTS = (
    (4, 3, "left"),
    (4, -10, "left"),
    (-4, 3, "right"),
    (-4, -10, "right"),
    (0, 7, "center"),
    (0, -15, "center"),
)


def _label(ax: object, names: Sequence[str], xs: Sequence[float], ys: Sequence[float]) -> list:
    """Name every point; `_declutter` moves the labels apart once the layout is final."""
    return [
        ax.annotate(name, (x, y), xytext=LABEL_SPOTS[0][:2], textcoords="offset points", fontsize=7, alpha=0.85)
        for name, x, y in zip(names, xs, ys, strict=True)
    ]


def _declutter(fig: Figure, labels: Sequence) -> None:
    """Greedy placement: each label takes the first spot that overlaps no label placed before it (else the first)."""
    if not labels:
        return
    fig.canvas.draw()  # lays the figure out, so label extents are final
    renderer = fig.canvas.get_renderer()
    placed = []
    for label in labels:
        inside = label.axes.get_window_extent(renderer)
        for dx, dy, ha in LABEL_SPOTS:
            label.xyann = (dx, dy)
            label.set_horizontalalignment(ha)
            box = label.get_window_extent(renderer)
            fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            if fits and not any(box.overlaps(other) for other in placed):
                break
        else:
            label.xyann = LABEL_SPOTS[0][:2]
            label.set_horizontalalignment(LABEL_SPOTS[0][2])
            box = label.get_window_extent(renderer)
        placed.append(box)


def _finish(fig: Figure, name: str, title: str, caption: str, labels: Sequence = ()) -> Plot:
    fig.get_layout_engine().set(rect=(0, 0.07 + 0.02 * caption.count("\n"), 1, 0.93 - 0.02 * caption.count("\n")))
    fig.text(0.01, 0.01, caption, fontsize=7.5, va="bottom", ha="left", color="#333333")
    _declutter(fig, labels)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=130, metadata={"Software": None})
    svg = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):  # stable ids, distinct between the SVGs of one HTML page
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return Plot(name, title, caption.replace("\n", " "), png.getvalue(), svg.getvalue())


def _wrap(lines: Sequence[str]) -> str:
    return "\n".join(textwrap.fill(line, 170) for line in lines)


def _family_colours(results: res.Results) -> dict[str | None, object]:
    families = sorted({str(f.get("family")) for f in results.models.values()})
    cmap = matplotlib.colormaps["tab20" if len(families) > 10 else "tab10"]
    return {fam: cmap(i % cmap.N) for i, fam in enumerate(families)}


def _accuracy(results: res.Results) -> dict[str, res.Shown]:
    """The top-1 each model's points show (the table's: measured, else the paper's), with its resolution."""
    return {m: a for m, a in results.shown_accuracy().items() if a.top1 is not None}


def _px(models: dict[str, int]) -> str:
    """{model: resolution} -> 'a (600 px), b (299 px)'."""
    return ", ".join(f"{m} ({r} px)" for m, r in models.items())


def _pairing(at: dict[str, int], left_out: dict[str, int], what: str, fix: str) -> list[str]:
    """The caption's lines on which resolution each point pairs at, and which models were left out and why."""
    by_res: dict[int, list[str]] = {}
    for m, r in at.items():
        by_res.setdefault(r, []).append(m)
    common = max(by_res, key=lambda r: len(by_res[r])) if by_res else res.DEFAULT_RESOLUTION
    others = {m: r for m, r in at.items() if r != common}
    line = f"Each point pairs top-1 and {what} at the same input resolution: {common} px"
    line += f", except {_px(others)}." if others else " for every model."
    lines = [line]
    if left_out:
        lines.append(f"Left out, no {what} at their top-1's resolution: {_px(left_out)}{fix}.")
    return lines


def _latency_caption(results: res.Results, settings: dict[str, res.Setting], tags: dict[str, str]) -> list[str]:
    shown = [lat for label, s in settings.items() for lat in results.latencies_at(label, s).values()]
    by = views.measured_by(results.sources(shown))
    if len(settings) == 1:
        label, setting = next(iter(settings.items()))
        lines = [f"Latency: median of one forward pass by {by}, {setting.describe()}, on {label}."]
    else:
        lines = [
            f"Latency: median of one forward pass by {by}; results from {len(settings)} machines, marked by shape:"
        ]
        lines += [f"{tags[label]} = {label} ({setting.describe()})" for label, setting in settings.items()]
    busy = results.busy_count(shown)
    if busy:
        lines.append("Caution: " + views.BUSY_NOTE.format(busy=busy, n=len(shown)))
    return lines


def top1_vs_gmacs(results: res.Results) -> Plot | None:
    """Top-1 against MACs counted at the top-1's own resolution (a paper's 600 px figure against 600 px MACs)."""
    acc = _accuracy(results)
    macs = {m: results.macs_at(m, acc[m].resolution) for m in results.models if m in acc}
    names = [m for m in results.models if macs.get(m)]
    left_out = {m: acc[m].resolution for m in acc if m in macs and not macs[m]}
    if not names:
        return None
    colours = _family_colours(results)
    title = "ImageNet top-1 against compute"
    fig, ax = _figure(title)
    xs = [macs[m] / 1e9 for m in names]  # type: ignore[operator]
    ys = [acc[m].top1 for m in names]
    families = list(dict.fromkeys(str(results.models[m].get("family")) for m in names))
    for name, x, y in zip(names, xs, ys, strict=True):
        colour = colours[str(results.models[name].get("family"))]
        ax.scatter([x], [y], s=36, marker="o", facecolors=colour if acc[name].measured else "none", edgecolors=colour)
    labels = _label(ax, names, xs, ys)
    _log_if_wide(ax, "x", xs)
    ax.set_xlabel("GMACs per image at the top-1's resolution (multiply-accumulates, 10^9; FLOPs = 2 x MACs)")
    ax.set_ylabel("top-1 accuracy (%)")
    handles = [Line2D([], [], ls="", marker="o", color=colours[f], label=f) for f in families]
    handles += [
        Line2D([], [], ls="", marker="o", color="#555555", label="measured (eval)"),
        Line2D([], [], ls="", marker="o", mfc="none", color="#555555", label="paper's figure"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="best")
    n_measured = sum(1 for m in names if acc[m].measured)
    caption = _wrap(
        [
            f"{len(names)} models. Top-1: filled = measured by `zoobench eval` ({n_measured}), hollow = the paper's "
            f"published figure ({len(names) - n_measured}). MACs as `zoobench profile` counts them; "
            "no latency here, so no machine.",
            *_pairing({m: acc[m].resolution for m in names}, left_out, "MACs", " (they could not be counted)"),
        ]
    )
    return _finish(fig, "top1_vs_gmacs", title, caption, labels)


@dataclass(frozen=True)
class _Series:
    """Per machine, its best setting and the latencies there that a latency plot draws; tags only when mixed."""

    settings: dict[str, res.Setting]
    lats: dict[str, dict[str, res.Latency]]
    tags: dict[str, str]

    def tag(self, label: str) -> str:
        return f" [{self.tags[label]}]" if self.tags else ""

    def title(self, text: str) -> str:
        return text + (" (mixed machines: see the tags)" if self.tags else "")


def _latency_series(results: res.Results, keep: Callable[[str], bool]) -> _Series | None:
    """The latencies of the models `keep` accepts; machines left without any are dropped; None when none is left."""
    best = results.best_settings()
    series = {label: results.latencies_at(label, s) for label, s in best.items()}
    series = {label: {m: lat for m, lat in lats.items() if keep(m)} for label, lats in series.items()}
    series = {label: lats for label, lats in series.items() if lats}
    if not series:
        return None
    return _Series({label: best[label] for label in series}, series, results.machine_tags())


def _paired_series(results: res.Results, acc: dict[str, res.Shown]) -> tuple[_Series | None, dict[str, int]]:
    """Per machine, at its best setting, each model's latency at its top-1's resolution (EfficientNet-B7's paper
    figure is at 600 px: its latency at 600 px, never the 224 px one); the models without such a latency anywhere."""
    best = results.best_settings()
    lats: dict[str, dict[str, res.Latency]] = {}
    for label, setting in best.items():
        found = {m: results.latency_at_resolution(label, setting, m, a.resolution) for m, a in acc.items()}
        if any(found.values()):
            lats[label] = {m: lat for m, lat in found.items() if lat is not None}
    paired = {m for by_model in lats.values() for m in by_model}
    measured_somewhere = {lat.model for lat in results.shown_latencies()}
    left_out = {m: a.resolution for m, a in acc.items() if m not in paired and m in measured_somewhere}
    if not lats:
        return None, left_out
    return _Series({label: best[label] for label in lats}, lats, results.machine_tags()), left_out


def top1_vs_latency(results: res.Results) -> Plot | None:
    """Top-1 against latency, both at the top-1's resolution; the Pareto front of those honest pairs."""
    acc = _accuracy(results)
    series, left_out = _paired_series(results, acc)
    if series is None:
        return None
    title = series.title("ImageNet top-1 against latency")
    fig, ax = _figure(title)
    all_x: list[float] = []
    labels: list = []
    for k, (label, lats) in enumerate(series.lats.items()):
        names = list(lats)
        xs = [lats[m].median_ms for m in names]
        ys = [acc[m].top1 for m in names]
        all_x += xs
        marker = MARKERS[k % len(MARKERS)]
        point_colour, front_colour = MACHINE_COLOURS[k % len(MACHINE_COLOURS)]
        tag = series.tag(label)
        ax.scatter(xs, ys, s=30, marker=marker, color=point_colour, alpha=0.8, label=f"models{tag}")
        front = pareto_front(list(zip(xs, ys, strict=True)))
        fx, fy = [xs[i] for i in front], [ys[i] for i in front]
        ax.plot(fx, fy, drawstyle="steps-post", color=front_colour, lw=1.5, label=f"Pareto front{tag}")
        ax.scatter(fx, fy, s=70, marker=marker, facecolors="none", edgecolors=front_colour, linewidths=1.5)
        labels += _label(ax, [f"{m}{tag}" for m in names], xs, ys)
    _log_if_wide(ax, "x", all_x)
    ax.set_xlabel("latency (ms, median per forward pass, at the top-1's resolution)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.legend(fontsize=8, loc="best")
    n_points = sum(len(lats) for lats in series.lats.values())
    n_paper = sum(1 for lats in series.lats.values() for m in lats if not acc[m].measured)
    if n_paper == n_points:
        source = "Top-1: the papers' published figures (no eval results given)."
    elif n_paper:
        source = (
            f"Top-1 measured by `zoobench eval`, or the paper's figure for {n_paper} point(s) without eval results."
        )
    else:
        source = "Top-1 measured by `zoobench eval`."
    at = {m: acc[m].resolution for lats in series.lats.values() for m in lats}
    fix = " (`zoobench bench MODEL --native-resolution` measures one)"
    lines = [
        f"Pareto front (line, ringed points): the models no other model beats on both latency and top-1. {source}",
        *_pairing(at, left_out, "latency", fix),
        *_latency_caption(results, series.settings, series.tags),
    ]
    return _finish(fig, "top1_vs_latency", title, _wrap(lines), labels)


def params_vs_latency(results: res.Results) -> Plot | None:
    series = _latency_series(results, lambda m: bool(results.models[m].get("params")))
    if series is None:
        return None
    title = series.title("Parameters against latency")
    fig, ax = _figure(title)
    all_x, all_y, labels = [], [], []
    for k, (label, lats) in enumerate(series.lats.items()):
        names = list(lats)
        xs = [results.models[m]["params"] / 1e6 for m in names]
        ys = [lats[m].median_ms for m in names]
        all_x += xs
        all_y += ys
        tag = series.tag(label)
        colour = MACHINE_COLOURS[k % len(MACHINE_COLOURS)][0]
        ax.scatter(xs, ys, s=30, marker=MARKERS[k % len(MARKERS)], color=colour, alpha=0.8, label=f"models{tag}")
        labels += _label(ax, [f"{m}{tag}" for m in names], xs, ys)
    _log_if_wide(ax, "x", all_x)
    _log_if_wide(ax, "y", all_y)
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("latency (ms, median per forward pass)")
    if series.tags:
        ax.legend(fontsize=8)
    caption = _wrap(_latency_caption(results, series.settings, series.tags))
    return _finish(fig, "params_vs_latency", title, caption, labels)


def latency_vs_threads(results: res.Results) -> Plot | None:
    sweeps = results.thread_sweeps()
    if not sweeps:
        return None
    tags = results.machine_tags() or {label: "M1" for label, _ in sweeps}
    mixed = len(sweeps) > 1
    title = "Latency against threads" + (" (several machines or settings: see the tags)" if mixed else "")
    fig, ax = _figure(title)
    threads: set[int] = set()
    all_y = []
    lines = []
    for k, ((label, setting), per_model) in enumerate(sweeps.items()):
        tag = f" [{tags[label]}/{k + 1}]" if mixed else ""
        for model, points in per_model.items():
            ts = [t for t, _ in points]
            ms = [m for _, m in points]
            threads.update(ts)
            all_y += ms
            ax.plot(ts, ms, marker=MARKERS[k % len(MARKERS)], label=f"{model}{tag}")
            ax.annotate(f"{model}{tag}", (ts[-1], ms[-1]), xytext=(4, 0), textcoords="offset points", fontsize=7)
        busy = sum(
            1
            for lat in results.latencies
            if lat.busy
            and lat.machine.label == label
            and lat.model in per_model
            and replace(lat.setting, threads=None) == setting
        )
        warn = f" ({busy} measured while the machine was busy: not trustworthy)" if busy else ""
        lines.append(f"{tag.strip() + ' ' if mixed else ''}{setting.describe()} on {label}{warn}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(threads), [str(t) for t in sorted(threads)])
    ax.minorticks_off()
    _log_if_wide(ax, "y", all_y)
    ax.set_xlabel("threads (torch intra-op, pinned to as many cores)")
    ax.set_ylabel("latency (ms, median per forward pass)")
    ax.legend(fontsize=7, ncols=2 if sum(len(p) for p in sweeps.values()) > 12 else 1)
    caption = _wrap(["Thread sweep by `zoobench bench --threads`: " + "; ".join(lines) + "."])
    return _finish(fig, "latency_vs_threads", title, caption)


PLOTS = (top1_vs_gmacs, top1_vs_latency, params_vs_latency, latency_vs_threads)
NEEDS = {
    "top1_vs_gmacs": "no model has both MACs and a top-1 accuracy",
    "top1_vs_latency": "no model has both a latency and a top-1 accuracy",
    "params_vs_latency": "no model has both a latency and a parameter count",
    "latency_vs_threads": "no model was measured at two or more thread counts (zoobench bench --threads 1,2,...)",
}


def render(results: res.Results, backends: object = None) -> tuple[list[Plot], list[str]]:
    """Every plot the results allow, in memory (nothing written yet), and a note for each one they do not; the
    backend plot from `backends` (a reporting.backends.BackendTable), silently absent without one."""
    from zoobench.reporting import plots_backends

    plots, notes = [], []
    with matplotlib.rc_context(STYLE), warnings.catch_warnings():
        # A name in a script DejaVu lacks is drawn as a box: worth no stderr line per glyph and file format.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        for draw in PLOTS:
            plot = draw(results)
            if plot is None:
                notes.append(f"{draw.__name__} not drawn: {NEEDS[draw.__name__]}")
            else:
                plots.append(plot)
        plot = plots_backends.backend_speedup(backends)
        if plot is not None:
            plots.append(plot)
    return plots, notes


def check_dir(out_dir: Path) -> None:
    """Fail before any work when the plots cannot go to `out_dir`: it is a file, a symlink or a special file, a plot
    file in it is not a regular file, or the folder cannot be created or written."""
    out_dir = Path(out_dir)
    try:
        st = out_dir.lstat() if os.path.lexists(out_dir) else None
    except OSError as exc:
        raise ZooError(f"cannot use out_dir {str(out_dir)!r}: {exc.strerror or exc}") from None
    if st is None:
        _check_creatable(out_dir)
    elif stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = "a file" if stat.S_ISREG(st.st_mode) else "a symlink or special file"
        raise ZooError(f"out_dir {str(out_dir)!r} is {what}, not a folder")
    else:
        for name in (*NEEDS, "backend_speedup"):  # every file a plot may replace, and the folder's write permission
            for suffix in ("png", "svg"):
                check_output(out_dir / f"{name}.{suffix}")


def _check_creatable(out_dir: Path) -> None:
    """The nearest existing folder above a missing out_dir must be a writable folder."""
    above = out_dir.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise ZooError(f"cannot create out_dir {str(out_dir)!r}: {str(above)!r} is not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise ZooError(f"cannot create out_dir {str(out_dir)!r}: {str(above)!r} is not writable")


def prepare_dir(out_dir: Path) -> None:
    """Create the plot folder just before the first plot is written."""
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ZooError(f"out_dir {str(out_dir)!r} is a file, not a folder") from None
    except OSError as exc:
        raise ZooError(f"cannot create {str(out_dir)!r}: {exc.strerror or exc}") from exc


def write(plots: Sequence[Plot], out_dir: Path) -> list[Path]:
    """Write each plot as NAME.png and NAME.svg under out_dir, each whole or not at all; returns the paths written."""
    prepare_dir(out_dir)
    written = []
    for plot in plots:
        for suffix, content in (("png", plot.png), ("svg", plot.svg)):
            path = Path(out_dir) / f"{plot.name}.{suffix}"
            atomic_write(path, content)
            written.append(path)
    return written


def inline_svg(plot: Plot) -> str:
    """The SVG as an element for an HTML page: no XML prolog, doctype or metadata block (it names external URIs)."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", plot.svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    return svg.strip()
