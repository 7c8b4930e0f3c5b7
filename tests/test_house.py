"""The house keeps its promises: output unchanged by the reorganisation, API equal to CLI, bulk runs that continue,
light commands that stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import run_cli

import zoobench

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize(
    "args, snapshot",
    [
        (["profile", "--all", "--no-time", "-f", "csv"], "profile_all.csv"),
        (["list", "-f", "md"], "list.md"),
    ],
)
def test_output_is_byte_identical_to_the_snapshot(
    capsys: pytest.CaptureFixture[str], args: list[str], snapshot: str
) -> None:
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    assert out == (SNAPSHOTS / snapshot).read_text()


def test_python_api_gives_the_cli_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "profile", "resnet18", "mobilenet_v2", "--no-time", "--compare", "seed", "-f", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "zoobench/profile/1"
    api = zoobench.profile(["resnet18", "mobilenet_v2"], compare_seed=True, time=False)
    assert json.loads(json.dumps(api.rows)) == doc["rows"]


def test_api_takes_names_globs_and_specs() -> None:
    by_glob = zoobench.profile("resnet1*", time=False).rows
    assert [r["model"] for r in by_glob] == ["resnet18", "resnet101", "resnet152"]
    spec = zoobench.get_spec("resnet18")
    assert zoobench.profile([spec], time=False).rows[0]["macs"] == 1_814_073_344


BROKEN = """
import torch

def broken():
    raise ValueError("no such layer")
"""


def test_a_failing_model_in_a_batch_is_one_row_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "house_broken_mod.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    out_file = tmp_path / "p.json"
    code, _, err = run_cli(
        capsys, "profile", "resnet18", "house_broken_mod:broken", "vgg11", "--no-time", "-o", str(out_file)
    )
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("zoobench: error:")]
    assert len(errors) == 2, err  # the model's own line, then the summary
    assert "house_broken_mod:broken" in errors[0] and "no such layer" in errors[0]
    assert errors[1] == "zoobench: error: 1 of 3 model(s) failed: house_broken_mod:broken"
    rows = json.loads(out_file.read_text())["rows"]
    assert [r["model"] for r in rows] == ["resnet18", "house_broken_mod:broken", "vgg11"]
    assert rows[0]["macs"] == 1_814_073_344 and rows[2]["macs"] > 0
    assert "no such layer" in rows[1]["error"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["prepare-imagenet", "--help"], ["list", "--help"]])
def test_light_commands_import_neither_torch_nor_pandas(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from zoobench.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'pandas', 'rich.console') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out == f"zoobench {zoobench.__version__}\n"
