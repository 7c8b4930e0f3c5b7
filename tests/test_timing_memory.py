"""Memory of a measurement (issue 16): peak RSS above the state before the build, weight bytes, CUDA peak."""

from __future__ import annotations

from pathlib import Path

from zoobench import registry, timing
from zoobench.timing import memory
from zoobench.timing.config import BenchConfig
from zoobench.timing.loop import Policy


def _status(proc: Path, rss_kb: int, hwm_kb: int) -> None:
    proc.mkdir(exist_ok=True)
    (proc / "status").write_text(f"Name:\tpython\nVmHWM:\t{hwm_kb} kB\nVmRSS:\t{rss_kb} kB\n")


def test_peak_rss_above_the_state_before_the_build_from_fixture_files(tmp_path):
    proc = tmp_path / "proc"
    _status(proc, rss_kb=1000, hwm_kb=5000)
    tracker = memory.Tracker("cpu", proc)
    assert (proc / "clear_refs").read_text() == "5"  # the reset was asked for
    assert tracker.method == memory.RESET and tracker.rss_before_kb == 1000
    _status(proc, rss_kb=1500, hwm_kb=3000)
    assert tracker.peak() == (2000 * 1024, None)


def test_refused_reset_says_the_peak_is_since_the_process_started(tmp_path):
    proc = tmp_path / "proc"
    _status(proc, 1000, 5000)
    (proc / "clear_refs").mkdir()  # writing to it fails, as it does where the kernel refuses
    tracker = memory.Tracker("cpu", proc)
    assert tracker.method == memory.SINCE_START
    assert memory.Tracker("cpu", tmp_path / "none").method == memory.UNKNOWN


def test_memory_fields_are_present_in_a_measurement():
    config = BenchConfig(resolution=32, threads=1, policy=Policy(max_time=0.1, rounds=2, processes=1))
    m = timing.measure_model(registry.get_spec("benchnets:tiny"), config).to_dict()
    params = (3 * 8 * 9 + 8) + (8 * 8 * 9 + 8) + (8 * 10 + 10)
    assert m["weight_bytes"] == 4 * params
    assert isinstance(m["rss_peak_bytes"], int) and m["rss_peak_bytes"] >= 0
    assert m["rss_method"] in (memory.RESET, memory.SINCE_START)
    assert m["cuda_peak_bytes"] is None  # on the CPU
