"""How well does a live session stream? Starts the server in a subprocess and prints numbers.

    .venv/bin/python bench/stream.py [--seconds 5] [--viewers 50]

Config: 2-8-8-1 tanh/bce on 500 xor points (no test split), batch 250. Reports training
speed while streaming, frames per second, step latency, frame sizes, and the server's CPU and
RSS with one client and with many viewers. Nothing here asserts; compare runs as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import cpu_seconds, percentile, rss_mb, running_server  # noqa: E402

CONFIG = {"dataset": {"name": "xor", "n": 500, "test_fraction": 0}, "hidden": [8, 8], "activation": "tanh",
          "loss": "bce", "batch_size": 250, "lr": 0.1}
class Watcher:
    """One websocket that acks every frame after 'drawing' it, counting what arrives."""

    def __init__(self, url: str):
        self.url, self.frames, self.iterations, self.json_bytes, self.grid_bytes = url, 0, [], [], []

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        async with connect(self.url, compression=None, max_size=None) as ws:
            self.ws = ws
            if ready:
                ready.set()
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if isinstance(message, bytes):
                    self.grid_bytes.append(len(message))
                    continue
                data = json.loads(message)
                if data["type"] == "state" and "re" not in data:
                    self.frames += 1
                    self.iterations.append((time.perf_counter(), data["iteration"]))
                    self.json_bytes.append(len(message))
                    await ws.send(json.dumps({"type": "ack", "seq": data["seq"]}))


async def measure_play(base: str, sid: str, token: str, pid: int, viewers: int, seconds: float) -> dict:
    stop = asyncio.Event()
    control = Watcher(f"{base}/ws/{sid}?token={token}")
    watchers = [control] + [Watcher(f"{base}/ws/{sid}") for _ in range(viewers)]
    readies = [asyncio.Event() for _ in watchers]
    tasks = [asyncio.create_task(w.run(stop, r)) for w, r in zip(watchers, readies)]
    await asyncio.gather(*(r.wait() for r in readies))
    await control.ws.send(json.dumps({"type": "play", "speed": 10000}))
    await asyncio.sleep(1.0)  # let it settle
    for w in watchers:
        w.frames, w.iterations = 0, []
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.perf_counter()
    rss = rss_mb(pid)
    await control.ws.send(json.dumps({"type": "pause"}))
    stop.set()
    await asyncio.gather(*tasks)
    its = control.iterations
    speed = (its[-1][1] - its[0][1]) / (its[-1][0] - its[0][0]) if len(its) > 1 else 0.0
    fps = sorted(w.frames / (t1 - t0) for w in watchers)
    return {"iterations_per_s": speed, "fps_min": fps[0], "fps_median": statistics.median(fps),
            "cpu": (cpu1 - cpu0) / (t1 - t0), "rss": rss,
            "json_bytes": statistics.median(control.json_bytes) if control.json_bytes else 0,
            "grid_bytes": statistics.median(control.grid_bytes) if control.grid_bytes else 0}


async def measure_step_latency(base: str, sid: str, token: str, samples: int) -> list[float]:
    async with connect(f"{base}/ws/{sid}?token={token}", compression=None, max_size=None) as ws:
        for _ in range(7):
            await ws.recv()  # hello, graph, state, grid, config, dataset, presentation
        times = []
        for i in range(samples):
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "step", "unit": "iteration", "id": i}))
            while True:
                message = await ws.recv()
                if isinstance(message, str) and json.loads(message).get("re") == i:
                    break
            times.append((time.perf_counter() - start) * 1e3)
            await ws.recv()  # its grid
        return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--viewers", type=int, default=50)
    args = parser.parse_args()
    with running_server() as (port, server):
        base_http, base_ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"

        def session() -> tuple[str, str]:
            request = urllib.request.Request(f"{base_http}/api/sessions", data=json.dumps({"config": CONFIG}).encode(),
                                             headers={"Content-Type": "application/json"})
            body = json.loads(urllib.request.urlopen(request).read())
            return body["id"], body["token"]

        one = asyncio.run(measure_play(base_ws, *session(), server.pid, 0, args.seconds))
        print(f"play, 1 acking client : {one['iterations_per_s']:,.0f} iterations/s, {one['fps_median']:.1f} frames/s, "
              f"server CPU {one['cpu'] * 100:.0f}% of a core, RSS {one['rss']:.0f} MB")
        print(f"frame size            : {one['json_bytes']:,.0f} B JSON + {one['grid_bytes']:,.0f} B binary grid")
        latency = asyncio.run(measure_step_latency(base_ws, *session(), 300))
        print(f"step → state latency  : p50 {percentile(latency, 0.5):.2f} ms, p95 {percentile(latency, 0.95):.2f} ms "
              f"({len(latency)} steps)")
        many = asyncio.run(measure_play(base_ws, *session(), server.pid, args.viewers, args.seconds))
        print(f"play, {args.viewers} viewers + 1   : {many['iterations_per_s']:,.0f} iterations/s, per-viewer fps "
              f"min {many['fps_min']:.1f} median {many['fps_median']:.1f}, server CPU {many['cpu'] * 100:.0f}% of a core, "
              f"RSS {many['rss']:.0f} MB")
        print(f"ratio                 : {args.viewers} viewers cost {many['cpu'] / max(one['cpu'], 1e-9):.2f}× the CPU "
              f"of one; training ran at {many['iterations_per_s'] / max(one['iterations_per_s'], 1e-9):.2f}× the speed")


if __name__ == "__main__":
    main()
