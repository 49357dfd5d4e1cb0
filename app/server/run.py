"""Run the app under uvicorn with the settings the streaming design needs."""

from __future__ import annotations

import uvicorn

from .main import create_app
from .settings import Settings


def serve(host: str, port: int) -> int:
    settings = Settings(host=host, port=port)
    app = create_app(settings)
    print(f"Backprop Lab is serving at http://{host}:{port}", flush=True)
    uvicorn.run(app, host=host, port=port,
                ws_per_message_deflate=False,  # compression cost 10–50× throughput on float frames
                ws_max_size=settings.max_message_bytes + 1024,  # uvicorn closes with 1009 above it
                timeout_graceful_shutdown=2, log_level="warning")
    return 0
