"""`backprop-lab serve` checks its scenario database before serving: an unusable path is one
line on stderr naming the path and the reason, and exit code 2, never a server that fails at
the first save."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path, **popen):
    env = {**os.environ, "BACKPROP_SCENARIO_DB": str(db), "BACKPROP_SWEEP_WORKERS": "1"}
    command = [sys.executable, "-m", "app", "serve", "--port", str(free_port())]
    return command, {"env": env, "cwd": ROOT, "text": True, **popen}


def refused(db: Path) -> str:
    command, options = serve(db)
    done = subprocess.run(command, capture_output=True, timeout=60, **options)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "serving" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(db) in lines[0]
    return lines[0]


def test_a_folder_at_the_path_is_refused_and_the_path_serves_once_free(tmp_path):
    db = tmp_path / "scenarios.sqlite3"
    db.mkdir()
    assert "is a folder, not a database file" in refused(db)
    db.rmdir()
    command, options = serve(db)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options) as server:
        try:
            assert "serving at" in server.stdout.readline()
        finally:
            server.terminate()
            server.wait(30)
    assert not db.exists(), "a server that never saved made its database"


def test_a_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "plain-file").write_text("not a folder")
    db = tmp_path / "plain-file" / "scenarios.sqlite3"
    assert f"{tmp_path / 'plain-file'} is a file, not a folder" in refused(db)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("a shopping list, not a database\n" * 40)
    assert "file is not a database" in refused(db)
