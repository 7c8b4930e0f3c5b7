"""Ranks, shards and the few collectives of a distributed evaluation (`torchrun --nproc-per-node N -m zoobench eval`).

Each rank takes one contiguous slice of the sample indices, with no padding (the stock DistributedSampler repeats
samples to even the ranks out, which changes accuracy at some world sizes); results are gathered by sample index.
gloo on CPU, nccl on GPU (with a gloo group beside it for Python objects).

A failure anywhere becomes one ZooError: a setup step that fails on one rank fails on all (`collective`), and a rank
that dies (killed, out of memory; without torchrun's watchdog nobody stops the others) turns the next collective's
backend error into one line naming the lost rank.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch.distributed as dist

from zoobench.errors import ZooError, first_line
from zoobench.imagenet.evaluate.dataset import some

TIMEOUT = timedelta(minutes=30)  # a collective waits this long for a slow rank before giving up


def shard(n: int, world: int, rank: int) -> range:
    """Rank `rank`'s contiguous slice of range(n): every index exactly once over all ranks, sizes differ by <= 1."""
    return range(n * rank // world, n * (rank + 1) // world)


def env_rank() -> int:
    """This process's global rank under torchrun (0 otherwise), readable before any process group exists."""
    return int(os.environ.get("RANK", "0"))


class CollectiveError(ZooError):
    """A ZooError every rank knows about: rank 0 reports it, the others can leave quietly."""


@dataclass
class Ranks:
    """This process's place in the group, and the collectives the evaluation uses."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    backend: str | None = None
    group: object = None  # a gloo group for gathering Python objects, whatever the main backend
    store: object = None  # the rendezvous store, when we made the group: where each rank notes how far it got
    steps: int = 0

    def gather(self, obj: object, step: str) -> list:
        """Every rank's `obj`, in rank order. A rank lost before or during `step` is named in one ZooError."""
        if self.world == 1:
            return [obj]
        self.steps += 1
        self._arrive()
        out: list = [None] * self.world
        try:
            dist.all_gather_object(out, obj, group=self.group)
        except RuntimeError as exc:  # gloo/nccl report a dead or silent peer as RuntimeError (DistError)
            raise self._lost(step, exc) from exc
        return out

    def _key(self, rank: int) -> str:
        return f"zoobench/eval/{self.steps}/{rank}"

    def _store_up(self) -> bool:
        """Whether the store still answers. Asked before each use: a store call to a dead host prints a C++ stack
        on stderr that no Python code can catch."""
        try:
            socket.create_connection((os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])), timeout=5).close()
            return True
        except (KeyError, ValueError, OSError):
            return False

    def _arrive(self) -> None:
        if self.store is not None and self._store_up():
            with contextlib.suppress(Exception):  # only a hint for naming a lost rank: never a failure of its own
                self.store.set(self._key(self.rank), "1")  # type: ignore[attr-defined]

    def _missing(self) -> list[int] | None:
        """The ranks that never reached the current step, or None when that cannot be told."""
        others = [r for r in range(self.world) if r != self.rank]
        if len(others) == 1:
            return others
        if self.store is None:
            return None
        if not self._store_up():
            # torchrun's agent may host the store; otherwise rank 0 does, and its store went with it
            return None if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" else [0]
        try:
            return [r for r in others if not self.store.check([self._key(r)])] or None  # type: ignore[attr-defined]
        except Exception:
            return None

    def _lost(self, step: str, exc: BaseException) -> ZooError:
        missing = self._missing()
        who = f"rank {some([str(r) for r in missing])}" if missing else "a rank"
        # gloo's text: "[.../pair.cc:561] Connection closed by peer [127.0.0.1]:34443. This is typically caused..."
        reason = re.sub(r"^\[[^\]]*\]\s*", "", first_line(exc)).split(". ")[0]
        return ZooError(
            f"lost {who} of {self.world} (killed, crashed or hung?) while {step}: {reason}; "
            f"rank {self.rank} stops, nothing was written"
        )


def _rendezvous_store() -> object:
    """The store init_process_group made, if this torch exposes it (a private helper, hence the caution)."""
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:
        return None


@contextlib.contextmanager
def joined(device_type: str) -> Iterator[Ranks]:
    """Join torchrun's process group (env://), or use one the caller already set up; a single process otherwise."""
    env_world = int(os.environ.get("WORLD_SIZE", "1"))
    if not (dist.is_available() and (dist.is_initialized() or env_world > 1)):
        yield Ranks()
        return
    owned = not dist.is_initialized()
    if owned:
        backend = "nccl" if device_type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend=backend, timeout=TIMEOUT)
        except Exception as exc:
            raise ZooError(f"cannot join the torchrun process group ({backend}): {first_line(exc)}") from exc
    try:
        group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        yield Ranks(
            rank=dist.get_rank(),
            world=dist.get_world_size(),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            local_world=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
            backend=str(dist.get_backend()),
            group=group,
            store=_rendezvous_store() if owned else None,
        )
    finally:
        if owned:
            with contextlib.suppress(Exception):  # after a lost rank the group may be broken: leave all the same
                dist.destroy_process_group()


def collective(d: Ranks, step: Callable[[], object], what: str) -> object:
    """Run a setup step on every rank; if it fails anywhere, fail everywhere with the same message.

    Without this, one rank's bad input (a node without the data, a failed download) leaves the others waiting at
    the next collective until the timeout.
    """
    if d.world == 1:
        return step()
    try:
        value, problem = step(), None
    except ZooError as exc:
        value, problem = None, str(exc)
    for rank, reported in enumerate(d.gather(problem, what)):
        if reported:
            raise CollectiveError(reported if rank == 0 else f"rank {rank}: {reported}")
    return value
