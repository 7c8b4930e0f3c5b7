"""`zoobench report`: result files -> seed table, plots, self-contained HTML. Fixtures are written here, in the shapes
complexity.profile, timing.Measurement and imagenet.evaluate write (with extra keys, which the loader must ignore).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from clihelp import assert_one_line_error, run_cli
from PIL import Image

from zoobench import registry
from zoobench.reporting import plots, results
from zoobench.reporting.rows import kinds
from zoobench.reporting.table import table as report_table

ENV_A = {"cpu": "Test CPU A", "cores": 2, "logical_cpus": 2, "torch_threads": 2, "hostname": "a", "torch": "2.x"}
ENV_B = {"cpu": "Test CPU B", "cores": 8, "logical_cpus": 8, "torch_threads": 8, "hostname": "b", "torch": "2.x"}
PLOT_NAMES = ("top1_vs_gmacs", "top1_vs_latency", "params_vs_latency", "latency_vs_threads")


def profile_row(model: str, family: str, year: int, params: int, macs: int, top1: float, top5: float | None) -> dict:
    return {
        "model": model,
        "family": family,
        "year": year,
        "resolution": 224,
        "batch": 1,
        "params": params,
        "macs": macs,
        "flops": 2 * macs,
        "size_mb": params * 4 / 1e6,
        "time_ms": None,
        "top1": top1,
        "top5": top5,
        "accuracy_source": "paper",
    }


PROFILE = [
    profile_row("resnet18", "resnet", 2016, 11_689_512, 1_814_073_344, 69.76, None),
    profile_row("resnet34", "resnet", 2016, 21_797_672, 3_663_761_408, 73.31, 91.42),
    profile_row("resnet50", "resnet", 2016, 25_557_032, 4_089_184_256, 76.13, 92.86),
    profile_row("vgg11", "vgg", 2015, 132_863_336, 7_609_090_048, 69.02, 88.63),
]
# (model, threads) -> median ms on machine A. At 2 threads the (latency, top-1) Pareto front is resnet18, resnet34,
# resnet50; vgg11 is slower and less accurate than all three.
LATENCY_A = {
    ("resnet18", 2): 10.0,
    ("resnet34", 2): 20.0,
    ("resnet50", 2): 25.0,
    ("vgg11", 2): 60.0,
    ("resnet18", 1): 18.0,
    ("resnet34", 1): 37.0,
    ("resnet50", 1): 47.0,
}


def bench_row(model: str, threads: int, median: float, device: str = "cpu") -> dict:
    """timing.Measurement.to_dict() shape (a subset, plus a key the loader has never heard of)."""
    return {
        "model": model,
        "device": device,
        "dtype": "fp32",
        "batch": 1,
        "resolution": 224,
        "threads": threads,
        "interop_threads": threads,
        "isolation": "subprocess",
        "median_ms": median,
        "ci_low_ms": median * 0.99,
        "ci_high_ms": median * 1.01,
        "ci_pct": 1.0,
        "mean_ms": median * 1.01,
        "runs": 40,
        "stop": "ci",
        "images_per_s": 1e3 / median,
        "busy": False,
        "warnings": [],
        "samples_ms": [median] * 5,
        "gpu": None,
        "some_future_key": {"nested": True},
    }


def eval_row(model: str, top1: float, top5: float, crops: int = 1, random_init: bool = False) -> dict:
    """imagenet.evaluate row shape (a subset)."""
    return {
        "model": model,
        "weights": None if random_init else "torchvision IMAGENET1K_V1",
        "random_init": random_init,
        "weights_sha256": None if random_init else "ab" * 32,
        "crops": crops,
        "crop_size": 224,
        "resize": "shorter side 256",
        "average": "softmax",
        "top1": top1,
        "top1_lo": top1 - 0.4,
        "top1_hi": top1 + 0.4,
        "top5": top5,
        "images": 50000,
        "classes": 1000,
        "device": "cpu",
        "dtype": "fp32",
    }


EVAL = [
    eval_row("resnet50", 76.5, 93.1),
    eval_row("resnet34", 74.0, 92.0, crops=10),
    eval_row("resnet34", 73.5, 91.5, crops=1),
    eval_row("resnet18", 0.1, 0.5, random_init=True),  # chance level: never shown as accuracy
]


def write_json(path: Path, rows: list[dict], env: dict | None = None, **extra: object) -> Path:
    path.write_text(json.dumps({**extra, "environment": env or {}, "rows": rows}))
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Path:
    """A results folder as profile, bench (a 1,2-thread sweep) and eval would leave it."""
    d = tmp_path / "results"
    d.mkdir()
    write_json(d / "profile.json", PROFILE, ENV_A, notes=["profile notes"])
    write_json(d / "bench.json", [bench_row(m, t, ms) for (m, t), ms in LATENCY_A.items()], ENV_A)
    write_json(d / "eval.json", EVAL, ENV_A)
    return d


def md_row(out: str, model: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(f"| {model} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


# --- the Pareto front --------------------------------------------------------------------------------------------


def test_pareto_front_on_known_points() -> None:
    pts = [(10, 70.0), (20, 73.0), (25, 76.0), (60, 69.0), (15, 69.5), (30, 76.0), (5, 60.0)]
    # (15, 69.5) loses to (10, 70); (60, 69) to everything faster; (30, 76) ties on top-1 but is slower than (25, 76).
    assert plots.pareto_front(pts) == [6, 0, 1, 2]
    assert plots.pareto_front([]) == []
    assert plots.pareto_front([(3, 50.0)]) == [0]
    # Equal points do not dominate each other; equal latency keeps only the more accurate.
    assert plots.pareto_front([(1, 5.0), (1, 5.0), (1, 4.0), (2, 6.0)]) == [0, 1, 3]
    # Faster and more accurate dominates everything else.
    assert plots.pareto_front([(5, 80.0), (1, 90.0), (3, 85.0)]) == [1]


# --- the table ---------------------------------------------------------------------------------------------------


def test_table_rows_and_footnotes(capsys: pytest.CaptureFixture[str], fixture_dir: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "-f", "md")
    assert code == 0, err
    header = md_row(out, "Model")
    assert header == ["Model", "Params/Million", "MACs/G", "FLOPs/G", "Time_cast/ms", "Top-1", "Top-5"]
    # Measured Time_cast at the setting that covers most models (2 threads); measured accuracy plain.
    assert md_row(out, "resnet50") == ["resnet50", "25.557032", "4.08918", "8.17837", "25.00", "76.50", "93.10"]
    # 1-crop eval preferred over 10-crop (the published convention).
    assert md_row(out, "resnet34")[4:] == ["20.00", "73.50", "91.50"]
    # No usable eval: the paper's figures, marked; a missing published top-5 stays blank.
    assert md_row(out, "resnet18")[4:] == ["10.00", "69.76 †‡", ""]
    assert md_row(out, "vgg11")[4:] == ["60.00", "69.02 †‡", "88.63 †‡"]
    # Grouped by year like the seed, 2015 before 2016.
    assert out.index("**2015**") < out.index("**2016**")
    notes = [line for line in out.splitlines() if line.startswith("- ")]
    time_note = next(n for n in notes if "Time_cast/ms" in n)
    assert "Test CPU A" in time_note and "2 threads" in time_note and "zoobench bench" in time_note
    acc_note = next(n for n in notes if n.startswith("- Top-1/Top-5"))
    assert "measured by `zoobench eval` (1-crop)" in acc_note and "† marks the paper's published figure" in acc_note
    assert any("resnet18 (randomly initialised weights)" in n for n in notes)


def test_table_without_bench_or_eval_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_json(tmp_path / "p.json", PROFILE, ENV_A)
    code, out, err = run_cli(capsys, "report", str(tmp_path / "p.json"), "-f", "md")
    assert code == 0, err
    assert md_row(out, "resnet50")[4:] == ["", "76.13 †‡", "92.86 †‡"]
    assert "Time_cast/ms: blank: no bench results were given" in out
    assert "no eval results were given" in out


def test_profile_quick_time_used_when_no_bench(tmp_path: Path) -> None:
    rows = [dict(PROFILE[0], time_ms=12.5), dict(PROFILE[2], time_ms=30.0)]
    write_json(tmp_path / "p.json", rows, ENV_A)
    found = results.collect([tmp_path])
    table, notes = report_table(found)
    assert [r["time_ms"] for r in table] == [12.5, 30.0]
    assert any("`zoobench profile`'s quick timing" in n and "2 threads" in n for n in notes)


def test_bench_beats_profile_time_and_later_file_wins(tmp_path: Path) -> None:
    write_json(tmp_path / "a_profile.json", [dict(PROFILE[2], time_ms=99.0)], ENV_A)
    write_json(tmp_path / "b_bench.json", [bench_row("resnet50", 2, 25.0)], ENV_A)
    write_json(tmp_path / "c_bench.json", [bench_row("resnet50", 2, 24.0)], ENV_A)
    table, _ = report_table(results.collect([tmp_path]))
    assert table[0]["time_ms"] == 24.0


def test_rows_from_the_real_writers_are_recognised(tmp_path: Path) -> None:
    """profile's rows from complexity.profile, bench's from timing.Measurement: a renamed key fails here."""
    import dataclasses

    from zoobench import profiling, timing
    from zoobench.output import formats as report

    prof = profiling.profile([registry.get_spec("resnet18")], 224, time=False).rows
    (tmp_path / "profile.json").write_text(report.to_json(prof, ENV_A))
    fields = {f.name: None for f in dataclasses.fields(timing.Measurement)}
    fields.update(model="resnet18", device="cpu", dtype="fp32", median_ms=12.5, threads=2, batch=1, resolution=224)
    (tmp_path / "bench.csv").write_text(report.to_csv([timing.Measurement(**fields).to_dict()]))
    assert kinds(prof[0]) == {"profile"}
    found = results.collect([tmp_path])
    [lat] = found.latencies
    assert (lat.model, lat.median_ms, lat.setting.threads, lat.source) == ("resnet18", 12.5, 2, "bench")
    assert found.models["resnet18"]["params"] == prof[0]["params"]


def test_bench_only_results_get_counts_from_the_registry(tmp_path: Path) -> None:
    rows = [bench_row("resnet18", 2, 10.0), dict(bench_row("resnet50", 2, 25.0), flops_per_image=8_178_368_512)]
    write_json(tmp_path / "bench.json", rows, ENV_A)
    found = results.collect([tmp_path])
    # Counted on the meta device like `zoobench profile`; the bench row's own FLOPs are used when it has them.
    assert (found.models["resnet18"]["params"], found.models["resnet18"]["macs"]) == (11_689_512, 1_814_073_344)
    assert (found.models["resnet50"]["params"], found.models["resnet50"]["macs"]) == (25_557_032, 4_089_184_256)
    table, _ = report_table(found)
    published = [f"{registry.get_spec(m).accuracy.top1:.2f} †‡" for m in ("resnet18", "resnet50")]
    assert [r["top1_text"] for r in table] == published


def test_loader_reads_csv_and_ignores_unknown_files_in_a_folder(tmp_path: Path) -> None:
    write_csv(tmp_path / "profile.csv", PROFILE)
    write_csv(tmp_path / "bench.csv", [bench_row(m, t, ms) for (m, t), ms in LATENCY_A.items()])
    (tmp_path / "profile_all.json").write_text(json.dumps({"benchmark": "x", "median_s": 3.0}))  # no rows: skipped
    write_csv(tmp_path / "parity.csv", [{"model": "resnet50", "ratio": 1.01}])  # not a result kind: skipped
    (tmp_path / "zoo.md").write_text("| not | read |\n")
    found = results.collect([tmp_path])
    assert list(found.models) == ["vgg11", "resnet18", "resnet34", "resnet50"]
    assert sorted(Path(f).name for f in found.files) == ["bench.csv", "profile.csv"]
    assert any("profile_all.json" in n for n in found.notes) and any("parity.csv" in n for n in found.notes)
    # CSV carries no environment: the machine is unknown, and said so.
    _, notes = report_table(found)
    assert any("unknown machine" in n for n in notes)


def test_same_run_as_csv_and_json_is_not_two_machines(tmp_path: Path) -> None:
    rows = [bench_row(m, t, ms) for (m, t), ms in LATENCY_A.items()]
    write_json(tmp_path / "bench.json", rows, ENV_A)
    write_csv(tmp_path / "bench.csv", rows)
    found = results.collect([tmp_path])
    assert found.warnings() == []
    assert len(found.latencies) == len(rows)


def test_threads_option_picks_the_time_cast_runs(capsys: pytest.CaptureFixture[str], fixture_dir: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "--threads", "1", "-f", "md")
    assert code == 0, err
    assert md_row(out, "resnet50")[4] == "47.00" and md_row(out, "vgg11")[4] == ""  # vgg11 has no 1-thread run
    assert "1 thread)" in out and "blank for the 1 model(s) not measured at that setting" in out
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "-t", "4")
    assert_one_line_error(code, err)
    assert "no latency was measured at 4 threads (the results have 1, 2)" in err


def test_busy_measurements_are_flagged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rows = [dict(bench_row("resnet18", 2, 10.0), busy=True), bench_row("resnet50", 2, 25.0)]
    write_json(tmp_path / "bench.json", rows, ENV_A)
    out_dir = tmp_path / "plots"
    code, out, err = run_cli(capsys, "report", str(tmp_path), "--out-dir", str(out_dir), "-f", "md")
    assert code == 0, err
    assert "1 of 2 latencies were measured while the machine was busy" in out
    assert "warning: 1 of 2 latencies shown were measured on a busy machine" in err
    assert (
        "1 of 2 latencies were measured while the machine was busy" in (out_dir / "params_vs_latency.svg").read_text()
    )


def test_model_filter(capsys: pytest.CaptureFixture[str], fixture_dir: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "--model", "resnet5*", "-m", "vgg*", "-f", "csv")
    assert code == 0, err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == ["vgg11", "resnet50"]


def test_report_output_is_not_read_back(capsys: pytest.CaptureFixture[str], fixture_dir: Path) -> None:
    for fmt in ("json", "csv"):
        code, _, err = run_cli(capsys, "report", str(fixture_dir), "-o", str(fixture_dir / f"summary.{fmt}"))
        assert code == 0, err
    found = results.collect([fixture_dir])
    assert not any("summary" in f for f in found.files)


# --- plots and HTML ----------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.models: list[str] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "data-model":
                self.models.append(value or "")
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                self.urls.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_plots_and_html_written(capsys: pytest.CaptureFixture[str], fixture_dir: Path, tmp_path: Path) -> None:
    out_dir, page = tmp_path / "plots", tmp_path / "report.html"
    code, out, err = run_cli(
        capsys, "report", str(fixture_dir), "--out-dir", str(out_dir), "--html", str(page), "-f", "md"
    )
    assert code == 0, err
    assert "| resnet50 " in out
    assert "warning" not in err
    for name in PLOT_NAMES:
        png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
        assert png.stat().st_size > 5000 and svg.stat().st_size > 5000
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 400 and len(im.convert("L").getcolors(1 << 16)) > 2
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert not list(out_dir.glob(".*")), "temp files left behind"
    # Labels are text in the SVG (svg.fonttype none): every point named, the front drawn, the machine captioned.
    latency_svg = (out_dir / "top1_vs_latency.svg").read_text()
    for model in ("resnet18", "resnet34", "resnet50", "vgg11", "Pareto front", "Test CPU A"):
        assert model in latency_svg
    assert "latency (ms" in (out_dir / "latency_vs_threads.svg").read_text()

    text = page.read_text()
    parser = _Page()
    parser.feed(text)
    assert parser.models == ["vgg11", "resnet18", "resnet34", "resnet50"]
    assert parser.tags.count("svg") == 4 and "script" not in parser.tags and "link" not in parser.tags
    assert not [u for u in parser.urls if u.startswith(("http://", "https://", "//"))], parser.urls
    assert "@import" not in text and not re.search(r"url\((?!#)", text)  # url(#clip) points inside the page
    assert "69.76 †" in "".join(parser.text) and "Test CPU A" in "".join(parser.text)
    umask = os.umask(0)
    os.umask(umask)
    for path in [*out_dir.iterdir(), page]:  # meant to be served and shared: the mode a plain open() gives
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_mixed_machines_warn_and_label(capsys: pytest.CaptureFixture[str], fixture_dir: Path, tmp_path: Path) -> None:
    write_json(fixture_dir / "bench_b.json", [bench_row("resnet18", 8, 3.0), bench_row("resnet50", 8, 8.0)], ENV_B)
    out_dir = tmp_path / "plots"
    code, out, err = run_cli(capsys, "report", str(fixture_dir), "--out-dir", str(out_dir), "-f", "md")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "2 machines" in warnings[0]
    assert "M1 = Test CPU A" in warnings[0] and "M2 = Test CPU B" in warnings[0]
    # The table keeps one machine (the one covering most models) and says so.
    assert md_row(out, "resnet50")[4] == "25.00"
    assert "Latencies from other machines" in out
    svg = (out_dir / "top1_vs_latency.svg").read_text()
    assert "resnet50 [M1]" in svg and "resnet50 [M2]" in svg and "Test CPU B" in svg


def test_cuda_results_name_the_gpu(tmp_path: Path) -> None:
    rows = [dict(bench_row("resnet50", 4, 2.0, device="cuda"), gpu="NVIDIA Test GPU")]
    write_json(tmp_path / "gpu.json", rows, ENV_A)
    _, notes = report_table(results.collect([tmp_path]))
    assert any("NVIDIA Test GPU (host: Test CPU A, 2 cores)" in n and "cuda" in n for n in notes)


# --- accuracy and latency / MACs at the same resolution ------------------------------------------------------------


def _b7_results(tmp_path: Path, *rows: dict) -> results.Results:
    """resnet50 and EfficientNet-B7 (paper: 84.4 % at 600 px) benched at 224 px, plus `rows`."""
    lats = [bench_row("resnet50", 2, 25.0), bench_row("efficientnet_b7", 2, 90.0)]
    write_json(tmp_path / "bench.json", [*lats, *rows], ENV_A)
    write_json(tmp_path / "profile.json", PROFILE[2:3], ENV_A)
    return results.collect([tmp_path])


def test_a_600px_figure_is_never_paired_with_a_224px_latency(tmp_path: Path) -> None:
    found = _b7_results(tmp_path)
    shown = found.shown_accuracy()
    assert (shown["efficientnet_b7"].top1, shown["efficientnet_b7"].resolution) == (84.4, 600)
    plot = plots.top1_vs_latency(found)
    assert plot is not None
    assert "Left out, no latency at their top-1's resolution: efficientnet_b7 (600 px)" in plot.caption
    assert "at the same input resolution: 224 px for every model" in plot.caption
    series, left_out = plots._paired_series(found, plots._accuracy(found))
    assert set(next(iter(series.lats.values()))) == {"resnet50"} and left_out == {"efficientnet_b7": 600}


def test_a_latency_at_the_figures_resolution_is_paired(tmp_path: Path) -> None:
    found = _b7_results(tmp_path, dict(bench_row("efficientnet_b7", 2, 700.0), resolution=600))
    series, left_out = plots._paired_series(found, plots._accuracy(found))
    (lats,) = series.lats.values()
    assert lats["efficientnet_b7"].median_ms == 700.0 and lats["resnet50"].median_ms == 25.0 and not left_out
    caption = plots.top1_vs_latency(found).caption
    assert "224 px, except efficientnet_b7 (600 px)" in caption and "Left out" not in caption


def test_a_measured_top1_pairs_at_its_own_crop_size(tmp_path: Path) -> None:
    measured = dict(eval_row("efficientnet_b7", 73.0, 91.0), weights="torchvision IMAGENET1K_V1")
    found = _b7_results(tmp_path, measured)
    shown = found.shown_accuracy()["efficientnet_b7"]
    assert shown.measured and shown.resolution == 224
    series, left_out = plots._paired_series(found, plots._accuracy(found))
    assert next(iter(series.lats.values()))["efficientnet_b7"].median_ms == 90.0 and not left_out


def test_macs_are_counted_at_the_figures_resolution(tmp_path: Path) -> None:
    found = _b7_results(tmp_path)
    assert found.models["efficientnet_b7"]["macs_resolution"] == 224
    at_600 = found.macs_at("efficientnet_b7", 600)
    assert at_600 is not None and at_600 > 5 * found.models["efficientnet_b7"]["macs"]  # ~37.7 G vs ~5.2 G
    assert found.macs_at("resnet50", 224) == PROFILE[2]["macs"]  # the profile's own count where it applies
    caption = plots.top1_vs_gmacs(found).caption
    assert "top-1 and MACs at the same input resolution: 224 px, except efficientnet_b7 (600 px)" in caption


def test_measured_accuracy_names_its_recipe_and_source(tmp_path: Path) -> None:
    write_json(tmp_path / "eval.json", [dict(eval_row("resnet50", 76.5, 93.1), interpolation="bilinear")], ENV_A)
    rows, notes = report_table(results.collect([tmp_path / "eval.json"]))
    assert rows[0]["top1_text"] == "76.50"  # measured: no †
    note = next(n for n in notes if n.startswith("Measured top-1/top-5 of resnet50: "))
    recipe = "torchvision IMAGENET1K_V1 weights, 1-crop 224x224 inside shorter side 256, bilinear ("
    assert note.startswith(f"Measured top-1/top-5 of resnet50: {recipe}") and note.endswith("/eval.json).")


def test_other_label_sets_do_not_stand_for_imagenet_accuracy(tmp_path: Path) -> None:
    write_json(tmp_path / "real.json", [dict(eval_row("resnet50", 83.0, 96.0), labels="real")], ENV_A)
    found = results.collect([tmp_path / "real.json"])
    assert found.chosen_accuracy() == {}
    assert found.accuracies[0].excluded == "real labels, not ImageNet-1k's"


# --- bad input: one line, exit 2, nothing written -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.json", "{not json", "is not valid JSON"),
        ("nomodel.json", json.dumps({"rows": [{"median_ms": 3.0, "threads": 1}]}), "row 1 has no model name"),
        ("badnum.json", json.dumps({"rows": [dict(bench_row("resnet18", 1, 1.0), median_ms="fast")]}), "not a"),
        ("negative.json", json.dumps({"rows": [dict(bench_row("resnet18", 1, 1.0), median_ms=-2)]}), "positive"),
        ("fraction.json", json.dumps({"rows": [eval_row("resnet18", 250.0, 90.0)]}), "not a percentage"),
        ("other.csv", "model,colour\nresnet18,red\n", "not a profile, bench or eval result"),
        ("empty.csv", "", "is empty"),
        ("norows.json", json.dumps({"rows": []}), "has no rows"),
        ("summary.json", json.dumps({"benchmark": "x"}), "holds no result rows"),
        ("notes.txt", "hello", "not a result file"),
    ],
)
def test_bad_result_file(
    capsys: pytest.CaptureFixture[str], fixture_dir: Path, tmp_path: Path, name: str, content: str, message: str
) -> None:
    bad = tmp_path / name
    bad.write_text(content)
    out_dir, page = tmp_path / "plots", tmp_path / "r.html"
    code, out, err = run_cli(
        capsys,
        "report",
        str(fixture_dir),
        str(bad),
        "--out-dir",
        str(out_dir),
        "--html",
        str(page),
        "-o",
        str(tmp_path / "t.md"),
    )
    assert_one_line_error(code, err)
    assert message in err and name in err
    assert out == "" and not out_dir.exists() and not page.exists() and not (tmp_path / "t.md").exists()


def test_bad_selection_and_targets(capsys: pytest.CaptureFixture[str], fixture_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["report", str(tmp_path / "missing.json")], "no such result file"),
        (["report", str(empty)], "no CSV or JSON result files"),
        (["report", str(fixture_dir), "--model", "nomatch*"], "no model in the results matches"),
        (["report", str(fixture_dir), "--html", str(empty)], "is a folder"),
        (["report", str(fixture_dir), "--html", str(tmp_path / "no" / "r.html")], "does not exist"),
        (["report", str(fixture_dir), "--out-dir", str(fixture_dir / "eval.json")], "is a file"),
        (["report", str(fixture_dir), "-f", "pdf"], "unknown format"),
    ]
    for args, message in cases:
        code, out, err = run_cli(capsys, *args)
        assert_one_line_error(code, err)
        assert message in err, (args, err)
        assert out == ""
    assert list(empty.iterdir()) == []


def test_default_folder_is_results(
    capsys: pytest.CaptureFixture[str], fixture_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(fixture_dir.parent)
    code, out, err = run_cli(capsys, "report", "-f", "csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("model,")
    monkeypatch.chdir(tmp_path / "results")  # no results/ below here
    code, _, err = run_cli(capsys, "report")
    assert_one_line_error(code, err)
    assert "no results/ folder here" in err


def test_nothing_to_plot_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_json(tmp_path / "b.json", [bench_row("torchvision:alexnet", 2, 5.0)], ENV_A)  # no params, no top-1
    code, _, err = run_cli(capsys, "report", str(tmp_path / "b.json"), "--out-dir", str(tmp_path / "plots"))
    assert_one_line_error(code, err)
    assert "nothing to plot" in err and not (tmp_path / "plots").exists()


# --- a real browser ----------------------------------------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on PATH (Debian: apt-get install chromium)")
def test_html_renders_in_headless_chromium(fixture_dir: Path, tmp_path: Path) -> None:
    page, shot = tmp_path / "report.html", tmp_path / "shot.png"
    found = results.collect([fixture_dir])
    rows, notes = report_table(found)
    figures, _ = plots.render(found)
    from zoobench.reporting import html

    page.write_text(html.render(found, rows, notes, figures))
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,900",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert '<table class="zoo">' in dom and dom.count("<svg") == 4
    for model in ("vgg11", "resnet18", "resnet34", "resnet50"):
        assert f'data-model="{model}"' in dom
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1200, 900)
        colours = rgb.getcolors(1 << 20)
    assert colours is not None and len(colours) > 10, "blank screenshot"
    # The table's header cells (#f0f3f7) and dark text are on screen: the table rendered inside the first viewport.
    counts = {c: n for n, c in colours}
    assert counts.get((0xF0, 0xF3, 0xF7), 0) > 2000
    assert sum(n for n, c in colours if sum(c) < 150) > 1000


def test_a_converted_model_is_another_setting_than_eager(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An int8 OpenVINO run of resnet18 must never stand in for its eager fp32 latency in the table or the plots."""
    int8 = dict(bench_row("resnet18", 2, 2.0), backend="openvino", precision="int8")
    converted = [int8, dict(bench_row("resnet50", 2, 5.0), backend="openvino", precision="int8")]
    write_json(tmp_path / "int8.json", converted, ENV_A)
    write_json(tmp_path / "eager.json", [bench_row("resnet18", 2, 30.0)], ENV_A)
    found = results.collect([tmp_path])
    settings = {s.backend for s in found.best_settings().values()}
    assert settings == {"eager"}
    code, out, err = run_cli(capsys, "report", str(tmp_path / "eager.json"), str(tmp_path / "int8.json"), "-f", "md")
    assert code == 0, err
    assert md_row(out, "resnet18")[4] == "30.00"
