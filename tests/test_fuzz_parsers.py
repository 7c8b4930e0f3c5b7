"""Random user text into the parsers that take it: a ZooError or a valid value, never another exception.

The result readers (tests/test_fuzz_results.py) and model specs (tests/test_fuzz_registry.py) have their own.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zoobench.cli.eval import _floats3  # noqa: E402
from zoobench.errors import ZooError  # noqa: E402
from zoobench.imagenet import devkit  # noqa: E402
from zoobench.imagenet.prepare import state  # noqa: E402
from zoobench.imagenet.transforms import EvalTransform  # noqa: E402
from zoobench.timing import parse_threads  # noqa: E402

FAST = settings(max_examples=150, deadline=None)
NUMBERISH = st.text(alphabet="0123456789,.-+eEinfa x", max_size=24)


@FAST
@given(st.one_of(NUMBERISH, st.text(max_size=24)))
def test_threads(text: str) -> None:
    try:
        counts = parse_threads(text)
    except ZooError:
        return
    assert counts and all(isinstance(n, int) and n >= 1 for n in counts)


@FAST
@given(st.one_of(NUMBERISH, st.text(max_size=24)), st.one_of(NUMBERISH, st.text(max_size=24)))
def test_mean_and_std(mean: str, std: str) -> None:
    try:
        t = EvalTransform(mean=_floats3(mean, "--mean"), std=_floats3(std, "--std"))
    except ZooError:
        return
    assert all(math.isfinite(v) for v in t.mean) and all(math.isfinite(v) and v > 0 for v in t.std)


class _FakeState:
    """A state folder whose journal holds given bytes (read-only use: nothing is written)."""

    def __init__(self, raw: bytes) -> None:
        self.raw, self.path = raw, Path("/nonexistent")

    def read(self, name: str) -> bytes:
        return self.raw


JOURNAL_LINE = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b'{"source": "train"}',
            b'{"source": "val", "size": 1}',
            b'{"class": "n01", "split": "train", "images": 3}',
            b'{"partial": "train/n01.partial"}',
            b'{"class": 5}',
            b"[]",
            b"null",
        ]
    ),
)


@FAST
@given(st.lists(JOURNAL_LINE, max_size=8), st.binary(max_size=10))
def test_journal(lines: list[bytes], torn: bytes) -> None:
    raw = b"\n".join(lines) + b"\n" + torn
    try:
        journal = state.Journal(_FakeState(raw), readonly=True)  # type: ignore[arg-type]
    except ZooError:
        return
    assert isinstance(journal.partials, set)


@FAST
@given(st.binary(max_size=300))
def test_devkit_meta(data: bytes) -> None:
    try:
        synsets = devkit.parse_meta(data)
    except ZooError:
        return
    assert isinstance(synsets, list)


@FAST
@given(st.text(max_size=200))
def test_devkit_ground_truth(text: str) -> None:
    try:
        labels = devkit.parse_ground_truth(text, {1: "n00000001", 2: "n00000002"})
    except ZooError:
        return
    assert all(w in ("n00000001", "n00000002") for w in labels)
