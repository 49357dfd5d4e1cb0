"""Assembles the app; nothing else lives here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.storage import ScenarioStore, StorageError

from . import classroom, http, playground, ws
from .errors import Refused, error_response
from .forwarding import ForwardToOwner
from .pages import message_page
from .sessions import Registry
from .sweeps import SweepPool
from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]

log = logging.getLogger("backprop_lab")


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
                # an answer forwarded from another process of the hall has them already
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                                        if k.encode() not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _storage_failed(request: Request, exc: StorageError):
    """503 with the reason: the database is the operator's to mend, and the rest of the app works on."""
    log.warning("%s", exc)
    if not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", ""):
        return message_page(request, 503, "Saved scenarios are unavailable", str(exc))  # a share link opened in a tab
    return error_response(503, "storage", str(exc))


def _refused(request: Request, exc: Refused):
    return exc.response


def _failed(request: Request, exc: Exception) -> JSONResponse:
    """Any other exception: JSON the page can read instead of Starlette's text/plain page. Starlette
    runs this handler outside every middleware, so the security headers are added here; the
    exception is raised again afterwards and logged with its traceback by the server."""
    response = error_response(500, "internal", f"the server failed on this request ({type(exc).__name__}); "
                              "it has been logged")
    response.headers.update(SECURITY_HEADERS)
    return response


async def _expire_forever(registry: Registry, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        registry.expire()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        problem = app.state.scenarios.problem()
        if problem:  # `backprop-lab serve` refuses to start; an app built some other way serves on without saving
            log.warning("saved scenarios will fail: %s", problem)
        if settings.redis_url:  # the lecture hall: sessions shared with the other processes over Redis
            from .hall import Hall

            hall = Hall(settings, app.state.registry, app)
            await hall.start()
            app.state.hall = app.state.registry.hall = hall
        sweeper = asyncio.create_task(_expire_forever(app.state.registry, min(60.0, settings.idle_timeout / 4)))
        try:
            yield
        finally:
            sweeper.cancel()
            try:
                app.state.registry.close_all()  # in a hall, every viewer elsewhere is told why
                if app.state.hall is not None:
                    await app.state.hall.stop()
            finally:
                app.state.sweeps.shutdown()  # its workers end with the server, whatever else failed

    app = FastAPI(title="Backprop Lab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.sweeps = SweepPool(settings.sweep_workers)
    app.state.registry = Registry(settings, app.state.sweeps)
    app.state.hall = None  # a hall.Hall once the lifespan has reached Redis, with BACKPROP_REDIS_URL
    app.state.scenarios = ScenarioStore(settings.scenario_db, timeout=settings.storage_timeout,
                                        max_per_owner=settings.max_scenarios_per_owner,
                                        max_per_address=settings.max_scenarios_per_address,
                                        max_bytes_per_address=settings.max_scenario_storage_per_address)
    app.state.templates = Jinja2Templates(directory=ROOT / "templates")
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.include_router(http.router)
    app.include_router(classroom.router)
    app.include_router(playground.router)
    app.include_router(ws.router)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(StorageError, _storage_failed)
    app.add_exception_handler(Exception, _failed)

    app.add_middleware(SecurityHeaders)
    app.add_middleware(ForwardToOwner, state=app.state)  # outermost: the owner's answer has its own headers
    return app
