"""`zoobench report` on a backend sweep: per model each backend's latency, its speed-up over eager at the same
setting and its equivalence; per backend the models converted and failed; one plot of the speed-ups. A results
folder without backend rows gives the same report as before. Fixtures in the shapes `bench --backend` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clihelp import run_cli
from test_report_cmd import ENV_A, PROFILE, bench_row, fixture_dir, write_json  # noqa: F401 (fixture_dir)

from zoobench import reporting
from zoobench.reporting import backends, results

# (model, threads, backend, precision) -> median ms; resnet50's openvino int8 run is flagged not equivalent.
RUNS = {
    ("resnet18", 1, "eager", "fp32"): 40.0,
    ("resnet18", 1, "onnxruntime", "fp32"): 20.0,
    ("resnet18", 1, "openvino", "fp32"): 16.0,
    ("resnet50", 1, "eager", "fp32"): 90.0,
    ("resnet50", 1, "onnxruntime", "fp32"): 60.0,
    ("resnet50", 1, "openvino", "fp32"): 45.0,
    ("resnet50", 1, "openvino", "int8"): 10.0,
    ("resnet18", 2, "eager", "fp32"): 22.0,
    ("resnet18", 2, "onnxruntime", "fp32"): 11.0,
}


def backend_row(model: str, threads: int, backend: str, precision: str, median: float) -> dict:
    row = dict(bench_row(model, threads, median), backend=backend, precision=precision)
    if backend != "eager":
        flagged = precision == "int8"
        row.update(convert_s=1.5, first_call_s=0.05, max_abs_diff=0.9 if flagged else 2e-5, top1_agree=0.5 if flagged
                   else 1.0, top5_agree=0.8 if flagged else 1.0, equivalent=not flagged, compared_images=8)  # fmt: skip
    return row


def failure_row(model: str, threads: int, backend: str, error: str) -> dict:
    """timing.Failure.to_dict() shape."""
    return {"model": model, "device": "cpu", "dtype": "fp32", "batch": 1, "resolution": 224, "threads": threads,
            "channels_last": False, "compiled": False, "isolation": "subprocess", "seed": 0, "error": error,
            "backend": backend, "precision": "fp32"}  # fmt: skip


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    write_json(d / "profile.json", PROFILE, ENV_A)
    rows = [backend_row(*key, ms) for key, ms in RUNS.items()]
    rows.append(failure_row("torchvision:alexnet", 1, "onnxruntime", "onnxruntime: onnx export: no symbolic for op"))
    rows.append(failure_row("torchvision:alexnet", 1, "openvino", "openvino: read_model: bad file"))
    write_json(d / "backends.json", rows, ENV_A)
    return d


def test_speed_up_and_equivalence_per_model_and_backend(sweep_dir: Path) -> None:
    table = backends.backend_table(results.collect([sweep_dir]))
    assert table is not None and table.machines == {}
    got = {(r["model"], r["threads"], r["backend"], r["precision"]): r for r in table.rows}
    assert set(got) == set(RUNS)  # eager rows come along as the reference; no failure is a latency row
    assert got[("resnet18", 1, "onnxruntime", "fp32")]["speedup"] == pytest.approx(2.0)
    assert got[("resnet18", 2, "onnxruntime", "fp32")]["speedup"] == pytest.approx(2.0)  # its own threads' eager
    assert got[("resnet50", 1, "openvino", "fp32")]["speedup"] == pytest.approx(2.0)
    int8 = got[("resnet50", 1, "openvino", "int8")]
    assert int8["speedup"] == pytest.approx(9.0) and int8["equivalent"] is False and int8["top1_agree"] == 0.5
    assert got[("resnet18", 1, "eager", "fp32")]["speedup"] == pytest.approx(1.0)


def test_converted_and_failed_per_backend(sweep_dir: Path) -> None:
    table = backends.backend_table(results.collect([sweep_dir]))
    counts = {(c["backend"], c["precision"], c["threads"]): c for c in table.counts}
    ort1 = counts[("onnxruntime", "fp32", 1)]
    assert (ort1["converted"], ort1["failed"], ort1["flagged"]) == (2, 1, 0)
    assert ort1["first_error"] == "torchvision:alexnet: onnxruntime: onnx export: no symbolic for op"
    assert ort1["median_speedup"] == pytest.approx((2.0 + 1.5) / 2)
    assert (ort1["min_speedup"], ort1["max_speedup"]) == pytest.approx((1.5, 2.0))
    int8 = counts[("openvino", "int8", 1)]
    assert (int8["converted"], int8["flagged"], int8["failed"]) == (1, 1, 0)
    assert counts[("onnxruntime", "fp32", 2)]["failed"] == 0


def test_markdown_json_plot_and_html(capsys: pytest.CaptureFixture[str], sweep_dir: Path, tmp_path: Path) -> None:
    out_dir, page = tmp_path / "plots", tmp_path / "report.html"
    code, out, err = run_cli(capsys, "report", str(sweep_dir), "-f", "md", "--out-dir", str(out_dir),
                             "--html", str(page))  # fmt: skip
    assert code == 0, err
    zoo, section = out.split("## Backends")
    assert "| resnet18 " in zoo and "alexnet" not in zoo  # a failure is no row of the zoo table
    assert "40.00" in next(line for line in zoo.splitlines() if line.startswith("| resnet18 "))  # eager, 1 thread
    line = next(x for x in section.splitlines() if "resnet50" in x and "int8" in x)
    assert "9.00×" in line and "| NO " in line and "50%" in line
    count = next(x for x in section.splitlines() if x.startswith("| onnxruntime ") and "| 1 " in x)
    assert "no symbolic for op" in count and "1.75×" in count
    assert "× eager: eager fp32's median over this backend's" in section
    svg = (out_dir / "backend_speedup.svg").read_text()
    assert (out_dir / "backend_speedup.png").stat().st_size > 0
    assert "onnxruntime fp32, 1 thread" in svg and "not equivalent to eager" in svg
    assert "1 failed" in svg
    html = page.read_text()
    assert "<h2>Backends</h2>" in html and 'id="backend_speedup"' in html and "no symbolic for op" in html
    code, out, err = run_cli(capsys, "report", str(sweep_dir), "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["backends"]["rows"]) == len(RUNS) and len(doc["backends"]["counts"]) == 4


def test_no_backend_rows_no_change(
    capsys: pytest.CaptureFixture[str],
    fixture_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    found = results.collect([fixture_dir])
    assert backends.backend_table(found) is None and found.failures == []
    report = reporting.build([fixture_dir], plots=True, html=True)
    assert report.backends is None and report.json_extra() == {}
    assert "backend_speedup" not in [p.name for p in report.plots]
    assert not any("backend" in n for n in report.not_drawn)
    assert "Backends" not in report.page and "## Backends" not in report.markdown()
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "-f", "json")
    assert code == 0 and "backends" not in json.loads(out)


def test_a_converted_run_without_eager_has_no_speed_up(tmp_path: Path) -> None:
    write_json(tmp_path / "b.json", [backend_row("resnet18", 1, "onnxruntime", "fp32", 20.0)], ENV_A)
    table = backends.backend_table(results.collect([tmp_path]))
    [row] = table.rows
    assert row["speedup"] is None and table.speedups() == {}
    assert table.counts[0]["median_speedup"] is None
    from zoobench.reporting import plots_backends

    assert plots_backends.backend_speedup(table) is None  # nothing to compare: no plot


def test_machines_named_are_those_of_the_backend_rows(sweep_dir: Path) -> None:
    from test_report_cmd import ENV_B

    write_json(sweep_dir / "other.json", [bench_row("resnet18", 8, 5.0)], ENV_B)  # eager only, another machine
    found = results.collect([sweep_dir])
    table = backends.backend_table(found)
    tag = found.machine_tags()["Test CPU A, 2 cores"]
    assert table.machines == {"Test CPU A, 2 cores": tag} and {r["machine"] for r in table.rows} == {tag}
    assert table.columns()[0][0].key == "machine"
    assert any(n == f"Machines: {tag} = Test CPU A, 2 cores." for n in table.notes())


def test_terminal_table_shows_the_backend_tables(capsys: pytest.CaptureFixture[str], sweep_dir: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(sweep_dir), "-f", "table")
    assert code == 0, err
    assert "Backends: speed-up over eager fp32" in out and "Backends: converted and failed" in out
    assert "resnet50" in out and "Equivalent = NO" in out  # cells wrap at 80 columns
