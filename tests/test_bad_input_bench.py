"""Bad input to `zoobench bench`: broken user models, impossible settings, hostile baselines and outputs, resuming.

Models come from tests/benchnets.py (microseconds per call at 32x32); almost every case is refused before anything
is measured, and the few that build a model run in this process with a small budget.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases

from zoobench import timing

FAST = ["-r", "32", "-t", "1", "--max-time", "0.2", "--in-process"]
TINY = ["bench", "benchnets:tiny", *FAST]


def _write(name: str, content: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_text(content)

    return setup


def _bench_doc(schema: str | None = "zoobench/bench/1", model: str = "benchnets:tiny", max_time: float = 0.2) -> str:
    """A bench result as `bench -o` writes it, at FAST's settings (or another budget)."""
    config = timing.BenchConfig(resolution=32, threads=1, policy=timing.Policy(max_time=max_time))
    row = {"model": model, "threads": 1, "median_ms": 1.0, "samples_ms": [1.0, 1.1, 0.9]}
    doc = {"schema": schema, "config": config.to_dict(), "environment": {}, "rows": [row]}
    return json.dumps({k: v for k, v in doc.items() if v is not None})


def _deep(name: str):
    return _write(name, "[" * 100_000 + "]" * 100_000)


def _fifo(name: str):
    def setup(tmp: Path) -> None:
        os.mkfifo(tmp / name)

    return setup


def _symlink(name: str):
    def setup(tmp: Path) -> None:
        (tmp / "real.json").write_text("{}")
        (tmp / name).symlink_to(tmp / "real.json")

    return setup


TABLE = [
    # D2: a user builder or forward that fails is one line naming the model (in a batch, see test_bench.py).
    Case(
        "D2-bench-builder-raises", ["bench", "benchnets:raises", *FAST], r"benchnets:raises.*ValueError: this builder"
    ),
    Case("D2-bench-builder-returns-42", ["bench", "benchnets:returns_42", *FAST], r"benchnets:returns_42.*int, not a"),
    Case("D2-bench-builder-returns-none", ["bench", "benchnets:returns_none", *FAST], r"benchnets:returns_none.*None"),
    Case("D2-bench-builder-needs-args", ["bench", "benchnets:needs_args", *FAST], r"benchnets:needs_args.*'depth'"),
    Case(
        "D2-bench-forward-typeerror",
        ["bench", "benchnets:forward_typeerror", *FAST],
        r"^zoobench: error: benchnets:forward_typeerror: forward: TypeError: forward\(\) got an unexpected tensor$",
    ),
    Case(
        "D2-bench-forward-typeerror-isolated",
        ["bench", "benchnets:forward_typeerror", *FAST[:-1]],
        r"^zoobench: error: benchnets:forward_typeerror: forward: TypeError: forward\(\) got an unexpected tensor$",
    ),
    # D3: building the model and its input is guarded; -b 100 makes the allocation impossible on any machine.
    Case(
        "D3-bench-impossible-allocation",
        ["bench", "resnet18", "--in-process", "--resolution", "100000", "-t", "1", "-b", "100"],
        r"^zoobench: error: resnet18: the model and its 100x3x100000x100000 input on cpu: RuntimeError: .*allocate",
    ),
    Case("D3-bench-seed-too-big", [*TINY, "--seed", "100000000000000000000000"], r"--seed must be in 0 \.\. 2\*\*63"),
    Case("D3-bench-seed-negative", [*TINY, "--seed", "-1"], r"--seed must be in 0 \.\. 2\*\*63 - 1, got -1$"),
    # D4: a hostile baseline (or file to resume) is one line, not a RecursionError.
    Case(
        "D4-bench-compare-deeply-nested",
        [*TINY, "--compare", "{tmp}/deep.json"],
        r"baseline '.*deep\.json' is not a bench result: its JSON is nested too deep",
        setup=_deep("deep.json"),
    ),
    Case(
        "D4-bench-resume-deeply-nested",
        [*TINY, "-o", "{tmp}/deep.json", "--resume"],
        r"'.*deep\.json' is not a bench result: its JSON is nested too deep",
        setup=_deep("deep.json"),
    ),
    # Settings, named by their flags.
    Case("bench-threads-zero", ["bench", "benchnets:tiny", "-t", "0"], r"--threads counts must be at least 1"),
    Case("bench-threads-word", ["bench", "benchnets:tiny", "-t", "1,x"], r"--threads takes a count"),
    Case("bench-max-time-zero", ["bench", "benchnets:tiny", "--max-time", "0"], r"--max-time must be a positive"),
    Case("bench-max-time-nan", ["bench", "benchnets:tiny", "--max-time", "nan"], r"--max-time must be a positive"),
    Case("bench-batch-zero", ["bench", "benchnets:tiny", "-b", "0"], r"--batch sizes must be at least 1, got '0'$"),
    Case("bench-batch-word", ["bench", "benchnets:tiny", "-b", "1,x"], r"--batch takes a count or a comma-separated"),
    Case("bench-batch-empty-item", ["bench", "benchnets:tiny", "-b", "1,,8"], r"--batch takes a count or a comma"),
    Case("bench-batch-negative", ["bench", "benchnets:tiny", "-b", "8,-1"], r"--batch sizes must be at least 1"),
    Case("bench-mode", ["bench", "benchnets:tiny", "--mode", "fast"], r"unknown mode 'fast'; choose one of latency"),
    Case("bench-paired-batch-sweep", [*TINY, "benchnets:other", "--paired", "-b", "1,8"], r"--paired .*--batch sweep"),
    Case("bench-paired-thread-sweep", [*TINY, "--paired", "--dtype", "fp32,bf16", "-t", "1,2"], r"--threads sweep"),
    Case("bench-dtype-list-int4", [*TINY, "--dtype", "fp32,int4"], r"^zoobench: error: unknown dtype 'int4'; choo"),
    Case("bench-layout-typo", [*TINY, "--layout", "nhcw"], r"^zoobench: error: --layout 'nhcw' is not one of nch"),
    Case("bench-layout-list-typo", [*TINY, "--layout", "nchw,NHWC"], r"--layout 'NHWC' is not one of nchw, nhwc"),
    Case("bench-layout-and-channels-last", [*TINY, "--layout", "nhwc", "--channels-last"], r"--channels-last is --la"),
    Case(
        "bench-paired-layout-two-models",
        [*TINY, "benchnets:other", "--paired", "--layout", "nchw,nhwc"],
        r"--paired with a --layout sweep takes one model, got 2$",
    ),
    Case(
        "bench-paired-layout-and-dtype",
        [*TINY, "--paired", "--layout", "nchw,nhwc", "--dtype", "fp32,bf16"],
        r"--paired sweeps one setting at a time: one of --dtype, --backend or --layout, not two$",
    ),
    Case("bench-dtype-list-unknown", [*TINY, "--dtype", "fp32,fp8"], r"unknown dtype 'fp8'; choose one of fp32"),
    Case(
        "bench-paired-sweep-two-models",
        [*TINY, "benchnets:other", "--paired", "--dtype", "fp32,bf16"],
        r"--paired with a --dtype sweep takes one model, got 2$",
    ),
    Case(
        "bench-paired-two-sweeps",
        [*TINY, "--paired", "--dtype", "fp32,bf16", "--backend", "eager,onnxruntime"],
        r"--paired sweeps one setting at a time",
    ),
    Case("bench-resolution-zero", ["bench", "benchnets:tiny", "-r", "0"], r"--resolution must be a positive"),
    Case("bench-dtype", ["bench", "benchnets:tiny", "--dtype", "fp8"], r"unknown dtype 'fp8'; choose one of fp32"),
    Case("bench-device", ["bench", "benchnets:tiny", "--device", "tpu"], r"unknown device 'tpu'; choose one of cpu"),
    Case("bench-processes-zero", [*TINY, "--processes", "0"], r"--processes must be at least 1, got 0$"),
    Case(
        "bench-rounds-below-processes",
        [*TINY, "--rounds", "1", "--processes", "2"],
        r"--rounds must be at least processes \(2\), got 1$",
    ),
    Case("bench-paired-one-model", [*TINY, "--paired"], r"--paired needs at least two models, or one model and a"),
    Case(
        "bench-paired-with-compare",
        ["bench", "benchnets:tiny", "benchnets:other", *FAST, "--paired", "--compare", "{tmp}/base.json"],
        r"--paired compares the models with each other",
    ),
    Case("bench-tolerance", ["bench", "benchnets:tiny", "--tolerance", "-1"], r"--tolerance must be a non-negative"),
    # --compare files.
    Case("bench-compare-missing", [*TINY, "--compare", "{tmp}/no.json"], r"cannot read baseline .*: no such file$"),
    Case(
        "bench-compare-corrupt",
        [*TINY, "--compare", "{tmp}/base.json"],
        r"baseline '.*base\.json' is not JSON",
        setup=_write("base.json", '{"rows": [1, '),
    ),
    Case(
        "bench-compare-profile-result",
        [*TINY, "--compare", "{tmp}/zoo.json"],
        r"baseline '.*zoo\.json' is a profile result, not a bench result$",
        setup=_write("zoo.json", json.dumps({"schema": "zoobench/profile/1", "rows": [{"model": "resnet18"}]})),
    ),
    Case(
        "bench-compare-other-models",
        [*TINY, "--compare", "{tmp}/base.json"],
        r"baseline '.*base\.json' has none of the selected models$",
        setup=_write("base.json", _bench_doc(model="resnet50")),
    ),
    Case(
        "bench-compare-newer-schema",
        [*TINY, "--compare", "{tmp}/base.json"],
        r"written by a newer zoobench \(schema zoobench/bench/99\)",
        setup=_write("base.json", _bench_doc(schema="zoobench/bench/99")),
    ),
    Case(
        "bench-compare-fifo",
        [*TINY, "--compare", "{tmp}/base.json"],
        r"cannot read baseline .*: not a regular file$",
        setup=_fifo("base.json"),
    ),
    # -o targets, refused before anything is measured.
    Case("bench-output-extension", [*TINY, "-o", "{tmp}/out.xml"], r"cannot tell the format of .*out\.xml"),
    Case("bench-output-no-folder", [*TINY, "-o", "{tmp}/no/out.json"], r"its folder does not exist$"),
    Case("bench-output-fifo", [*TINY, "-o", "{tmp}/out.json"], r"it is a FIFO", setup=_fifo("out.json")),
    Case("bench-output-symlink", [*TINY, "-o", "{tmp}/out.json"], r"it is a symlink", setup=_symlink("out.json")),
    # --resume.
    Case("bench-resume-without-output", [*TINY, "--resume"], r"--resume needs -o FILE\.json"),
    Case("bench-resume-markdown", [*TINY, "--resume", "-o", "{tmp}/out.md"], r"--resume needs -o FILE\.json"),
    Case(
        "bench-resume-other-settings",
        [*TINY, "--resume", "-o", "{tmp}/out.json"],
        r"cannot resume '.*out\.json': it was measured with other settings \(policy\.max_time 6\.0 -> 0\.2\)",
        setup=_write("out.json", _bench_doc(max_time=6.0)),
    ),
    Case(
        "bench-resume-corrupt",
        [*TINY, "--resume", "-o", "{tmp}/out.json"],
        r"'.*out\.json' is not JSON",
        setup=_write("out.json", "not json"),
    ),
    Case(
        "bench-resume-newer-schema",
        [*TINY, "--resume", "-o", "{tmp}/out.json"],
        r"written by a newer zoobench",
        setup=_write("out.json", _bench_doc(schema="zoobench/bench/2")),
    ),
    Case(
        "bench-resume-no-config",
        [*TINY, "--resume", "-o", "{tmp}/out.json"],
        r"cannot resume '.*out\.json': it does not record its settings",
        setup=_write("out.json", json.dumps({"rows": []})),
    ),
]


@cases(TABLE)
def test_bench_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = assert_bad_input(case, tmp_path, capsys)
    assert out == ""
