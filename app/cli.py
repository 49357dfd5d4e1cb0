"""`backprop-lab serve [--host H] [--port P]`: start the app and say where it is."""

from __future__ import annotations

import argparse
import sys

UNUSABLE = 2  # the exit code when the server cannot start as configured


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backprop-lab", description="Watch backpropagation happen.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                       "0.0.0.0 lets other devices on the network join)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    return parser


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
        problem = storage_problem(args.host, args.port)
        if problem:
            print(f"backprop-lab: cannot serve: {problem} (set BACKPROP_SCENARIO_DB to a file this user may "
                  "create and write)", file=sys.stderr, flush=True)
            return UNUSABLE
        from app.server.serve import serve  # the web stack loads only when serving

        return serve(args.host, args.port)
    return 2
