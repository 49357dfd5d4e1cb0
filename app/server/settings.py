"""Server settings, read from the environment with the prefix BACKPROP_ (e.g. BACKPROP_MAX_FPS=20)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REDIS_SCHEMES = ("redis", "rediss", "unix")  # what redis-py's from_url understands
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/*")


def redacted(url: str) -> str:
    """`url` fit to print or log: anything that may be a password replaced by ***.

    Done on the text rather than on a parse, so that it cannot fail and also covers a URL too
    malformed to parse (a password holding an unencoded / or ?, a missing slash): all before the
    last @ but a scheme and a user name may be a password, and so may any query, since redis-py
    reads `?password=` (with its name percent-encoded, too)."""
    before, at, after = url.rpartition("@")
    if at:
        scheme = URL_SCHEME.match(before)
        prefix = scheme.group(0) if scheme else ""
        userinfo = before[len(prefix):]
        user = f"{userinfo.split(':', 1)[0]}:" if ":" in userinfo else ""
        url = f"{prefix}{user}***@{after}"
    place, question, query = url.partition("?")
    return f"{place}?***" if question and "pass" in unquote(query).lower() else url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKPROP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_sessions: int = Field(200, ge=1)
    max_sessions_per_client: int = Field(40, ge=1, description=(
        "sessions one client address may hold at once (a class behind one router shares an address)"))
    idle_timeout: float = Field(1800.0, gt=0, description=(
        "seconds a session with no connection lives after its controller's last command"))
    unattended_timeout: float = Field(300.0, gt=0, description=(
        "seconds a session with no connection lives if no controller has ever sent it a command"))
    connect_grace: float = Field(10.0, ge=0, le=300, description=(
        "seconds after it is made during which an unused session with no connection is never evicted "
        "to make room: the page it was made for may still be connecting"))
    max_fps: float = Field(30.0, gt=0, le=240, description="frames per second each client gets at most")
    max_unacked: int = Field(2, ge=1, le=16, description="play frames a client may have unacknowledged")
    max_message_bytes: int = Field(262_144, ge=1024, description="largest websocket message accepted")
    max_speed: int = Field(10_000, ge=1, description="iterations per second, at most, while playing")
    max_step_count: int = Field(10_000, ge=1)
    max_step_iterations: int = Field(100_000, ge=1, description="whole iterations one step command may run")
    max_connections_per_session: int = Field(500, ge=1)
    grid_resolution: int = Field(64, ge=8, le=256)
    neuron_resolution: int = Field(32, ge=8, le=256)
    outbox_size: int = Field(64, ge=4, description="messages queued for a client that must not be dropped")
    send_timeout: float = Field(10.0, gt=0, description="seconds a client may take to accept one message before "
                                "it is closed as too slow (4408)")
    unread_grace: float = Field(30.0, gt=0, description="seconds a session keeps playing with no ack or command "
                                "from anyone before it pauses itself")
    verify_interval: float = Field(5.0, ge=0, description="seconds a view-only connection waits between verifies")
    max_gates: int = Field(1200, ge=10, description="largest network, in gates, the gate view will draw")
    sweep_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64,
                               description="worker processes that train seed sweeps")
    max_sweep_seeds: int = Field(64, ge=1, le=1024)
    max_sweep_iterations: int = Field(5000, ge=1, description="iterations each seed of a sweep may train")
    sweep_thumbnail: int = Field(32, ge=8, le=128, description="pixels a side of each sweep result's boundary")
    chunk_seconds: float = Field(0.004, gt=0, description="longest stretch of training between yields")
    max_scenario_bytes: int = Field(2_097_152, ge=1024, description="largest scenario document accepted")
    scenario_db: Path = Field(default_factory=lambda: platformdirs.user_data_path("backprop-lab") / "scenarios.sqlite3",
                              description="the SQLite file saved scenarios live in (created on first save)")
    storage_timeout: float = Field(1.5, gt=0, le=30, description="seconds a save waits for a database another "
                                   "process has locked before it is refused as busy")
    max_scenarios_per_owner: int = Field(100, ge=1, description="saved scenarios one owner key may keep")
    max_scenarios_per_address: int = Field(1000, ge=1, description=(
        "saved scenarios one client address may keep, whatever owner keys it sends (a class behind one "
        "router shares an address)"))
    max_scenario_storage_per_address: int = Field(268_435_456, ge=1024, description=(
        "bytes of saved scenarios one client address may keep"))
    allowed_origins: list[str] = Field(default_factory=list, description=(
        "origins besides the served host whose pages may open websockets, e.g. [\"https://lab.school.example\"]"))
    public_url: str | None = Field(None, description="the address viewers should use to join (default: worked out "
                                   "from the request, with the LAN address when serving on 0.0.0.0)")
    # the lecture hall (docs/scaling.md): many processes sharing sessions over Redis; unset, one process
    redis_url: str | None = Field(None, description="Redis to share sessions through, e.g. redis://127.0.0.1:6379/0; "
                                  "unset, the process keeps its sessions to itself")
    hall_prefix: str = Field("backprop", pattern=r"^[A-Za-z0-9_.-]{1,40}$", description=(
        "the prefix of every Redis key and channel, so several deployments can share one Redis"))
    hall_heartbeat: float = Field(1.0, gt=0, le=10, description="seconds between a process's heartbeats in Redis")
    hall_ttl: float = Field(4.0, gt=0, le=60, description=(
        "seconds a process (and its sessions) stays registered after its last heartbeat: a dead owner's "
        "viewers elsewhere are told within hall_ttl + hall_heartbeat"))

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, url: str | None) -> str | None:
        """A URL redis-py can connect with, refused at startup rather than at the first session."""
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError on a port that is not a number from 0 to 65535
        except ValueError:  # its reason may quote a piece of a password: say what is allowed instead
            raise ValueError("it is not a URL that can be read: the port must be a number from 0 to 65535, "
                             "and a password holding / ? # or @ must be percent-encoded") from None
        if parts.scheme not in REDIS_SCHEMES:
            raise ValueError(f"the scheme must be one of {', '.join(s + '://' for s in REDIS_SCHEMES)}, "
                             "e.g. redis://127.0.0.1:6379/0")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("the URL has no host, e.g. redis://127.0.0.1:6379/0")
        if parts.scheme == "unix" and not parts.path:
            raise ValueError("a unix:// URL needs the socket's path, e.g. unix:///run/redis/redis.sock")
        return url

    @model_validator(mode="after")
    def _beats_renew_before_expiry(self) -> "Settings":
        """A heartbeat must come well within the TTL it renews, or live processes would expire
        between two beats and be taken for dead."""
        if self.hall_ttl < 2 * self.hall_heartbeat:
            raise ValueError(f"BACKPROP_HALL_TTL ({self.hall_ttl:g} s) must be at least twice "
                             f"BACKPROP_HALL_HEARTBEAT ({self.hall_heartbeat:g} s)")
        return self
