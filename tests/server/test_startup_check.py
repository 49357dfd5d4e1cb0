"""`backprop-lab serve` checks its scenario database before serving: an unusable path is one
line on stderr naming the path and the reason, and exit code 2, never a server that fails at
the first save."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


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


def refused_setting(tmp_path: Path, *args: str, **env: str) -> str:
    """The one line `serve` prints when a setting is unusable (exit 2, no traceback)."""
    command, options = serve(tmp_path / "s.sqlite3")
    options["env"] = {**options["env"], **env}
    done = subprocess.run([*command, *args], capture_output=True, timeout=60, **options)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop-lab: cannot serve: "), done.stderr
    return lines[0].removeprefix("backprop-lab: cannot serve: ")


def test_an_unusable_setting_is_named_with_what_was_given_and_what_is_allowed(tmp_path):
    assert refused_setting(tmp_path, BACKPROP_MAX_FPS="fast") == (
        "BACKPROP_MAX_FPS: Input should be a valid number, unable to parse string as a number (got 'fast')")
    assert refused_setting(tmp_path, BACKPROP_GRID_RESOLUTION="4") == (
        "BACKPROP_GRID_RESOLUTION: Input should be greater than or equal to 8 (got '4')")
    assert refused_setting(tmp_path, "--port", "70000") == (
        "--port: Input should be less than or equal to 65535 (got 70000)")
    # two at once: both named
    both = refused_setting(tmp_path, BACKPROP_MAX_FPS="0", BACKPROP_HALL_PREFIX="a b")
    assert "BACKPROP_MAX_FPS" in both and "BACKPROP_HALL_PREFIX" in both


def test_a_redis_url_is_checked_before_serving_and_its_password_never_printed(tmp_path):
    wrong_scheme = refused_setting(tmp_path, BACKPROP_REDIS_URL="http://:hunter2@127.0.0.1:6379/0")
    assert wrong_scheme.startswith("BACKPROP_REDIS_URL: the scheme must be one of redis://, rediss://, unix://")
    assert "hunter2" not in wrong_scheme and "http://:***@127.0.0.1:6379/0" in wrong_scheme
    assert "no host" in refused_setting(tmp_path, BACKPROP_REDIS_URL="redis:///0")
    assert "not a URL" in refused_setting(tmp_path, BACKPROP_REDIS_URL="redis://127.0.0.1:99999/0")
    assert "socket's path" in refused_setting(tmp_path, BACKPROP_REDIS_URL="unix://")
    # a generated password with an unencoded / cannot be parsed: it is still never printed, in
    # the part naming what was given nor in the reason
    slashed = refused_setting(tmp_path, BACKPROP_REDIS_URL="redis://:hun/ter2@10.0.0.5:6379/0")
    assert "not a URL" in slashed and "percent-encoded" in slashed
    assert "hun" not in slashed and "ter2" not in slashed and "redis://:***@10.0.0.5:6379/0" in slashed
    queried = refused_setting(tmp_path, BACKPROP_REDIS_URL="http:///run/redis.sock?password=hunter2")
    assert "hunter2" not in queried and "http:///run/redis.sock?***" in queried
    typo = refused_setting(tmp_path, BACKPROP_REDIS_URL="redis:/:hunter2@127.0.0.1:6379/0")  # a slash short
    assert "hunter2" not in typo and "redis:/:***@127.0.0.1" in typo


@pytest.mark.parametrize("url", [
    "redis://:hunter2@h:6379/0", "redis://user:hunter2@h", "rediss://hunter2@h", "redis://:hun/ter2@h",
    "redis://:hun?ter2@h/0", "redis://:hun#ter2@h", "redis:/:hunter2@h", "redis//:hunter2@h", "//:hunter2@h",
    "redis:hunter2@h", "redis://:x@[::1/0:hunter2@h", "unix:///s.sock?password=hunter2",
    "unix:///s.sock?db=0&PASSWORD=hunter2", "unix:///s.sock?password=hun#ter2", "unix:///s.sock?pass%77ord=hunter2",
])
def test_a_redis_password_is_masked_however_the_url_is_written(url):
    from app.server.settings import redacted

    shown = redacted(url)
    assert "hunter2" not in shown and "hun" not in shown.replace("unix", "") and "***" in shown, shown


def test_a_redis_url_without_a_password_is_shown_as_it_is():
    from app.server.settings import redacted

    for url in ("redis://127.0.0.1:6379/0", "unix:///run/redis.sock?db=2", "rediss://cache.example.org"):
        assert redacted(url) == url


def test_a_list_setting_that_is_not_json_is_named_without_a_traceback(tmp_path):
    assert refused_setting(tmp_path, BACKPROP_ALLOWED_ORIGINS="https://class.example.org") == (
        'BACKPROP_ALLOWED_ORIGINS: it must be written in JSON, a list of text such as ["https://class.example.org"] '
        "(got 'https://class.example.org')")


def test_heartbeats_must_come_well_within_the_time_they_keep_a_process_registered(tmp_path):
    assert refused_setting(tmp_path, BACKPROP_HALL_TTL="1.5", BACKPROP_HALL_HEARTBEAT="1") == (
        "BACKPROP_HALL_TTL (1.5 s) must be at least twice BACKPROP_HALL_HEARTBEAT (1 s)")
