"""Seed sweeps: many weight seeds of one config, trained in worker processes off the event loop.

One pool serves every session. A sweep keeps at most `workers` of its seeds in the pool at
once, so two sessions sweeping share the workers instead of one queueing behind the other.
Cancelling sets the sweep's byte in the shared flags (the workers stop within a few
iterations) and submits nothing more.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.engine import Config
from app.run.sweep import SeedResult, init_worker, train_in_worker

from . import wire

SLOTS = 256  # sweeps that can run at once, across all sessions


class SweepPool:
    def __init__(self, workers: int):
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")  # a clean process, not a fork of a threaded server
        self.flags = self._context.RawArray("b", SLOTS)
        self._free = list(range(SLOTS))
        self._executor: ProcessPoolExecutor | None = None
        self._ids = itertools.count(1)

    @property
    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:  # started on first use: a server nobody sweeps on spawns nothing
            self._executor = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=init_worker,
                                                 initargs=(self.flags,))
        return self._executor

    def claim(self) -> int | None:
        if not self._free:
            return None
        slot = self._free.pop()
        self.flags[slot] = 0
        return slot

    def release(self, slot: int) -> None:
        self.flags[slot] = 0
        self._free.append(slot)

    def next_id(self) -> int:
        return next(self._ids)

    def shutdown(self) -> None:
        for slot in range(SLOTS):
            self.flags[slot] = 1
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


@dataclass(eq=False)
class SweepJob:
    id: int
    config: Config
    seeds: list[int]
    iterations: int
    resolution: int
    slot: int
    results: dict[int, SeedResult] = field(default_factory=dict)  # by position in `seeds`
    cancelled: bool = False
    task: asyncio.Task | None = None

    @property
    def finished(self) -> list[SeedResult]:
        """The results so far, in the order of the seeds."""
        return [self.results[i] for i in sorted(self.results)]

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


async def run_sweep(pool: SweepPool, session: Any, job: SweepJob, re: Any, origin: Any) -> None:
    """Train every seed, broadcasting progress as each finishes; end with one `sweep` message and
    the thumbnails, whether it finished or was cancelled."""
    loop = asyncio.get_running_loop()
    waiting = list(enumerate(job.seeds))
    running: dict[asyncio.Future, int] = {}
    try:
        while True:
            while waiting and len(running) < pool.workers and not job.cancelled:
                index, seed = waiting.pop(0)
                future = loop.run_in_executor(pool.executor, train_in_worker, job.config, seed, job.iterations,
                                              job.resolution, job.slot)
                running[future] = index
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                result = future.result()
                if result is None:  # stopped by the cancel flag
                    continue
                job.results[index] = result
                session.broadcast(wire.sweep_progress(job, result), re, origin)
    except asyncio.CancelledError:  # the session is gone: stop the workers, tell nobody
        cancel(pool, job)
        _release_when_idle(pool, job, list(running))
        raise
    pool.release(job.slot)
    session.broadcast(wire.sweep_results(job), re, origin)
    session.broadcast_bytes(wire.sweep_thumbnails(job))


def _release_when_idle(pool: SweepPool, job: SweepJob, futures: list[asyncio.Future]) -> None:
    """Free the slot once no worker can still be reading its flag."""
    remaining = set(futures)

    def finished(future: asyncio.Future) -> None:
        remaining.discard(future)
        if not remaining:
            pool.release(job.slot)

    if not remaining:
        pool.release(job.slot)
    for future in futures:
        future.add_done_callback(finished)


def cancel(pool: SweepPool, job: SweepJob) -> None:
    job.cancelled = True
    pool.flags[job.slot] = 1
