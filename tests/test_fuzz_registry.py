"""Random text as a model name or pattern: the registry answers with specs or one ZooError, never another exception."""

from __future__ import annotations

import pytest

from zoobench import registry
from zoobench.errors import ZooError

hypothesis = pytest.importorskip("hypothesis")  # in the dev extra; skipped, not failed, where it is missing
st = hypothesis.strategies

# Pieces of real names, globs and references reach the suggestion, glob and import paths far more often than
# plain random text does.
PIECES = st.sampled_from(
    ["resnet", "50", "*", "?", "[", "]", "!", "-", ":", ".", "torchvision", "tinymodels", " ", "_"]
)
TEXT = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=6).map("".join))
FUZZ = hypothesis.settings(deadline=None, max_examples=200)


@FUZZ
@hypothesis.given(TEXT)
def test_select_gives_specs_or_zoo_error(text: str) -> None:
    try:
        specs = registry.select([text])
    except ZooError:
        return
    assert specs and all(isinstance(s, registry.ModelSpec) for s in specs)


@FUZZ
@hypothesis.given(TEXT)
def test_get_spec_gives_a_spec_or_zoo_error(text: str) -> None:
    try:
        spec = registry.get_spec(text)
    except ZooError:
        return
    assert isinstance(spec, registry.ModelSpec)
