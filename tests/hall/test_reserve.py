"""The hall's RESERVE script, run against a real redis-server: both caps, what a process says it
holds overriding what Redis last heard from it, and the address's cap checked before the hall's."""

from __future__ import annotations

import pytest
import redis

from app.server.bus import RESERVE, Names

CAP, CLIENT_CAP, TTL_MS = 4, 2, 10_000


@pytest.fixture
def db(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def reserve(db, names: Names, process: str, session_id: str, address: str, held: int, held_client: int) -> str:
    keys = [names.counts, names.session(session_id), names.client(address)]
    args = [process, CAP, names.process(""), "hash", TTL_MS, CLIENT_CAP, held, held_client]
    return db.eval(RESERVE, len(keys), *keys, *args).decode()


def alive(db, names: Names, *processes: str) -> None:
    for process in processes:
        db.set(names.process(process), b"1", px=TTL_MS)


def counts(db, key: str) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in db.hgetall(key).items()}


def test_a_process_is_counted_as_holding_what_it_says_not_what_redis_last_heard(db):
    """An evicted session's release may not have reached Redis when the retry runs: the retry
    states the truth, so the room just made is seen (before, it was refused and the session lost)."""
    names = Names("t1")
    alive(db, names, "A", "B")
    db.hset(names.counts, mapping={"A": 3, "B": 1})  # A's last word: 3, one of them since evicted
    db.hset(names.client("1.2.3.4"), mapping={"A": 2})
    assert reserve(db, names, "A", "s1", "1.2.3.4", held=2, held_client=1) == "ok"
    assert counts(db, names.counts) == {"A": 3, "B": 1}
    assert counts(db, names.client("1.2.3.4")) == {"A": 2}
    assert db.hget(names.session("s1"), "owner") == b"A"
    assert 0 < db.pttl(names.session("s1")) <= TTL_MS


def test_the_addresss_cap_is_checked_before_the_halls(db):
    """Both caps reached: the answer is the address's, so it makes room from its own idle
    sessions instead of evicting a stranger's."""
    names = Names("t2")
    alive(db, names, "A", "B")
    db.hset(names.counts, mapping={"B": 2})
    db.hset(names.client("1.2.3.4"), mapping={"B": 1})
    assert reserve(db, names, "A", "s1", "1.2.3.4", held=2, held_client=1) == "client_full"
    assert reserve(db, names, "A", "s1", "5.6.7.8", held=2, held_client=0) == "full"
    assert reserve(db, names, "A", "s1", "5.6.7.8", held=1, held_client=0) == "ok"
    assert counts(db, names.counts) == {"A": 2, "B": 2}


def test_dead_processes_are_not_counted_and_a_taken_id_is_refused(db):
    names = Names("t3")
    alive(db, names, "A")  # B's heartbeat key has expired: B is dead
    db.hset(names.counts, mapping={"B": CAP})
    db.hset(names.client("1.2.3.4"), mapping={"B": CLIENT_CAP})
    assert reserve(db, names, "A", "s1", "1.2.3.4", held=0, held_client=0) == "ok"
    assert counts(db, names.counts) == {"A": 1} and counts(db, names.client("1.2.3.4")) == {"A": 1}
    assert reserve(db, names, "A", "s1", "1.2.3.4", held=1, held_client=1) == "taken"
