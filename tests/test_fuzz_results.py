"""Hostile result files: whatever a file holds, the report's reader gives a ZooError or a valid result that the table,
Markdown, JSON and HTML writers take, never another exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoobench.errors import ZooError
from zoobench.output import formats, views
from zoobench.reporting import html, plots, reading, results
from zoobench.reporting.table import table

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["nan", "1e999", "-1", "0", "12.5", "true", "cuda", "random", "paper"])
)
VALUES = st.recursive(
    SCALARS | st.sampled_from(["zoobench/report/1", "zoobench/bench/2", "zoobench report"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mostly(draw: st.DrawFn, good: st.SearchStrategy) -> object:
    """A plausible value nine times in ten, else anything: one bad value skips a whole file, so random rows would
    otherwise never get past the reader to the merging and the writers."""
    return draw(good) if draw(st.integers(0, 9)) else draw(VALUES)


AMOUNT = st.floats(min_value=0.01, max_value=1e12) | st.integers(min_value=1, max_value=10**12)
COUNT = st.integers(min_value=0, max_value=300)
TEXT = st.text(max_size=8) | st.sampled_from(["a$b$", "$\\frac{", "<b>&", "x²"])
# The keys the reader looks at, with plausible values, so that random rows reach the merging and the table.
KEYS = {
    **dict.fromkeys(["params", "macs", "flops", "time_ms", "median_ms", "ours_median_ms", "flops_per_image"], AMOUNT),
    **dict.fromkeys(["top1", "top5"], st.floats(min_value=0, max_value=100)),
    **dict.fromkeys(["threads", "batch", "resolution", "crops", "classes", "images", "year"], COUNT),
    **dict.fromkeys(["torchvision", "weights", "accuracy_source", "family", "cpu", "gpu", "dtype"], TEXT),
    "device": st.sampled_from(["cpu", "cuda", "mps"]),
    **dict.fromkeys(["busy", "random_init"], st.booleans()),
    "warnings": st.lists(TEXT, max_size=2),
}
NAMES = st.sampled_from(["resnet18", "vgg11", "mynet", "a$b$", "x²", "m|n", "<i>", "torchvision:x", "a:b"])
ROW = st.fixed_dictionaries({"model": mostly(NAMES)}, optional={k: mostly(v) for k, v in KEYS.items()})
ENV = st.dictionaries(
    st.sampled_from(["cpu", "gpu", "logical_cpus", "cores", "torch_threads", "x"]), VALUES, max_size=4
)
DOCS = mostly(
    st.fixed_dictionaries(
        {"rows": st.lists(ROW, max_size=5)},
        optional={
            "environment": mostly(ENV),
            "schema": mostly(st.just("zoobench/bench/1")),  # else a newer one, junk, the report's own
            "kind": mostly(st.just("bench")),
        },
    )
    | st.lists(mostly(ROW), max_size=4)
)


def check(path: Path) -> None:
    """Read `path` as the report does (alone, and as the only file of a folder) and write everything it shows."""
    for target in (path, path.parent):
        try:
            found = results.collect([target])
        except ZooError:
            continue
        rows, notes = table(found)
        formats.seed_markdown(rows, views.TABLE_COLUMNS, notes)
        formats.to_json(rows, found.main_environment(), schema_kind="report", notes=notes, files=found.files)
        formats.to_csv(rows)
        html.render(found, rows, notes, [])
        found.warnings()


def in_file(name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)
        path.write_bytes(content)
        check(path)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["r.json", "r.csv"]))
def test_random_bytes(content: bytes, name: str) -> None:
    in_file(name, content)


@FUZZ
@given(DOCS)
def test_random_json_documents(doc: object) -> None:
    in_file("r.json", json.dumps(doc).encode())


@FUZZ
@given(st.lists(ROW, min_size=1, max_size=4))
def test_random_csv_rows(rows: list[dict]) -> None:
    """CSV of the same random rows (pandas writes them; each cell becomes text)."""
    import pandas as pd

    in_file("r.csv", pd.DataFrame(rows).to_csv(index=False).encode())


@FUZZ
@given(st.text(alphabet=',\n"\r\\ab1.-e:model', max_size=200))
def test_random_csv_text(text: str) -> None:
    in_file("r.csv", text.encode())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=4))
def test_random_rows_plot(rows: list[dict]) -> None:
    """The plots draw names and machine labels from the files ('$' included): a result that reads also draws."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "r.json")
        path.write_text(json.dumps({"environment": {"cpu": "$\\frac{a$"}, "rows": rows}))
        try:
            found = results.collect([path])
        except ZooError:
            return
        plots.render(found)


def test_reader_refuses_nesting_without_recursing() -> None:
    assert reading._too_deep(json.loads("[" * 900 + "]" * 900))
    assert not reading._too_deep({"rows": [{"model": "m", "warnings": [[1]]}]})
