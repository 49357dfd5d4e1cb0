"""Assembles the app; nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.storage import ScenarioStore

from . import classroom, http, ws
from .sessions import Registry
from .sweeps import SweepPool
from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]


# Nothing external, ever: classrooms are often offline, and a page that can load nothing from
# elsewhere cannot be made to run someone else's script. 'self' covers ws:// to this host.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"content-security-policy": CONTENT_SECURITY_POLICY, "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer"}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response. Plain ASGI, so websockets pass straight
    through (a BaseHTTPMiddleware sits in the path of every frame sent)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _expire_forever(registry: Registry, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        registry.expire()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        sweeper = asyncio.create_task(_expire_forever(app.state.registry, min(60.0, settings.idle_timeout / 4)))
        try:
            yield
        finally:
            sweeper.cancel()
            try:
                app.state.registry.close_all()
            finally:
                app.state.sweeps.shutdown()  # its workers end with the server, whatever else failed

    app = FastAPI(title="Backprop Lab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.sweeps = SweepPool(settings.sweep_workers)
    app.state.registry = Registry(settings, app.state.sweeps)
    app.state.scenarios = ScenarioStore(settings.scenario_db)
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.include_router(http.router)
    app.include_router(classroom.router)
    app.include_router(ws.router)

    app.add_middleware(SecurityHeaders)
    return app
