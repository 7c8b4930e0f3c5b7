"""zoobench.backends: every backend's outputs agree with eager on every kind of zoo model, int8's agreement is
recorded, a broken conversion is flagged, the runtimes' threads are what was asked, the cache is reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from test_backends_nets import KINDS, RES, model_and_input, target

from zoobench import backends
from zoobench.backends import equivalence, int8, onnx_export
from zoobench.errors import ZooError

RUNTIMES = ["onnxruntime", "openvino"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", RUNTIMES)
def test_each_kind_agrees_with_eager_in_fp32(tmp_path, kind, backend):
    model, x = model_and_input(kind)
    p = backends.prepare(kind, model, x, target(tmp_path, backend))
    row = p.report()
    assert row["equivalent"] is True, row
    assert row["max_abs_diff"] < 1e-3 and row["top1_agree"] == 1.0 and row["tolerance"] == 1e-3
    assert row["convert_s"] > 0 and row["first_call_s"] > 0 and row["cache_hit"] is False
    with torch.inference_mode():
        assert torch.allclose(p.predict(x), model(x), atol=1e-4)


def test_compile_agrees_with_eager(tmp_path):
    model, x = model_and_input("se_silu")
    row = backends.prepare("se_silu", model, x, target(tmp_path, "compile")).report()
    assert row["equivalent"] is True and row["max_abs_diff"] < 1e-5
    assert row["runtime_settings"]["intra_op_threads"] == torch.get_num_threads()


@pytest.mark.parametrize("backend", RUNTIMES)
def test_int8_agreement_is_recorded_with_its_named_calibration(tmp_path, backend):
    model, x = model_and_input("plain")
    row = backends.prepare("plain", model, x, target(tmp_path, backend, "int8")).report()
    assert row["precision"] == "int8" and row["calibration"] == "random:seed=0:n=32"
    assert "quantize_static (QDQ, per-channel" in row["quant_method"]
    assert row["tolerance"] == equivalence.TOLERANCES["int8"]
    assert 0 <= row["top1_agree"] <= 1 and 0 <= row["top5_agree"] <= 1 and row["max_abs_diff"] > 0
    assert row["equivalent"] is True, row  # a plain conv net at 32 px quantizes well within the tolerance
    if backend == "openvino":  # OpenVINO ran int8 kernels, not a dequantized fp32 graph
        assert {"u8", "i8"} & set(row["runtime_settings"]["layer_precisions"])


def test_openvino_runs_bf16_and_fp16_on_this_cpu_or_says_it_cannot(tmp_path):
    model, x = model_and_input("plain")
    for precision, hint in (("bf16", "bf16"), ("fp16", "f16")):
        try:
            row = backends.prepare("plain", model, x, target(tmp_path, "openvino", precision)).report()
        except ZooError as exc:
            assert f"precision {precision} is not supported on this CPU" in str(exc)
            continue
        assert row["runtime_settings"]["INFERENCE_PRECISION_HINT"] == hint and row["equivalent"] is True


def test_onnxruntime_bf16_is_refused_in_one_line(tmp_path):
    model, x = model_and_input("plain")
    with pytest.raises(ZooError, match=r"^plain: onnxruntime: precision bf16 is not supported"):
        backends.prepare("plain", model, x, target(tmp_path, "onnxruntime", "bf16"))


def test_onnxruntime_fp16_agrees_within_its_tolerance(tmp_path):
    model, x = model_and_input("depthwise")
    row = backends.prepare("depthwise", model, x, target(tmp_path, "onnxruntime", "fp16")).report()
    assert row["equivalent"] is True and row["tolerance"] == equivalence.TOLERANCES["fp16"]


def test_the_threads_are_what_was_asked(tmp_path):
    model, x = model_and_input("plain")
    two = {"cache_dir": str(tmp_path / "c"), "threads": 2}
    ort = backends.prepare("plain", model, x, backends.Target("onnxruntime", **two)).runtime_settings
    assert (ort["intra_op_num_threads"], ort["inter_op_num_threads"]) == (2, 2)
    assert ort["execution_mode"] == "ORT_SEQUENTIAL" and ort["providers"] == ["CPUExecutionProvider"]
    # OpenVINO sizes its pool from the CPUs this process could use when it first loaded (an earlier test may have
    # pinned it to one): a fresh interpreter, as every bench worker is.
    code = (
        "import json, torch; from zoobench import backends; from test_backends_nets import model_and_input; "
        "m, x = model_and_input('plain'); p = backends.prepare('plain', m, x, "
        f"backends.Target('openvino', cache_dir={str(tmp_path / 'c')!r}, threads=2)); "
        "print(json.dumps([p.runtime_settings, p.warnings]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    ov, warnings = json.loads(done.stdout.strip().splitlines()[-1])
    assert (ov["INFERENCE_NUM_THREADS"], ov["NUM_STREAMS"], ov["PERFORMANCE_HINT"]) == (2, 1, "LATENCY")
    assert ov["INFERENCE_PRECISION_HINT"] == "f32"  # asked for explicitly: an AMX CPU would default to bf16
    assert warnings == []


def test_the_second_prepare_reuses_the_export(tmp_path, monkeypatch):
    calls = []
    real = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    model, x = model_and_input("grouped")
    first = backends.prepare("grouped", model, x, target(tmp_path, "onnxruntime"))
    second = backends.prepare("grouped", model, x, target(tmp_path, "openvino"))  # the same file, another runtime
    third = backends.prepare("grouped", model, x, target(tmp_path, "onnxruntime"))
    assert len(calls) == 1
    assert (first.cache_hit, second.cache_hit, third.cache_hit) == (False, True, True)
    assert first.artifact == second.artifact == third.artifact
    backends.prepare("grouped", model, x, target(tmp_path, "onnxruntime", "int8"))  # its fp32 source is cached too
    assert len(calls) == 1
    other, _ = model_and_input("grouped", seed=1)  # other weights: another key, another export
    assert not backends.prepare("grouped", other, x, target(tmp_path, "onnxruntime")).cache_hit
    assert len(calls) == 2
    assert not list((tmp_path / "cache" / "onnx").glob(".*.tmp"))  # nothing half-written left behind


def test_a_conversion_that_changes_the_model_is_flagged(tmp_path, monkeypatch):
    from zoobench.backends import onnxruntime as ort_backend

    real = ort_backend.convert

    def broken(*args):
        p = real(*args)
        predict = p.predict
        p.predict = lambda b: predict(b) + 1.0  # what a bad export would do: every logit off
        return p

    monkeypatch.setattr(ort_backend, "convert", broken)
    model, x = model_and_input("plain")
    p = backends.prepare("plain", model, x, target(tmp_path, "onnxruntime"))
    assert p.equivalence["equivalent"] is False and p.equivalence["max_abs_diff"] == pytest.approx(1.0, abs=1e-3)
    assert len(p.warnings) == 1 and "does not match eager fp32" in p.warnings[0]


def test_an_unexportable_model_is_one_line_naming_the_runtime(tmp_path):
    from test_backends_nets import unexportable

    model = unexportable().eval()
    with pytest.raises(ZooError) as info:
        backends.prepare("bad", model, torch.randn(1, 3, RES, RES), target(tmp_path, "onnxruntime"))
    text = str(info.value)
    assert text.startswith("bad: onnxruntime: onnx export: ") and "svdvals" in text and "\n" not in text


@pytest.mark.parametrize("backend,module,extra", [("onnxruntime", "onnxruntime", "onnx"),
                                                  ("openvino", "openvino", "openvino")])  # fmt: skip
def test_a_missing_runtime_is_one_line_naming_the_extra(monkeypatch, backend, module, extra):
    monkeypatch.setitem(__import__("sys").modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(ZooError) as info:
        backends.check(backend, "fp32")
    assert str(info.value) == (f"backend {backend} needs {module}, which is not installed: "
                               f"pip install 'zoobench[{extra}]'")  # fmt: skip


def test_calibration_names_and_folders(tmp_path):
    from PIL import Image

    assert int8.parse_calibration(None).name == "random:seed=0:n=32"
    assert int8.parse_calibration("random:seed=3:n=4").name == "random:seed=3:n=4"
    (tmp_path / "a").mkdir()
    for i in range(6):
        Image.new("RGB", (40, 30), (10 * i, 0, 0)).save(tmp_path / "a" / f"{i}.png")
    cal = int8.parse_calibration(f"dir:{tmp_path}:n=3")
    assert cal.name == f"dir:{tmp_path}:n=3" and len(int8.batches(cal, RES)) == 3
    assert int8.parse_calibration(str(tmp_path)).n == 6  # a bare folder: all its images, up to 500
    for bad in ("random:seed=x", "random:n=0", f"{tmp_path}/none", "dir:"):
        with pytest.raises(ZooError, match="calibration"):
            int8.parse_calibration(bad)


def test_int8_from_a_folder_of_images_is_cached_per_calibration(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(4):
        Image.new("RGB", (48, 40), (30 * i, 60, 90)).save(tmp_path / "imgs" / f"{i}.jpg")
    model, x = model_and_input("plain")
    a = backends.prepare("plain", model, x, target(tmp_path, "onnxruntime", "int8", calibration=str(tmp_path / "imgs")))
    b = backends.prepare("plain", model, x, target(tmp_path, "onnxruntime", "int8"))
    assert a.calibration == f"dir:{(tmp_path / 'imgs').resolve()}:n=4" and a.artifact != b.artifact


def test_the_fingerprint_follows_the_weights():
    model, _ = model_and_input("plain")
    before = onnx_export.fingerprint(model)
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] += 1
    assert onnx_export.fingerprint(model) != before
