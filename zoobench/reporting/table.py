"""The seed-style zoo table from merged results: one row per model with raw values, and its footnotes.

Columns and footnote prose live in zoobench.output.views; this module only picks the values.
"""

from __future__ import annotations

from zoobench.output import views
from zoobench.reporting import reading
from zoobench.reporting.reading import REPORT_MARKER
from zoobench.reporting.results import Accuracy, Results, Setting
from zoobench.reporting.rows import as_int


def _pct(value: float | None, marked: bool) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" + (f" {views.PAPER}" if marked else "")


def table(results: Results) -> tuple[list[dict], list[str]]:
    """The seed-style rows (measured Time_cast, measured or † published accuracy) and their footnotes."""
    settings = results.best_settings()
    main_label, main_setting = next(iter(settings.items()), (None, None))
    times = results.latencies_at(main_label, main_setting) if main_label is not None else {}
    measured = results.chosen_accuracy()
    rows = []
    for name, facts in results.models.items():
        acc = measured.get(name)
        if acc is not None:
            top1, top5, origin = acc.top1, acc.top5, "measured"
        elif facts.get("paper_top1") is not None or facts.get("paper_top5") is not None:
            top1, top5, origin = facts.get("paper_top1"), facts.get("paper_top5"), "paper"
        else:
            top1, top5, origin = None, None, None
        lat = times.get(name)
        year = as_int(facts.get("year"))
        rows.append(
            {
                "model": name,
                "family": facts.get("family"),
                # Strings so seed_markdown's groupby keeps rows of unknown year and sorts 4-digit years right.
                "year": str(year) if year else "year unknown",
                "params": facts.get("params"),
                "macs": facts.get("macs"),
                "flops": facts.get("flops"),
                "time_ms": lat.median_ms if lat else None,
                "top1": top1,
                "top5": top5,
                REPORT_MARKER: origin,
                "top1_text": _pct(top1, origin == "paper"),
                "top5_text": _pct(top5, origin == "paper"),
                "crops": acc.crops if acc else None,
            }
        )
    return rows, footnotes(results, rows, main_label, main_setting, measured)


def footnotes(
    results: Results,
    rows: list[dict],
    label: str | None,
    setting: Setting | None,
    measured: dict[str, Accuracy],
) -> list[str]:
    """The values the footnotes state (views.report_footnotes words them)."""
    shown = list(results.latencies_at(label, setting).values()) if label is not None else []
    time_cast = (views.measured_by(results.sources(shown)), setting.describe(), label) if setting else None
    recipes: dict[str, list[str]] = {}
    for name, acc in measured.items():
        recipes.setdefault(f"{acc.recipe or 'settings as recorded'} ({reading.shown(acc.path)})", []).append(name)
    return views.report_footnotes(
        resolutions=sorted({f["macs_resolution"] for f in results.models.values() if f.get("macs_resolution")}),
        time_cast=time_cast,
        rows=len(rows),
        missing=sum(1 for r in rows if r["time_ms"] is None),
        busy=results.busy_count(shown),
        other_machines=[lbl for lbl in results.best_settings() if lbl != label],
        crops=sorted({a.crops for a in measured.values() if a.crops}),
        measured=bool(measured),
        ignored=sorted(
            {f"{a.model} ({a.excluded})" for a in results.accuracies if a.excluded and a.model not in measured}
        ),
    ) + views.accuracy_recipes(recipes)
