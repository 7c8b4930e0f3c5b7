"""The backend table: per model, each backend's latency and its speed-up over eager fp32 at the same machine, threads,
batch and resolution, with its equivalence to eager (max logit difference, top-1/top-5 agreement, flagged or not);
and per backend, precision and thread count how many models it converted and how many it failed (first error).

Built from `zoobench bench --backend ...` rows only (reporting.results); None when the results have none, so a
report without backend rows is unchanged. Never measures; the columns and notes are in output/views_bench.py.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, replace

from zoobench.reporting.results import Latency, Results, Setting

EAGER = ("eager", "fp32")


@dataclass
class BackendTable:
    rows: list[dict]  # one per model, machine, setting and backend (eager's own row included, speed-up 1)
    counts: list[dict]  # one per machine, backend, precision and thread count: converted, failed, first error
    machines: dict[str, str]  # machine label -> tag (M1, M2...), {} for one machine

    def speedups(self) -> dict[tuple[str, str, int | None], dict[str, float]]:
        """(backend, precision, threads) -> model -> speed-up over eager, for the converted runs with an eager
        run to compare with (the plot's series)."""
        out: dict[tuple[str, str, int | None], dict[str, float]] = defaultdict(dict)
        for r in self.rows:
            if (r["backend"], r["precision"]) != EAGER and r["speedup"] is not None:
                label = r["model"] + (f" [{r['machine']}]" if self.machines else "")
                out[(r["backend"], r["precision"], r["threads"])][label] = r["speedup"]
        return dict(out)

    def columns(self) -> tuple[list, list]:
        """The per-model and the per-backend columns (with a Machine column when the rows come from several)."""
        from zoobench.output import views
        from zoobench.output.columns import Column, text

        machine = [Column("machine", "Machine", text)] if self.machines else []
        return [*machine, *views.BACKEND_REPORT_COLUMNS], [*machine, *views.BACKEND_COUNT_COLUMNS]

    def notes(self) -> list[str]:
        from zoobench.output import views

        settings = sorted({_where(r) for r in self.rows})
        return views.backend_report_notes(settings, self.machines)

    def markdown(self) -> str:
        """Both tables and their notes, as a Markdown section for the end of the report."""
        from zoobench.output import formats

        per_model, per_backend = self.columns()
        return (
            "\n## Backends\n\n"
            + formats.markdown(formats.frame(self.rows, per_model))
            + "\n"
            + formats.markdown(formats.frame(self.counts, per_backend))
            + "\n"
            + "".join(f"- {n}\n" for n in self.notes())
        )


def _where(row: dict) -> str:
    res = f", {row['resolution']}x{row['resolution']}" if row.get("resolution") else ""
    return f"{row['device']}, batch {row['batch']}{res}"


def _base(setting: Setting) -> Setting:
    return replace(setting, backend="eager", precision="fp32")


def _is_backend(setting: Setting) -> bool:
    return (setting.backend, setting.precision) != EAGER


def backend_table(results: Results) -> BackendTable | None:
    """The table, or None when no latency or failure in the results comes from a backend other than eager fp32."""
    converted = [lat for lat in results.latencies if _is_backend(lat.setting)]
    failed = [f for f in results.failures if _is_backend(f.setting)]
    if not converted and not failed:
        return None
    used = {x.machine.label for x in [*converted, *failed]}
    tags = {label: tag for label, tag in results.machine_tags().items() if label in used}  # the report's own tags
    eager: dict[tuple, Latency] = {
        (lat.machine.label, lat.model, lat.setting): lat for lat in results.latencies if not _is_backend(lat.setting)
    }
    # The models and settings that any backend ran (or failed): their eager rows come with them, as the reference.
    wanted = {(x.machine.label, x.model, _base(x.setting)) for x in [*converted, *failed]}
    rows = []
    for lat in results.latencies:
        key = (lat.machine.label, lat.model, _base(lat.setting))
        if key not in wanted:
            continue
        ref = eager.get(key)
        r = lat.row
        rows.append(
            {
                "model": lat.model,
                "machine": tags.get(lat.machine.label, lat.machine.label),
                "device": lat.setting.device,
                "batch": lat.setting.batch,
                "resolution": lat.setting.resolution,
                "threads": lat.setting.threads,
                "backend": lat.setting.backend,
                "precision": lat.setting.precision,
                "median_ms": lat.median_ms,
                "eager_ms": ref.median_ms if ref is not None else None,
                "speedup": ref.median_ms / lat.median_ms if ref is not None else None,
                "max_abs_diff": r.get("max_abs_diff"),
                "top1_agree": r.get("top1_agree"),
                "top5_agree": r.get("top5_agree"),
                "equivalent": r.get("equivalent"),
                "convert_s": r.get("convert_s"),
                "first_call_s": r.get("first_call_s"),
                "busy": lat.busy,
            }
        )
    return BackendTable(rows, _counts(results, converted, failed, tags), tags)


def _counts(results: Results, converted: list[Latency], failed: list, tags: dict[str, str]) -> list[dict]:
    groups: dict[tuple, dict] = {}

    def group(machine: str, s: Setting) -> dict:
        key = (machine, s.backend, s.precision, s.threads, s.batch, s.resolution)
        return groups.setdefault(
            key,
            {
                "machine": tags.get(machine, machine),
                "backend": s.backend,
                "precision": s.precision,
                "threads": s.threads,
                "batch": s.batch,
                "resolution": s.resolution,
                "converted": 0,
                "flagged": 0,
                "failed": 0,
                "first_error": None,
                "speedups": [],
            },
        )

    eager = {(lat.machine.label, lat.model, lat.setting): lat.median_ms for lat in results.latencies}
    for lat in converted:
        g = group(lat.machine.label, lat.setting)
        g["converted"] += 1
        g["flagged"] += lat.row.get("equivalent") is False
        ref = eager.get((lat.machine.label, lat.model, _base(lat.setting)))
        if ref is not None:
            g["speedups"].append(ref / lat.median_ms)
    for f in failed:
        g = group(f.machine.label, f.setting)
        g["failed"] += 1
        g["first_error"] = g["first_error"] or f"{f.model}: {f.error}"
    out = []
    for g in groups.values():
        speedups = g.pop("speedups")
        g["median_speedup"] = statistics.median(speedups) if speedups else None
        g["min_speedup"] = min(speedups) if speedups else None
        g["max_speedup"] = max(speedups) if speedups else None
        out.append(g)
    return sorted(out, key=lambda g: (g["machine"], g["backend"], g["precision"], g["threads"] or 0))
