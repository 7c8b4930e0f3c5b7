"""Sweeps of `zoobench bench` beyond threads, batch and backend: --dtype and --layout lists as ordinary rows, a
--paired layout sweep, the same rows from the Python API, and the one param -> flag mapping of the commands."""

from __future__ import annotations

import json

from clihelp import run_cli

from zoobench import timing
from zoobench.cli.common import flag_words
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import Policy

FAST = ["-r", "32", "-t", "1", "--max-time", "0.3", "--in-process"]
SETTINGS = ("model", "backend", "dtype", "channels_last", "threads", "batch", "mode", "precision")


def _rows(capsys, *args: str) -> tuple[list[dict], str]:
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, *args, "-f", "json")
    assert code == 0, err
    return json.loads(out)["rows"], err


def test_a_dtype_list_without_paired_is_a_row_per_dtype(capsys):
    rows, _ = _rows(capsys, "--dtype", "fp32,bf16")
    assert [(r["dtype"], r["channels_last"]) for r in rows] == [("fp32", False), ("bf16", False)]
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--dtype", "fp32,bf16", "-f", "md")
    assert code == 0, err
    header = out.splitlines()[0]
    assert "| Dtype" in header and "Layout" not in header and "batch 1, 32x32, fp32,bf16, cpu" in out


def test_a_layout_list_is_a_row_per_layout_and_the_table_names_it(capsys):
    rows, _ = _rows(capsys, "--layout", "nchw,nhwc")
    assert [(r["channels_last"], r["dtype"]) for r in rows] == [(False, "fp32"), (True, "fp32")]
    code, out, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, "--layout", "nchw,nhwc", "-f", "md")
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("| benchnets:tiny")]
    assert (
        "| Layout" in out
        and "| Dtype" not in out
        and [("nchw" in t, "nhwc" in t) for t in table]
        == [
            (True, False),
            (False, True),
        ]
    )
    [one] = _rows(capsys, "--channels-last")[0]  # the shorthand: one NHWC row, no Layout column
    assert one["channels_last"] is True


def test_dtype_and_layout_sweeps_multiply_and_resume(capsys, tmp_path):
    target = tmp_path / "run.json"
    args = ["--dtype", "fp32,bf16", "--layout", "nchw,nhwc"]
    code, _, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, *args, "-o", str(target))
    assert code == 0, err
    rows = json.loads(target.read_text())["rows"]
    assert [(r["dtype"], r["channels_last"]) for r in rows] == [
        ("fp32", False),
        ("fp32", True),
        ("bf16", False),
        ("bf16", True),
    ]
    code, _, err = run_cli(capsys, "bench", "benchnets:tiny", *FAST, *args, "-o", str(target), "--resume")
    assert code == 0 and "resuming: 4 of 4 measurement(s) already saved" in err


def test_paired_layout_sweep_gives_a_ratio_row(capsys):
    [row], err = _rows(capsys, "--paired", "--layout", "nchw,nhwc")
    assert (row["swept"], row["setting"], row["reference_setting"]) == ("channels_last", "nhwc", "nchw")
    assert row["ci_low"] <= row["ratio"] <= row["ci_high"]
    assert "benchnets:tiny nhwc / nchw = " in err


def test_api_rows_are_the_command_lines_rows(capsys):
    import zoobench

    config = BenchConfig(resolution=32, threads=1, policy=Policy(max_time=0.3))
    api = zoobench.bench("benchnets:tiny", config, dtype=["fp32", "bf16"], layout=["nchw", "nhwc"], isolate=False)
    cli, _ = _rows(capsys, "--dtype", "fp32,bf16", "--layout", "nchw,nhwc")
    assert [tuple(r.to_dict()[k] for k in SETTINGS) for r in api] == [tuple(r[k] for k in SETTINGS) for r in cli]
    assert [r.dtype for r in zoobench.bench("benchnets:tiny", config, dtype="bf16", isolate=False)] == ["bf16"]


def test_the_grid_and_compare_share_the_swept_settings():
    config = BenchConfig(threads=1)
    grid = timing.grid(config, {"dtype": ["fp32", "bf16"], "channels_last": [False, True], "batch": [1, 8]})
    assert len(grid) == 8 and grid[1] == {"backend": "eager", "dtype": "fp32", "channels_last": False, "threads": 1,
                                          "batch": 8}  # fmt: skip
    assert set(timing.SWEEPS) <= set(timing.SWEPT_SETTINGS)

    def run(ms: float, dtype: str, channels_last: bool) -> dict:
        return {"model": "m", "threads": 1, "dtype": dtype, "channels_last": channels_last, "median_ms": ms,
                "samples_ms": [ms] * 5, "round_medians_ms": [ms, ms * 1.01, ms * 0.99]}  # fmt: skip

    base = [run(10.0, "fp32", False), run(5.0, "bf16", False), run(7.0, "fp32", True)]
    now = [run(7.0, "fp32", True), run(5.0, "bf16", False), run(10.0, "fp32", False)]
    assert [r["base_median_ms"] for r in timing.compare(now, base)] == [7.0, 5.0, 10.0]


def test_best_batch_per_dtype_and_layout():
    def row(batch: int, ips: float, **kw) -> dict:
        return {"model": "m", "threads": 1, "batch": batch, "images_per_s": ips, "samples_ms": [1.0], **kw}

    rows = [row(1, 10), row(8, 30), row(1, 50, dtype="bf16"), row(8, 20, dtype="bf16"), row(1, 5, channels_last=True),
            row(8, 6, channels_last=True)]  # fmt: skip
    best = {(b.dtype, b.channels_last): b.batch for b in timing.best_batches(rows)}
    assert best == {("fp32", False): 8, ("bf16", False): 1, ("fp32", True): 8}


def test_one_mapping_from_parameters_to_flags():
    flags = {"max_time": "--max-time", "seed": "--seed", "skip_bad": "--skip-bad", "layout": "--layout"}
    assert flag_words("max_time must be a positive number", flags) == "--max-time must be a positive number"
    assert flag_words("layout 'x' is not one of nchw, nhwc", flags) == "--layout 'x' is not one of nchw, nhwc"
    assert flag_words("unreadable images: pass skip_bad=True", flags) == "unreadable images: pass --skip-bad"
    assert flag_words("takes random:seed=S:n=N", flags) == "takes random:seed=S:n=N"  # a spelled-out value
    assert flag_words("'max_time must be' in a path", flags) == "'max_time must be' in a path"  # user text
