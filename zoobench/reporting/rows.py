"""One result row -> what it says, validated: a model's counts, a latency, an accuracy. Never trusts the row.

Rows are recognised by their keys, not by the file's name, and unknown keys are ignored, so a writer that grows a
column does not break the report:
- profile: `params` and `macs` (profiling rows; results/zoo.csv is one); `time_ms`, when filled, is a quick latency;
- bench: `median_ms` plus a setting key (timing.Measurement: threads, device, dtype, batch, resolution);
- parity: `ours_median_ms` with `threads` and `torchvision` (benchmarks/bench_parity.py): our model's latency;
- eval: `top1` with eval settings (crops, weights, ...) and no paper `accuracy_source`;
- a failed bench measurement: `error` with a `backend` and no `median_ms` (timing.Failure): what a backend could not
  convert or run, for the report's backend table.
A bad value raises reading.Skipped, for the whole file: a file is validated whole before any of it is merged.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

from zoobench.reporting.reading import REPORT_MARKER, ResultFile, Skipped, one_line

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
    # Who ran the model (bench --backend / --precision): an int8 OpenVINO run is another setting than eager fp32.
    backend: str = "eager"
    precision: str = "fp32"

    def describe(self) -> str:
        runtime = [] if (self.backend, self.precision) == ("eager", "fp32") else [f"{self.backend} {self.precision}"]
        parts = [self.device, *runtime, self.dtype, f"batch {self.batch}"]
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
class BenchFailure:
    """A bench row that records why a model could not be measured at a setting (a backend that failed it)."""

    model: str
    setting: Setting
    machine: Machine
    error: str
    path: str


@dataclass(frozen=True)
class Accuracy:
    model: str
    top1: float | None
    top5: float | None
    crops: int | None
    excluded: str | None  # why it cannot stand for ImageNet-1k accuracy (random weights, another class count)
    path: str
    row: dict = field(hash=False, compare=False)
    resolution: int | None = None  # the input size it was measured at (eval's crop_size)
    recipe: str | None = None  # weights and preprocessing, in words, for the report's footnote


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
class Entry:
    """What one row says, validated: facts for the model, a latency, an accuracy (any of them may be missing)."""

    model: str
    facts: dict | None = None  # from a profile row
    latency: Latency | None = None
    accuracy: Accuracy | None = None
    bench_flops: float | None = None  # a bench row's FLOPs per image, for models without a profile row
    failure: BenchFailure | None = None  # a bench row with an error instead of a latency


def entries(parsed: ResultFile) -> list[Entry]:
    """Every recognised row of a file as an entry; `Skipped` when a value is bad or no row is recognised."""
    where = repr(str(parsed.path))
    out = []
    for row in parsed.rows:
        what = kinds(row)
        if not what:
            if _failed(row):
                out.append(Entry(row["model"].strip(), failure=_failure(row, parsed)))
            continue
        entry = Entry(row["model"].strip())
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
            facts[key] = row[key] if isinstance(row[key], int | float) else one_line(row[key], 40)
    res = as_int(row.get("resolution"))
    if res:
        facts["macs_resolution"] = res
    if row.get("accuracy_source") is not None:
        facts.update(
            paper_top1=_number(row, "top1", where),
            paper_top5=_number(row, "top5", where),
            accuracy_source=one_line(row["accuracy_source"]),
        )
    return facts


def _machine(env: dict, row: dict, device: str) -> Machine:
    cpu = row.get("cpu") or env.get("cpu")
    cores = as_int(env.get("logical_cpus") or env.get("cores"))
    gpu = (row.get("gpu") or env.get("gpu")) if device == "cuda" else None
    return Machine(one_line(cpu) if cpu else None, cores, one_line(gpu) if gpu else None)


def _failed(row: dict) -> bool:
    """A bench Failure row: an error, a backend, a setting, and no latency."""
    error = row.get("error")
    return isinstance(error, str) and bool(error.strip()) and "backend" in row and row.get("median_ms") is None


def _failure(row: dict, parsed: ResultFile) -> BenchFailure:
    setting = _setting(row, parsed.environment, "bench")
    machine = _machine(parsed.environment, row, setting.device)
    return BenchFailure(row["model"].strip(), setting, machine, one_line(row["error"], 200), str(parsed.path))


def _setting(row: dict, env: dict, source: str) -> Setting:
    device = one_line(row.get("device") or "cpu", 20)
    threads = as_int(row.get("threads")) or (as_int(env.get("torch_threads")) if source == "profile" else None)
    return Setting(
        device=device,
        dtype=one_line(row.get("dtype") or "fp32", 20),
        batch=as_int(row.get("batch")) or 1,
        resolution=as_int(row.get("resolution")),
        threads=threads,
        backend=one_line(row.get("backend") or "eager", 20),
        precision=one_line(row.get("precision") or "fp32", 20),
    )


def _latency(row: dict, env: dict, path: str, source: str) -> Latency | None:
    """None when the row's latency is blank or NaN: not measured, never made up."""
    ms = _number(row, LATENCY_KEYS[source], repr(path), positive=True)
    if ms is None:
        return None
    setting = _setting(row, env, source)
    device = setting.device
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
    labels = str(row.get("labels") or "imagenet").strip().lower()
    if labels != "imagenet":
        return f"{one_line(labels, 20)} labels, not ImageNet-1k's"
    return None


def _recipe(row: dict) -> str | None:
    """'torchvision IMAGENET1K_V1 weights, 1-crop 224x224 inside shorter side 256, bilinear, antialias'."""
    crop, resize = as_int(row.get("crop_size")), row.get("resize")
    if crop is None or not resize:
        return None
    parts = [f"{one_line(row.get('weights') or 'unnamed', 60)} weights"]
    parts.append(f"{as_int(row.get('crops')) or 1}-crop {crop}x{crop} inside {one_line(resize, 40)}")
    if row.get("interpolation"):
        parts.append(one_line(row["interpolation"], 40))
    return ", ".join(parts)


def _accuracy(row: dict, where: str, path: str) -> Accuracy:
    top1, top5 = _number(row, "top1", where), _number(row, "top5", where)
    for key, value in (("top1", top1), ("top5", top5)):
        if value is not None and value > 100:
            raise Skipped(where, f"{row['model']}: {key} is {value}, not a percentage", "{where}: {reason}")
    resolution = as_int(row.get("crop_size"))
    return Accuracy(
        row["model"].strip(), top1, top5, as_int(row.get("crops")), _excluded(row), path, row, resolution, _recipe(row)
    )
