"""The command line: data on stdout, one clear line and exit 2 on bad input, nothing half-written."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clihelp import assert_one_line_error, run_cli

from zoobench import registry


def test_list_shows_every_model_with_paper(capsys):
    code, out, _ = run_cli(capsys, "list", "--format", "csv")
    df = pd.read_csv(io.StringIO(out), dtype={"arxiv": str})
    assert code == 0
    assert list(df["name"]) == [s.name for s in registry.all_specs()]
    row = df.set_index("name").loc["resnet50"]
    assert row["aliases"] == "ResNet50" and row["year"] == 2016 and row["arxiv"] == "1512.03385"


def test_list_filters(capsys):
    code, out, _ = run_cli(capsys, "list", "resnet1*", "--year", "2016", "-f", "json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)["rows"]] == ["resnet18", "resnet101", "resnet152"]
    code, out, _ = run_cli(capsys, "list", "--family", "resnet", "-f", "csv")
    assert code == 0 and out.count("\n") == 1 + len(registry.list_models(family="resnet"))


def test_profile_markdown_is_the_seed_layout(capsys):
    code, out, err = run_cli(capsys, "profile", "resnet18", "ResNet50", "--no-time", "--format", "md")
    assert code == 0
    lines = out.splitlines()
    headers = [h.strip() for h in lines[0].strip("|").split("|")]
    assert headers == ["Model", "Params/Million", "MACs/G", "FLOPs/G", "Time_cast/ms", "Top-1", "Top-5"]
    assert "--- **2016** ---" in lines[2]
    resnet50 = next(line for line in lines if line.startswith("| resnet50"))
    cells = [c.strip() for c in resnet50.strip("|").split("|")]
    assert cells[1:4] == ["25.557032", "4.08918", "8.17837"]
    assert cells[4] == ""  # Time_cast is never made up
    assert any("FLOPs/G = 2 x MACs/G" in line for line in lines)


def test_profile_json_carries_environment_and_exact_counts(capsys, tmp_path):
    target = tmp_path / "zoo.json"
    code, out, _ = run_cli(capsys, "profile", "resnet50", "--no-time", "-o", str(target))
    assert code == 0 and out == ""
    doc = json.loads(target.read_text())
    assert doc["environment"]["torch"] and doc["environment"]["cpu"]
    (row,) = doc["rows"]
    assert (row["params"], row["macs"], row["flops"]) == (25_557_032, 4_089_184_256, 8_178_368_512)


def test_profile_native_resolution_and_compare_seed(capsys):
    code, out, _ = run_cli(
        capsys, "profile", "resnet50", "--native-resolution", "--no-time", "--compare", "seed", "-f", "csv"
    )
    assert code == 0
    row = pd.read_csv(io.StringIO(out)).iloc[0]
    assert row["resolution"] == 224
    assert row["seed_params"] == 25_557_032 and row["d_params"] == 0
    assert row["seed_flops"] == pytest.approx(8.27887e9)


def test_profile_layers_tree(capsys):
    code, out, _ = run_cli(capsys, "profile", "resnet18", "--layers", "--depth", "1")
    assert code == 0
    assert "layer3" in out and "%" in out and "11,689,512" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "resnet51"], "did you mean resnet50"),
        (["profile", "vit*"], "matches no model"),
        (["profile", "resnet50", "-r", "0"], "positive"),
        (["profile", "resnet50", "-r", "-5"], "positive"),
        (["profile", "tinymodels:unpadded", "-r", "8"], "cannot run at 8x8"),
        (["profile", "resnet50", "--format", "xml"], "unknown format"),
        (["profile", "no_such_pkg.mod:build"], "cannot import"),
        (["profile", "resnet50", "--compare", "timm"], "--compare"),
        (["profile", "resnet50", "--bogus"], "No such option"),
        (["profile"], "no model given"),
        (["list", "--family", "nope"], "unknown family"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert_one_line_error(code, err)
    assert message in err
    assert out == ""


@pytest.mark.parametrize("name", ["report.txt", "missing-dir/zoo.md"])
def test_bad_output_path_leaves_nothing(capsys, tmp_path, name):
    target = tmp_path / name
    code, _, err = run_cli(capsys, "profile", "resnet18", "-o", str(target))
    assert_one_line_error(code, err)
    assert not target.exists()
    assert list(tmp_path.rglob("*")) == []


def test_unwritable_output_is_refused(capsys):
    code, _, err = run_cli(capsys, "profile", "resnet18", "-o", "/proc/zoobench-test.md")
    assert_one_line_error(code, err)
    assert not Path("/proc/zoobench-test.md").exists()


def test_failed_run_does_not_clobber_output(capsys, tmp_path):
    target = tmp_path / "zoo.md"
    target.write_text("precious")
    code, _, err = run_cli(capsys, "profile", "tinymodels:unpadded", "-r", "8", "-o", str(target))
    assert_one_line_error(code, err)
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["zoo.md"]


def test_a_batch_with_a_failing_model_writes_the_others_and_the_error(capsys, tmp_path):
    target = tmp_path / "zoo.csv"
    code, _, err = run_cli(
        capsys, "profile", "resnet18", "tinymodels:unpadded", "-r", "8", "--no-time", "-o", str(target)
    )
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == "zoobench: error: 1 of 2 model(s) failed: tinymodels:unpadded"
    text = target.read_text()
    assert "resnet18" in text and "cannot run at 8x8" in text


def test_redirected_profile_all_is_a_clean_markdown_table(tmp_path):
    """`zoobench profile --all > table.md`: only the table on stdout, whatever goes to stderr."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "zoobench", "profile", "--all", "--no-time"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| Model")
    for line in lines:
        assert line == "" or line.startswith(("|", "- ", "### ")), line
    for spec in registry.all_specs():
        assert any(line.startswith(f"| {spec.name} ") for line in lines), spec.name
