"""The process's CPU, shared fairly between sessions.

One event loop serves every session, so what one session computes delays all the others. Two
rules keep an interactive click fast however many runs are playing:

- **Background work takes turns in one lane.** Training while playing and building play frames
  enter the `Lane` one chunk at a time, first come first served, and after each chunk the lane
  rests for a share of the time it was held. A session's step or a viewer's command never
  queues behind twenty playing sessions: at most one chunk (a few milliseconds) is in its way.
- **Play frames are built in a thread of their own** (`frame_executor`): a frame of the largest
  network (its state and the grids of 96 neuron maps) takes ~20 ms, far longer than a click may
  wait. Built in a thread, it gives way to the event loop every millisecond (the interpreter's
  switch interval, set here), so a step in another session is answered while it is built.
- **Heavy one-off work runs in its own small thread pool** (`heavy_executor`): `verify`'s finite
  differences cost about four forward passes per parameter, and must not fill the default pool
  that storage (SQLite) and the rest of the server use.

Both belong to the running event loop: tests start many apps, each on its own loop.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from concurrent.futures import ThreadPoolExecutor

# After holding the lane for t seconds, it stays free for REST_SHARE · t (at most MAX_REST):
# 0.5 leaves a third of the loop to interactive work when it is busy with background work,
# and one lone playing session still trains at two thirds of full speed.
REST_SHARE = 0.5
MAX_REST = 0.004
# verify runs one check at a time per process: each holds a core for up to a second on the
# largest network, and a second one would only slow both.
HEAVY_WORKERS = 1
# how often a thread holding the interpreter hands it on (Python's default is 5 ms)
SWITCH_INTERVAL = 0.001


class Lane:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()  # FIFO: waiting chunks go round-robin
        self._free_at = 0.0
        self._entered = 0.0

    async def __aenter__(self) -> "Lane":
        await self._lock.acquire()
        loop = asyncio.get_running_loop()
        try:
            wait = self._free_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            # cancelled during the rest (a session paused, a socket closed): the turn is given
            # back, or every session of the process would wait on this lane for ever
            self._lock.release()
            raise
        self._entered = loop.time()
        return self

    async def __aexit__(self, *exc) -> None:
        now = asyncio.get_running_loop().time()
        self._free_at = now + min(MAX_REST, (now - self._entered) * REST_SHARE)
        self._lock.release()


_lanes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lane]" = weakref.WeakKeyDictionary()
_executors: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor]" = weakref.WeakKeyDictionary()
_frame_executors: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor]" = weakref.WeakKeyDictionary()


def lane() -> Lane:
    """The running loop's lane for background work."""
    loop = asyncio.get_running_loop()
    if loop not in _lanes:
        _lanes[loop] = Lane()
    return _lanes[loop]


def heavy_executor() -> ThreadPoolExecutor:
    """The running loop's threads for heavy one-off work, apart from the default pool."""
    loop = asyncio.get_running_loop()
    if loop not in _executors:
        _executors[loop] = ThreadPoolExecutor(HEAVY_WORKERS, thread_name_prefix="backprop-heavy")
    return _executors[loop]


def frame_executor() -> ThreadPoolExecutor:
    """The running loop's thread for building play frames (one: they take turns in the lane anyway)."""
    loop = asyncio.get_running_loop()
    if loop not in _frame_executors:
        sys.setswitchinterval(SWITCH_INTERVAL)
        _frame_executors[loop] = ThreadPoolExecutor(1, thread_name_prefix="backprop-frames")
    return _frame_executors[loop]


async def run_heavy(fn, *args):
    """`fn(*args)` in the heavy pool; the caller awaits it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(heavy_executor(), fn, *args)
