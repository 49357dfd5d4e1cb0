"""Run the app under uvicorn with the settings the streaming design needs."""

from __future__ import annotations

import os

import uvicorn

from .main import create_app
from .network import WILDCARD_HOSTS, lan_address
from .settings import Settings, redacted


def addresses(host: str, port: int, lan: str | None) -> list[str]:
    """What to tell the person starting the server: where to open it, and where the room joins."""
    if host not in WILDCARD_HOSTS:
        return [f"Backprop Lab is serving at http://{host}:{port}"]
    lines = [f"Backprop Lab is serving at http://127.0.0.1:{port} on this machine"]
    if lan:
        lines.append(f"Others on your network join at http://{lan}:{port} (the presenter view shows this link "
                     "and its QR code)")
    else:
        lines.append("No network address was found: other devices cannot join until this machine is on a network")
    return lines


def serve(host: str, port: int, workers: int = 1) -> int:
    settings = Settings(host=host, port=port)
    for line in addresses(host, port, lan_address() if host in WILDCARD_HOSTS else None):
        print(line, flush=True)
    options = dict(host=host, port=port,
                   ws_per_message_deflate=False,  # compression cost 10–50× throughput on float frames
                   ws_max_size=settings.max_message_bytes + 1024,  # uvicorn closes with 1009 above it
                   timeout_graceful_shutdown=2, log_level="warning")
    if workers > 1:
        # each worker process builds its own app from the environment (where host and port go too)
        os.environ["BACKPROP_HOST"], os.environ["BACKPROP_PORT"] = host, str(port)
        print(f"{workers} processes share sessions through Redis at {redacted(settings.redis_url)}", flush=True)
        uvicorn.run("app.server.serve:app_from_environment", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def app_from_environment():
    """The app of one of `--workers` processes."""
    return create_app(Settings())
