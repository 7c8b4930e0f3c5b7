"""Isolation: each model measured in fresh `python -m zoobench.timing` interpreters (pyperf's idea).

A worker is one session of one model (see inprocess.LocalSession): the parent sends the job as one JSON line on
stdin, then one command per line — "round" (the worker answers with the Round as one JSON line on stdout) or
"close" (it answers with its SessionInfo and exits). A failure comes back as one `zoobench: error: …` line on
stderr and exit status 2, a crash (a signal, the OOM killer) by its status. The worker stays alive between its
rounds, so the scheduler can interleave the rounds of several models, each in its own process.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile

from zoobench.errors import ZooError, first_line
from zoobench.output.progress import line
from zoobench.registry import ModelSpec, get_spec
from zoobench.timing.config import BenchConfig
from zoobench.timing.inprocess import Entry, LocalSession, entry_for, measure_entries
from zoobench.timing.measurement import Measurement, SessionInfo
from zoobench.timing.rounds import Round

ERROR_PREFIX = line("error", "")


def _worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # Pools sized before torch starts them; the parent's import path so `module:callable` models resolve alike.
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def _crash(name: str, returncode: int, stderr: str) -> ZooError:
    """The worker's own one-line error (exit 2), else what killed it, else the last line it wrote."""
    lines = [text for text in stderr.strip().splitlines() if text.strip()]
    if returncode == 2 and lines and lines[-1].startswith(ERROR_PREFIX):
        return ZooError(lines[-1].removeprefix(ERROR_PREFIX))
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode).name
        except ValueError:
            sig = f"signal {-returncode}"
        hint = " (out of memory?)" if sig == "SIGKILL" else ""
        return ZooError(f"{name}: the measurement worker was killed by {sig}{hint}")
    last = lines[-1] if lines else f"exit status {returncode}"
    return ZooError(f"{name}: the measurement worker failed: {last}")


class RemoteSession:
    """A LocalSession in a fresh worker process, driven over its stdin and stdout."""

    def __init__(self, entry: Entry, process: int, rounds: int, budget: float, timeout: float | None = None) -> None:
        self.name = entry.spec.name
        self.timeout = timeout if timeout is not None else 600 + 4 * entry.config.policy.max_time
        job = {"model": self.name, "config": entry.config.to_dict(), "flops": entry.flops, "process": process,
               "rounds": rounds, "budget": budget}  # fmt: skip
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed by close or abort)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zoobench.timing"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                text=True,
                env=_worker_env(entry.config.threads or 1),
            )
        except OSError as exc:
            self.stderr.close()
            raise ZooError(f"{self.name}: cannot start the measurement worker: {exc.strerror or exc}") from exc
        self._send(job)

    def _send(self, message: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the reply that does not come says why

    def _reply(self) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        text = self.proc.stdout.readline() if ready else None
        if text is None:
            self.abort()
            raise ZooError(f"{self.name}: the measurement worker ran past {self.timeout:.0f} s and was stopped")
        if not text:  # it exited: its stderr says why
            self.proc.wait()
            self.stderr.seek(0)
            error = _crash(self.name, self.proc.returncode, self.stderr.read())
            self.abort()
            raise error
        try:
            return json.loads(text)
        except ValueError as exc:
            self.abort()
            raise ZooError(f"{self.name}: the measurement worker returned no result") from exc

    def round(self) -> Round:
        self._send({"cmd": "round"})
        return Round.from_dict(self._reply())

    def close(self) -> SessionInfo:
        self._send({"cmd": "close"})
        info = SessionInfo(**self._reply())
        self.proc.wait()
        self.stderr.close()
        return info

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def remote_opener(timeout: float | None = None):
    def open_session(entry: Entry, process: int, rounds: int, budget: float) -> RemoteSession:
        return RemoteSession(entry, process, rounds, budget, timeout)

    return open_session


def measure_isolated(
    spec: ModelSpec, config: BenchConfig, timeout: float | None = None, flops: int | None = None
) -> Measurement:
    """`measure_model` with every session in a fresh `python -m zoobench.timing` process."""
    # Counted here: it refuses a bad resolution without a subprocess, and a worker would pay the counter's start-up.
    entry = entry_for(spec, config, flops)
    [result] = measure_entries([entry], remote_opener(timeout), isolation="subprocess", fail_fast=True)
    assert isinstance(result, Measurement)
    return result


def main() -> None:
    """`python -m zoobench.timing`: a job line, then "round" / "close" commands, each answered with a JSON line."""
    # The protocol gets a private copy of stdout; fd 1 itself (Python's prints and C libraries' alike) goes to
    # stderr, so nothing the user's model or a library prints can break a reply line.
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        job = json.loads(sys.stdin.readline())
        config = BenchConfig.from_dict(job["config"])
        entry = Entry(get_spec(job["model"]), config, job["flops"])
        session = LocalSession(entry, job["rounds"], job["budget"], process=job["process"])
        for text in sys.stdin:
            command = json.loads(text)["cmd"]
            reply = session.round().to_dict() if command == "round" else session.close().to_dict()
            out.write(json.dumps(reply) + "\n")
            out.flush()
            if command == "close":
                return
    except ZooError as exc:
        print(line("error", first_line(exc)), file=sys.stderr)
        sys.exit(2)
