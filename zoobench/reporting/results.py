"""Merge what profile, bench and eval wrote (read by reporting.reading) per model, and answer the report's queries.

Rows are recognised by their keys, not by the file's name, and unknown keys are ignored, so a writer that grows a
column does not break the report:
- profile: `params` and `macs` (profiling rows; results/zoo.csv is one); `time_ms`, when filled, is a quick latency;
- bench: `median_ms` plus a setting key (timing.Measurement: threads, device, dtype, batch, resolution);
- parity: `ours_median_ms` with `threads` and `torchvision` (benchmarks/bench_parity.py): our model's latency;
- eval: `top1` with eval settings (crops, weights, ...) and no paper `accuracy_source`.
A file is validated whole before any of it is merged: in a folder scan a bad file is skipped with a note, never
half-used.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.reporting.reading import DEFAULT_DIR, REPORT_MARKER, ResultFile, Skipped, discover, read, shown

BENCH_SETTING_KEYS = ("threads", "device", "dtype", "batch")
# Keys that only an eval row carries (issue 7's settings); a row with top1 and one of these is a measured accuracy.
EVAL_KEYS = ("crops", "weights", "random_init", "weights_sha256", "top1_lo", "dataset_images", "images", "resize")
# Where a latency comes from, least trusted first: at the same model, setting and machine a later source never
# replaces a more trusted one (a quick profile time never replaces a bench median).
SOURCES = ("profile", "parity", "bench")
LATENCY_KEYS = {"bench": "median_ms", "parity": "ours_median_ms", "profile": "time_ms"}


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
    source: str  # one of SOURCES
    busy: bool  # the writer warned that the machine was busy while it measured
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
class Results:
    """Everything the report shows, merged from the files, in the registry's model order."""

    files: list[str]
    models: dict[str, dict]  # model -> static facts: family, year, resolution, params, macs, flops, paper accuracy
    latencies: list[Latency]
    accuracies: list[Accuracy]
    machines: dict[str, dict]  # machine label -> the environment recorded with it
    notes: list[str]  # things the user should know (stderr), e.g. files skipped in a folder scan
    threads: int | None = None  # show latencies at this thread count (None: the setting covering most models)

    def best_settings(self) -> dict[str, Setting]:
        """Per machine, the setting that covers the most models (the most trusted source first, then more models,
        batch 1, more threads); the machine whose setting scores best comes first."""
        groups: dict[tuple[str, Setting], dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for lat in self.latencies:
            if self.threads is None or lat.setting.threads == self.threads:
                groups[(lat.machine.label, lat.setting)][lat.source].add(lat.model)
        best: dict[str, tuple] = {}
        for (label, setting), by_source in groups.items():
            trusted = max(SOURCES.index(s) for s in by_source)
            covered = len(set().union(*by_source.values()))
            score = (trusted, covered, setting.batch == 1, setting.threads or 0)
            if label not in best or score > best[label][0]:
                best[label] = (score, setting)
        ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)
        return {label: setting for label, (_, setting) in ranked}

    def latencies_at(self, label: str, setting: Setting) -> dict[str, Latency]:
        return {lat.model: lat for lat in self.latencies if lat.machine.label == label and lat.setting == setting}

    def shown_latencies(self) -> list[Latency]:
        """The latencies the plots show: each machine's at its best setting."""
        return [lat for label, s in self.best_settings().items() for lat in self.latencies_at(label, s).values()]

    @staticmethod
    def busy_count(lats: Iterable[Latency]) -> int:
        return sum(1 for lat in lats if lat.busy)

    @staticmethod
    def sources(lats: Iterable[Latency]) -> list[str]:
        """The sources of these latencies, most trusted first."""
        found = {lat.source for lat in lats}
        return [s for s in reversed(SOURCES) if s in found]

    def chosen_accuracy(self) -> dict[str, Accuracy]:
        """Per model, the measured accuracy to show: trained weights only, 1-crop (the published convention) first."""
        out: dict[str, Accuracy] = {}
        for acc in self.accuracies:
            if acc.excluded or acc.top1 is None:
                continue
            old = out.get(acc.model)
            rank = (acc.crops != 1, acc.crops or 0)
            if old is None or rank < (old.crops != 1, old.crops or 0) or (acc.crops == old.crops):
                out[acc.model] = acc  # later files win at equal crops
        return out

    def thread_sweeps(self) -> dict[tuple[str, Setting], dict[str, list[tuple[int, float]]]]:
        """(machine, setting without threads) -> model -> [(threads, median ms)], for models bench measured at 2+
        thread counts."""
        sweeps: dict[tuple[str, Setting], dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
        for lat in self.latencies:
            if lat.source == "bench" and lat.setting.threads:
                base = replace(lat.setting, threads=None)
                sweeps[(lat.machine.label, base)][lat.model].append((lat.setting.threads, lat.median_ms))
        out = {}
        for key, per_model in sweeps.items():
            kept = {m: sorted(points) for m, points in per_model.items() if len({t for t, _ in points}) >= 2}
            if kept:
                out[key] = kept
        return out

    def machine_tags(self) -> dict[str, str]:
        """M1, M2... per machine, M1 being the one the table's Time_cast comes from; {} for a single machine."""
        labels = list(self.best_settings())
        return {label: f"M{i + 1}" for i, label in enumerate(labels)} if len(labels) > 1 else {}

    def main_environment(self) -> dict:
        """The environment of the machine the table's Time_cast comes from ({} without latencies)."""
        label = next(iter(self.best_settings()), None)
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
        lats = self.shown_latencies()
        busy = self.busy_count(lats)
        if busy:
            out.append(f"{busy} of {len(lats)} latencies shown were measured on a busy machine; rerun on a quiet one")
        return out


# --- one row -> what it says ------------------------------------------------------------------------------------


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(row: dict, key: str, where: str, *, positive: bool = False) -> float | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    number = None
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            number = float(value)
    if number is not None and math.isnan(number):
        return None
    if number is None or math.isinf(number) or (positive and number <= 0) or number < 0:
        kind = "positive number" if positive and number is not None else "number"
        raise Skipped(where, f"{row['model']}: {key} is {_brief(value)}, not a {kind}", "{where}: {reason}")
    return number


def as_int(value: object) -> int | None:
    try:
        return int(float(value))  # CSV columns with blanks come back as floats
    except (TypeError, ValueError, OverflowError):
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
    if row.get("ours_median_ms") is not None and "threads" in row and "torchvision" in row:
        out.add("parity")
    if row.get("top1") is not None and "accuracy_source" not in row and any(k in row for k in EVAL_KEYS):
        out.add("eval")
    return out


@dataclass
class _Entry:
    """What one row says, validated: facts for the model, a latency, an accuracy (any of them may be missing)."""

    model: str
    facts: dict | None = None  # from a profile row
    latency: Latency | None = None
    accuracy: Accuracy | None = None
    bench_flops: float | None = None  # a bench row's FLOPs per image, for models without a profile row


def _entries(parsed: ResultFile) -> list[_Entry]:
    """Every recognised row of a file as an entry; `Skipped` when a value is bad or no row is recognised."""
    where = repr(str(parsed.path))
    out = []
    for row in parsed.rows:
        what = kinds(row)
        if not what:
            continue
        entry = _Entry(row["model"].strip())
        if "profile" in what:
            entry.facts = _profile_facts(row, where)
        source = next((s for s in reversed(SOURCES) if s in what), None)
        if source == "profile" and row.get("time_ms") is None:
            source = None
        if source is not None:
            entry.latency = _latency(row, parsed.environment, str(parsed.path), source)
        if "bench" in what:
            entry.bench_flops = _number(row, "flops_per_image", where)
        if "eval" in what:
            entry.accuracy = _accuracy(row, where, str(parsed.path))
        out.append(entry)
    if parsed.rows and not out:
        raise Skipped(
            where,
            "not a profile, bench or eval result",
            "{where} is {reason}: its rows have no params+macs, median_ms or top1 with eval settings",
        )
    return out


def _profile_facts(row: dict, where: str) -> dict:
    facts: dict = {}
    for key in ("params", "macs", "flops"):
        value = _number(row, key, where)
        if value is not None:
            facts[key] = value
    if facts.get("flops") is None and facts.get("macs") is not None:
        facts["flops"] = 2 * facts["macs"]
    for key in ("family", "year"):
        if row.get(key) not in (None, ""):
            facts[key] = row[key] if isinstance(row[key], str | int | float) else str(row[key])
    res = as_int(row.get("resolution"))
    if res:
        facts["macs_resolution"] = res
    if row.get("accuracy_source") is not None:
        facts.update(
            paper_top1=_number(row, "top1", where),
            paper_top5=_number(row, "top5", where),
            accuracy_source=str(row["accuracy_source"]),
        )
    return facts


def _machine(env: dict, row: dict, device: str) -> Machine:
    cpu = row.get("cpu") or env.get("cpu")
    cores = as_int(env.get("logical_cpus") or env.get("cores"))
    gpu = (row.get("gpu") or env.get("gpu")) if device == "cuda" else None
    return Machine(str(cpu) if cpu else None, cores, str(gpu) if gpu else None)


def _latency(row: dict, env: dict, path: str, source: str) -> Latency | None:
    """None when the row's latency is blank or NaN: not measured, never made up."""
    ms = _number(row, LATENCY_KEYS[source], repr(path), positive=True)
    if ms is None:
        return None
    device = str(row.get("device") or "cpu")
    threads = as_int(row.get("threads")) or (as_int(env.get("torch_threads")) if source == "profile" else None)
    setting = Setting(
        device=device,
        dtype=str(row.get("dtype") or "fp32"),
        batch=as_int(row.get("batch")) or 1,
        resolution=as_int(row.get("resolution")),
        threads=threads,
    )
    busy = row.get("busy") is True or str(row.get("busy")).lower() == "true"
    return Latency(row["model"].strip(), ms, setting, _machine(env, row, device), source, busy, path, row)


def _excluded(row: dict) -> str | None:
    random = row.get("random_init")
    if random is True or str(random).lower() == "true" or row.get("pretrained") is False:
        return "randomly initialised weights"
    if "weights" in row and (row["weights"] is None or str(row["weights"]).strip().lower() in ("", "none", "random")):
        return "randomly initialised weights"
    classes = as_int(row.get("classes"))
    if classes is not None and classes != 1000:
        return f"{classes} classes, not ImageNet-1k's 1000"
    return None


def _accuracy(row: dict, where: str, path: str) -> Accuracy:
    top1, top5 = _number(row, "top1", where), _number(row, "top5", where)
    for key, value in (("top1", top1), ("top5", top5)):
        if value is not None and value > 100:
            raise Skipped(where, f"{row['model']}: {key} is {value}, not a percentage", "{where}: {reason}")
    return Accuracy(row["model"].strip(), top1, top5, as_int(row.get("crops")), _excluded(row), path, row)


# --- the zoo's side: order and static facts ---------------------------------------------------------------------


@cache
def _zoo() -> dict[str, registry.ModelSpec]:
    """Lowercased name or alias -> spec: a plain lookup (get_spec's "did you mean" is slow on hostile names)."""
    return {key.lower(): s for s in registry.all_specs() for key in (s.name, *s.aliases)}


def _registered(name: str) -> registry.ModelSpec | None:
    """The zoo's spec for a name in a result file, or None. Never `module:callable`: reading data imports nothing."""
    return None if ":" in name else _zoo().get(name.strip().lower())


def _natural(name: str) -> list:
    try:
        return registry.natural_key(name)
    except ValueError:  # a digit-like character int() refuses (e.g. '²'): such a name sorts as a whole
        return [name]


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


# --- merging ----------------------------------------------------------------------------------------------------


def _files(paths: Sequence[Path], notes: list[str]) -> list[tuple[ResultFile, list[_Entry]]]:
    """Every file read and validated. A file in a folder that cannot be used is skipped with a note; one named
    explicitly is an error, and so is a file of a newer schema (a plain ZooError, never skipped)."""
    out = []
    for path, explicit in discover(paths):
        try:
            parsed = read(path)
            if explicit and not parsed.rows:
                raise ZooError(f"{str(path)!r} has no rows")
            out.append((parsed, _entries(parsed)))
        except Skipped as exc:
            if explicit:
                raise ZooError(str(exc)) from None
            notes.append(f"skipped {shown(path)}: {exc.reason}")
    return out


def _fingerprint(lat: Latency) -> tuple:
    return (lat.model, lat.setting, f"{lat.median_ms:.12g}")


def collect(paths: Sequence[Path] = (), patterns: Iterable[str] = (), threads: int | None = None) -> Results:
    """Read every result file under `paths` (default results/) and merge them; `patterns` keep matching models;
    `threads` picks the latencies the table and plots show (default: the setting that covers the most models)."""
    if threads is not None and threads < 1:
        raise ZooError(f"threads must be at least 1, got {threads}")
    patterns = [p.lower() for p in patterns]
    notes: list[str] = []
    models: dict[str, dict] = {}
    latencies: dict[tuple, Latency] = {}
    accuracies: dict[tuple, Accuracy] = {}
    machines: dict[str, dict] = {}
    known: set[tuple] = set()  # every latency seen on a known machine, replaced ones too

    def wanted(name: str) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)

    files = _files(list(paths) or [DEFAULT_DIR], notes)
    for parsed, entries in files:
        for entry in (e for e in entries if wanted(e.model)):
            facts = models.setdefault(entry.model, _static(entry.model))
            if entry.facts is not None:
                _merge_profile(facts, entry.facts)
            lat = entry.latency
            if lat is not None:
                machines.setdefault(lat.machine.label, parsed.environment if lat.machine.known else {})
                if lat.machine.known:
                    known.add(_fingerprint(lat))
                key = (lat.model, lat.setting, lat.machine)
                old = latencies.get(key)
                if old is None or SOURCES.index(lat.source) >= SOURCES.index(old.source):
                    latencies[key] = lat  # later files win, but never over a more trusted source
            if entry.bench_flops is not None and facts.get("macs") is None:
                res = lat.setting.resolution if lat is not None else None
                facts.update(flops=entry.bench_flops, macs=entry.bench_flops / 2, macs_resolution=res)
            if entry.accuracy is not None:
                acc = entry.accuracy
                accuracies[(acc.model, acc.crops, acc.path)] = acc
    used = [str(parsed.path) for parsed, _ in files]

    if threads is not None and latencies and not any(lat.setting.threads == threads for lat in latencies.values()):
        counts = sorted({lat.setting.threads for lat in latencies.values() if lat.setting.threads})
        have = ", ".join(str(c) for c in counts) or "no thread counts"
        at = f"{threads} thread{'s' if threads != 1 else ''}" + (" for the models chosen" if patterns else "")
        raise ZooError(f"no latency was measured at {at} (the results have {have})")
    if not models:
        if patterns:
            raise ZooError(f"no model in the results matches {', '.join(repr(p) for p in patterns)}")
        skipped = f" ({len(notes)} file(s) skipped: {'; '.join(notes)})" if notes else ""
        raise ZooError(f"no profile, bench or eval rows in {', '.join(used) or 'the files given'}{skipped}")
    for facts in models.values():
        _count_missing(facts)
    # A CSV and a JSON of the same run hold the same numbers; the CSV lacks the machine. Keep the JSON's copy.
    lats = [lat for lat in latencies.values() if lat.machine.known or _fingerprint(lat) not in known]
    machines = {label: env for label, env in machines.items() if any(lat.machine.label == label for lat in lats)}
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


def _merge_profile(facts: dict, new: dict) -> None:
    """A later profile row's counts and paper figures win; family and year are kept from the first that has them."""
    for key, value in new.items():
        if key not in ("family", "year") or facts.get(key) is None:
            facts[key] = value
