"""Bad input to profile's --layers, --ops, --batch, --columns and --format timm-csv: one line, exit 2, nothing
written."""

from __future__ import annotations

from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases


def _precious(tmp: Path) -> None:
    (tmp / "o.csv").write_text("keep me\n")


TABLE = [
    Case("zero-batch", ["profile", "resnet18", "--no-time", "--batch", "0"], r"batch must be at least 1, got 0"),
    Case("zero-batch-layers", ["profile", "resnet18", "--layers", "--batch", "0"], r"batch must be at least 1"),
    Case("bad-columns", ["profile", "resnet18", "--no-time", "--columns", "speed"], r"--columns takes 'memory'"),
    Case("layers-and-ops", ["profile", "resnet18", "--layers", "--ops"], r"ask for one at a time"),
    Case("timm-csv-layers", ["profile", "resnet18", "--ops", "-f", "timm-csv"], r"timm-csv is the per-model table"),
    Case("timm-csv-bad-folder", ["profile", "resnet18", "-f", "timm-csv", "-o", "{tmp}/no/t.csv"], r"does not exist"),
    Case("ops-bad-folder", ["profile", "resnet18", "--ops", "-o", "{tmp}/nodir/o.csv"], r"folder does not exist"),
    Case("ops-bad-extension", ["profile", "resnet18", "--ops", "-o", "{tmp}/o.txt"], r"cannot tell the format"),
    Case("ops-table-to-file", ["profile", "resnet18", "--ops", "-f", "table", "-o", "{tmp}/o.md"], r"terminals"),
    Case("ops-tiny-resolution", ["profile", "vgg11", "--ops", "-r", "16"], r"vgg11 cannot run at 16x16"),
    Case(
        "ops-failure-keeps-the-old-file",
        ["profile", "vgg11", "--ops", "-r", "16", "-o", "{tmp}/o.csv"],
        r"vgg11 cannot run at 16x16",
        setup=_precious,
    ),
    Case("layers-unknown-model", ["profile", "resnet1000", "--layers"], r"unknown model 'resnet1000'"),
    Case("bad-batch", ["profile", "resnet18", "--batch", "many"], r"Invalid value"),
]


@cases(TABLE)
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(case, tmp_path, capsys)
