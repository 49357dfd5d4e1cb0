"""A lecture hall: one session watched through 1, 2 and 4 server processes sharing it over Redis. Prints numbers.

    .venv/bin/python bench/lecture.py [--processes 1,2,4] [--viewers 200] [--speed 1000] [--seconds 8]
                                      [--steps 20] [--clients 2] [--json] [--logs DIR]

Starts its own redis-server, then for each process count N starts N `serve` processes sharing it
(each round under its own key prefix). Process 0 owns a session with the default config; its
presenter plays at --speed iterations per second, and the viewers are spread evenly over the N
processes, each reading everything and acking every state as a browser does after painting it.
The viewers live in --clients load-generator processes, so the room is not one Python's limit.

Phase 1, --seconds of playing: frames per second per viewer (min and median), the iterations
per second the owner reached, what the processes published to Redis per second (all of them, and
the owner alone: /healthz's hall counters), and CPU as a share of one core for the owner, each
other process, redis-server and the load generators together.
Phase 2, paused: the presenter steps one iteration --steps times; reports the latency from
sending `step` to each viewer receiving the resulting `state` (p50 and p95 for viewers on the
owner and on other processes, and the max), timed with time.monotonic(), the one clock every
process on the machine shares. With one process the owner still talks to Redis, but it publishes
frames only while another process has viewers, so that row is the hall's cost with nobody remote.
Everything shares this machine's cores: compare rows as ratios within one run. Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, cpu_seconds, free_port, percentile  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
WAVE = 50  # viewers connecting at once in one load generator, as a room joins in waves
READY_SECONDS = 120.0  # for every viewer of a round to be greeted, or the round is reported as it stands
STEP_WAIT = 10.0  # for every viewer to get one step's state
SETTLE = 1.0  # after play starts, before the window: the first frames are not the steady state


# --- the load generators (each its own process, started with `spawn`) ---------------------


class Viewer:
    """One browser: reads every message, acks each state, and notes when each state arrived."""

    def __init__(self, url: str, on_owner: bool):
        self.url, self.on_owner = url, on_owner
        self.ws = None
        self.greeted = False
        self.settled = asyncio.Event()  # greeted, or failed trying
        self.state_times: list[float] = []
        self.arrivals: dict[int, float] = {}  # iteration → when a state of it first arrived
        self.problem: str | None = None
        self.leaving = False

    async def run(self) -> None:
        try:
            async with connect(self.url, compression=None, max_size=None, open_timeout=60, proxy=None) as ws:
                self.ws = ws
                while True:
                    # undecoded: orjson parses bytes, so a str of every text frame would be made for nothing
                    message = await ws.recv(decode=False)
                    seq = self.take(message, time.monotonic())
                    if seq is not None:
                        await ws.send('{"type":"ack","seq":%d}' % seq)
        except ConnectionClosed as exc:
            if not self.leaving and self.problem is None:
                self.problem = f"closed by the server ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except Exception as exc:  # refused, timed out: reported, not raised, so the round goes on
            self.problem = self.problem or f"{type(exc).__name__}: {exc}"
        finally:
            self.settled.set()

    def take(self, message: bytes, now: float) -> int | None:
        """Note one message; the seq to ack if it is a state. Text frames are JSON objects and
        binary ones grids (which start with their magic, never `{`)."""
        if message[:1] != b"{":
            return None
        data = orjson.loads(message)
        kind = data.get("type")
        if kind == "state":
            self.state_times.append(now)
            self.arrivals.setdefault(data["iteration"], now)
            return data["seq"]
        if kind == "presentation" and not self.greeted:  # the last message of the greeting
            self.greeted = True
            self.settled.set()
        elif kind == "error" and self.problem is None:
            self.problem = f"error {data.get('code')}: {data.get('message')}"
        return None

    def fps(self, t0: float, t1: float) -> float:
        return sum(t0 <= t < t1 for t in self.state_times) / (t1 - t0)

    async def leave(self) -> None:
        self.leaving = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)


def pump_commands(pipe, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue) -> None:
    """Carry the bench's commands into the event loop. The pipe closes only when the bench is
    gone (killed, not stopped); nobody is left to report to, so this process ends at once."""
    while True:
        try:
            command = pipe.recv()
        except (EOFError, OSError):
            os._exit(3)
        loop.call_soon_threadsafe(inbox.put_nowait, command)


async def connect_in_waves(viewers: list[Viewer]) -> list[asyncio.Task]:
    tasks = []
    deadline = time.monotonic() + READY_SECONDS
    for start in range(0, len(viewers), WAVE):
        wave = viewers[start:start + WAVE]
        tasks += [asyncio.create_task(v.run()) for v in wave]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                await asyncio.gather(*(v.settled.wait() for v in wave))
    return tasks


async def wait_for_iteration(viewers: list[Viewer], iteration: int, seconds: float) -> int:
    """How many viewers got a state of `iteration` within `seconds` (the arrival times are what
    is measured; this only decides when to go on)."""
    deadline = time.monotonic() + seconds
    watching = [v for v in viewers if v.greeted and v.problem is None]
    while time.monotonic() < deadline and not all(iteration in v.arrivals for v in watching):
        await asyncio.sleep(0.005)
    return sum(iteration in v.arrivals for v in watching)


def room_result(viewers: list[Viewer], t0: float, t1: float, sent: dict[int, float]) -> dict:
    greeted = [v for v in viewers if v.greeted]
    latencies = {"owner": [], "other": []}
    for v in greeted:
        group = latencies["owner" if v.on_owner else "other"]
        group += [(v.arrivals[it] - at) * 1e3 for it, at in sent.items() if it in v.arrivals]
    return {"fps": {"owner": [v.fps(t0, t1) for v in greeted if v.on_owner],
                    "other": [v.fps(t0, t1) for v in greeted if not v.on_owner]}, "latencies": latencies,
            "viewers": {"owner": sum(v.on_owner for v in greeted), "other": sum(not v.on_owner for v in greeted)},
            "problems": [v.problem for v in viewers if v.problem]}


async def room(spec: list[tuple[str, bool]], pipe) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()
    threading.Thread(target=pump_commands, args=(pipe, loop, inbox), daemon=True).start()
    viewers = [Viewer(url, on_owner) for url, on_owner in spec]
    tasks = await connect_in_waves(viewers)
    pipe.send(("ready", sum(v.greeted for v in viewers), [v.problem for v in viewers if v.problem]))
    while True:
        command = await inbox.get()
        if command[0] == "await":
            pipe.send(("have", command[1], await wait_for_iteration(viewers, command[1], command[2])))
        elif command[0] == "finish":
            result = room_result(viewers, *command[1:])
            break
    await asyncio.gather(*(v.leave() for v in viewers))
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    pipe.send(("result", result))


def client_main(spec: list[tuple[str, bool]], pipe) -> None:
    """A load generator's process: its share of the viewers, on one event loop."""
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches every process; the bench reports it once
        asyncio.run(room(spec, pipe))


# --- the bench's own process: Redis, the servers, the presenter ----------------------------


def die_with_parent() -> None:
    """Run in a child before exec: it gets SIGTERM if this bench dies, even by SIGKILL, so no
    server or Redis outlives a bench that could not clean up."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def running_redis():
    """Debian's redis-server on a free port, without persistence; yields (port, process)."""
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=die_with_parent)
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield port, process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Server:
    """One `serve` process of a round's hall; its stderr goes to a log in the scratch directory."""

    def __init__(self, env: dict, log: Path):
        self.port, self.log = free_port(), log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(self.port)],
                                            cwd=ROOT, env=env,
                                            stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=die_with_parent)

    @property
    def pid(self) -> int:
        return self.process.pid

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                return json.loads(answer.read())
        except OSError:
            return None

    def wait_until_healthy(self, seconds: float = 60.0) -> None:
        """Until /healthz answers with the hall in it (the process reached Redis)."""
        deadline = time.monotonic() + seconds
        while True:
            answer = self.health()
            if answer is not None:
                if answer.get("hall", {}).get("redis") != "ok":
                    raise RuntimeError(f"the server on port {self.port} is not in the hall: {answer}")
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {self.port} did not start: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def log_size(self) -> int:
        return self.log.stat().st_size

    def problems_logged(self, start: int = 0, end: int | None = None) -> list[str]:
        """The problems logged between two byte offsets of the log (see log_problems)."""
        return log_problems(self.log.read_bytes()[start:end].decode(errors="replace"))


def log_problems(text: str) -> list[str]:
    """Warning and error lines, and of each traceback the exception it ends with (the line that
    says what happened; the frames above it are in the log)."""
    found, in_traceback, chained = [], False, False
    for line in text.splitlines():
        if line.startswith("Traceback"):
            in_traceback = True
        elif line.startswith(("During handling", "The above exception")):
            if chained:
                found.pop()  # a chain of exceptions is one problem, told by its last
        elif in_traceback and line.strip() and not line.startswith(" "):
            found.append(line.strip())
            in_traceback, chained = False, True
            continue
        elif any(word in line for word in ("WARNING", "ERROR", "CRITICAL", "exception was never retrieved")):
            found.append(line.strip())
        if line.strip():
            chained = False
    return found


def start_servers(count: int, redis_port: int, scratch: Path) -> list[Server]:
    """`count` processes of a fresh hall (a key prefix of its own), all answering /healthz."""
    env = {**os.environ, "BACKPROP_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "BACKPROP_HALL_PREFIX": f"lecture-{count}-{secrets.token_hex(4)}", "BACKPROP_SWEEP_WORKERS": "1",
           "BACKPROP_SCENARIO_DB": str(scratch / f"scenarios-{count}.sqlite3")}
    servers = []
    try:
        for i in range(count):  # all started before any is waited for: they boot side by side
            servers.append(Server(env, scratch / f"server-{count}-{i}.log"))
        for server in servers:
            server.wait_until_healthy()
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()  # all at once: each takes up to its graceful shutdown
    for server in servers:
        stop_process(server.process)


def new_session(port: int) -> tuple[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", data=b'{"config": {}}',
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = orjson.loads(answer.read())
    return body["id"], body["token"]


class Presenter:
    """The controlling socket on the owner: acks every frame, and hands each answer to its command."""

    def __init__(self, url: str):
        self.url = url
        self.ws = None
        self.greeted = asyncio.Event()
        self.states: list[tuple[float, int]] = []  # (arrival, iteration): how fast the owner trains
        self.answers: dict[object, asyncio.Future] = {}
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.ws = await connect(self.url, compression=None, max_size=None, open_timeout=60, proxy=None)
        self.task = asyncio.create_task(self.read())
        await asyncio.wait_for(self.greeted.wait(), 30)

    async def read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in self.ws:
                if isinstance(message, bytes):
                    continue
                data = orjson.loads(message)
                if data["type"] == "state":
                    self.states.append((time.monotonic(), data["iteration"]))
                    await self.ws.send('{"type":"ack","seq":%d}' % data["seq"])
                elif data["type"] == "presentation":
                    self.greeted.set()
                future = self.answers.pop(data.get("re"), None)
                if future is not None and not future.done():
                    future.set_result(data)

    async def send(self, command: dict) -> None:
        await self.ws.send(orjson.dumps(command).decode())

    async def call(self, command: dict, seconds: float = 10.0) -> tuple[float, dict]:
        """(when it was sent, its answer) of a command with an `id`."""
        future = self.answers[command["id"]] = asyncio.get_running_loop().create_future()
        sent = time.monotonic()
        await self.send(command)
        return sent, await asyncio.wait_for(future, seconds)

    def iterations_per_second(self, t0: float, t1: float) -> float:
        seen = [(t, it) for t, it in self.states if t0 <= t < t1]
        if len(seen) < 2:
            return 0.0
        return (seen[-1][1] - seen[0][1]) / (seen[-1][0] - seen[0][0])

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.task is not None:
            self.task.cancel()


class Client:
    """A load-generator process, seen from here: a pipe to send it commands and read its reports."""

    def __init__(self, context, spec: list[tuple[str, bool]]):
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=client_main, args=(spec, theirs), daemon=True)
        self.process.start()
        theirs.close()
        self.size = len(spec)

    async def receive(self, kind: str, seconds: float):
        if not await asyncio.to_thread(self.pipe.poll, seconds):
            raise TimeoutError(f"a load generator did not report {kind!r} within {seconds:.0f} s")
        try:
            message = self.pipe.recv()
        except EOFError:
            raise RuntimeError(f"a load generator exited (code {self.process.exitcode}) before {kind!r}") from None
        if message[0] != kind:
            raise RuntimeError(f"a load generator reported {message[0]!r} when {kind!r} was due")
        return message[1:]

    def stop(self) -> None:
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def viewer_specs(ports: list[int], session_id: str, viewers: int, clients: int) -> list[list[tuple[str, bool]]]:
    """Viewer i watches through process i mod N; consecutive groups of N go to the load generators
    in turn, so each generator holds viewers of every process and none is the owner's alone."""
    specs: list[list[tuple[str, bool]]] = [[] for _ in range(clients)]
    n = len(ports)
    for i in range(viewers):
        specs[(i // n) % clients].append((f"ws://127.0.0.1:{ports[i % n]}/ws/{session_id}", i % n == 0))
    return [spec for spec in specs if spec]


def snapshot(servers: list[Server], pids: list[int]) -> dict:
    """CPU seconds of `pids` and the hall's publish counters of every server, now."""
    cpu = {pid: cpu_seconds(pid) for pid in pids}
    now = time.monotonic()
    halls = [(server.health() or {}).get("hall", {}) for server in servers]
    return {"time": now, "cpu": cpu, "halls": halls}


def cpu_share(before: dict, after: dict, pid: int) -> float:
    return (after["cpu"][pid] - before["cpu"][pid]) / (after["time"] - before["time"])


def publish_rates(before: dict, after: dict, index: int | None = None) -> tuple[float, float]:
    """(publishes/s, MB/s) of server `index`, or of all of them together."""
    seconds = after["time"] - before["time"]
    chosen = range(len(after["halls"])) if index is None else [index]
    count = sum(after["halls"][i].get("published", 0) - before["halls"][i].get("published", 0) for i in chosen)
    size = sum(after["halls"][i].get("published_bytes", 0) - before["halls"][i].get("published_bytes", 0)
               for i in chosen)
    return count / seconds, size / seconds / 1e6


async def lecture(servers: list[Server], redis_pid: int, args, clients: list[Client]) -> dict:
    """One round: presenter and viewers connected, a window of playing, then stepping. `clients`
    is filled as the load generators start, so the caller stops them whatever happens here."""
    owner = servers[0]
    session_id, token = new_session(owner.port)
    presenter = Presenter(f"ws://127.0.0.1:{owner.port}/ws/{session_id}?token={token}")
    await presenter.start()
    try:
        context = multiprocessing.get_context("spawn")
        for spec in viewer_specs([s.port for s in servers], session_id, args.viewers, args.clients):
            clients.append(Client(context, spec))
        ready = [await c.receive("ready", READY_SECONDS + 60) for c in clients]
        connected = sum(count for count, _ in ready)
        await asyncio.sleep(1.0)
        pids = [s.pid for s in servers] + [redis_pid] + [c.process.pid for c in clients]
        before, after = await measure_play(presenter, servers, pids, args.speed, args.seconds)
        sent, missing = await step_rounds(presenter, clients, args.steps, connected)
        # what the servers logged while measuring, apart from what leaving (below) makes them log
        log_marks = [s.log_size() for s in servers]
        for c in clients:
            c.pipe.send(("finish", before["time"], after["time"], sent))
        rooms = [(await c.receive("result", 30))[0] for c in clients]
    finally:
        await presenter.close()
    return {"processes": len(servers), "viewers": args.viewers, "connected": connected,
            "iterations_per_s": presenter.iterations_per_second(before["time"], after["time"]),
            **room_numbers(rooms), **server_numbers(before, after, servers, redis_pid, clients),
            "expected_arrivals": len(sent) * connected, "steps_answered": len(sent),
            "steps_missed_by_someone": missing, "log_marks": log_marks,
            "problems": sorted({p for _, problems in ready for p in problems} |
                               {p for r in rooms for p in r["problems"]})}


async def measure_play(presenter: Presenter, servers: list[Server], pids: list[int], speed: int,
                       seconds: float) -> tuple[dict, dict]:
    """Play, and snapshot the processes at both ends of a window of `seconds`; paused afterwards."""
    await presenter.send({"type": "play", "speed": speed})
    await asyncio.sleep(SETTLE)
    # in a thread: the presenter must go on acking while /healthz is asked
    before = await asyncio.to_thread(snapshot, servers, pids)
    await asyncio.sleep(seconds)
    after = await asyncio.to_thread(snapshot, servers, pids)
    await presenter.send({"type": "pause"})
    await asyncio.sleep(0.5)  # a frame of the last chunk may still be on its way
    return before, after


def room_numbers(rooms: list[dict]) -> dict:
    """What the viewers saw, over every load generator."""
    by_group = {group: sorted(f for r in rooms for f in r["fps"][group]) for group in ("owner", "other")}
    fps = sorted(by_group["owner"] + by_group["other"])
    latencies = {group: [ms for r in rooms for ms in r["latencies"][group]] for group in ("owner", "other")}
    return {"viewers_on": {group: sum(r["viewers"][group] for r in rooms) for group in ("owner", "other")},
            "fps_min": fps[0] if fps else 0.0, "fps_median": statistics.median(fps) if fps else 0.0,
            "fps_median_by_group": {group: statistics.median(values) if values else None
                                    for group, values in by_group.items()},
            "latency_ms": {group: summary(values) for group, values in latencies.items()},
            "latency_max_ms": max((ms for values in latencies.values() for ms in values), default=None),
            "arrivals": sum(map(len, latencies.values()))}


def server_numbers(before: dict, after: dict, servers: list[Server], redis_pid: int, clients: list[Client]) -> dict:
    """What the processes did over the window: CPU, and what the hall published to Redis."""
    total, total_mb = publish_rates(before, after)
    own, own_mb = publish_rates(before, after, 0)
    return {"published_per_s": total, "published_mb_per_s": total_mb,
            "owner_published_per_s": own, "owner_published_mb_per_s": own_mb,
            "owner_cpu": cpu_share(before, after, servers[0].pid),
            "other_cpu": [cpu_share(before, after, s.pid) for s in servers[1:]],
            "redis_cpu": cpu_share(before, after, redis_pid),
            "clients_cpu": sum(cpu_share(before, after, c.process.pid) for c in clients),
            "dropped": sum(h.get("dropped", 0) for h in after["halls"])}


async def step_rounds(presenter: Presenter, clients: list[Client], steps: int, connected: int) -> tuple[dict, int]:
    """Step one iteration at a time, each once every viewer has the last. ({iteration: when its
    step was sent}, how many steps some viewer never saw)."""
    sent: dict[int, float] = {}
    missing = 0
    for k in range(steps):
        at, answer = await presenter.call({"type": "step", "unit": "iteration", "count": 1, "id": f"s{k}"})
        if answer.get("type") != "state":
            print(f"  step {k} refused: {answer}", file=sys.stderr)
            continue
        sent[answer["iteration"]] = at
        for c in clients:
            c.pipe.send(("await", answer["iteration"], STEP_WAIT))
        have = [(await c.receive("have", STEP_WAIT + 10))[1] for c in clients]
        missing += sum(have) < connected
        await asyncio.sleep(0.05)
    return sent, missing


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": max(values), "n": len(values)}


def logged(lines: list[str]) -> dict:
    """How many problems the servers logged, and each kind once (a room leaving logs the same one 200 times)."""
    return {"count": len(lines), "kinds": sorted(set(lines))}


def run_round(count: int, redis_port: int, redis_pid: int, args, scratch: Path) -> dict:
    servers = start_servers(count, redis_port, scratch)
    clients: list[Client] = []
    try:
        result = asyncio.run(lecture(servers, redis_pid, args, clients))
    finally:
        for c in clients:
            c.stop()
        stop_servers(servers)
    marks = result.pop("log_marks")
    result["logged_measuring"] = logged([line for s, m in zip(servers, marks) for line in s.problems_logged(0, m)])
    result["logged_leaving"] = logged([line for s, m in zip(servers, marks) for line in s.problems_logged(m)])
    return result


# --- the report --------------------------------------------------------------------------


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def ms(latency: dict | None, key: str) -> str:
    return "-" if latency is None else f"{latency[key]:.1f}"


# the table's columns: a heading, and how a round's result is written under it
COLUMNS = [
    ("processes", lambda r: str(r["processes"])),
    ("viewers", lambda r: str(r["connected"])),
    ("fps_min", lambda r: f"{r['fps_min']:.1f}"),
    ("fps_med", lambda r: f"{r['fps_median']:.1f}"),
    ("it/s", lambda r: f"{r['iterations_per_s']:.0f}"),
    ("pub/s", lambda r: f"{r['published_per_s']:.1f}"),
    ("own_pub/s", lambda r: f"{r['owner_published_per_s']:.1f}"),
    ("MB_pub/s", lambda r: f"{r['published_mb_per_s']:.3f}"),
    ("own_MB/s", lambda r: f"{r['owner_published_mb_per_s']:.3f}"),
    ("owner_cpu", lambda r: percent(r["owner_cpu"])),
    ("others_cpu(each)", lambda r: " ".join(map(percent, r["other_cpu"])) or "-"),
    ("redis_cpu", lambda r: percent(r["redis_cpu"])),
    ("clients_cpu", lambda r: percent(r["clients_cpu"])),
    ("p50_own", lambda r: ms(r["latency_ms"]["owner"], "p50")),
    ("p50_other", lambda r: ms(r["latency_ms"]["other"], "p50")),
    ("p95_own", lambda r: ms(r["latency_ms"]["owner"], "p95")),
    ("p95_other", lambda r: ms(r["latency_ms"]["other"], "p95")),
    ("lat_max", lambda r: "-" if r["latency_max_ms"] is None else f"{r['latency_max_ms']:.1f}"),
]


def print_table(results: list[dict], args) -> None:
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} cores shared by redis-server, every server process, the presenter and {args.clients} load "
          "generators: compare rows as ratios within this run, not with another machine or run.")
    print(f"load average when the bench started: {args.load_before:.2f} (anything else running skews every row)")
    print(f"{args.viewers} viewers + 1 presenter playing at {args.speed} iterations/s for {args.seconds:g} s, then "
          f"{args.steps} single-iteration steps.")
    print("fps: state frames per viewer per second; it/s: iterations the owner trained per second;\n"
          "pub/s, MB_pub/s: Redis publishes of every process (own_: the owner's alone); cpu: share of one core;\n"
          "p50/p95/lat_max: ms from `step` sent to a viewer's state, on the owner (own) or another process (other).")
    rows = [[cell(r) for _, cell in COLUMNS] for r in results]
    widths = [max(len(heading), *(len(row[i]) for row in rows)) for i, (heading, _) in enumerate(COLUMNS)]
    print("  ".join(heading.rjust(w) for (heading, _), w in zip(COLUMNS, widths)))
    for row in rows:
        print("  ".join(value.rjust(w) for value, w in zip(row, widths)))
    for r in results:
        print(f"  {r['processes']} process{'es' if r['processes'] > 1 else ''}: " + ", ".join(round_notes(r, args)))
    if any(r["clients_cpu"] > 0.9 * args.clients for r in results):
        print("  the load generators were near their cores' limit: they, not the servers, may set the fps")


def round_notes(r: dict, args) -> list[str]:
    """What a round's row does not show: who watched where, and anything that went wrong."""
    medians = r["fps_median_by_group"]
    notes = [f"viewers on the owner {r['viewers_on']['owner']} (fps median {fmt(medians['owner'])}), elsewhere "
             f"{r['viewers_on']['other']} (fps median {fmt(medians['other'])})",
             f"{r['arrivals']} of {r['expected_arrivals']} step states arrived"]
    if r["connected"] < r["viewers"]:
        notes.append(f"{r['viewers'] - r['connected']} viewers not greeted")
    if r["steps_answered"] < args.steps:
        notes.append(f"{args.steps - r['steps_answered']} steps refused")
    if r["steps_missed_by_someone"]:
        notes.append(f"{r['steps_missed_by_someone']} steps some viewer did not see within {STEP_WAIT:g} s")
    notes.append(f"{r['dropped']} publishes dropped (/healthz hall.dropped)")
    for when in ("measuring", "leaving"):
        problems = r[f"logged_{when}"]
        if problems["count"]:
            kinds = "; ".join(kind[:120] for kind in problems["kinds"][:3])
            notes.append(f"{problems['count']} problems in the servers' logs while {when} ({kinds})")
    if r["problems"]:
        notes.append("viewer problems: " + "; ".join(r["problems"][:3]))
    return notes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", default="1,2,4", help="server process counts, one round each (default 1,2,4)")
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--speed", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs (and scenario files) in this directory")
    args = parser.parse_args()
    args.counts = [int(n) for n in args.processes.split(",") if n.strip()]
    if not args.counts or min(args.counts) < 1 or args.viewers < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--processes, --viewers, --clients and --seconds must be positive")
    return args


@contextlib.contextmanager
def scratch_directory(keep: Path | None):
    """Where the servers' logs and scenario files go: `keep`, or a directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="backprop-lecture-") as scratch:
        yield Path(scratch)


def main() -> None:
    args = parse_args()
    args.load_before = os.getloadavg()[0]
    results = []
    with scratch_directory(args.logs) as scratch, running_redis() as (port, redis):
        for count in args.counts:
            print(f"round: {count} server process{'es' if count > 1 else ''} ...", file=sys.stderr, flush=True)
            results.append(run_round(count, port, redis.pid, args, scratch))
    print_table(results, args)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # everything started has been stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
