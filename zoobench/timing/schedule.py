"""Interleaved rounds: which entry (model x setting) runs its next round when, in which process. No torch.

Entries are taken in groups of `GROUP`. Within a group, wave p opens one session per entry (a fresh worker process,
or a fresh build in this process) and runs the wave's rounds interleaved, A1 B1 C1 A2 B2 C2 …, so that the
machine's drift over time hits every entry alike; then the wave's sessions close and wave p+1 starts fresh ones.
An entry stops early once its between-rounds CI reaches the target (from `min_rounds` rounds in two processes), and
finishes — `done` is told — as soon as its last round is in, so a killed run keeps every finished entry.

Sessions are whatever `open_session(entry, process, rounds, budget)` returns: tests pass fake ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from zoobench.errors import ZooError
from zoobench.timing.loop import STOP_BUDGET, STOP_CI, Policy
from zoobench.timing.rounds import Round, combine

GROUP = 8  # entries alive at once: 8 worker processes with their models fit any machine that runs them one by one

E = TypeVar("E")


class Session(Protocol):
    def round(self) -> Round: ...

    def close(self) -> object: ...  # what the session learnt (memory, threads, warm-up): kept in Outcome.sessions

    def abort(self) -> None: ...  # drop it (kill its process) without waiting for anything


Opener = Callable[[E, int, int, float], Session]  # (entry, process index, rounds in it, its budget in seconds)


@dataclass
class Outcome(Generic[E]):
    entry: E
    index: int  # position among the entries
    rounds: list[Round] = field(default_factory=list)
    sessions: list[object] = field(default_factory=list)
    stop: str = STOP_BUDGET
    error: ZooError | None = None


def rounds_per_process(policy: Policy) -> list[int]:
    """The rounds split as evenly as they go: 6 rounds in 2 processes -> [3, 3]; 5 in 2 -> [3, 2]."""
    base, extra = divmod(policy.rounds, policy.processes)
    return [base + (p < extra) for p in range(policy.processes)]


def _reached(rounds: list[Round], policy: Policy) -> bool:
    processes = {r.process for r in rounds}
    if len(rounds) < policy.min_rounds or len(processes) < min(2, policy.processes):
        return False
    return combine(rounds).ci_rel <= policy.rel_ci


def interleave(
    entries: Sequence[E],
    open_session: Opener,
    policy: Policy,
    *,
    done: Callable[[Outcome[E]], None],
    fail_fast: bool = False,
    group: int = GROUP,
) -> None:
    """Run every entry's rounds, interleaved within groups; `done(outcome)` once per entry, in finishing order.

    A ZooError from opening a session or from a round ends that entry (its outcome carries the error) and the others
    go on — unless `fail_fast`, when it is raised after every live session is dropped.
    """
    split = rounds_per_process(policy)
    for first in range(0, len(entries), group):
        outcomes = [Outcome(e, first + i) for i, e in enumerate(entries[first : first + group])]
        _run_group(outcomes, open_session, policy, split, done, fail_fast)


def _run_group(
    outcomes: list[Outcome[E]],
    open_session: Opener,
    policy: Policy,
    split: list[int],
    done: Callable[[Outcome[E]], None],
    fail_fast: bool,
) -> None:
    live: dict[int, Session] = {}
    finished: set[int] = set()

    def finish(i: int, stop: str | None = None, error: ZooError | None = None) -> None:
        out = outcomes[i]
        session = live.pop(i, None)
        if session is not None and error is None:
            try:
                out.sessions.append(session.close())
            except ZooError as exc:
                error = exc
        elif session is not None:
            session.abort()
        out.stop, out.error = stop or out.stop, error
        finished.add(i)
        done(out)
        if error is not None and fail_fast:
            raise error

    try:
        for process, count in enumerate(split):
            budget = policy.max_time * count / policy.rounds
            for k in range(count):
                for i, out in enumerate(outcomes):
                    if i in finished:
                        continue
                    try:
                        if i not in live:
                            live[i] = open_session(out.entry, process, count, budget)
                        out.rounds.append(live[i].round())
                    except ZooError as exc:
                        finish(i, error=exc)
                        continue
                    reached = _reached(out.rounds, policy)
                    if reached or (process == len(split) - 1 and k == count - 1):
                        finish(i, STOP_CI if reached else STOP_BUDGET)
            for i in list(live):  # the wave is over: its sessions close, the next wave opens fresh ones
                try:
                    outcomes[i].sessions.append(live.pop(i).close())
                except ZooError as exc:
                    finish(i, error=exc)
    finally:
        for session in live.values():
            session.abort()
