"""Run the app under uvicorn with the settings the streaming design needs."""

from __future__ import annotations

import uvicorn


def serve(host: str, port: int) -> int:
    print(f"Backprop Lab is serving at http://{host}:{port}", flush=True)
    uvicorn.run("app.server.main:create_app", factory=True, host=host, port=port,
                ws_per_message_deflate=False,  # compression costs 10–50× throughput on float frames
                timeout_graceful_shutdown=2, log_level="warning")
    return 0
