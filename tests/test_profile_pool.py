"""`profile` over many models: a process pool that keeps the order, records failures and gives the serial figures;
the timm-csv mapping and --batch."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from clihelp import run_cli

from zoobench import environment, profiling, registry


def _specs() -> list[registry.ModelSpec]:
    good = registry.select(["resnet18", "tinymodels:unpadded", "mobilenet_v2", "efficientnet_b0"])
    return good[:2] + [registry.get_spec("vgg11")] + good[2:]


@pytest.mark.parametrize("cores", [1, 3])
def test_pool_and_serial_give_the_same_rows_in_order(monkeypatch, cores):
    specs = _specs()
    monkeypatch.setattr(environment, "usable_cores", lambda: cores)
    pooled = profiling.profile(specs, 16, time=False)  # vgg11 cannot run at 16x16: one row with an error
    assert [r["model"] for r in pooled.rows] == [s.name for s in specs]
    assert pooled.failed == ["vgg11"] and "cannot run at 16x16" in pooled.rows[2]["error"]
    monkeypatch.setattr(environment, "usable_cores", lambda: 1)
    serial = profiling.profile(specs, 16, time=False)
    assert pooled.rows == serial.rows and pooled.uncounted == serial.uncounted


def test_breakdowns_over_a_pool_keep_the_order(monkeypatch):
    monkeypatch.setattr(environment, "usable_cores", lambda: 2)
    specs = registry.select(["resnet18", "mobilenet_v2", "squeezenet1_0"])
    ops = profiling.operators(specs, 64)
    layers = profiling.layers(specs, 64, depth=1)
    assert [m.model for m in ops.models] == [m.model for m in layers.models] == [s.name for s in specs]
    assert [m.macs for m in ops.models] == [m.macs for m in layers.models]


def test_progress_reports_each_model_once(monkeypatch):
    monkeypatch.setattr(environment, "usable_cores", lambda: 2)
    seen: list[str] = []

    class Record:
        def task(self, what, total=None, unit="items"):
            class T:
                def advance(self, n=1, *, label="", result=None):
                    seen.append(label)

                def close(self):
                    pass

            return T()

        def message(self, level, text):
            seen.append(f"{level}: {text}")

    specs = _specs()
    profiling.profile(specs, 16, time=False, progress=Record())
    assert sorted(s for s in seen if ":" not in s or s.startswith("tinymodels")) == sorted(s.name for s in specs)
    assert sum(s.startswith("error: vgg11") for s in seen) == 1


def test_timm_csv_names_timms_columns(capsys):
    code, out, _ = run_cli(capsys, "profile", "resnet50", "mobilenet_v2", "--no-time", "-f", "timm-csv")
    assert code == 0
    df = pd.read_csv(io.StringIO(out)).set_index("model")
    assert list(df.columns[:7]) == [
        "infer_samples_per_sec", "infer_step_time", "infer_batch_size", "infer_img_size", "infer_gmacs",
        "infer_macts", "param_count",
    ]  # fmt: skip
    r = df.loc["resnet50"]
    assert r["param_count"] == pytest.approx(25.557032) and r["infer_gmacs"] == pytest.approx(4.089184256)
    assert r["infer_img_size"] == 224 and r["infer_batch_size"] == 1 and pd.isna(r["infer_step_time"])
    assert r["top1"] == pytest.approx(77.15) and r["top1_err"] == pytest.approx(22.85)


def test_batch_sets_the_memory_figures_not_the_per_image_ones(capsys):
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--no-time", "--batch", "4", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    (row,) = doc["rows"]
    one = profiling.count_row(registry.get_spec("resnet18"), 224)
    assert row["batch"] == 4 and row["macs"] == one["macs"] and row["weight_bytes"] == one["weight_bytes"]
    assert 3.9 * one["peak_activation_bytes"] < row["peak_activation_bytes"] <= 4 * one["peak_activation_bytes"]
    assert any("one forward at batch 4" in n for n in doc["notes"])
