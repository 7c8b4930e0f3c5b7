"""The seed-style zoo table from merged results: one row per model with raw values, and its footnotes.

Columns and footnote prose live in zoobench.output.views; this module only picks the values.
"""

from __future__ import annotations

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.output import views
from zoobench.reporting import reading
from zoobench.reporting.reading import REPORT_MARKER
from zoobench.reporting.results import Accuracy, Results, Setting
from zoobench.reporting.rows import as_int

PUBLISHED = ("all", "1crop")  # which published figures the table shows: all of them, or the 1-crop ones only


def _pct(value: float | None, origin: str | None, comparable: bool) -> str:
    if value is None:
        return ""
    if origin != "paper":
        return f"{value:.2f}"
    return f"{value:.2f} {views.PAPER}" + ("" if comparable else views.NOT_1CROP)


def _protocol(name: str, facts: dict) -> tuple[str | None, bool]:
    """A published figure's protocol and whether it is 1-crop at the resolution the table states for the model
    (its MACs'; else its native one). The registry knows the protocol of its own figures only: a model outside the
    zoo, or a result file's figure that is not the registry's, has none known, so is not called comparable."""
    try:
        spec = None if ":" in name else registry.get_spec(name)
    except ZooError:
        spec = None
    acc = spec.accuracy if spec is not None else None
    if acc is None or (facts.get("paper_top1"), facts.get("paper_top5")) != (acc.top1, acc.top5):
        return None, False
    at = facts.get("macs_resolution") or facts.get("resolution") or spec.resolution
    return acc.protocol, acc.comparable(as_int(at))


def table(results: Results, published: str = "all") -> tuple[list[dict], list[str]]:
    """The seed-style rows (measured Time_cast, measured or † published accuracy) and their footnotes.

    A published figure that is not 1-crop at the table's resolution for its model is marked ‡; published="1crop"
    leaves such figures out (blank), so that every figure shown compares with a 1-crop measurement."""
    if published not in PUBLISHED:
        raise ZooError(f"published must be all or 1crop, not {published!r}")
    settings = results.best_settings()
    main_label, main_setting = next(iter(settings.items()), (None, None))
    times = results.latencies_at(main_label, main_setting) if main_label is not None else {}
    measured = results.chosen_accuracy()
    rows = []
    for name, facts in results.models.items():
        acc = measured.get(name)
        protocol, comparable = _protocol(name, facts)
        has_paper = facts.get("paper_top1") is not None or facts.get("paper_top5") is not None
        if acc is not None:
            top1, top5, origin = acc.top1, acc.top5, "measured"
        elif has_paper and (comparable or published == "all"):
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
                "top1_text": _pct(top1, origin, comparable),
                "top5_text": _pct(top5, origin, comparable),
                "crops": acc.crops if acc else None,
                "published_protocol": protocol if origin == "paper" else None,
                "published_comparable": comparable if origin == "paper" else None,
            }
        )
    return rows, footnotes(results, rows, main_label, main_setting, measured, published)


def footnotes(
    results: Results,
    rows: list[dict],
    label: str | None,
    setting: Setting | None,
    measured: dict[str, Accuracy],
    published: str = "all",
) -> list[str]:
    """The values the footnotes state (views.report_footnotes words them)."""
    shown = list(results.latencies_at(label, setting).values()) if label is not None else []
    time_cast = (views.measured_by(results.sources(shown)), setting.describe(), label) if setting else None
    recipes: dict[str, list[str]] = {}
    for name, acc in measured.items():
        recipes.setdefault(f"{acc.recipe or 'settings as recorded'} ({reading.shown(acc.path)})", []).append(name)
    return (
        views.report_footnotes(
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
        )
        + views.accuracy_recipes(recipes)
        + views.protocol_notes(
            marked=sorted(r["model"] for r in rows if r["published_comparable"] is False),
            left_out=published == "1crop",
        )
    )
