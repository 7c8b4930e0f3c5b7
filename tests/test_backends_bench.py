"""`bench --backend`: a backend sweep measured by the same engine, its rows carrying the conversion, the runtime's
settings and the equivalence; a model a backend cannot take is a row with its error and the sweep goes on."""

from __future__ import annotations

import json

import pytest
from clihelp import run_cli
from test_backends_nets import QUICK, RES

from zoobench import registry, timing
from zoobench.timing import BenchConfig

ARGS = ["-r", str(RES), "-t", "1", "--max-time", "0.3", "--rounds", "1", "--processes", "1"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOBENCH_CACHE", str(tmp_path / "cache"))  # never the user's ~/.cache


def _bench(models: list[str], backends: list[str], **config) -> list:
    specs = [registry.get_spec(m) for m in models]
    cfg = BenchConfig(resolution=RES, threads=1, policy=QUICK, **config)
    return timing.bench(specs, cfg, backends=backends, isolate=False, keep_going=True)


def test_a_backend_sweep_is_one_row_per_backend_with_its_conversion():
    eager, ort, ov = _bench(["test_backends_nets:concat"], ["eager", "onnxruntime", "openvino"])
    assert [m.backend for m in (eager, ort, ov)] == ["eager", "onnxruntime", "openvino"]
    assert eager.convert_s is None and eager.equivalent is None  # nothing converted, nothing to check
    for m in (ort, ov):
        assert m.median_ms > 0 and m.convert_s > 0 and m.first_call_s > 0
        assert m.equivalent is True and m.top1_agree == 1.0 and m.max_abs_diff < 1e-3
    assert ort.runtime_settings["intra_op_num_threads"] == 1
    assert ov.runtime_settings["INFERENCE_NUM_THREADS"] == 1
    assert ort.cache_hit is False and ov.cache_hit is True  # openvino read the file onnxruntime's export left
    rows = timing.merge_rows([], [eager, ort, ov])
    assert len(rows) == 3  # one model and thread count, three backends: three rows, none merged away


def test_a_model_a_backend_cannot_take_is_recorded_and_the_next_is_measured():
    bad, good = _bench(["test_backends_nets:unexportable", "test_backends_nets:plain"], ["onnxruntime"])
    assert isinstance(bad, timing.Failure) and bad.backend == "onnxruntime"
    assert bad.error.startswith("onnxruntime: onnx export: ") and "svdvals" in bad.error
    assert isinstance(good, timing.Measurement) and good.equivalent is True


def test_the_cli_sweep_writes_the_backend_columns_and_what_the_runtimes_reported(capsys, tmp_path):
    code, out, err = run_cli(capsys, "bench", "test_backends_nets:plain", "--backend", "eager,onnxruntime", *ARGS,
                             "--in-process", "--cache-dir", str(tmp_path / "c"), "-f", "md")  # fmt: skip
    assert code == 0, err
    assert "| Backend " in out and "| onnxruntime " in out and "| Equivalent " in out
    assert "As the runtimes reported them: onnxruntime: intra_op_num_threads 1" in out
    assert list((tmp_path / "c" / "onnx").glob("*.onnx"))  # --cache-dir, not the default


def test_the_cli_records_a_failing_model_and_exits_2_at_the_end(capsys):
    code, out, err = run_cli(capsys, "bench", "test_backends_nets:unexportable", "test_backends_nets:plain",
                             "--backend", "onnxruntime", *ARGS, "--in-process", "-f", "json")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    rows = json.loads(out)["rows"]
    assert "svdvals" in rows[0]["error"] and rows[1]["equivalent"] is True
    assert err.strip().splitlines()[-1].startswith("zoobench: error:")


def test_a_broken_conversion_is_flagged_in_the_row_and_warned_about(capsys, monkeypatch):
    from zoobench.backends import onnxruntime as ort_backend

    real = ort_backend.convert

    def broken(*args):
        p = real(*args)
        predict = p.predict
        p.predict = lambda b: predict(b) * 2  # a silently changed model
        return p

    monkeypatch.setattr(ort_backend, "convert", broken)
    code, out, err = run_cli(capsys, "bench", "test_backends_nets:plain", "--backend", "onnxruntime", *ARGS,
                             "--in-process", "-f", "json")  # fmt: skip
    assert code == 0, err
    row = json.loads(out)["rows"][0]
    assert row["equivalent"] is False and row["top1_agree"] <= 1
    assert any(w.startswith("onnxruntime fp32 does not match eager fp32") for w in row["warnings"])
    assert "zoobench: warning: test_backends_nets:plain: onnxruntime fp32 does not match eager fp32" in err


def test_the_worker_process_carries_the_backend_fields(tmp_path):
    spec = registry.get_spec("test_backends_nets:depthwise")
    cfg = BenchConfig(resolution=RES, threads=1, policy=QUICK, backend="openvino", precision="int8",
                      cache_dir=str(tmp_path / "c"))  # fmt: skip
    m = timing.measure(spec, cfg, isolate=True)
    assert (m.backend, m.precision, m.calibration) == ("openvino", "int8", "random:seed=0:n=32")
    assert m.isolation == "subprocess" and m.convert_s > 0 and m.equivalent is not None
    assert m.runtime_settings["INFERENCE_NUM_THREADS"] == 1
    assert timing.Measurement.from_dict(m.to_dict()) == m


def test_a_file_saved_before_backends_existed_still_resumes(tmp_path):
    saved = BenchConfig(resolution=RES, threads=1, policy=QUICK).to_dict()
    for key in ("backend", "precision", "calibration", "cache_dir"):
        del saved[key]  # what an older zoobench wrote
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"rows": [{"model": "x", "threads": 1}], "config": saved}))
    assert timing.load_previous(path, BenchConfig(resolution=RES, threads=1, policy=QUICK)) == [
        {"model": "x", "threads": 1}
    ]
    with pytest.raises(Exception, match="backend eager -> onnxruntime"):
        timing.load_previous(path, BenchConfig(resolution=RES, threads=1, policy=QUICK, backend="onnxruntime"))
