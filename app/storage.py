"""Saved scenarios in one SQLite file.

Each save is one transaction, and SQLite's write-ahead log with `synchronous=FULL` makes it
durable once `save` returns: a scenario is either wholly there after a crash or a kill, or
not there at all. A connection is opened per call, so the server's threads never share one.
The file is created on first use, so a server that never saves writes nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    document BLOB NOT NULL
)
"""


class ScenarioStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if not self._ready:
            db.execute(SCHEMA)
            db.commit()
            self._ready = True
        return db

    def save(self, document: dict) -> str:
        """Store a checked scenario document; returns its new id (72 random bits, URL-safe)."""
        scenario_id = secrets.token_urlsafe(9)
        with closing(self._connect()) as db, db:  # `with db` commits, or rolls back on error
            db.execute("INSERT INTO scenarios (id, title, created, document) VALUES (?, ?, ?, ?)",
                       (scenario_id, document.get("title", ""), time.time(), orjson.dumps(document)))
        return scenario_id

    def get(self, scenario_id: str) -> dict | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT document FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def list(self, limit: int = 200) -> list[dict]:
        """The newest scenarios first: id, title, when, and what they run."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, title, created, document FROM scenarios ORDER BY created DESC LIMIT ?",
                              (limit,)).fetchall()
        items = []
        for scenario_id, title, created, raw in rows:
            doc = orjson.loads(raw)
            config, run = doc.get("config", {}), doc.get("run") or {}
            items.append({"id": scenario_id, "title": title, "created": created,
                          "dataset": config.get("dataset", {}).get("name"), "hidden": config.get("hidden"),
                          "iteration": run.get("iteration", 0)})
        return items
