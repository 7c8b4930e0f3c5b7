"""Bad input to `zoobench report`: one stderr line, exit 2 (or a note and exit 0 for junk in a folder), nothing
touched. Ids starting `Dn-` are defects fixed here; each failed on the code before the fix."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from badinput import Case, assert_bad_input, cases
from clihelp import run_cli

ENV = {"cpu": "Test CPU", "logical_cpus": 2, "torch_threads": 2}


def bench_row(model: str = "mynet", threads: int = 2, median_ms: object = 10.0) -> dict:
    return {"model": model, "device": "cpu", "dtype": "fp32", "batch": 1, "threads": threads, "median_ms": median_ms}


def result(rows: list, **extra: object) -> str:
    return json.dumps({**extra, "environment": ENV, "rows": rows})


Maker = Callable[[Path], None]


def write(named: dict[str, str | bytes]) -> Maker:
    def make(tmp: Path) -> None:
        for name, content in named.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode())

    return make


def fifo(name: str) -> Maker:
    def make(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(tmp / name)

    return make


def symlink(name: str, target: str, folder: bool = False) -> Maker:
    def make(tmp: Path) -> None:
        (tmp / target).mkdir() if folder else (tmp / target).write_text("mine\n")
        (tmp / name).symlink_to(tmp / target)

    return make


def good(*more: Maker) -> Maker:
    """tmp/good.json (one bench row) and whatever `more` makes."""

    def make(tmp: Path) -> None:
        (tmp / "good.json").write_text(result([bench_row()]))
        for step in more:
            step(tmp)

    return make


GOOD = "{tmp}/good.json"
DEEP = "[" * 100_000 + "]" * 100_000
TABLE = [
    # D4: 100,000-level nesting was a RecursionError traceback from json.loads.
    Case(
        "D4-deep-json",
        ["report", "{tmp}/deep.json"],
        r"error: .*deep\.json.*nested too deep",
        setup=write({"deep.json": DEEP}),
    ),
    Case(
        "D4-deep-but-parsable-json",
        ["report", "{tmp}/deep.json"],
        r"error: .*deep\.json.*nested more than 64 levels",
        setup=write({"deep.json": json.dumps({"rows": [{"model": "m", "x": json.loads("[" * 500 + "]" * 500)}]})}),
    ),
    # A junk file in a folder stopped the whole report; now it is skipped with a note.
    Case(
        "folder-junk-skipped-with-a-note",
        ["report", "{tmp}", "-f", "md"],
        r"^zoobench: note: skipped .*junk\.json: not valid JSON",
        code=0,
        setup=good(write({"junk.json": "{not json"})),
    ),
    Case(
        "folder-only-junk",
        ["report", "{tmp}"],
        r"error: no profile, bench or eval rows .*2 file\(s\) skipped",
        setup=write({"a.json": "{", "b.csv": b"\xff\xfe\x00junk"}),
    ),
    Case(
        "junk-named-explicitly",
        ["report", GOOD, "{tmp}/junk.json"],
        r"junk\.json' is not valid JSON",
        setup=good(write({"junk.json": "{not json"})),
    ),
    Case("missing-file", ["report", "{tmp}/missing.json"], r"no such result file or folder: .*missing\.json"),
    Case("empty-file", ["report", "{tmp}/empty.csv"], r"empty\.csv' is empty", setup=write({"empty.csv": "  \n"})),
    Case(
        "bad-csv",
        ["report", "{tmp}/bad.csv"],
        r"bad\.csv' is not a valid CSV: Error tokenizing",
        setup=write({"bad.csv": 'model,median_ms\n"unterminated'}),
    ),
    Case(
        "not-utf8", ["report", "{tmp}/b.csv"], r"b\.csv' is not UTF-8 text", setup=write({"b.csv": b"model\n\xff\xfe"})
    ),
    Case(
        "json-number",
        ["report", "{tmp}/n.json"],
        r"n\.json' is a JSON number, not a result document",
        setup=write({"n.json": "42"}),
    ),
    Case(
        "json-list-of-numbers",
        ["report", "{tmp}/l.json"],
        r"l\.json': row 1 has no model name",
        setup=write({"l.json": "[1, 2]"}),
    ),
    Case(
        "newer-schema",
        ["report", "{tmp}/new.json"],
        r"new\.json': written by a newer zoobench",
        setup=write({"new.json": result([bench_row()], schema="zoobench/bench/99")}),
    ),
    Case(
        "newer-schema-in-a-folder",
        ["report", "{tmp}"],
        r"new\.json': written by a newer zoobench",
        setup=good(write({"new.json": result([bench_row()], schema="zoobench/bench/99")})),
    ),
    Case(
        "unknown-schema",
        ["report", "{tmp}/u.json"],
        r"u\.json': unknown schema 'results v2'",
        setup=write({"u.json": result([bench_row()], schema="results v2")}),
    ),
    Case(
        "huge-integer",
        ["report", "{tmp}/h.json"],
        r"h\.json': mynet: median_ms is 1000.*, not a number",
        setup=write({"h.json": result([bench_row(median_ms=10**400)])}),
    ),
    Case(
        "too-many-digits",
        ["report", "{tmp}/d.json"],
        r"d\.json' is not valid JSON: Exceeds the limit",
        setup=write({"d.json": '{"rows": [{"model": "m", "median_ms": ' + "1" * 5000 + ', "threads": 1}]}'}),
    ),
    Case(
        "model-name-two-lines",
        ["report", "{tmp}/m.json"],
        r"m\.json': row 1: the model name is not one line",
        setup=write({"m.json": result([bench_row(model="a\nb")])}),
    ),
    Case("input-is-a-fifo", ["report", "{tmp}/in.json"], r"in\.json' is not a regular file", setup=fifo("in.json")),
    Case("bad-threads", ["report", GOOD, "--threads", "0"], r"Invalid value for '--threads'", setup=good()),
    Case(
        "threads-not-measured",
        ["report", GOOD, "-t", "3"],
        r"no latency was measured at 3 threads \(the results have 2\)",
        setup=good(),
    ),
    Case(
        "output-bad-extension",
        ["report", GOOD, "-o", "{tmp}/t.pdf"],
        r"cannot tell the format of .*t\.pdf",
        setup=good(),
    ),
    Case(
        "html-into-missing-folder",
        ["report", GOOD, "--html", "{tmp}/no/r.html"],
        r"its folder does not exist",
        setup=good(),
    ),
    Case(
        "out-dir-is-a-file",
        ["report", GOOD, "--out-dir", GOOD],
        r"out_dir .*good\.json' is a file, not a folder",
        setup=good(),
    ),
    # Output paths were checked only when written: plots and HTML went out before -o or --html was refused.
    Case(
        "output-fifo-checked-first",
        ["report", GOOD, "--html", "{tmp}/r.html", "-o", "{tmp}/fifo.md"],
        r"fifo\.md': it is a FIFO",
        setup=good(fifo("fifo.md")),
    ),
    Case(
        "html-symlink-checked-first",
        ["report", GOOD, "--out-dir", "{tmp}/plots", "--html", "{tmp}/link.html"],
        r"link\.html': it is a symlink",
        setup=good(symlink("link.html", "mine.html")),
    ),
    Case(
        "out-dir-symlink",
        ["report", GOOD, "--out-dir", "{tmp}/plots"],
        r"out_dir .*plots' is a symlink",
        setup=good(symlink("plots", "elsewhere", folder=True)),
    ),
    Case(
        "plot-file-is-a-fifo",
        ["report", GOOD, "--html", "{tmp}/r.html", "--out-dir", "{tmp}/plots"],
        r"top1_vs_gmacs\.png': it is a FIFO",
        setup=good(fifo("plots/top1_vs_gmacs.png")),
    ),
    # -o naming one of the files read replaced the user's results with the report.
    Case(
        "output-overwrites-an-input",
        ["report", "{tmp}", "-o", GOOD.replace("json", "csv")],
        r"output .*good\.csv' is one of the result files read",
        setup=write({"good.csv": "model,device,threads,median_ms\nmynet,cpu,2,10.0\n"}),
    ),
    Case(
        "report-own-output",
        ["report", "{tmp}/own.json"],
        r"own\.json' is zoobench report's own output",
        setup=write({"own.json": result([], schema="zoobench/report/1")}),
    ),
]


@cases(TABLE)
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert_bad_input(case, tmp_path, capsys)


def test_readme_threads_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`zoobench report --model 'resnet*' --threads 1` (README) exited 2 on results/, whose 1-thread runs are in the
    parity files: their `ours_median_ms` is our model's latency, used where bench has none."""
    parity = {"torchvision": "resnet18", "resolution": 224, "threads": 1, "ours_median_ms": 50.0, "ratio": 1.0}
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench.json").write_text(result([bench_row("resnet18", 2, 30.0), bench_row("vgg11", 2, 90.0)]))
    (results / "parity_1thread.json").write_text(result([{"model": "resnet18", **parity}]))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "report", "--model", "resnet*", "--threads", "1", "-f", "md")
    assert code == 0, err
    assert "| resnet18 " in out and "| 50.00 " in out and "vgg11" not in out
    assert "bench_parity.py" in out and "1 thread)" in out
    # The default stays bench's: parity never replaces a bench median at the same setting.
    code, out, err = run_cli(capsys, "report", "-f", "md")
    assert code == 0, err
    assert "| 30.00 " in out and "`zoobench bench` (cpu, fp32, batch 1, 2 threads)" in out
