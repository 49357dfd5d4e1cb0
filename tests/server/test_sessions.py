"""A session's connections: attached with their greeting, and always detached."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from app.engine import parse_config
from app.server.sessions import Connection, Session

from .conftest import run_apart, small_settings


async def _nowhere(_):
    pass


def test_attached_greets_first_and_detaches_however_the_block_ends():
    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        conn = Connection("view", _nowhere, _nowhere, asyncio.Queue(16))
        with pytest.raises(RuntimeError):
            async with session.attached(conn):
                assert session.connections == {conn}
                raise RuntimeError("the socket broke")
        assert not session.connections
        sent = [conn.outbox.get_nowait() for _ in range(conn.outbox.qsize())]
        return [orjson.loads(data)["type"] if kind == "text" else "grid" for kind, data in sent]

    assert run_apart(scenario()) == ["hello", "graph", "state", "grid", "config", "dataset", "presentation"]
