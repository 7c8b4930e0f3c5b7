"""`eval --backend`: the accuracy loop runs the converted model: the same top-1 as eager on the known-answer set."""

from __future__ import annotations

import json

import pytest
from clihelp import run_cli
from evalfixtures import expected_counts, make_val

MODEL = "evalfixtures:pixel_model"


@pytest.fixture(scope="module")
def valset(tmp_path_factory):
    out = tmp_path_factory.mktemp("imagenet")
    return out, make_val(out)


def _eval(capsys, out, *args: str) -> tuple[dict, str]:
    code, text, err = run_cli(capsys, "eval", MODEL, "--data", str(out / "val"), "--workers", "0", "-f", "json",
                              "--cache-dir", str(out / "cache"), *args)  # fmt: skip
    assert code == 0, err
    return json.loads(text)["rows"][0], err


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_the_converted_model_scores_what_eager_scores(capsys, valset, backend):
    out, made = valset
    eager, _ = _eval(capsys, out)
    row, err = _eval(capsys, out, "--backend", backend)
    c1, c5 = expected_counts(made)
    assert (row["correct1"], row["correct5"]) == (eager["correct1"], eager["correct5"]) == (c1, c5)
    assert row["top1"] == eager["top1"]
    assert row["backend"] == backend and row["equivalent"] is True and row["convert_s"] > 0
    assert "does not match" not in err


def test_int8_records_its_agreement_and_its_accuracy(capsys, valset):
    out, _ = valset
    row, _ = _eval(capsys, out, "--backend", "onnxruntime", "--precision", "int8", "--calibration", "random:n=4")
    assert row["precision"] == "int8" and row["calibration"] == "random:seed=0:n=4"
    assert row["top1_agree"] is not None and row["equivalent"] in (True, False) and row["top1"] is not None
