"""Run the app under uvicorn with the settings the streaming design needs."""

from __future__ import annotations

import uvicorn

from .main import create_app
from .network import WILDCARD_HOSTS, lan_address
from .settings import Settings


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


def serve(host: str, port: int) -> int:
    settings = Settings(host=host, port=port)
    app = create_app(settings)
    for line in addresses(host, port, lan_address() if host in WILDCARD_HOSTS else None):
        print(line, flush=True)
    uvicorn.run(app, host=host, port=port,
                ws_per_message_deflate=False,  # compression cost 10–50× throughput on float frames
                ws_max_size=settings.max_message_bytes + 1024,  # uvicorn closes with 1009 above it
                timeout_graceful_shutdown=2, log_level="warning")
    return 0
