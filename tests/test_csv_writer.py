"""The CSV writer needs no pandas (prepare-imagenet -f csv stays light) yet writes pandas's dialect, in which every
committed CSV file was written: the same bytes as `pandas.DataFrame(rows).to_csv(index=False)` for any rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoobench.output.formats import to_csv

CELLS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.lists(st.integers(0, 9), max_size=3)
)
# Rows share a few keys, so columns mix types, blanks and missing keys the way result rows do.
ROWS = st.lists(st.dictionaries(st.sampled_from("abcde"), CELLS, max_size=5), max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_csv_is_pandas_dialect_for_any_rows(rows):
    assert to_csv(rows) == pd.DataFrame(rows).to_csv(index=False)


def test_csv_of_typical_rows_and_numpy_scalars():
    rows = [
        {"model": "resnet18", "params": 11689512, "ms": 12.25, "busy": False, "warnings": ["a, b"]},
        {"model": "vgg11", "params": 132863336, "ms": None, "busy": True, "warnings": []},
        {"model": "x", "params": np.int64(5), "ms": np.float64(1e-7), "busy": np.bool_(True), "extra": 'q"uote'},
    ]
    assert to_csv(rows) == pd.DataFrame(rows).to_csv(index=False)
