"""benchmarks/bench_backends.py's summary, from rows in the shape `zoobench bench --backend` writes (no timing):
per backend and thread count converted / failed / not equivalent, per-model speed-ups and their spread."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_backends.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("bench_backends_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(model: str, threads: int, backend: str, median: float | None, **extra) -> dict:
    return {"model": model, "threads": threads, "backend": backend, "precision": "fp32", "median_ms": median, **extra}


ROWS = [
    row("a", 1, "eager", 40.0),
    row("a", 1, "onnxruntime", 20.0, equivalent=True, runtime_settings={"intra_op_num_threads": 1}),
    row("b", 1, "eager", 30.0),
    row("b", 1, "onnxruntime", 30.0, equivalent=False),
    row("c", 1, "eager", 10.0),
    row("c", 1, "onnxruntime", None, error="onnxruntime: onnx export: no symbolic"),
    row("a", 2, "eager", 22.0),
    row("a", 2, "onnxruntime", 11.0, equivalent=True),
]


def test_counts_speedups_and_spread(script) -> None:
    summary = script.summarise(ROWS)
    groups = {(g["backend"], g["threads"]): g for g in summary["by_backend"]}
    ort = groups[("onnxruntime", 1)]
    assert (ort["converted"], ort["failed"], ort["not_equivalent"]) == (2, 1, 1)
    assert ort["first_error"] == "c: onnxruntime: onnx export: no symbolic"
    assert ort["runtime_settings"] == {"intra_op_num_threads": 1}
    assert ort["speedup"] == pytest.approx({"n": 2, "median": 1.5, "p10": 1.1, "p90": 1.9, "min": 1.0, "max": 2.0})
    assert groups[("eager", 1)]["speedup"] is None and groups[("eager", 1)]["converted"] == 3
    assert summary["speedup_per_model"]["a"] == {"1": {"onnxruntime fp32": 2.0}, "2": {"onnxruntime fp32": 2.0}}
    assert "c" not in summary["speedup_per_model"]
    assert [(g["threads"], g["backend"]) for g in summary["by_backend"]] == [
        (1, "eager"), (1, "onnxruntime"), (2, "eager"), (2, "onnxruntime")]  # fmt: skip


def test_markdown_summary(script) -> None:
    text = script.markdown(script.summarise(ROWS))
    line = next(x for x in text.splitlines() if x.startswith("| onnxruntime fp32 | 1 |"))
    assert "| 2 | 1 | 1 | 1.50× | 1.10–1.90× | 1.00–2.00× |" in line
    assert "- onnxruntime fp32, 1 thread(s), first failure: c: onnxruntime: onnx export: no symbolic" in text
