"""Saved scenarios in one SQLite file.

Each save is one transaction, and SQLite's write-ahead log with `synchronous=FULL` makes it
durable once `save` returns: a scenario is either wholly there after a crash or a kill, or
not there at all. A connection is opened per call, so the server's threads never share one.
The file is created on first save, so a server that never saves writes nothing.

The file is someone else's to break: it can be deleted, replaced, locked or made unreadable
while the server runs. Every call therefore checks the schema as it connects (so a deleted
file comes back empty rather than tableless), waits at most `timeout` seconds for a lock, and
turns every failure into a `StorageError` whose message names the file and the reason.

A scenario belongs to whoever saved it, by the owner key their browser keeps: only they see
it listed or may delete it, though anyone with its id may load it (that is a share link).
The store keeps a hash of the key, so a copy of the file lets no one act as its owners.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import orjson

SCHEMA_VERSION = 2  # 1: id, title, created, document; 2: + owner, address

SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    document BLOB NOT NULL,
    owner TEXT,
    address TEXT
)
"""

ADDED_COLUMNS = {"owner": "TEXT", "address": "TEXT"}  # what version 1 files lack


class StorageError(Exception):
    """The database could not be used. The message is a sentence for people: what failed,
    the file, and SQLite's (or the system's) reason."""

    def __init__(self, message: str, *, busy: bool = False):
        super().__init__(message)
        self.busy = busy


class StorageLimit(Exception):
    """A save refused by a quota; the message names the limit."""


def owner_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ScenarioStore:
    def __init__(self, path: Path | str, *, timeout: float = 1.5, max_per_owner: int | None = None,
                 max_per_address: int | None = None, max_bytes_per_address: int | None = None):
        self.path = Path(path)
        self.timeout = timeout
        self.max_per_owner = max_per_owner
        self.max_per_address = max_per_address
        self.max_bytes_per_address = max_bytes_per_address

    # --- what callers use ---------------------------------------------------------------------

    def save(self, document: dict, owner: str | None = None, address: str | None = None) -> str:
        """Store a checked scenario document; returns its new id (72 random bits, URL-safe).
        `owner` is the saver's owner key (None: nobody may list or delete it), `address`
        the client's; raises StorageLimit when either is over its quota."""
        scenario_id = secrets.token_urlsafe(9)
        raw = orjson.dumps(document)
        owned = owner_hash(owner) if owner else None
        with self._open("save the scenario", create=True) as db:
            with _writing(db):  # the write lock is taken before counting: two saves cannot both pass a quota
                self._check_quota(db, owned, address, len(raw))
                db.execute("INSERT INTO scenarios (id, title, created, document, owner, address) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (scenario_id, document.get("title", ""), time.time(), raw, owned, address))
        return scenario_id

    def get(self, scenario_id: str) -> dict | None:
        with self._open("read the scenario") as db:
            if db is None:
                return None
            row = db.execute("SELECT document FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def list(self, owner: str | None, limit: int = 200) -> list[dict]:
        """The owner's newest scenarios first: id, title, when, and what they run. Nobody's
        scenarios (no owner key) are listed to no one."""
        if not owner:
            return []
        with self._open("list the saved scenarios") as db:
            if db is None:
                return []
            rows = db.execute("SELECT id, title, created, document FROM scenarios WHERE owner = ? "
                              "ORDER BY created DESC LIMIT ?", (owner_hash(owner), limit)).fetchall()
        items = []
        for scenario_id, title, created, raw in rows:
            doc = orjson.loads(raw)
            config, run = doc.get("config", {}), doc.get("run") or {}
            items.append({"id": scenario_id, "title": title, "created": created,
                          "dataset": config.get("dataset", {}).get("name"), "hidden": config.get("hidden"),
                          "iteration": run.get("iteration", 0)})
        return items

    def delete(self, scenario_id: str, owner: str | None) -> str:
        """What became of it: "deleted", "forbidden" (someone else's, or nobody's) or "missing"."""
        with self._open("delete the scenario") as db:
            if db is None:
                return "missing"
            with _writing(db):
                row = db.execute("SELECT owner FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
                if row is None:
                    outcome = "missing"
                elif not owner or row[0] is None or not secrets.compare_digest(row[0], owner_hash(owner)):
                    outcome = "forbidden"
                else:
                    db.execute("DELETE FROM scenarios WHERE id = ?", (scenario_id,))
                    outcome = "deleted"
        return outcome

    def problem(self) -> str | None:
        """Why the database cannot be used right now, or None if it can. Only looks and reads:
        never creates the file or writes to it, so a health check may call it every few seconds."""
        try:
            return self._problem()
        except Exception as exc:  # a health check must answer, whatever the file system does
            return f"the scenario database {self.path} cannot be checked: {exc}"

    # --- how ----------------------------------------------------------------------------------

    def _problem(self) -> str | None:
        path = self.path
        where = f"the scenario database {path}"
        if not path.exists():
            ancestor = path.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                return f"{where} cannot be created: {ancestor} is a file, not a folder"
            if not os.access(ancestor, os.W_OK | os.X_OK):
                return f"{where} cannot be created: the folder {ancestor} is not writable"
            return None
        if path.is_dir():
            return f"{where} is a folder, not a database file"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"{where} is not readable and writable by this user"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return f"{where} cannot be written: its folder is not writable, and SQLite keeps its log beside the file"
        try:
            # mode=rw: never create the file here (it may vanish between exists() and now)
            with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True,
                                         timeout=min(self.timeout, 0.5))) as db:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                # readers pass a writer's lock in WAL mode, so only taking the write lock (and
                # letting it go at once, having written nothing) shows that saves would wait
                db.execute("BEGIN IMMEDIATE")
                db.rollback()
        except sqlite3.Error as exc:
            if _is_busy(exc):
                return f"{where} is busy: another connection holds a lock on it (SQLite: {exc})"
            return f"{where} cannot be read as a SQLite database (SQLite: {exc})"
        return None

    @contextmanager
    def _open(self, doing: str, create: bool = False) -> Iterator[sqlite3.Connection | None]:
        """A connection with the schema in place, or None when there is no file and `create`
        is false (reading from nothing needs no file). Any failure inside becomes a StorageError."""
        try:
            if not create and not self.path.exists():
                yield None
                return
            db = self._connect(create)
            with closing(db):
                yield db
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(doing, exc) from exc

    def _connect(self, create: bool) -> sqlite3.Connection:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun explicitly, so the lock is taken where we say
        db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Create the table (a new or deleted file) or add what version 1 lacked. Idempotent, under
        the write lock, so two servers starting on one old file do it once between them."""
        with _writing(db):
            db.execute(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(scenarios)")}
            for column, kind in ADDED_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE scenarios ADD COLUMN {column} {kind}")
            db.execute("CREATE INDEX IF NOT EXISTS scenarios_by_owner ON scenarios (owner, created)")
            db.execute("CREATE INDEX IF NOT EXISTS scenarios_by_address ON scenarios (address)")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_quota(self, db: sqlite3.Connection, owned: str | None, address: str | None, size: int) -> None:
        if owned and self.max_per_owner is not None:
            count = db.execute("SELECT count(*) FROM scenarios WHERE owner = ?", (owned,)).fetchone()[0]
            if count >= self.max_per_owner:
                raise StorageLimit(f"you have {count} saved scenarios, the most one owner may keep "
                                   f"(max_scenarios_per_owner = {self.max_per_owner}); delete one to save another")
        if address is None:
            return
        count, stored = db.execute("SELECT count(*), coalesce(sum(length(document)), 0) FROM scenarios "
                                   "WHERE address = ?", (address,)).fetchone()
        if self.max_per_address is not None and count >= self.max_per_address:
            raise StorageLimit(f"{count} scenarios have been saved from {address}, the most one address may keep "
                               f"(max_scenarios_per_address = {self.max_per_address})")
        if self.max_bytes_per_address is not None and stored + size > self.max_bytes_per_address:
            raise StorageLimit(f"the scenarios saved from {address} take {stored} bytes and this one {size} more, "
                               f"over the most one address may keep (max_scenario_storage_per_address = "
                               f"{self.max_bytes_per_address} bytes)")

    def _failure(self, doing: str, exc: BaseException) -> StorageError:
        if isinstance(exc, sqlite3.Error) and _is_busy(exc):
            return StorageError(f"could not {doing}: the scenario database {self.path} is busy, another connection "
                                f"held a lock on it for more than {self.timeout:g} s (SQLite: {exc}); "
                                "try again in a moment", busy=True)
        # the file's own state usually says more than SQLite's "unable to open database file"
        reason = self.problem()
        if reason is None:
            words = f"SQLite: {exc}" if isinstance(exc, sqlite3.Error) else (exc.strerror or str(exc))
            reason = f"the scenario database {self.path} failed ({words})"
        elif isinstance(exc, sqlite3.Error) and str(exc) not in reason:
            reason = f"{reason} (SQLite: {exc})"
        return StorageError(f"could not {doing}: {reason}")


@contextmanager
def _writing(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, its lock taken at once (waiting at most the busy timeout)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite has already rolled back after some errors (a full disk)
            db.rollback()
        raise
    db.execute("COMMIT")


def _is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(exc)
