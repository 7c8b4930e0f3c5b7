"""`zoobench.bench(..., backend=, precision=)` gives the rows `zoobench bench --backend … --precision …` writes:
the same measurements (model, threads, backend, precision), the same columns, the same conversion checks."""

from __future__ import annotations

import json

import pytest
from clihelp import run_cli
from test_backends_nets import QUICK, RES

import zoobench
from zoobench.errors import ZooError
from zoobench.timing import BenchConfig

MODEL = "test_backends_nets:plain"
# Everything of a row that does not depend on the clock: the setting and the equivalence with eager.
STABLE = ("model", "device", "dtype", "batch", "resolution", "threads", "backend", "precision", "isolation", "seed",
          "calibration", "quant_method", "top1_agree", "top5_agree", "equivalent", "tolerance",
          "compared_images")  # fmt: skip


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOBENCH_CACHE", str(tmp_path / "cache"))  # never the user's ~/.cache


@pytest.mark.parametrize(("backends", "precision"), [(["eager", "onnxruntime"], "fp32"), (["onnxruntime"], "int8")])
def test_api_backend_sweep_gives_the_cli_rows(capsys: pytest.CaptureFixture[str], backends, precision) -> None:
    policy = ["--max-time", str(QUICK.max_time), "--rounds", "1", "--processes", "1"]
    code, out, err = run_cli(capsys, "bench", MODEL, "-r", str(RES), "-t", "1", *policy, "--in-process",
                             "--backend", ",".join(backends), "--precision", precision, "-f", "json")  # fmt: skip
    assert code == 0, err
    cli = json.loads(out)["rows"]
    config = BenchConfig(resolution=RES, policy=QUICK)
    api = zoobench.bench(MODEL, config, threads=[1], backend=backends, precision=precision, isolate=False)
    api_rows = json.loads(json.dumps([m.to_dict() for m in api]))
    assert [r.keys() for r in api_rows] == [r.keys() for r in cli]
    assert [{k: r[k] for k in STABLE} for r in api_rows] == [{k: r[k] for k in STABLE} for r in cli]
    assert [r["backend"] for r in api_rows] == backends and {r["precision"] for r in api_rows} == {precision}
    for r in api_rows:
        assert r["median_ms"] > 0 and (r["backend"] == "eager") == (r["max_abs_diff"] is None)


def test_api_backends_are_checked_before_any_work() -> None:
    with pytest.raises(ZooError, match="backend must be one of"):
        zoobench.bench(MODEL, backend=["eager", "tensorrt"])
    with pytest.raises(ZooError, match="precision"):
        zoobench.bench(MODEL, backend="onnxruntime", precision="int3")
