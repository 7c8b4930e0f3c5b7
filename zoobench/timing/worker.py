"""Isolation: each model measured in a fresh `python -m zoobench.timing` interpreter (pyperf's idea).

The parent sends one job as JSON on stdin and reads one Measurement as JSON from stdout's last line; a failure comes
back as one `zoobench: error: …` line on stderr and exit status 2, a crash (a signal, the OOM killer) by its status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

from zoobench.errors import ZooError, first_line
from zoobench.output.progress import line
from zoobench.registry import ModelSpec, get_spec
from zoobench.timing.config import BenchConfig
from zoobench.timing.inprocess import Measurement, count_flops, measure_model, resolution_of
from zoobench.timing.machine import default_threads

ERROR_PREFIX = line("error", "")


def _worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # Pools sized before torch starts them; the parent's import path so `module:callable` models resolve alike.
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _crash(name: str, proc: subprocess.CompletedProcess) -> ZooError:
    """The worker's own one-line error (exit 2), else what killed it, else the last line it wrote."""
    lines = [text for text in proc.stderr.strip().splitlines() if text.strip()]
    if proc.returncode == 2 and lines and lines[-1].startswith(ERROR_PREFIX):
        return ZooError(lines[-1].removeprefix(ERROR_PREFIX))
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        hint = " (out of memory?)" if sig == "SIGKILL" else ""
        return ZooError(f"{name}: the measurement worker was killed by {sig}{hint}")
    last = lines[-1] if lines else f"exit status {proc.returncode}"
    return ZooError(f"{name}: the measurement worker failed: {last}")


def measure_isolated(
    spec: ModelSpec, config: BenchConfig, timeout: float | None = None, flops: int | None = None
) -> Measurement:
    """`measure_model` in a fresh `python -m zoobench.timing` process: the parent sends JSON, gets JSON back."""
    config.validate()
    threads = config.threads or default_threads()
    # Counted here: it refuses a bad resolution without a subprocess, and a worker would pay the counter's start-up.
    if flops is None:
        flops = count_flops(spec, resolution_of(spec, config))
    job = json.dumps({"model": spec.name, "config": replace(config, threads=threads).to_dict(), "flops": flops})
    budget = timeout if timeout is not None else 600 + 4 * config.policy.max_time
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "zoobench.timing"],
            input=job,
            capture_output=True,
            text=True,
            env=_worker_env(threads),
            timeout=budget,
        )
    except subprocess.TimeoutExpired:
        raise ZooError(f"{spec.name}: the measurement worker ran past {budget:.0f} s and was stopped") from None
    except OSError as exc:
        raise ZooError(f"{spec.name}: cannot start the measurement worker: {exc.strerror or exc}") from exc
    if proc.returncode != 0:
        raise _crash(spec.name, proc)
    lines = [text for text in proc.stdout.splitlines() if text.strip()]
    try:
        return Measurement.from_dict(json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError, ZooError) as exc:
        raise ZooError(f"{spec.name}: the measurement worker returned no result") from exc


def main() -> None:
    """`python -m zoobench.timing`: one job as JSON on stdin, one Measurement as JSON on stdout's last line."""
    try:
        job = json.loads(sys.stdin.read())
        spec = get_spec(job["model"])
        m = measure_model(spec, BenchConfig.from_dict(job["config"]), isolation="subprocess", flops=job.get("flops"))
    except ZooError as exc:
        print(line("error", first_line(exc)), file=sys.stderr)
        sys.exit(2)
    sys.stdout.write("\n" + json.dumps(m.to_dict()) + "\n")
