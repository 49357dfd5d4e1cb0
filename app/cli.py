"""`backprop-lab serve [--host H] [--port P] [--workers N]`: start the app and say where it is."""

from __future__ import annotations

import argparse
import os
import sys

UNUSABLE = 2  # the exit code when the server cannot start as configured


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backprop-lab", description="Watch backpropagation happen.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                       "0.0.0.0 lets other devices on the network join)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the port (default 1); more "
                       "than one needs BACKPROP_REDIS_URL, through which they share sessions (a lecture hall)")
    return parser


MAX_WORKERS = 64


def workers_problem(workers: int) -> str | None:
    """Why `--workers` cannot be used as given: separate processes share sessions only through Redis."""
    import os

    if not 1 <= workers <= MAX_WORKERS:
        return f"--workers must be from 1 to {MAX_WORKERS}, got {workers}"
    if workers > 1 and not os.environ.get("BACKPROP_REDIS_URL"):
        return (f"--workers {workers} needs BACKPROP_REDIS_URL (e.g. redis://127.0.0.1:6379/0): processes share "
                "sessions only through Redis, else a page served by one could not find its session in another")
    return None


def settings_problem(host: str, port: int) -> str | None:
    """What is wrong with the BACKPROP_ environment (and --host, --port), each setting by its name,
    or None: a mistyped variable stops the server with one clear line, not a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from app.server.settings import Settings

    try:
        Settings(host=host, port=port)
    except ValidationError as exc:
        return "; ".join(_setting_error(error) for error in exc.errors())
    except SettingsError as exc:  # a list setting whose text is not JSON: read before validation
        return _unreadable_setting(str(exc))
    return None


def _unreadable_setting(reason: str) -> str:
    import re

    found = re.search(r'field "(\w+)"', reason)
    name = f"BACKPROP_{found.group(1).upper()}" if found else "a BACKPROP_ setting"
    given = next((value for key, value in os.environ.items() if key.upper() == name), None)
    return (f"{name}: it must be written in JSON, a list of text such as [\"https://class.example.org\"] "
            f"(got {given!r})")


def _setting_error(error: dict) -> str:
    from app.server.settings import redacted

    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a rule between settings: its message names them
        return message
    field = str(error["loc"][0])
    name = f"--{field}" if field in ("host", "port") else f"BACKPROP_{field.upper()}"
    given = error.get("input")
    shown = redacted(str(given)) if field == "redis_url" else repr(given)  # a URL may carry a password
    return f"{name}: {message} (got {shown})"


def storage_problem(host: str, port: int) -> str | None:
    """Why the configured scenario database cannot be used, checked before serving: a class that
    saves its work must not find out at its first save that it never could."""
    from app.server.settings import Settings
    from app.storage import ScenarioStore

    settings = Settings(host=host, port=port)
    return ScenarioStore(settings.scenario_db, timeout=settings.storage_timeout).problem()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        problem = workers_problem(args.workers) or settings_problem(args.host, args.port)
        if problem:
            print(f"backprop-lab: cannot serve: {problem}", file=sys.stderr, flush=True)
            return UNUSABLE
        problem = storage_problem(args.host, args.port)
        if problem:
            print(f"backprop-lab: cannot serve: {problem} (set BACKPROP_SCENARIO_DB to a file this user may "
                  "create and write)", file=sys.stderr, flush=True)
            return UNUSABLE
        from app.server.serve import serve  # the web stack loads only when serving

        return serve(args.host, args.port, args.workers)
    return 2
