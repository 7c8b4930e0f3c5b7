"""Published figures say what they are: the report marks (‡) those not 1-crop at the table's resolution and
`--published 1crop` leaves them out, in report and in profile; profile's CSV carries each figure's protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cli

MODELS = ["resnet50", "densenet121", "inception_v3", "vgg16"]


@pytest.fixture(scope="module")
def profile_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zoobench.cli import main

    out = tmp_path_factory.mktemp("published") / "p.csv"
    try:
        main(["profile", *MODELS, "--no-time", "-f", "csv", "-o", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return out


def _rows(capsys, *args: str) -> tuple[dict, list[str]]:
    code, out, err = run_cli(capsys, *args, "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    return {r["model"]: r for r in doc["rows"]}, doc["notes"]


def test_report_marks_figures_that_are_not_1crop_at_its_resolution(profile_csv, capsys) -> None:
    rows, notes = _rows(capsys, "report", str(profile_csv))
    assert rows["densenet121"]["top1_text"] == "74.98 †"  # 1-crop 224, as the table
    assert rows["resnet50"]["top1_text"] == "77.15 †‡"  # 10-crop
    assert rows["vgg16"]["top1_text"] == "74.40 †‡"  # dense evaluation at 384
    assert rows["inception_v3"]["top1_text"] == "78.80 †‡"  # 1-crop, but at 299 while the table is at 224
    assert rows["resnet50"]["published_protocol"] == "10-crop 224 (paper)"
    assert any(n.startswith("‡: a published figure not measured 1-crop") and "resnet50" in n for n in notes)


def test_report_published_1crop_keeps_only_comparable_figures(profile_csv, capsys) -> None:
    rows, notes = _rows(capsys, "report", str(profile_csv), "--published", "1crop")
    assert rows["densenet121"]["top1"] == 74.98
    assert all(rows[m]["top1"] is None and rows[m]["top1_text"] == "" for m in ("resnet50", "vgg16", "inception_v3"))
    assert any(n.startswith("--published 1crop") for n in notes)


def test_profile_rows_carry_the_protocol_and_1crop_filters(profile_csv, capsys) -> None:
    import csv

    rows = {r["model"]: r for r in csv.DictReader(profile_csv.open())}
    assert (rows["resnet50"]["accuracy_protocol"], rows["resnet50"]["accuracy_comparable"]) == (
        "10-crop 224 (paper)",
        "False",
    )
    rows, _ = _rows(capsys, "profile", "inception_v3", "densenet121", "--no-time", "--published", "1crop")
    assert rows["inception_v3"]["top1"] is None and rows["densenet121"]["top1"] == 74.98
    rows, _ = _rows(capsys, "profile", "inception_v3", "--native-resolution", "--no-time", "--published", "1crop")
    assert rows["inception_v3"]["top1"] == 78.8  # at 299, its paper's figure is comparable


@pytest.mark.parametrize("command", ["profile", "report"])
def test_bad_published_is_one_line(command: str, capsys) -> None:
    code, _, err = run_cli(
        capsys, command, *(["resnet18", "--no-time"] if command == "profile" else []), "--published", "3crop"
    )
    assert_one_line_error(code, err)
    assert "1crop" in err
