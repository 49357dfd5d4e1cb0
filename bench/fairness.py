"""Does one session stay quick while others load the server? Prints numbers; asserts nothing.

    .venv/bin/python bench/fairness.py [--steps 150] [--players 0,5,10,20]

Starts the server pinned to core 0 (the load generator runs on core 1). A light session (the
default 2-4-4-1) is stepped one op at a time; each step's latency is from sending `step` to
receiving its `state`. It is measured alone, then beside 5, 10 and 20 heavy sessions playing the
largest network (7 features, 6 × 16 hidden, 5 classes, 2,000 points) at 10,000 iterations a
second, each watched by a client that acks every frame, and then beside eight view-only
connections asking for `verify` on a 6 × 16 network as fast as they may, while scenarios are
saved over HTTP (the save's latency is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import cpu_seconds, percentile, running_server  # noqa: E402

FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
LARGEST = {"hidden": [16] * 6, "features": FEATURES, "loss": "cross_entropy",
           "dataset": {"name": "gauss", "classes": 5, "n": 2000}}


def create(port: int, config: dict) -> tuple[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", method="POST",
                                     data=json.dumps({"config": config}).encode(),
                                     headers={"content-type": "application/json"})
    body = json.loads(urllib.request.urlopen(request).read())
    return body["id"], body["token"]


async def until(ws, predicate) -> dict:
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            item = orjson.loads(message)
            if predicate(item):
                return item


async def player(port: int, stop: asyncio.Event) -> None:
    """A heavy session playing flat out, watched by a client that acks every frame."""
    sid, token = await asyncio.to_thread(create, port, LARGEST)
    async with connect(f"ws://127.0.0.1:{port}/ws/{sid}?token={token}", max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "play", "speed": 10000}))
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            if isinstance(message, str):
                item = orjson.loads(message)
                if item.get("type") == "state" and "seq" in item:
                    await ws.send(json.dumps({"type": "ack", "seq": item["seq"]}))


async def verifier(port: int, sid: str, stop: asyncio.Event) -> None:
    """A view-only connection asking for `verify` again and again."""
    async with connect(f"ws://127.0.0.1:{port}/ws/{sid}", max_size=None, compression=None) as ws:
        k = 0
        while not stop.is_set():
            k += 1
            await ws.send(json.dumps({"type": "verify", "id": k}))
            await until(ws, lambda m: m.get("re") == k)
            await asyncio.sleep(0.05)


def save_scenario(port: int, sid: str) -> float:
    start = time.perf_counter()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/scenarios", method="POST",
                                     data=json.dumps({"session": sid, "title": "bench"}).encode(),
                                     headers={"content-type": "application/json", "x-backprop-owner": "bench-owner-0001"})
    try:
        urllib.request.urlopen(request).read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"saving a scenario was refused: {error.code} {error.read().decode()}") from None
    return (time.perf_counter() - start) * 1000


async def light_steps(port: int, steps: int) -> list[float]:
    sid, token = await asyncio.to_thread(create, port, {})
    times = []
    async with connect(f"ws://127.0.0.1:{port}/ws/{sid}?token={token}", max_size=None, compression=None) as ws:
        await until(ws, lambda m: m.get("type") == "state")
        for k in range(steps):
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "step", "unit": "op", "id": k}))
            await until(ws, lambda m: m.get("re") == k and m.get("type") in ("state", "error"))
            times.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.02)
    return times


async def scene(port: int, pid: int, players: int, verifiers: int, steps: int) -> tuple[list[float], list[float], float]:
    stop = asyncio.Event()
    background = [asyncio.create_task(player(port, stop)) for _ in range(players)]
    saves: list[float] = []
    if verifiers:
        sid, _ = await asyncio.to_thread(create, port, {"hidden": [16] * 6, "dataset": {"n": 1000}, "batch_size": 100})
        background += [asyncio.create_task(verifier(port, sid, stop)) for _ in range(verifiers)]
    await asyncio.sleep(2.0)  # let the load settle
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    timed = asyncio.create_task(light_steps(port, steps))
    while verifiers and not timed.done():
        saves.append(await asyncio.to_thread(save_scenario, port, sid))
        await asyncio.sleep(0.2)
    times = await timed
    busy = (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)  # the server's share of its core
    stop.set()
    await asyncio.gather(*background, return_exceptions=True)
    return times, saves, busy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--players", default="0,5,10,20")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    with running_server(cpus={0}) as (port, server):
        for players in map(int, args.players.split(",")):
            times, _, busy = asyncio.run(scene(port, server.pid, players, 0, args.steps))
            print(f"light step latency beside {players:2d} heavy players: p50 {statistics.median(times):6.1f} ms, "
                  f"p95 {percentile(times, 0.95):6.1f} ms, max {max(times):6.1f} ms (server CPU {busy:4.0%})")
        times, saves, busy = asyncio.run(scene(port, server.pid, 0, 8, args.steps))
        print(f"light step latency beside 8 viewers flooding verify: p50 {statistics.median(times):6.1f} ms, "
              f"p95 {percentile(times, 0.95):6.1f} ms, max {max(times):6.1f} ms (server CPU {busy:4.0%}); "
              f"scenario saves meanwhile: p50 {statistics.median(saves):6.1f} ms, max {max(saves):6.1f} ms")


if __name__ == "__main__":
    main()
