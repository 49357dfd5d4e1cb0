"""Seed sweeps: many weight seeds of one config, trained in worker processes off the event loop.

One pool serves every session. A sweep keeps at most `workers` of its seeds in the pool at
once, so two sessions sweeping share the workers instead of one queueing behind the other.
Cancelling sets the sweep's byte in the shared flags (the workers stop within a few
iterations) and submits nothing more.

A worker can die under a sweep (killed, out of memory). That sweep then fails: its session
is told, it ends with the seeds that finished, its slot is freed, and the pool it broke is
replaced, so the next sweep, in any session, runs on fresh workers.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable

from app.engine import Config
from app.run.sweep import SeedResult, init_worker, train_in_worker

from . import wire

log = logging.getLogger("backprop_lab.sweeps")

SLOTS = 256  # sweeps that can run at once, across all sessions
STOP_SECONDS = 2.0  # how long shutdown waits for terminated workers before killing them


class PoolClosed(RuntimeError):
    """The server is stopping: a pool started now would be left behind."""


class SweepPool:
    def __init__(self, workers: int):
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")  # a clean process, not a fork of a threaded server
        self.flags = self._context.RawArray("b", SLOTS)
        self._free = list(range(SLOTS))
        self._executor: ProcessPoolExecutor | None = None
        self._ids = itertools.count(1)
        self._closed = False

    @property
    def executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise PoolClosed("the server is stopping")
        if self._executor is None:  # started on first use: a server nobody sweeps on spawns nothing
            self._executor = ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=init_worker,
                                                 initargs=(self.flags, os.getpid()))
        return self._executor

    def submit(self, fn: Callable, *args: Any) -> tuple[Future, ProcessPoolExecutor]:
        """`fn(*args)` queued on the live pool, and that pool (to discard if the future breaks).
        A pool that lost a worker while idle is replaced here, without failing anyone's sweep."""
        executor = self.executor
        try:
            return executor.submit(fn, *args), executor
        except BrokenProcessPool:
            self.discard(executor)
            executor = self.executor
            return executor.submit(fn, *args), executor

    def discard(self, executor: ProcessPoolExecutor) -> None:
        """Drop a pool that lost a worker; the next submit starts a fresh one. Every sweep it
        broke calls this: only the first replaces anything."""
        if self._executor is executor:
            self._executor = None
            log.warning("a sweep worker process stopped unexpectedly; the next sweep starts a fresh pool")
        _stop(executor, wait=0.0)  # called on the event loop: nothing here may block

    @property
    def closed(self) -> bool:
        return self._closed

    def worker_pids(self) -> list[int]:
        """The live pool's processes (started as seeds are queued, so there may be fewer than `workers`)."""
        return [process.pid for process in _processes(self._executor)]

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
        """End every worker now. Letting them notice the flags is not enough: uvicorn ends a
        SIGTERMed server by raising the signal again, which skips the executor's exit hook, and
        workers still waiting for work would outlive the server (and keep its resource tracker)."""
        self._closed = True
        for slot in range(SLOTS):
            self.flags[slot] = 1
        if self._executor is not None:
            _stop(self._executor, wait=STOP_SECONDS)
            self._executor = None


def _processes(executor: ProcessPoolExecutor | None) -> list:
    # the executor keeps its workers in a private dict (pid → Process) and forgets it on shutdown;
    # Python 3.11 has no public way to end them (terminate_workers came in 3.14)
    return list((getattr(executor, "_processes", None) or {}).values())


def _stop(executor: ProcessPoolExecutor, wait: float) -> None:
    processes = _processes(executor)  # before shutdown forgets them
    for process in processes:
        try:
            process.terminate()  # a worker only ever holds a seed's numbers: nothing to save
        except (ValueError, OSError):  # already closed, or already gone
            pass
    if wait <= 0:
        executor.shutdown(wait=False, cancel_futures=True)
        return
    # the executor's thread closes its queues once the workers are gone, so a server ended by a
    # signal leaves its resource tracker no semaphores to warn about; in a thread of its own,
    # so that nothing at shutdown can hang
    closing = threading.Thread(target=executor.shutdown, kwargs={"cancel_futures": True}, name="sweep-pool-close",
                               daemon=True)
    closing.start()
    closing.join(wait)
    for process in processes:
        try:
            if process.is_alive():
                process.kill()
        except (ValueError, OSError):
            pass


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
    failed: str | None = None  # why the sweep could not finish, in words for the learner
    task: asyncio.Task | None = None

    @property
    def finished(self) -> list[SeedResult]:
        """The results so far, in the order of the seeds."""
        return [self.results[i] for i in sorted(self.results)]

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


def start(pool: SweepPool, session: Any, job: SweepJob, re: Any, origin: Any) -> asyncio.Task:
    """Run the sweep in the background."""
    task = asyncio.create_task(run_sweep(pool, session, job, re, origin), name=f"sweep {job.id}")
    task.add_done_callback(_log_failure)
    return task


def _log_failure(task: asyncio.Task) -> None:
    # nobody awaits a background task: without this its exception is reported only when the
    # task is garbage collected, long after, or never
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())


async def run_sweep(pool: SweepPool, session: Any, job: SweepJob, re: Any, origin: Any) -> None:
    """Train every seed, broadcasting progress as each finishes; end with one `sweep` message and
    the thumbnails, whether it finished, was cancelled or failed."""
    waiting = list(enumerate(job.seeds))
    running: dict[asyncio.Future, tuple[int, ProcessPoolExecutor]] = {}
    try:
        while True:
            while waiting and len(running) < pool.workers and not job.cancelled:
                index, seed = waiting.pop(0)
                try:
                    future, executor = pool.submit(train_in_worker, job.config, seed, job.iterations,
                                                   job.resolution, job.slot)
                except Exception as exc:  # no pool to be had (the server is stopping, or a new one broke at once)
                    _fail(pool, session, job, exc, re, origin)
                    break
                running[asyncio.wrap_future(future)] = index, executor
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                index, executor = running.pop(future)
                try:
                    result = future.result()
                except (Exception, asyncio.CancelledError) as exc:  # this seed's, not the task's: nothing awaits here
                    if isinstance(exc, BrokenProcessPool):
                        pool.discard(executor)
                    _fail(pool, session, job, exc, re, origin)
                    continue
                if result is None:  # stopped by the cancel flag
                    continue
                job.results[index] = result
                session.broadcast(wire.sweep_progress(job, result), re, origin)
    except BaseException:  # cancelled (the session is gone), or a bug: stop the workers, tell nobody
        cancel(pool, job)
        _release_when_idle(pool, job, list(running))
        raise
    pool.release(job.slot)
    session.broadcast(wire.sweep_results(job), re, origin)
    session.broadcast_bytes(wire.sweep_thumbnails(job))


def _fail(pool: SweepPool, session: Any, job: SweepJob, exc: BaseException, re: Any, origin: Any) -> None:
    """Stop the sweep and tell its session why, once however many of its seeds went down."""
    if job.failed is not None:
        return
    again = "; nothing else is affected, and the sweep can be run again"
    if pool.closed or isinstance(exc, (PoolClosed, asyncio.CancelledError)):
        why, again = "the server is stopping", ""
    elif isinstance(exc, BrokenProcessPool):
        why = "a sweep worker process stopped unexpectedly (it may have been killed or run out of memory)"
        log.error("sweep %d failed: a worker process died", job.id)
    else:
        why = f"training a seed failed in a sweep worker ({type(exc).__name__}; it has been logged)"
        log.error("sweep %d failed", job.id, exc_info=exc)
    job.failed = why
    cancel(pool, job)
    message = f"sweep {job.id} failed: {why}. {len(job.results)} of {len(job.seeds)} seeds had finished{again}."
    session.broadcast(wire.error("sweep_failed", message), re, origin)


def _release_when_idle(pool: SweepPool, job: SweepJob, futures: list[asyncio.Future]) -> None:
    """Free the slot once no worker can still be reading its flag."""
    remaining = set(futures)

    def finished(future: asyncio.Future) -> None:
        if not future.cancelled():
            future.exception()  # seen, so a dead worker is not reported again when the future is collected
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
