"""A model small enough to count by hand: every figure zoobench gives for it equals the hand count.

The hand count at 8x8, batch 1, fp32 (4 bytes an element); "live" is the activation memory alive after each step:

    step                                 output      elements  bytes  MACs           live after
    x (the input)                        1x3x8x8     192       768    -              768
    a = conv1(x)   3->4, 3x3, pad 1      1x4x8x8     256       1024   256*27 = 6912  1792
    branch (freed early):
      t = conv2(a)   4->2, 1x1           1x2x8x8     128       512    128*4 = 512    2304
      t = sigmoid(t)                     1x2x8x8     128       512    -              2816, then 2304 (old t freed)
      w = t.mean((2, 3), keepdim=True)   1x2x1x1     2         8      -              2312, then 1800 (t freed)
    b = conv3(a)   4->4, 3x3, pad 1      1x4x8x8     256       1024   256*36 = 9216  2824
    c = cat([a, b], 1)  (a, b alive)     1x8x8x8     512       2048   -              4872  <- the peak
    c.relu_()      in place              1x8x8x8     512       2048   -              4872 (no new memory)
    del a, b                                                                         2824
    d = conv4(c)   8->2, 1x1             1x2x8x8     128       512    128*8 = 1024   3336
    d = d * w                            1x2x8x8     128       512    -              3848, then 3336
    del c                                                                            1288
    o = d.mean((2, 3))                   1x2         2         8      -              1296
    fc(o)          Linear(2, 3)          1x3         3         12     2*3 = 6        (t(weight) is a view)

Without the early free the peak would be 4872 + 1024 (t and the first t still alive); a counter that did not keep
a and b alive through the concat would miss 2048 of it.
"""

from __future__ import annotations

import json

import pytest
import torch
from clihelp import run_cli
from torch import nn

from zoobench import profiling, registry
from zoobench.complexity import layer_costs, measure

RES = 8
PARAMS = 4 * 3 * 9 + 2 * 4 + 4 * 4 * 9 + 2 * 8 + (2 * 3 + 3)  # 285
MACS = 6912 + 512 + 9216 + 1024 + 6  # 17,670
ELEMENTS_WRITTEN = 256 + 128 + 128 + 2 + 256 + 512 + 512 + 128 + 128 + 2 + 3  # 2,055
ACTIVATION_BYTES = 4 * ELEMENTS_WRITTEN  # 8,220
PEAK = 768 + 1024 + 8 + 1024 + 2048  # x, a, w, b and c: 4,872


class Hand(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(4, 2, 1, bias=False)
        self.conv3 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.conv4 = nn.Conv2d(8, 2, 1, bias=False)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(x)
        w = self._branch(a)  # its tensors are freed when it returns
        b = self.conv3(a)
        c = torch.cat([a, b], 1)
        c.relu_()
        del a, b
        d = self.conv4(c)
        d = d * w
        del c
        return self.fc(d.mean((2, 3)))

    def _branch(self, a: torch.Tensor) -> torch.Tensor:
        t = self.conv2(a)
        t = torch.sigmoid(t)
        return t.mean((2, 3), keepdim=True)


def hand() -> nn.Module:
    return Hand()


SPEC = "test_profile_hand:hand"


def spec() -> registry.ModelSpec:
    (s,) = registry.select([SPEC])
    return s


def test_totals_equal_the_hand_count() -> None:
    c = measure(spec(), RES)
    assert (c.params, c.macs, c.flops) == (PARAMS, MACS, 2 * MACS)
    assert c.weight_bytes == 4 * PARAMS
    assert c.activation_bytes == ACTIVATION_BYTES
    assert c.peak_activation_bytes == PEAK


def test_memory_scales_with_the_batch_and_macs_stay_per_image() -> None:
    c = measure(spec(), RES, batch=3)
    assert c.macs == MACS and c.batch == 3
    assert c.activation_bytes == 3 * ACTIVATION_BYTES
    assert c.peak_activation_bytes == 3 * PEAK


def test_operators_equal_the_hand_count() -> None:
    ops = {op.name: op for op in measure(spec(), RES).ops}
    conv = ops["aten.convolution"]
    assert (conv.counted, conv.calls, conv.macs) == (True, 4, 6912 + 512 + 9216 + 1024)
    assert conv.elements_written == 256 + 128 + 256 + 128
    assert ops["aten.addmm"].macs == 6
    mean = ops["aten.mean"]
    assert (mean.counted, mean.calls, mean.macs) == (False, 2, 0)
    assert (mean.elements_read, mean.elements_written) == (128 + 128, 2 + 2)
    assert (ops["aten.sigmoid"].calls, ops["aten.cat"].elements_read, ops["aten.cat"].elements_written) == (1, 512, 512)
    relu = ops["aten.relu_"]
    assert (relu.calls, relu.elements_written, relu.bytes_written) == (1, 512, 2048)  # in place: written, no memory
    assert ops["aten.t"].elements_written == 0  # a view moves nothing
    assert sum(op.bytes_written for op in ops.values()) == ACTIVATION_BYTES
    assert sum(op.macs for op in ops.values()) == MACS


def test_layers_equal_the_hand_count() -> None:
    rows = {r.name: r for r in layer_costs(spec(), RES, max_depth=1)}
    assert list(rows) == ["", "conv1", "conv2", "conv3", "conv4", "fc"]
    expected = {  # name: (output shape, params, MACs, elements written)
        "": ((1, 3), PARAMS, MACS, ELEMENTS_WRITTEN),
        "conv1": ((1, 4, 8, 8), 108, 6912, 256),
        "conv2": ((1, 2, 8, 8), 8, 512, 128),
        "conv3": ((1, 4, 8, 8), 144, 9216, 256),
        "conv4": ((1, 2, 8, 8), 16, 1024, 128),
        "fc": ((1, 3), 9, 6, 3),
    }
    for name, (shape, params, macs, elements) in expected.items():
        r = rows[name]
        assert (r.output_shape, r.params, r.macs, r.act_elements, r.act_bytes) == (
            shape,
            params,
            macs,
            elements,
            4 * elements,
        ), name
        assert r.calls == 1


def test_cli_ops_lists_an_operator_without_formula_with_its_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "profile", SPEC, "-r", str(RES), "--ops", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "zoobench/profile-ops/1"
    rows = {r["operator"]: r for r in doc["rows"]}
    assert rows["aten.sigmoid"]["counted"] is False and rows["aten.sigmoid"]["calls"] == 1
    assert rows["aten.mean"]["calls"] == 2 and rows["aten.mean"]["macs"] is None
    assert rows["aten.convolution"]["share_pct"] == pytest.approx(100 * 17664 / MACS)
    uncounted = sorted(name for name, r in rows.items() if not r["counted"])
    assert uncounted == ["aten.cat", "aten.mean", "aten.mul", "aten.relu_", "aten.sigmoid", "aten.t"]
    assert doc["notes"][0].startswith("6 operator kind(s) ran without a MAC formula")


def test_cli_profile_row_and_footnote(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "profile", SPEC, "-r", str(RES), "--no-time", "--columns", "memory", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    (row,) = doc["rows"]
    assert (row["macs"], row["weight_bytes"], row["activation_bytes"]) == (MACS, 4 * PARAMS, ACTIVATION_BYTES)
    assert row["peak_activation_bytes"] == PEAK
    assert any(n.startswith("Not in MACs: 6 aten operator kind(s)") for n in doc["notes"])
    code, out, _ = run_cli(capsys, "profile", SPEC, "-r", str(RES), "--no-time", "--columns", "memory", "-f", "md")
    assert code == 0
    header = [h.strip() for h in out.splitlines()[0].strip("|").split("|")]
    assert header[-3:] == ["Weights/MB", "Activations/MB", "Peak act./MB"]


def test_api_breakdowns_match_measure() -> None:
    layers = profiling.layers([spec()], RES, depth=0).models[0]
    ops = profiling.operators([spec()], RES).models[0]
    assert layers.macs == ops.macs == MACS
    assert [op.name for op in ops.ops][:1] == ["aten.convolution"]  # counted first, the biggest share first
