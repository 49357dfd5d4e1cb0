"""A classroom: one presenter, a room of viewers. Starts the server pinned to one core and prints numbers.

    .venv/bin/python bench/classroom.py [--viewers 200] [--speed 1000] [--seconds 8] [--steps 40]

Config: the default network (2-4-4-1 tanh/bce, 200 xor points, batch 10). Phase 1: the
presenter plays at --speed iterations per second while every viewer socket reads and acks
each frame as a browser does after painting it; reports frames per second per viewer (min and
median), iterations per second reached, and the server's CPU (share of one core) and RSS.
Phase 2: the presenter steps one iteration at a time; reports the latency from sending `step`
to each viewer receiving the resulting `state` (p50, p95, max over every viewer and step).
The server process is pinned to core 0 and this client to the others. Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import cpu_seconds, percentile, rss_mb, running_server  # noqa: E402


class Viewer:
    """One socket that acks every play frame after receiving it, noting when each state came."""

    def __init__(self, url: str):
        self.url, self.frames, self.arrivals = url, 0, {}  # arrivals: iteration → first time seen

    async def run(self, stop: asyncio.Event, ready: asyncio.Event) -> None:
        async with connect(self.url, compression=None, max_size=None, open_timeout=60) as ws:
            self.ws = ws
            ready.set()
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if isinstance(message, bytes):
                    continue
                data = orjson.loads(message)
                if data["type"] == "state":
                    self.frames += 1
                    self.arrivals.setdefault(data["iteration"], time.perf_counter())
                    await ws.send(orjson.dumps({"type": "ack", "seq": data["seq"]}).decode())


async def classroom(base: str, sid: str, token: str, pid: int, viewers: int, speed: int, seconds: float,
                    steps: int) -> dict:
    stop = asyncio.Event()
    presenter = Viewer(f"{base}/ws/{sid}?token={token}")
    room = [Viewer(f"{base}/ws/{sid}") for _ in range(viewers)]
    readies = [asyncio.Event() for _ in range(viewers + 1)]
    tasks = [asyncio.create_task(v.run(stop, r)) for v, r in zip([presenter, *room], readies)]
    for chunk in range(0, len(readies), 50):  # connect in waves, as a room does
        await asyncio.gather(*(r.wait() for r in readies[chunk:chunk + 50]))
    await asyncio.sleep(1.0)

    await presenter.ws.send(orjson.dumps({"type": "play", "speed": speed}).decode())
    await asyncio.sleep(1.0)  # settle
    for v in room:
        v.frames = 0
    first = max(presenter.arrivals)
    cpu0, t0, mine0 = cpu_seconds(pid), time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    cpu1, t1, mine1 = cpu_seconds(pid), time.perf_counter(), time.process_time()
    rss = rss_mb(pid)
    last = max(presenter.arrivals)
    fps = sorted(v.frames / (t1 - t0) for v in room)
    await presenter.ws.send(orjson.dumps({"type": "pause"}).decode())
    await asyncio.sleep(0.5)

    latencies = []
    for _ in range(steps):
        target = max(presenter.arrivals) + 1
        sent = time.perf_counter()
        await presenter.ws.send(orjson.dumps({"type": "step", "unit": "iteration"}).decode())
        deadline = sent + 10
        while time.perf_counter() < deadline and not all(target in v.arrivals for v in room):
            await asyncio.sleep(0.002)
        latencies += [(v.arrivals[target] - sent) * 1e3 for v in room if target in v.arrivals]
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks)
    return {"fps_min": fps[0], "fps_median": statistics.median(fps), "cpu": (cpu1 - cpu0) / (t1 - t0), "rss": rss,
            "client_cpu": (mine1 - mine0) / (t1 - t0),
            "iterations_per_s": (last - first) / (t1 - t0), "latencies": latencies,
            "expected_latencies": steps * viewers}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--speed", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    server_cores = {cores[0]}
    with running_server(server_cores) as (port, server):
        if len(cores) > 1:
            os.sched_setaffinity(0, set(cores[1:]))  # the room must not share the server's core
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", data=b"{}",
                                         headers={"Content-Type": "application/json"})
        body = orjson.loads(urllib.request.urlopen(request).read())
        result = asyncio.run(classroom(f"ws://127.0.0.1:{port}", body["id"], body["token"], server.pid, args.viewers,
                                       args.speed, args.seconds, args.steps))
    lat = result["latencies"]
    print(f"server on core {sorted(server_cores)}, {args.viewers} viewers + 1 presenter playing at {args.speed}/s")
    print(f"per-viewer frames/s   : min {result['fps_min']:.1f}, median {result['fps_median']:.1f}")
    print(f"training reached      : ~{result['iterations_per_s']:,.0f} iterations/s")
    print(f"server                : CPU {result['cpu'] * 100:.0f}% of one core, RSS {result['rss']:.0f} MB "
          f"(this client: {result['client_cpu'] * 100:.0f}% of a core; near 100% it, not the server, is the limit)")
    if lat:
        print(f"step → viewers' state : p50 {percentile(lat, 0.5):.1f} ms, p95 {percentile(lat, 0.95):.1f} ms, "
              f"max {max(lat):.1f} ms ({len(lat)} of {result['expected_latencies']} arrivals)")


if __name__ == "__main__":
    main()
