"""Merge the rows of every result file (reporting.rows) per model, and answer the report's queries on the merge.

A file in a folder that cannot be used is skipped with a note, never half-used; a later file wins over an earlier
one at the same model, setting and machine, but never a less trusted source over a more trusted one.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from zoobench import registry
from zoobench.errors import ZooError
from zoobench.reporting.reading import DEFAULT_DIR, ResultFile, Skipped, discover, read, shown
from zoobench.reporting.rows import SOURCES, Accuracy, BenchFailure, Entry, Latency, Machine, Setting, entries

__all__ = ["SOURCES", "Accuracy", "BenchFailure", "Latency", "Machine", "Results", "Setting", "Shown", "collect"]

DEFAULT_RESOLUTION = 224  # what a latency row without a resolution was measured at (zoobench's default input)


@dataclass(frozen=True)
class Shown:
    """The top-1 / top-5 a model's row and points show, and the input resolution it holds at."""

    top1: float | None
    top5: float | None
    measured: bool  # by `zoobench eval` (else the paper's figure)
    resolution: int
    accuracy: Accuracy | None = None  # the eval result, when measured


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
    failures: list[BenchFailure] = field(default_factory=list)  # bench rows with an error (e.g. a backend failed)

    def best_settings(self) -> dict[str, Setting]:
        """Per machine, the setting that covers the most models (the most trusted source first, then eager fp32, then
        more models, batch 1, more threads); the machine whose setting scores best comes first."""
        groups: dict[tuple[str, Setting], dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for lat in self.latencies:
            if self.threads is None or lat.setting.threads == self.threads:
                groups[(lat.machine.label, lat.setting)][lat.source].add(lat.model)
        best: dict[str, tuple] = {}
        for (label, setting), by_source in groups.items():
            trusted = max(SOURCES.index(s) for s in by_source)
            covered = len(set().union(*by_source.values()))
            eager = (setting.backend, setting.precision) == ("eager", "fp32")  # the zoo's own numbers first
            score = (trusted, eager, covered, setting.batch == 1, setting.threads or 0)
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

    def shown_accuracy(self) -> dict[str, Shown]:
        """Per model with a figure: the measured accuracy where an eval result exists, else the paper's, each with its
        resolution (the eval's crop size; the paper's: the figure's own resolution where it says, else the model's
        native one)."""
        measured = self.chosen_accuracy()
        out: dict[str, Shown] = {}
        for name, facts in self.models.items():
            acc = measured.get(name)
            if acc is not None:
                out[name] = Shown(acc.top1, acc.top5, True, acc.resolution or DEFAULT_RESOLUTION, acc)
            elif facts.get("paper_top1") is not None or facts.get("paper_top5") is not None:
                res = facts.get("paper_resolution") or facts.get("resolution") or DEFAULT_RESOLUTION
                out[name] = Shown(facts.get("paper_top1"), facts.get("paper_top5"), False, res)
        return out

    def latency_at_resolution(self, label: str, setting: Setting, model: str, resolution: int) -> Latency | None:
        """`model`'s latency on machine `label` at `setting` but at `resolution` (a row without one counts as 224)."""
        wanted = replace(setting, resolution=resolution)
        for lat in self.latencies:
            at = replace(lat.setting, resolution=lat.setting.resolution or DEFAULT_RESOLUTION)
            if lat.model == model and lat.machine.label == label and at == wanted:
                return lat
        return None

    def macs_at(self, model: str, resolution: int) -> float | None:
        """MACs per image at `resolution`: the profile's where it was counted there, else counted now as `zoobench
        profile` counts them (meta device, no timing); None for a model outside the zoo or one that cannot be
        counted."""
        facts = self.models.get(model, {})
        if facts.get("macs") is not None and (facts.get("macs_resolution") or DEFAULT_RESOLUTION) == resolution:
            return facts["macs"]
        return _macs(model, resolution)

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
        facts.update(
            paper_top1=spec.accuracy.top1,
            paper_top5=spec.accuracy.top5,
            accuracy_source=spec.accuracy.source,
            paper_resolution=_paper_resolution(spec),
        )
    return facts


@cache
def _macs(model: str, resolution: int) -> float | None:
    spec = _registered(model)
    if spec is None:
        return None
    from zoobench import complexity

    try:
        return complexity.measure(spec, resolution).macs
    except (ZooError, RuntimeError):
        return None


def _paper_resolution(spec: registry.ModelSpec) -> int:
    """The resolution of the paper's figure: the figure's own where it carries one, else the model's native one
    (the registry's `resolution` is the paper's evaluation size)."""
    return getattr(spec.accuracy, "resolution", None) or spec.resolution


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


def _files(paths: Sequence[Path], notes: list[str]) -> list[tuple[ResultFile, list[Entry]]]:
    """Every file read and validated. A file in a folder that cannot be used is skipped with a note; one named
    explicitly is an error, and so is a file of a newer schema (a plain ZooError, never skipped)."""
    out = []
    for path, explicit in discover(paths):
        try:
            parsed = read(path)
            if explicit and not parsed.rows:
                raise ZooError(f"{str(path)!r} has no rows")
            out.append((parsed, entries(parsed)))
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
    failures: dict[tuple, BenchFailure] = {}

    def wanted(name: str) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns)

    files = _files(list(paths) or [DEFAULT_DIR], notes)
    for parsed, found in files:
        for entry in (e for e in found if wanted(e.model)):
            if entry.failure is not None:  # not a row of the zoo table: only the backend table counts it
                failures[(entry.model, entry.failure.setting, entry.failure.machine)] = entry.failure
                continue
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
        failures=[f for f in failures.values() if (f.model, f.setting, f.machine) not in latencies],
    )


def _merge_profile(facts: dict, new: dict) -> None:
    """A later profile row's counts and paper figures win; family and year are kept from the first that has them."""
    for key, value in new.items():
        if key not in ("family", "year") or facts.get(key) is None:
            facts[key] = value
