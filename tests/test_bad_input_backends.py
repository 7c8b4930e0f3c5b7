"""Bad input of `bench --backend` / `eval --backend`: one line, exit 2, nothing touched (tests/badinput.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases

M = ["test_backends_nets:plain", "-r", "32", "-t", "1", "--max-time", "0.3", "--rounds", "1", "--processes", "1",
     "--in-process", "--cache-dir", "{tmp}/cache"]  # fmt: skip
E = ["eval", "evalfixtures:pixel_model", "--data", "{tmp}", "--workers", "0", "--cache-dir", "{tmp}/cache"]


def _file(name: str):
    return lambda tmp: Path(tmp, name).write_text("not a folder")


def _empty_dir(tmp: Path) -> None:
    (tmp / "empty").mkdir()
    (tmp / "empty" / "notes.txt").write_text("no images here")


TABLE = [
    Case(
        "unknown-backend",
        ["bench", *M, "--backend", "tensorrt"],
        r"^zoobench: error: --backend must be one of "
        r"eager, compile, onnxruntime, openvino .*'tensorrt'",
    ),  # fmt: skip
    Case("unknown-backend-in-a-sweep", ["bench", *M, "--backend", "eager,onnx"], r"--backend must be .*'onnx'"),
    Case(
        "bad-precision",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "int4"],
        r"--precision must be one of fp32, int8, bf16, fp16, not 'int4'",
    ),  # fmt: skip
    Case("int8-on-eager", ["bench", *M, "--precision", "int8"], r"--precision int8 needs a backend that quantizes"),
    Case(
        "int8-on-eager-in-a-sweep",
        ["bench", *M, "--backend", "onnxruntime,eager", "--precision", "int8"],
        r"int8 needs a backend that quantizes .*not eager",
    ),  # fmt: skip
    Case("int8-on-compile", ["bench", *M, "--backend", "compile", "--precision", "int8"], r"not compile$"),
    Case(
        "calibration-missing-dir",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "{tmp}/nope"],
        r"calibration folder '.*nope' does not exist",
    ),  # fmt: skip
    Case(
        "calibration-is-a-file",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "{tmp}/f"],
        r"calibration folder .* is not a folder",
        setup=_file("f"),
    ),  # fmt: skip
    Case(
        "calibration-without-images",
        ["bench", *M, "--backend", "openvino", "--precision", "int8", "--calibration", "{tmp}/empty"],
        r"holds no images",
        setup=_empty_dir,
    ),  # fmt: skip
    Case(
        "calibration-bad-name",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "random:seed=x"],
        r"calibration takes random:seed=S:n=N",
    ),  # fmt: skip
    Case(
        "calibration-zero-images",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "random:n=0"],
        r"at least one image",
    ),  # fmt: skip
    Case(
        "calibration-without-int8",
        ["bench", *M, "--backend", "onnxruntime", "--calibration", "random"],
        r"--calibration is for precision int8, not fp32",
    ),  # fmt: skip
    Case(
        "cache-dir-is-a-file",
        ["bench", *M[:-1], "{tmp}/c", "--backend", "onnxruntime"],
        r"--cache-dir '.*c' is not a folder",
        setup=_file("c"),
    ),  # fmt: skip
    Case(
        "compile-flag-with-onnxruntime",
        ["bench", *M, "--compile", "--backend", "onnxruntime"],
        r"compile is the backend compile",
    ),  # fmt: skip
    Case(
        "dtype-with-a-runtime",
        ["bench", *M, "--dtype", "bf16", "--backend", "openvino"],
        r"dtype bf16 is torch's autocast: backend openvino takes precision bf16 instead",
    ),  # fmt: skip
    Case(
        "precision-contradicts-dtype",
        ["bench", *M, "--dtype", "bf16", "--precision", "fp16"],
        r"precision fp16 contradicts dtype bf16",
    ),  # fmt: skip
    Case(
        "paired-with-a-backend-sweep",
        ["bench", *M, "test_backends_nets:lrn", "--paired", "--backend", "eager,onnxruntime"],
        r"--paired .* --backend sweep",
    ),  # fmt: skip
    Case(
        "unexportable-model",
        ["bench", "test_backends_nets:unexportable", *M[1:], "--backend", "onnxruntime"],
        r"^zoobench: error: test_backends_nets:unexportable: onnxruntime: onnx export: .*svdvals",
        may_change=["cache"],
    ),  # fmt: skip
    Case(
        "bf16-on-onnxruntime",
        ["bench", *M, "--backend", "onnxruntime", "--precision", "bf16"],
        r"onnxruntime: precision bf16 is not supported: .*use openvino",
        may_change=["cache"],
    ),  # fmt: skip
    Case("eval-unknown-backend", [*E, "--backend", "tvm"], r"--backend must be one of .*'tvm'"),
    Case("eval-precision-on-eager", [*E, "--precision", "int8"], r"precision is for a backend"),
    Case(
        "eval-calibration-missing-dir",
        [*E, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "{tmp}/none"],
        r"calibration folder '.*none' does not exist",
    ),  # fmt: skip
    Case(
        "eval-dtype-with-a-runtime",
        [*E, "--backend", "onnxruntime", "--dtype", "fp16"],
        r"dtype fp16 is torch's autocast: backend onnxruntime takes precision fp16",
    ),  # fmt: skip
]


@cases(TABLE)
def test_bad_input(case, tmp_path, capsys):
    assert_bad_input(case, tmp_path, capsys)


MISSING = [("onnxruntime", "onnxruntime", "onnx"), ("openvino", "openvino", "openvino"), ("onnx", "openvino", "onnx")]


@pytest.mark.parametrize("module,backend,extra", MISSING)
def test_a_missing_runtime_is_one_line_naming_the_extra(module, backend, extra, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError, as when not installed
    case = Case(f"missing-{module}", ["bench", *M, "--backend", backend], rf"needs {module}, which is not "
                rf"installed: pip install 'zoobench\[{extra}\]'$")  # fmt: skip
    assert_bad_input(case, tmp_path, capsys)
