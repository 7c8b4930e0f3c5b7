"""`zoobench doctor` (issue 16): its checks on fixture /proc and /sys files; the command; bench's environment."""

from __future__ import annotations

import json
from pathlib import Path

from clihelp import run_cli

from zoobench import environment

PARALLEL = "ATen/Parallel:\n\tat::get_num_threads() : 2\nATen parallel backend: OpenMP\n"


def _machine(tmp: Path, *, governor: str, no_turbo: str, siblings: str, load: str, thp: str, maps: str) -> Path:
    files = {
        "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": governor,
        "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": governor,
        "sys/devices/system/cpu/intel_pstate/no_turbo": no_turbo,
        "sys/devices/system/cpu/cpu0/topology/thread_siblings_list": siblings,
        "sys/devices/system/cpu/cpu1/topology/thread_siblings_list": siblings,
        "sys/devices/system/cpu/smt/active": "1" if "," in siblings else "0",
        "proc/loadavg": f"{load} 0.50 0.40 1/200 12345",
        "sys/kernel/mm/transparent_hugepage/enabled": thp,
        "proc/self/maps": maps,
    }
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text + "\n")
    return tmp


def _verdicts(rows: list[dict]) -> dict[str, str]:
    return {r["check"]: r["verdict"] for r in rows}


def test_a_noisy_machine_gets_a_warning_and_a_fix_for_each_problem(tmp_path):
    root = _machine(tmp_path, governor="powersave", no_turbo="0", siblings="0,1", load="1.90",
                    thp="[always] madvise never", maps="7f00 r-xp libgomp.so.1\n7f01 r-xp libiomp5.so\n")  # fmt: skip
    rows = environment.doctor(root, env={"OMP_NUM_THREADS": "4", "KMP_AFFINITY": "compact"}, cpus=[0, 1],
                              parallel=PARALLEL)  # fmt: skip
    verdicts = _verdicts(rows)
    assert verdicts == {
        "cpufreq governor": "warn",
        "turbo / boost": "warn",
        "SMT siblings of the usable CPUs": "warn",
        "other load": "warn",
        "OMP/MKL and allocator variables": "info",
        "transparent huge pages": "warn",
        "OpenMP runtime and allocator": "warn",  # two OpenMP runtimes
    }
    by = {r["check"]: r for r in rows}
    assert all(r["fix"] for r in rows if r["verdict"] == "warn")
    assert "cpupower frequency-set -g performance" in by["cpufreq governor"]["fix"]
    assert "no_turbo" in by["turbo / boost"]["fix"]
    assert by["OMP/MKL and allocator variables"]["value"] == "OMP_NUM_THREADS=4, KMP_AFFINITY=compact"
    assert by["transparent huge pages"]["value"] == "always"
    assert "1.90 on 2" in by["other load"]["value"]
    assert "libgomp, libiomp5" in by["OpenMP runtime and allocator"]["value"]


def test_a_quiet_tuned_machine_is_ok(tmp_path):
    maps = "7f00 r-xp libgomp.so.1\n7f02 r-xp libjemalloc.so.2\n"
    root = _machine(tmp_path, governor="performance", no_turbo="1", siblings="0", load="0.05",
                    thp="always [madvise] never", maps=maps)  # fmt: skip
    rows = environment.doctor(root, env={}, cpus=[0, 1], parallel=PARALLEL)
    assert {r["verdict"] for r in rows} <= {"ok", "info"}
    by = {r["check"]: r for r in rows}
    assert by["OpenMP runtime and allocator"]["value"] == (
        "ATen backend OpenMP; OpenMP runtime libgomp; allocator libjemalloc"
    )
    assert by["OMP/MKL and allocator variables"]["value"] == "none set"


def test_nothing_exposed_reads_as_info_not_as_an_error(tmp_path):
    rows = environment.doctor(tmp_path, env={}, cpus=[0], parallel="")
    assert len(rows) == 7 and all(r["verdict"] in ("info", "ok") for r in rows)


def test_doctor_command_and_bench_environment(capsys):
    code, out, err = run_cli(capsys, "doctor", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "zoobench/doctor/1" and len(doc["rows"]) == 7
    assert set(doc["rows"][0]) == {"check", "value", "verdict", "fix"}
    assert environment.collect()["doctor"][0]["check"] == "cpufreq governor"


def test_bench_warns_once_per_run_about_what_matters():
    from zoobench.output import views

    rows = [
        {"check": "cpufreq governor", "value": "powersave", "verdict": "warn", "fix": "..."},
        {"check": "transparent huge pages", "value": "madvise", "verdict": "ok", "fix": ""},
    ]
    assert views.doctor_warnings(rows) == [
        "zoobench: warning: cpufreq governor: powersave: can skew these latencies (`zoobench doctor` says how to "
        "fix it)"
    ]


def test_a_baseline_from_another_machine_is_named():
    from zoobench.output import views

    here = {"hostname": "a", "cpu": "EPYC", "cores": 2}
    assert views.other_machine(here, dict(here)) is None and views.other_machine({}, here) is None
    note = views.other_machine({**here, "hostname": "b"}, here)
    assert note.startswith("the baseline was measured on another machine (hostname b") and "cannot separate" in note
