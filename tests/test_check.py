"""`zoobench check`: the committed baseline matches the code, and a difference fails the gate."""

import io
from pathlib import Path

import pandas as pd
import pytest
from clihelp import assert_one_line_error, run_cli

from zoobench import check as checking

BASELINE = Path(__file__).resolve().parents[1] / "results" / "zoo.csv"


@pytest.fixture(scope="module")
def zoo_now() -> pd.DataFrame:
    """The whole zoo profiled once from the current code (it takes seconds); each test gets a copy."""
    return checking.current()


@pytest.fixture(autouse=True)
def _profile_once(monkeypatch: pytest.MonkeyPatch, zoo_now: pd.DataFrame) -> None:
    monkeypatch.setattr(checking, "current", lambda: zoo_now.copy())


def test_committed_baseline_matches_the_code(capsys):
    code, out, err = run_cli(capsys, "check", "--baseline", str(BASELINE))
    assert code == 0, out + err
    assert "check passed" in err


def test_a_changed_model_fails_with_a_diff(capsys, tmp_path):
    df = pd.read_csv(BASELINE)
    df.loc[df["model"] == "resnet50", "macs"] += 1
    df = df[df["model"] != "resnet18"]
    changed = tmp_path / "zoo.csv"
    df.to_csv(changed, index=False)
    code, out, err = run_cli(capsys, "check", "--baseline", str(changed), "-f", "csv")
    assert code == 1
    diff = pd.read_csv(io.StringIO(out)).set_index("model")
    assert diff.loc["resnet50", "status"] == "changed"
    assert diff.loc["resnet50", "macs_baseline"] == 4_089_184_257
    assert diff.loc["resnet18", "status"] == "new"
    assert len(diff) == 2
    assert "check failed: 2 model(s)" in err


def test_update_writes_the_baseline(capsys, tmp_path):
    target = tmp_path / "zoo.csv"
    code, _, _ = run_cli(capsys, "check", "--update", "--baseline", str(target))
    assert code == 0
    assert pd.read_csv(target).equals(pd.read_csv(BASELINE))


def test_missing_or_malformed_baseline(capsys, tmp_path):
    code, _, err = run_cli(capsys, "check", "--baseline", str(tmp_path / "none.csv"))
    assert_one_line_error(code, err)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,size\nx,1\n")
    code, _, err = run_cli(capsys, "check", "--baseline", str(bad))
    assert_one_line_error(code, err)
    assert "lacks column" in err
