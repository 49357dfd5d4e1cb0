"""What the processes of a lecture hall say to each other over Redis: keys, channels, envelopes.

The browser's messages are built by wire.py and travel inside these envelopes as the very
bytes a local viewer gets; this module only wraps them. An envelope is a small JSON header
(what it is, for whom) followed by opaque parts:

    4-byte header length (big-endian) · header JSON · per part: 4-byte length · bytes

so a frame's state and grid cross Redis without being decoded or re-encoded anywhere.
"""

from __future__ import annotations

import hashlib
import struct

import orjson

_LENGTH = struct.Struct(">I")


class HallUnavailable(Exception):
    """The owner of a session (or Redis) did not answer in time."""


class BadEnvelope(ValueError):
    """Bytes on a hall channel that are not an envelope (another program sharing the prefix)."""


def pack(header: dict, *parts: bytes) -> bytes:
    head = orjson.dumps(header)
    chunks = [_LENGTH.pack(len(head)), head]
    for part in parts:
        chunks += [_LENGTH.pack(len(part)), part]
    return b"".join(chunks)


def unpack(data: bytes) -> tuple[dict, list[bytes]]:
    try:
        (size,) = _LENGTH.unpack_from(data, 0)
        header = orjson.loads(data[4:4 + size])
        parts, at = [], 4 + size
        while at < len(data):
            (length,) = _LENGTH.unpack_from(data, at)
            parts.append(data[at + 4:at + 4 + length])
            at += 4 + length
    except (struct.error, orjson.JSONDecodeError) as exc:
        raise BadEnvelope(str(exc)) from None
    if not isinstance(header, dict) or at != len(data):
        raise BadEnvelope("not a hall envelope")
    return header, parts


def token_hash(token: str) -> str:
    """What Redis keeps of a session's control token: enough to check one, useless to steal."""
    return hashlib.sha256(token.encode()).hexdigest()


class Names:
    """Every key and channel of one deployment, under its prefix (settings.hall_prefix)."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def process(self, process_id: str) -> str:
        """A string key that exists while the process is alive (its heartbeat renews the TTL)."""
        return f"{self.prefix}:process:{process_id}"

    def session(self, session_id: str) -> str:
        """A hash: owner (process id), token (its sha256), expires (wall-clock idle deadline)."""
        return f"{self.prefix}:session:{session_id}"

    @property
    def counts(self) -> str:
        """A hash: process id → how many sessions it holds (the cap is their sum over live processes)."""
        return f"{self.prefix}:counts"

    def client(self, address: str) -> str:
        """A hash: process id → how many sessions it holds for one client address (the per-client
        cap is their sum over live processes); it expires with the last heartbeat renewing it."""
        return f"{self.prefix}:client:{address}"

    @property
    def claim_secret(self) -> str:
        """The HMAC secret of page claims, shared so a page served by one process connects to another."""
        return f"{self.prefix}:claim-secret"

    def room(self, session_id: str) -> str:
        """The channel an owner publishes a session's frames and broadcasts on."""
        return f"{self.prefix}:room:{session_id}"

    def inbox(self, process_id: str) -> str:
        """The channel a process reads what is addressed to it: commands, joins, replies."""
        return f"{self.prefix}:inbox:{process_id}"


# Atomically: refuse if the session id is registered already ("taken"), if the asking address
# already holds `client_cap` sessions across the live processes ("client_full"; checked first, so
# the address makes room from its own sessions; a client_cap of 0: no address to count), or if
# the live processes hold `cap` between them ("full"); else count it and register it.
# A process states what it holds (`held`, and `held_client` for the address) rather than adding
# and subtracting: its field is overwritten with the truth every time, so a late release or a
# lost reply cannot leave a count off for good.
# Counts of processes whose heartbeat key has expired are dropped as they are found.
RESERVE = """
local counts, me, cap, process_prefix = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local session, token, ttl_ms = KEYS[2], ARGV[4], tonumber(ARGV[5])
local client, client_cap = KEYS[3], tonumber(ARGV[6])
local held, held_client = tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('EXISTS', session) == 1 then return 'taken' end
local function others(key)
  local total, all = 0, redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= me then
      if redis.call('EXISTS', process_prefix .. all[i]) == 1 then
        total = total + tonumber(all[i + 1])
      else
        redis.call('HDEL', key, all[i])
      end
    end
  end
  return total
end
if client_cap > 0 and others(client) + held_client >= client_cap then return 'client_full' end
if others(counts) + held >= cap then return 'full' end
redis.call('HSET', counts, me, held + 1)
if client_cap > 0 then
  redis.call('HSET', client, me, held_client + 1)
  redis.call('PEXPIRE', client, ttl_ms)
end
redis.call('HSET', session, 'owner', me, 'token', token)
redis.call('PEXPIRE', session, ttl_ms)
return 'ok'
"""
