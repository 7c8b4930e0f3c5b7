"""`profile --layers`: per-module shapes as torchvision's models produce them, and the table in every format."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import torch
import torchvision
from clihelp import run_cli
from torch import nn

from zoobench import registry
from zoobench.complexity import layer_costs


def _first_shapes(model: nn.Module, resolution: int) -> dict[str, tuple]:
    """Every module's output shape at its first call, recorded by forward hooks."""
    shapes: dict[str, tuple] = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            shapes.setdefault(name, tuple(output.shape))

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in model.named_modules()]
    with torch.no_grad():
        model(torch.zeros(1, 3, resolution, resolution, device="meta"))
    for h in handles:
        h.remove()
    return shapes


def test_resnet50_layer_shapes_equal_torchvisions():
    with torch.device("meta"):
        ref = torchvision.models.resnet50(weights=None).eval()
    theirs = _first_shapes(ref, 224)
    ours = {layer.name: layer.output_shape for layer in layer_costs(registry.get_spec("resnet50"), 224, max_depth=9)}
    assert ours.keys() == theirs.keys()
    assert ours == theirs
    assert ours["layer3.5.conv2"] == (1, 256, 14, 14) and ours["fc"] == (1, 1000)


def test_layers_table_in_csv_json_and_md(capsys):
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--layers", "--depth", "1", "-f", "csv")
    assert code == 0
    df = pd.read_csv(io.StringIO(out)).set_index("module")
    assert df.loc["layer2", "output_shape"] == "1x128x28x28"
    assert df.loc["(whole model)", "share_pct"] == 100.0 and df.loc["conv1", "type"] == "Conv2d"
    assert df.loc["conv1", "act_bytes"] == 4 * 64 * 112 * 112
    assert df.loc["(whole model)", "act_elements"] == df["act_elements"].iloc[1:].sum() + 0  # no op outside children
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--layers", "--depth", "1", "-f", "json")
    doc = json.loads(out)
    assert doc["schema"] == "zoobench/profile-layers/1" and doc["notes"]
    assert [r["module"] for r in doc["rows"]][:3] == ["(whole model)", "conv1", "bn1"]
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--layers", "--depth", "0", "-f", "md")
    headers = [h.strip() for h in out.splitlines()[0].strip("|").split("|")]
    assert headers == [
        "Model", "Module", "Type", "Depth", "Output", "Params", "MACs", "Share %", "Act. elements", "Act./MB",
    ]  # fmt: skip
    assert "- Output: the shape of the module's first call" in out


def test_layers_rich_table_with_f_table(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich fits the table to the width it is given
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--layers", "--depth", "1", "-f", "table")
    assert code == 0
    assert "1x256x14x14" in out and "layer3" in out and "Act./MB" in out


def test_layers_of_several_models_record_a_failure_and_go_on(capsys):
    code, out, err = run_cli(
        capsys, "profile", "resnet18", "tinymodels:unpadded", "--layers", "--depth", "0", "-r", "12", "-f", "json"
    )
    assert code == 2
    rows = json.loads(out)["rows"] if out else None
    assert rows is not None, err
    assert [r["model"] for r in rows] == ["resnet18", "tinymodels:unpadded"]
    assert "cannot run at 12x12" in rows[1]["error"]
    assert err.strip().splitlines()[-1] == "zoobench: error: 1 of 2 model(s) failed: tinymodels:unpadded"


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_depth_limits_the_rows(depth):
    rows = layer_costs(registry.get_spec("resnet18"), 224, max_depth=depth)
    assert max(r.depth for r in rows) == depth
