"""How long does a seed sweep take, against training the same seeds one after another?
Prints numbers; asserts nothing.

    .venv/bin/python bench/sweep.py [--workers N]

A 2-8-8-1 tanh/bce network on 500 xor points, full batch, 500 iterations per seed. The sweep
goes through the server's own pool (spawned worker processes, at most `workers` seeds in
flight per sweep, as a session's sweep runs); "one after another" is `train_seed` in this
process, the exact code a worker runs. Ratios are within this one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import parse_config  # noqa: E402
from app.run.sweep import train_seed  # noqa: E402
from app.server.sweeps import SweepJob, SweepPool, run_sweep  # noqa: E402

CONFIG = parse_config({"dataset": {"name": "xor", "n": 500, "test_fraction": 0}, "hidden": [8, 8],
                       "activation": "tanh", "loss": "bce", "batch_size": 500, "lr": 0.1})
ITERATIONS = 500


class Quiet:
    """Stands in for a session: counts what a sweep would broadcast."""

    def __init__(self):
        self.messages = 0

    def broadcast(self, *_args) -> None:
        self.messages += 1

    def broadcast_bytes(self, _data) -> None:
        self.messages += 1


async def sweep_seconds(pool: SweepPool, seeds: list[int]) -> float:
    job = SweepJob(pool.next_id(), CONFIG, seeds, ITERATIONS, 32, pool.claim())
    start = time.perf_counter()
    await run_sweep(pool, Quiet(), job, None, None)
    assert len(job.results) == len(seeds)
    return time.perf_counter() - start


def sequential_seconds(seeds: list[int]) -> float:
    start = time.perf_counter()
    for seed in seeds:
        train_seed(CONFIG, seed, ITERATIONS)
    return time.perf_counter() - start


async def main(workers: int) -> None:
    pool = SweepPool(workers)
    print(f"2-8-8-1 tanh/bce, 500 xor points, full batch, {ITERATIONS} iterations per seed; "
          f"{workers} worker processes on {os.cpu_count()} CPUs")
    cold = await sweep_seconds(pool, [1000])
    print(f"cold      first sweep of 1 seed, spawning the workers: {cold:.2f} s")
    await sweep_seconds(pool, list(range(2000, 2000 + workers)))  # every worker warm
    for count in (16, 64):
        seeds = list(range(count))
        swept = await sweep_seconds(pool, seeds)
        one_by_one = sequential_seconds(seeds)
        print(f"{count:>2} seeds  sweep {swept:6.2f} s   one after another {one_by_one:6.2f} s   "
              f"speed-up {one_by_one / swept:.2f}×   ({swept / count * 1e3:.0f} ms per seed swept)")
    pool.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    asyncio.run(main(parser.parse_args().workers))
