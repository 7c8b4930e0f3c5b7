"""Read back what profile, bench and eval wrote, and merge it per model for `zoobench report`. Never measures.

A result file is JSON {"environment": {...}, "rows": [...], ...} or a CSV of raw rows (no environment). Rows are
recognised by their keys, not by the file's name, and unknown keys are ignored, so a writer that grows a column does
not break the report:
- profile: `params` and `macs` (complexity.profile; results/zoo.csv is one); `time_ms`, when filled, is a quick latency;
- bench: `median_ms` plus a setting key (timing.Measurement: threads, device, dtype, batch, resolution);
- eval: `top1` with eval settings (crops, weights, ...) and no paper `accuracy_source`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.output import columns as report
from zoobench.output.views import SEED_COLUMNS

DEFAULT_DIR = Path("results")
SUFFIXES = (".json", ".csv")
REPORT_KIND = "zoobench report"  # marks the report's own JSON/CSV output, so re-reading results/ skips it
REPORT_MARKER = "top1_origin"  # a key only the report's own rows carry

BENCH_SETTING_KEYS = ("threads", "device", "dtype", "batch")
# Keys that only an eval row carries (issue 7's settings); a row with top1 and one of these is a measured accuracy.
EVAL_KEYS = ("crops", "weights", "random_init", "weights_sha256", "top1_lo", "dataset_images", "images", "resize")
PAPER = "†"  # marks a published (paper) accuracy in the table


@dataclass(frozen=True)
class Machine:
    """What a latency depends on: the CPU model and its core count, and the GPU for CUDA runs."""

    cpu: str | None
    cores: int | None
    gpu: str | None = None

    @property
    def label(self) -> str:
        if self.cpu is None and self.gpu is None:
            return "unknown machine (no environment recorded)"
        cpu = f"{self.cpu or 'unknown CPU'}" + (f", {self.cores} cores" if self.cores else "")
        return f"{self.gpu} (host: {cpu})" if self.gpu else cpu

    @property
    def known(self) -> bool:
        return self.cpu is not None or self.gpu is not None


@dataclass(frozen=True)
class Setting:
    device: str = "cpu"
    dtype: str = "fp32"
    batch: int = 1
    resolution: int | None = None
    threads: int | None = None

    def describe(self) -> str:
        parts = [self.device, self.dtype, f"batch {self.batch}"]
        if self.resolution:
            parts.append(f"{self.resolution}x{self.resolution}")
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Latency:
    model: str
    median_ms: float
    setting: Setting
    machine: Machine
    source: str  # "bench" or "profile" (profile's quick Time_cast)
    busy: bool  # bench warned that the machine was busy while it measured
    path: str
    row: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class Accuracy:
    model: str
    top1: float | None
    top5: float | None
    crops: int | None
    excluded: str | None  # why it cannot stand for ImageNet-1k accuracy (random weights, another class count)
    path: str
    row: dict = field(hash=False, compare=False)


@dataclass
class ResultFile:
    path: Path
    environment: dict
    rows: list[dict]


@dataclass
class Results:
    """Everything the report shows, merged from the files, in the registry's model order."""

    files: list[str]
    models: dict[str, dict]  # model -> static facts: family, year, resolution, params, macs, flops, paper accuracy
    latencies: list[Latency]
    accuracies: list[Accuracy]
    machines: dict[str, dict]  # machine label -> the environment recorded with it
    notes: list[str]  # things the user should know (stderr), e.g. files skipped in a folder scan
    threads: int | None = None  # show latencies at this thread count (None: the setting covering most models)

    def machine_tags(self) -> dict[str, str]:
        """M1, M2... per machine, M1 being the one the table's Time_cast comes from; {} for a single machine."""
        labels = list(best_settings(self))
        return {label: f"M{i + 1}" for i, label in enumerate(labels)} if len(labels) > 1 else {}

    def main_environment(self) -> dict:
        """The environment of the machine the table's Time_cast comes from ({} without latencies)."""
        label = next(iter(best_settings(self)), None)
        return self.machines.get(label, {}) if label is not None else {}

    def warnings(self) -> list[str]:
        out = []
        tags = self.machine_tags()
        if tags:
            named = "; ".join(f"{tag} = {label}" for label, tag in tags.items())
            out.append(
                f"latencies come from {len(tags)} machines ({named}): the plots mark and label each machine's points; "
                "the table's Time_cast uses M1's only"
            )
        shown = [lat for label, s in best_settings(self).items() for lat in latencies_at(self, label, s).values()]
        busy = busy_count(shown)
        if busy:
            out.append(f"{busy} of {len(shown)} latencies shown were measured on a busy machine; rerun on a quiet one")
        return out


# --- reading files ----------------------------------------------------------------------------------------------


def discover(paths: Sequence[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) for every result file: named files as given, folders searched for *.json / *.csv."""
    found: list[tuple[Path, bool]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in p.parts)
            )
            found.extend((p, False) for p in inside)
        elif path.exists():
            if path.suffix.lower() not in SUFFIXES:
                raise ZooError(f"{str(path)!r} is not a result file: give .json or .csv files, or a folder")
            found.append((path, True))
        elif path == DEFAULT_DIR:
            raise ZooError("no results/ folder here: give result files or folders (CSV/JSON from profile, bench, eval)")
        else:
            raise ZooError(f"no such result file or folder: {str(path)!r}")
    if not found:
        raise ZooError(f"no CSV or JSON result files in {', '.join(repr(str(p)) for p in paths)}")
    return list(dict.fromkeys(found))


def read(path: Path) -> ResultFile | None:
    """Parse one file; None when it is well-formed but holds no row table (e.g. a benchmark summary JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"cannot read {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ZooError(f"{str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if isinstance(doc, list):
            doc = {"rows": doc}
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            return None
        if doc.get("kind") == REPORT_KIND:
            return None
        env = doc.get("environment") if isinstance(doc.get("environment"), dict) else {}
        rows = doc["rows"]
    else:
        if not text.strip():
            raise ZooError(f"{str(path)!r} is empty")
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ZooError(f"{str(path)!r} is not a valid CSV: {first}") from None
        df = df.astype(object).where(pd.notna(df), None)
        rows = df.to_dict(orient="records")
        env = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("model"), str) or not row["model"].strip():
            raise ZooError(f"{str(path)!r}: row {i + 1} has no model name")
    return ResultFile(path, env, rows)


def _number(row: dict, key: str, path: Path, *, positive: bool = False) -> float | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ZooError(f"{str(path)!r}: {row['model']}: {key} is {value!r}, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"{str(path)!r}: {row['model']}: {key} is {value!r}, not a number") from None
    if math.isnan(number):
        return None
    if math.isinf(number) or (positive and number <= 0) or number < 0:
        raise ZooError(
            f"{str(path)!r}: {row['model']}: {key} is {value!r}, not a {'positive ' if positive else ''}number"
        )
    return number


def _int(value: object) -> int | None:
    try:
        return int(float(value))  # CSV columns with blanks come back as floats
    except (TypeError, ValueError):
        return None


def kinds(row: dict) -> set[str]:
    """Which results a row carries (a profile row with a measured time_ms is also a latency)."""
    out = set()
    if REPORT_MARKER in row:  # the report's own output
        return out
    if row.get("params") is not None and row.get("macs") is not None:
        out.add("profile")
    if row.get("median_ms") is not None and any(k in row for k in BENCH_SETTING_KEYS):
        out.add("bench")
    if row.get("top1") is not None and "accuracy_source" not in row and any(k in row for k in EVAL_KEYS):
        out.add("eval")
    return out


def _machine(env: dict, row: dict, device: str) -> Machine:
    cpu = row.get("cpu") or env.get("cpu")
    cores = _int(env.get("logical_cpus") or env.get("cores"))
    gpu = (row.get("gpu") or env.get("gpu")) if device == "cuda" else None
    return Machine(str(cpu) if cpu else None, cores, str(gpu) if gpu else None)


def _excluded(row: dict) -> str | None:
    random = row.get("random_init")
    if random is True or str(random).lower() == "true" or row.get("pretrained") is False:
        return "randomly initialised weights"
    if "weights" in row and (row["weights"] is None or str(row["weights"]).strip().lower() in ("", "none", "random")):
        return "randomly initialised weights"
    classes = _int(row.get("classes"))
    if classes is not None and classes != 1000:
        return f"{classes} classes, not ImageNet-1k's 1000"
    return None


# --- merging ----------------------------------------------------------------------------------------------------


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _registered(name: str) -> registry.ModelSpec | None:
    """The zoo's spec for a name in a result file, or None. Never `module:callable`: reading data imports nothing."""
    if ":" in name:
        return None
    try:
        return registry.get_spec(name)
    except ZooError:
        return None


def _order(name: str) -> tuple:
    spec = _registered(name)
    if spec is None:
        return (1, 0, "", _natural(name))
    return (0, spec.year, spec.family, _natural(spec.name))


def _static(name: str) -> dict:
    """Registry facts for a model the profile rows did not cover (bench/eval-only results)."""
    facts: dict = {"model": name, "family": None, "year": None, "resolution": None}
    spec = _registered(name)
    if spec is None:
        return facts
    facts.update(family=spec.family, year=spec.year, resolution=spec.resolution)
    if spec.accuracy is not None:
        facts.update(paper_top1=spec.accuracy.top1, paper_top5=spec.accuracy.top5, accuracy_source=spec.accuracy.source)
    return facts


def collect(paths: Sequence[Path] = (), patterns: Iterable[str] = (), threads: int | None = None) -> Results:
    """Read every result file under `paths` (default results/) and merge them; `patterns` keep matching models;
    `threads` picks the latencies the table and plots show (default: the setting that covers the most models)."""
    if threads is not None and threads < 1:
        raise ZooError(f"--threads must be at least 1, got {threads}")
    paths = list(paths) or [DEFAULT_DIR]
    patterns = [p.lower() for p in patterns]
    notes: list[str] = []
    models: dict[str, dict] = {}
    latencies: dict[tuple, Latency] = {}
    accuracies: dict[tuple, Accuracy] = {}
    machines: dict[str, dict] = {}
    used: list[str] = []

    def wanted(name: str) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)

    for path, explicit in discover(paths):
        parsed = read(path)
        if parsed is None:
            if explicit:
                raise ZooError(f"{str(path)!r} holds no result rows (expected JSON with a 'rows' list)")
            notes.append(f"skipped {path}: no result rows")
            continue
        if explicit and not parsed.rows:
            raise ZooError(f"{str(path)!r} has no rows")
        recognised = 0
        for row in parsed.rows:
            what = kinds(row)
            if not what:
                continue
            recognised += 1
            name = row["model"].strip()
            if not wanted(name):
                continue
            facts = models.setdefault(name, _static(name))
            if "profile" in what:
                _merge_profile(facts, row, path)
            if "bench" in what or ("profile" in what and row.get("time_ms") is not None):
                lat = _latency(row, parsed.environment, path, "bench" if "bench" in what else "profile")
                machines.setdefault(lat.machine.label, parsed.environment if lat.machine.known else {})
                key = (lat.model, lat.setting, lat.machine)
                old = latencies.get(key)
                if old is None or not (old.source == "bench" and lat.source == "profile"):
                    latencies[key] = lat  # later files win, but a quick profile time never replaces a bench one
                if "bench" in what and facts.get("macs") is None and row.get("flops_per_image") is not None:
                    flops = _number(row, "flops_per_image", path)
                    if flops is not None:
                        facts.update(flops=flops, macs=flops / 2, macs_resolution=lat.setting.resolution)
            if "eval" in what:
                acc = _accuracy(row, path)
                accuracies[(acc.model, acc.crops, acc.path)] = acc
        if parsed.rows and not recognised:
            if explicit:
                raise ZooError(
                    f"{str(path)!r} is not a profile, bench or eval result: its rows have no params+macs, "
                    "median_ms or top1 with eval settings"
                )
            notes.append(f"skipped {path}: not a profile, bench or eval result")
            continue
        used.append(str(path))

    if threads is not None and latencies and not any(lat.setting.threads == threads for lat in latencies.values()):
        counts = sorted({lat.setting.threads for lat in latencies.values() if lat.setting.threads})
        have = ", ".join(str(c) for c in counts) or "no thread counts"
        raise ZooError(f"no latency was measured at {threads} threads (the results have {have})")
    if not models:
        if patterns:
            raise ZooError(f"no model in the results matches {', '.join(repr(p) for p in patterns)}")
        raise ZooError(f"no profile, bench or eval rows in {', '.join(used) or 'the files given'}")
    for facts in models.values():
        _count_missing(facts)
    lats = _dedupe_unknown_machines(list(latencies.values()))
    order = sorted(models, key=_order)
    return Results(
        files=used,
        models={m: models[m] for m in order},
        latencies=sorted(lats, key=lambda lat: (_order(lat.model), lat.machine.label, repr(lat.setting))),
        accuracies=sorted(accuracies.values(), key=lambda a: (_order(a.model), a.crops or 0, a.path)),
        machines=machines,
        notes=notes,
        threads=threads,
    )


def _count_missing(facts: dict) -> None:
    """Params and MACs for a zoo model no profile row covered (bench/eval-only files), counted as `zoobench profile`
    counts them: on the meta device, at 224 (or the MACs' resolution already known), in well under a second."""
    if facts.get("params") is not None and facts.get("macs") is not None:
        return
    spec = _registered(facts["model"])
    if spec is None:
        return
    from zoobench import complexity

    try:
        if facts.get("macs") is None:
            c = complexity.measure(spec, 224)
            facts.update(params=c.params, macs=c.macs, flops=c.flops, macs_resolution=224)
        else:
            facts["params"] = complexity.count_params(complexity.build_meta(spec))
    except (ZooError, RuntimeError):
        pass  # a model that cannot be counted keeps blank cells, never made-up ones


def _merge_profile(facts: dict, row: dict, path: Path) -> None:
    for key in ("params", "macs", "flops"):
        value = _number(row, key, path)
        if value is not None:
            facts[key] = value
    if facts.get("flops") is None and facts.get("macs") is not None:
        facts["flops"] = 2 * facts["macs"]
    for key in ("family", "year"):
        if row.get(key) not in (None, "") and facts.get(key) is None:
            facts[key] = row[key]
    res = _int(row.get("resolution"))
    if res:
        facts["macs_resolution"] = res
    if row.get("accuracy_source") is not None:
        facts.update(
            paper_top1=_number(row, "top1", path),
            paper_top5=_number(row, "top5", path),
            accuracy_source=row["accuracy_source"],
        )


def _latency(row: dict, env: dict, path: Path, source: str) -> Latency:
    key = "median_ms" if source == "bench" else "time_ms"
    ms = _number(row, key, path, positive=True)
    device = str(row.get("device") or "cpu")
    threads = _int(row.get("threads")) or (_int(env.get("torch_threads")) if source == "profile" else None)
    setting = Setting(
        device=device,
        dtype=str(row.get("dtype") or "fp32"),
        batch=_int(row.get("batch")) or 1,
        resolution=_int(row.get("resolution")),
        threads=threads,
    )
    busy = row.get("busy") is True or str(row.get("busy")).lower() == "true"
    return Latency(row["model"].strip(), ms, setting, _machine(env, row, device), source, busy, str(path), row)


def _accuracy(row: dict, path: Path) -> Accuracy:
    top1, top5 = _number(row, "top1", path), _number(row, "top5", path)
    for key, value in (("top1", top1), ("top5", top5)):
        if value is not None and value > 100:
            raise ZooError(f"{str(path)!r}: {row['model']}: {key} is {value}, not a percentage")
    return Accuracy(row["model"].strip(), top1, top5, _int(row.get("crops")), _excluded(row), str(path), row)


def _dedupe_unknown_machines(lats: list[Latency]) -> list[Latency]:
    """A CSV and a JSON of the same run hold the same numbers; the CSV lacks the machine. Keep the JSON's copy."""
    known = {(lat.model, lat.setting, lat.median_ms) for lat in lats if lat.machine.known}
    return [lat for lat in lats if lat.machine.known or (lat.model, lat.setting, lat.median_ms) not in known]


# --- what the table and the plots show --------------------------------------------------------------------------


def best_settings(results: Results) -> dict[str, Setting]:
    """Per machine, the setting that covers the most models (bench before profile, then more threads, batch 1)."""
    groups: dict[tuple[str, Setting], dict[str, set]] = defaultdict(lambda: {"bench": set(), "all": set()})
    for lat in results.latencies:
        if results.threads is not None and lat.setting.threads != results.threads:
            continue
        g = groups[(lat.machine.label, lat.setting)]
        g["all"].add(lat.model)
        if lat.source == "bench":
            g["bench"].add(lat.model)
    best: dict[str, tuple] = {}
    for (label, setting), g in groups.items():
        score = (len(g["bench"]) > 0, len(g["all"]), setting.batch == 1, setting.threads or 0)
        if label not in best or score > best[label][0]:
            best[label] = (score, setting)
    ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)
    return {label: setting for label, (_, setting) in ranked}


BUSY_NOTE = (
    "{busy} of {n} latencies were measured while the machine was busy (bench warned of load from other processes): "
    "rerun them on a quiet machine before trusting them."
)


def busy_count(lats: Iterable[Latency]) -> int:
    return sum(1 for lat in lats if lat.busy)


def latencies_at(results: Results, label: str, setting: Setting) -> dict[str, Latency]:
    return {lat.model: lat for lat in results.latencies if lat.machine.label == label and lat.setting == setting}


def chosen_accuracy(results: Results) -> dict[str, Accuracy]:
    """Per model, the measured accuracy to show: trained weights only, 1-crop (the published convention) first."""
    out: dict[str, Accuracy] = {}
    for acc in results.accuracies:
        if acc.excluded or acc.top1 is None:
            continue
        old = out.get(acc.model)
        rank = (acc.crops != 1, acc.crops or 0)
        if old is None or rank < (old.crops != 1, old.crops or 0) or (acc.crops == old.crops):
            out[acc.model] = acc  # later files win at equal crops
    return out


def thread_sweeps(results: Results) -> dict[tuple[str, Setting], dict[str, list[tuple[int, float]]]]:
    """(machine, setting without threads) -> model -> [(threads, median ms)], for models measured at 2+ counts."""
    sweeps: dict[tuple[str, Setting], dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for lat in results.latencies:
        if lat.source != "bench" or not lat.setting.threads:
            continue
        base = Setting(lat.setting.device, lat.setting.dtype, lat.setting.batch, lat.setting.resolution, None)
        sweeps[(lat.machine.label, base)][lat.model].append((lat.setting.threads, lat.median_ms))
    out = {}
    for key, per_model in sweeps.items():
        kept = {m: sorted(points) for m, points in per_model.items() if len({t for t, _ in points}) >= 2}
        if kept:
            out[key] = kept
    return out


TABLE_COLUMNS = [
    *SEED_COLUMNS[:5],
    report.Column("top1_text", SEED_COLUMNS[5].header, report.text),
    report.Column("top5_text", SEED_COLUMNS[6].header, report.text),
]


def _pct(value: float | None, marked: bool) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" + (f" {PAPER}" if marked else "")


def table(results: Results) -> tuple[list[dict], list[str]]:
    """The seed-style rows (measured Time_cast, measured or † published accuracy) and their footnotes."""
    settings = best_settings(results)
    main_label, main_setting = next(iter(settings.items()), (None, None))
    times = latencies_at(results, main_label, main_setting) if main_label is not None else {}
    measured = chosen_accuracy(results)
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
        year = facts.get("year")
        rows.append(
            {
                "model": name,
                "family": facts.get("family"),
                # Strings so seed_markdown's groupby keeps rows of unknown year and sorts 4-digit years right.
                "year": str(int(year)) if _int(year) else "year unknown",
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
    resolutions = sorted({f["macs_resolution"] for f in results.models.values() if f.get("macs_resolution")})
    at = ", ".join(f"{r}x{r}" for r in resolutions) or "the resolution each result file states"
    notes = [
        "Params/Million: all parameters, in millions. MACs/G: multiply-accumulates of convolutions, linear layers and "
        f"matmuls per image (batch 1) at {at}, in 10^9, as `zoobench profile` counts them; FLOPs/G = 2 x MACs/G.",
    ]
    if setting is None:
        notes.append("Time_cast/ms: blank: no bench results were given (never estimated).")
    else:
        src = results.latencies
        by = "`zoobench bench`" if any(x.source == "bench" for x in src) else "`zoobench profile`'s quick timing"
        missing = sum(1 for r in rows if r["time_ms"] is None)
        notes.append(
            f"Time_cast/ms: median latency of one forward pass measured by {by} ({setting.describe()}) on {label}"
            + (f"; blank for the {missing} model(s) not measured at that setting." if missing else ".")
        )
        busy = busy_count(latencies_at(results, label, setting).values())
        if busy:
            notes.append(BUSY_NOTE.format(busy=busy, n=len(rows) - missing))
        others = [lbl for lbl in best_settings(results) if lbl != label]
        if others:
            notes.append(f"Latencies from other machines are in the plots and the HTML report: {'; '.join(others)}.")
    crops = sorted({a.crops for a in measured.values() if a.crops})
    how = f"{'/'.join(str(c) for c in crops)}-crop" if crops else "settings in the eval results"
    if measured:
        notes.append(
            f"Top-1/Top-5: ImageNet-1k val accuracy in %, measured by `zoobench eval` ({how}) where unmarked; "
            f"{PAPER} marks the paper's published figure (not measured here); blank: neither."
        )
    else:
        notes.append(
            f"Top-1/Top-5 {PAPER}: the papers' published ImageNet-1k val accuracy in %, not measured here "
            "(no eval results were given); blank: none published."
        )
    ignored = sorted(
        {f"{a.model} ({a.excluded})" for a in results.accuracies if a.excluded and a.model not in measured}
    )
    if ignored:
        notes.append(f"Eval results not shown as ImageNet accuracy: {', '.join(ignored)}.")
    return notes
