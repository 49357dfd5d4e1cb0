"""Seed sweeps over the websocket: the same numbers as single runs, cancelling, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import parse_config
from app.engine.heatmaps import heatmaps
from app.run import Run
from app.run.sweep import CHECK_EVERY, train_seed
from app.server.wire import GRID_HEADER, THUMBS_MAGIC

from .conftest import connect, new_session

XOR = {"hidden": [3], "activation": "relu", "dataset": {"name": "xor", "n": 80}, "lr": 0.1}
SLOW = {"hidden": [16, 16, 16], "dataset": {"name": "spiral", "n": 1000}, "batch_size": 1000}


def sweep_until_done(peer, **command) -> tuple[dict, bytes, list]:
    """Send a sweep; return its final `sweep` message, the thumbnails frame, and the progress seen."""
    final, before = peer.call(answers=("sweep", "error"), type="sweep", **command)
    progress = [m for m in before if isinstance(m, dict) and m["type"] == "sweep_progress"]
    if final["type"] == "error":
        return final, b"", progress
    while True:
        item = peer.recv()
        if isinstance(item, bytes) and item[:4] == THUMBS_MAGIC:
            return final, item, progress


def thumbnails(frame: bytes) -> np.ndarray:
    magic, sweep, r, planes, count, _, extent, _ = GRID_HEADER.unpack_from(frame, 0)
    assert magic == THUMBS_MAGIC and extent == 6.0
    return np.frombuffer(frame, np.uint8, count * planes * r * r, GRID_HEADER.size).reshape(count, planes, r, r)


def single_run(config: dict, seed: int, iterations: int) -> Run:
    run = Run(parse_config({**config, "weight_seed": seed}))
    run.run("iteration", iterations)
    return run


def test_a_sweep_gives_exactly_the_numbers_of_single_runs_of_its_seeds(client):
    sid, token = new_session(client, XOR)
    seeds, iterations = [0, 8, 5, 123456789], 300
    with connect(client, sid, token) as peer:
        final, frame, progress = sweep_until_done(peer, seeds=seeds, iterations=iterations)
    assert final["type"] == "sweep" and not final["cancelled"] and final["total"] == 4
    assert progress[0]["done"] == 0 and progress[0]["seeds"] == seeds
    assert sorted(p["done"] for p in progress[1:]) == [1, 2, 3, 4]
    assert [r["weight_seed"] for r in final["results"]] == seeds
    pictures = thumbnails(frame)
    for result, picture in zip(final["results"], pictures):
        run = single_run(XOR, result["weight_seed"], iterations)
        view = run.view()
        assert (result["loss"], result["accuracy"], result["test_accuracy"]) == \
            (view.loss, view.accuracy, view.test_accuracy)  # exactly, not approximately
        assert result["findings"] == [f["kind"] for f in view.diagnostics.findings]
        assert result["verdict"] == ("ok" if view.accuracy >= 0.9 else "stuck")
        boundary, _ = heatmaps(run.arch, run.trainer.params, run.config.features, 32)
        assert np.array_equal(picture, np.clip(np.rint(boundary * 255), 0, 255).astype(np.uint8))
    assert {"ok", "stuck"} <= {r["verdict"] for r in final["results"]}  # seeds 0 and 8 of the XOR presets


def test_a_diverging_seed_is_called_diverged_with_its_iteration(client):
    config = {"hidden": [4, 4], "loss": "mse", "lr": 10.0, "dataset": {"name": "circle", "n": 60}}
    sid, token = new_session(client, config)
    with connect(client, sid, token) as peer:
        final, frame, _ = sweep_until_done(peer, seeds=[0], iterations=200)
    result = final["results"][0]
    view = single_run(config, 0, 200).view()
    assert view.status == "diverged"
    assert result["verdict"] == "diverged" and result["diverged_at"] == view.diverged_at
    assert result["loss"] is None and str(view.diverged_at) in result["reason"]


def test_the_sweep_trains_the_config_of_the_moment_and_says_which(client):
    sid, token = new_session(client, XOR)
    with connect(client, sid, token) as peer:
        final, _, _ = sweep_until_done(peer, count=3, iterations=20)
        state = peer.state()
    assert len(final["results"]) == 3 and len({r["weight_seed"] for r in final["results"]}) == 3
    assert final["config"]["hidden"] == [3] and final["iterations"] == 20
    assert state["iteration"] == 0  # sweeping trains copies: the session's own run is untouched


def test_a_worker_stops_within_a_few_iterations_of_being_told(client):
    asked = []

    def stop_on_third_look():
        asked.append(1)
        return len(asked) == 3

    assert train_seed(parse_config(XOR), 0, 10_000, should_stop=stop_on_third_look) is None
    assert len(asked) == 3  # it looked every CHECK_EVERY iterations and stopped at the third look
    assert CHECK_EVERY <= 32


def test_cancelling_stops_the_work_and_reports_what_finished(client):
    sid, token = new_session(client, SLOW)
    with connect(client, sid, token) as peer:
        peer.send(id="s", type="sweep", count=8, iterations=5000)
        while not (isinstance(item := peer.recv(), dict) and item["type"] == "sweep_progress"):
            pass
        cancelling, _ = peer.call(answers=("sweep_progress", "error"), type="sweep_cancel")
        assert cancelling["cancelling"] and cancelling["total"] == 8
        # the final message waits for every worker still training to return: getting it means they stopped
        while not (isinstance(item := peer.recv(), dict) and item["type"] == "sweep"):
            pass
        assert item["re"] == "s" and item["cancelled"] and len(item["results"]) < 8
        assert peer.recv()[:4] == THUMBS_MAGIC
        # the slot is free again: another sweep starts and finishes
        final, _, _ = sweep_until_done(peer, seeds=[1], iterations=5)
        assert final["type"] == "sweep" and not final["cancelled"]


def test_a_sweep_does_not_hold_up_other_sessions(client):
    busy_sid, busy_token = new_session(client, SLOW)
    sid, token = new_session(client, XOR)
    with connect(client, busy_sid, busy_token) as sweeper, connect(client, sid, token) as other:
        started, _ = sweeper.call(answers=("sweep_progress", "error"), type="sweep", count=4, iterations=5000)
        assert started["type"] == "sweep_progress"
        for _ in range(5):
            state, _ = other.call(type="step", unit="iteration", count=10)
            assert state["type"] == "state"
        assert state["iteration"] == 50
        peer_seen = [m for m in sweeper.seen if isinstance(m, dict)]
        assert not any(m["type"] == "sweep" for m in peer_seen)  # still sweeping while the other session ran
        sweeper.call(answers=("sweep_progress", "error"), type="sweep_cancel")


@pytest.mark.parametrize("command, code, field, words", [
    ({"count": 65}, "limit", "count", "between 1 and 64"),
    ({"count": 0}, "limit", "count", "between 1 and 64"),
    ({"seeds": []}, "limit", "seeds", "1 to 64"),
    ({"seeds": [1, -2]}, "invalid_message", "seeds[1]", "from 0 to 4294967295"),
    ({"seeds": [1], "count": 1}, "invalid_message", "seeds", "not both"),
    ({"iterations": 0}, "limit", "iterations", "between 1 and 5000"),
    ({"iterations": 5001}, "limit", "iterations", "between 1 and 5000"),
    ({"iterations": "many"}, "invalid_message", "iterations", "whole number"),
    ({"count": 3, "speed": 2}, "invalid_message", "speed", "not a known field"),
])
def test_bad_sweeps_are_refused_naming_the_field_and_nothing_changes(client, command, code, field, words):
    sid, token = new_session(client, XOR)
    with connect(client, sid, token) as peer:
        before = peer.state()
        refused, _ = peer.call(answers=("error", "sweep_progress"), type="sweep", **command)
        assert refused["type"] == "error" and refused["code"] == code and refused["field"] == field
        assert words in refused["message"]
        after = peer.state()
    assert {k: v for k, v in before.items() if k not in ("seq", "re")} == \
        {k: v for k, v in after.items() if k not in ("seq", "re")}


def test_one_sweep_at_a_time_cancel_needs_a_sweep_and_viewers_cannot_sweep(client):
    sid, token = new_session(client, SLOW)
    with connect(client, sid, token) as peer, connect(client, sid) as viewer:
        nothing, _ = peer.call(answers=("error", "sweep_progress"), type="sweep_cancel")
        assert nothing["code"] == "not_found"
        forbidden, _ = viewer.call(answers=("error", "sweep_progress"), type="sweep", count=2)
        assert forbidden["code"] == "forbidden"
        peer.call(answers=("sweep_progress", "error"), type="sweep", count=2, iterations=5000)
        busy, _ = peer.call(answers=("error",), type="sweep", count=2)
        assert busy["code"] == "busy"
        peer.call(answers=("sweep_progress", "error"), type="sweep_cancel")
        # the viewer watches the sweep too: it gets the progress and the final results
        while not (isinstance(item := viewer.recv(), dict) and item["type"] == "sweep"):
            pass
        assert item["cancelled"] and "re" not in item
