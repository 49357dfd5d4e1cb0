"""Assembles the app; nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import http, ws
from .sessions import Registry
from .sweeps import SweepPool
from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]


async def _expire_forever(registry: Registry, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        registry.expire()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        sweeper = asyncio.create_task(_expire_forever(app.state.registry, min(60.0, settings.idle_timeout / 4)))
        yield
        sweeper.cancel()
        app.state.registry.close_all()
        app.state.sweeps.shutdown()

    app = FastAPI(title="Backprop Lab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.sweeps = SweepPool(settings.sweep_workers)
    app.state.registry = Registry(settings, app.state.sweeps)
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.include_router(http.router)
    app.include_router(ws.router)
    return app
