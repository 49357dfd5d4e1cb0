"""Every command over the websocket, checked against the engine computing the same thing."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Trainer, backward, forward, init_params, parse_config
from app.engine.heatmaps import heatmaps

from .conftest import connect, new_session, parse_grid

CONFIG = {"hidden": [3, 2], "dataset": {"n": 40}, "batch_size": 10, "lr": 0.1}


@pytest.fixture
def control(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        yield peer


def test_connect_sends_hello_graph_state_in_order(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        types = [m["type"] if isinstance(m, dict) else "grid" for m in peer.seen]
        assert types[:3] == ["hello", "graph", "state"]
        hello = peer.hello["hello"]
        assert hello == {**hello, "protocol": 1, "session": sid, "role": "control"}
        for key in ("hidden_layers", "width", "points", "message_bytes", "speed"):
            assert key in hello["limits"]
        graph = peer.hello["graph"]
        assert [n["id"] for n in graph["nodes"]] == ["in0", "in1", "h1_0", "h1_1", "h1_2", "h2_0", "h2_1", "out0", "loss"]
        assert {e["id"] for e in graph["edges"] if e["param"] == "W2"} == {f"W2[{i}][{j}]" for i in range(3) for j in range(2)}
        assert peer.hello["dataset"]["train"] and len(peer.hello["dataset"]["train"]) == 20
    with connect(client, sid) as viewer:
        assert viewer.hello["hello"]["role"] == "view"


def test_step_op_walks_forward_then_backward_then_update(control):
    cursors = []
    for _ in range(7 + 6 + 6):  # forward (6 units + loss), backward, update
        state, _ = control.call(type="step", unit="op")
        cursors.append((state["phase"], state["cursor"]))
    assert cursors[:7] == [("forward", n) for n in ["h1_0", "h1_1", "h1_2", "h2_0", "h2_1", "out0", "loss"]]
    assert cursors[7:13] == [("backward", n) for n in ["out0", "h2_1", "h2_0", "h1_2", "h1_1", "h1_0"]]
    assert cursors[13:] == [("update", n) for n in ["h1_0", "h1_1", "h1_2", "h2_0", "h2_1", "out0"]]
    assert state["iteration"] == 1


def test_values_appear_only_once_reached(control):
    state, _ = control.call(type="step", unit="op")
    nodes = state["nodes"]
    assert nodes["in0"]["a"] is not None and nodes["h1_0"]["z"] is not None
    assert nodes["h1_1"]["z"] is None and nodes["loss"]["a"] is None and nodes["h1_0"]["grad_z"] is None
    assert state["grads"] is None
    state, _ = control.call(type="step", unit="pass")
    assert state["cursor"] == "loss" and state["nodes"]["loss"]["a"] is not None
    state, _ = control.call(type="step", unit="op")
    assert state["nodes"]["out0"]["grad_z"] is not None and state["nodes"]["h2_0"]["grad_z"] is None
    assert state["nodes"]["in0"]["grad_a"] is None and state["grads"] is None


def test_layer_finishes_the_current_layer(control):
    control.call(type="step", unit="op")
    state, _ = control.call(type="step", unit="layer")
    assert state["cursor"] == "h1_2"
    state, _ = control.call(type="step", unit="layer")
    assert state["cursor"] == "h2_1"


def test_pass_pass_gives_the_engines_batch_gradient(control):
    control.call(type="step", unit="pass")
    state, _ = control.call(type="step", unit="pass")
    assert state["phase"] == "backward" and state["iteration"] == 0
    trainer = Trainer(parse_config(CONFIG))
    batch = trainer.batch(0)
    expected = backward(trainer.arch, trainer.params, forward(trainer.arch, trainer.params, batch.X), batch.T).grads
    for name, grad in expected.items():
        np.testing.assert_allclose(state["grads"][name], grad, rtol=1e-12, atol=1e-15, err_msg=name)


def test_iteration_and_epoch(control):
    state, _ = control.call(type="step", unit="iteration", count=3)
    assert (state["iteration"], state["epoch"]) == (3, 1)  # 20 training points, batches of 10
    state, _ = control.call(type="step", unit="epoch")
    assert (state["iteration"], state["epoch"]) == (4, 2)
    state, _ = control.call(type="step", unit="epoch")
    assert (state["iteration"], state["epoch"]) == (6, 3)
    trainer = Trainer(parse_config(CONFIG))
    trainer.train_iterations(6)
    for name, value in trainer.params.items():
        np.testing.assert_array_equal(state["params"][name], value, err_msg=name)


def test_selected_example_outside_the_batch(control):
    control.call(type="select", example=17)  # batch 0 is rows 0..9
    state, _ = control.call(type="step", unit="iteration")
    assert state["example"] == 17
    trainer = Trainer(parse_config(CONFIG))
    row = trainer.train.rows(slice(17, 18))
    fwd = forward(trainer.arch, trainer.params, row.X)
    bwd = backward(trainer.arch, trainer.params, fwd, row.T)
    node = state["nodes"]["h1_2"]
    assert node["z"] == pytest.approx(fwd.Z[1][0, 2], abs=1e-14)
    assert node["a"] == pytest.approx(fwd.A[1][0, 2], abs=1e-14)
    assert node["grad_z"] == pytest.approx(bwd.dZ[1][0, 2], abs=1e-14)
    assert node["grad_a"] == pytest.approx(bwd.dA[1][0, 2], abs=1e-14)
    assert state["nodes"]["loss"]["a"] == pytest.approx(trainer.arch.loss_fn.per_example(fwd.Z[-1], row.T)[0])


def test_set_params_sets_exactly_and_checks_shapes(control):
    W2 = [[0.5, -1.25], [2.0, 0.0], [1.0, 3.0]]
    state, _ = control.call(type="set_params", params={"W2": W2, "b2": [0.1, -0.2]})
    assert state["params"]["W2"] == W2 and state["params"]["b2"] == [0.1, -0.2]
    error, _ = control.call(type="set_params", params={"W2": [[1.0, 2.0]]})
    assert error["code"] == "invalid_message" and error["field"] == "params.W2" and "[3, 2]" in error["message"]
    error, _ = control.call(type="set_params", params={"W9": [[1.0]]})
    assert error["field"] == "params.W9" and "W1, b1" in error["message"]
    assert control.state()["params"]["W2"] == W2


def test_randomize_with_and_without_seed(control):
    state, before = control.call(type="randomize", weight_seed=1234)
    assert state["iteration"] == 0 and state["weight_seed"] == 1234
    expected = init_params((2, 3, 2, 1), "xavier", 1234)
    np.testing.assert_array_equal(state["params"]["W1"], expected["W1"])
    assert any(isinstance(m, dict) and m["type"] == "config" and m["config"]["weight_seed"] == 1234 for m in before)
    state, _ = control.call(type="randomize")
    assert state["weight_seed"] != 1234 and 0 <= state["weight_seed"] < 2**32


def test_configure_soft_keeps_weights_and_iteration(control):
    trained, _ = control.call(type="step", unit="iteration", count=5)
    state, before = control.call(type="configure", config={"lr": 0.5, "optimizer": "adam", "l2": 0.01})
    assert state["iteration"] == 5 and state["params"] == trained["params"]
    assert not any(isinstance(m, dict) and m["type"] == "graph" for m in before)
    config = next(m for m in before if isinstance(m, dict) and m["type"] == "config")["config"]
    assert (config["lr"], config["optimizer"], config["l2"]) == (0.5, "adam", 0.01)


def test_configure_shape_rebuilds_and_sends_graph(control):
    control.call(type="step", unit="iteration", count=2)
    state, before = control.call(type="configure", config={"hidden": [5]})
    assert state["iteration"] == 0 and np.array(state["params"]["W1"]).shape == (2, 5)
    graph = next(m for m in before if isinstance(m, dict) and m["type"] == "graph")
    assert graph["re"] == state["re"] and len([n for n in graph["nodes"] if n["kind"] == "neuron"]) == 5
    state, before = control.call(type="configure", config={"dataset": {"name": "circle"}})
    assert any(isinstance(m, dict) and m["type"] == "dataset" for m in before)


def test_snapshot_play_pause(control):
    state, _ = control.call(type="play", speed=500)
    assert state["playing"] is True and state["speed"] == 500
    while True:  # frames keep coming while playing; ack them as a browser would
        frame = control.recv()
        if isinstance(frame, dict) and frame["type"] == "state":
            control.send(type="ack", seq=frame["seq"])
            if frame["iteration"] >= 50:
                break
    state, _ = control.call(type="pause")
    assert state["playing"] is False
    paused_at = state["iteration"]
    assert control.state()["iteration"] == paused_at == control.state()["iteration"]


def test_every_state_has_a_grid_that_matches_the_engine(control):
    state, _ = control.call(type="step", unit="iteration", count=4)
    grid = parse_grid(control.recv())
    assert grid["magic"] == b"BPG1" and grid["seq"] == state["seq"]
    assert grid["offsets"][0] % 8 == 0 and grid["offsets"][1] % 8 == 0
    assert (grid["resolution"], grid["channels"], grid["neuron_resolution"], grid["maps"]) == (16, 1, 8, 5)
    trainer = Trainer(parse_config(CONFIG))
    trainer.train_iterations(4)
    boundary, neurons = heatmaps(trainer.arch, trainer.params, ["x1", "x2"], 16)
    assert np.abs(grid["boundary"][0].astype(float) - boundary[0] * 255).max() <= 0.51
    _, neurons = heatmaps(trainer.arch, trainer.params, ["x1", "x2"], 8)
    lo, hi = grid["ranges"][:, 0], grid["ranges"][:, 1]
    decoded = lo[:, None, None] + grid["neurons"] / 255.0 * (hi - lo)[:, None, None]
    assert np.abs(decoded - neurons).max() <= (hi - lo).max() / 255 * 0.51 + 1e-6


def test_cross_entropy_grid_has_a_channel_per_class(client):
    sid, token = new_session(client, {"dataset": {"name": "spiral", "classes": 3}, "loss": "cross_entropy", "hidden": []})
    with connect(client, sid, token) as peer:
        grid = parse_grid(peer.hello["grid"])
        assert grid["channels"] == 3 and grid["maps"] == 0
        total = grid["boundary"].astype(int).sum(axis=0)
        assert np.all(np.abs(total - 255) <= 2), "class probabilities add up to one everywhere"


def test_divergence_is_reported_and_never_sent_as_nan(client):
    sid, token = new_session(client, {"lr": 10, "activation": "sigmoid", "loss": "mse", "hidden": [8, 8], "batch_size": 200})
    with connect(client, sid, token) as peer:
        state, _ = peer.call(type="step", unit="iteration", count=300)
        assert state["status"] == "diverged" and isinstance(state["diverged_at"], int)
        assert state["loss"] is None
        assert any(v is None for row in state["params"]["W1"] for v in row)
        state, _ = peer.call(type="step", unit="iteration")
        assert state["status"] == "diverged"
        state, _ = peer.call(type="randomize", weight_seed=3)
        assert state["status"] == "ok" and state["diverged_at"] is None


def test_same_config_same_states_after_50_iterations(client):
    states = []
    for _ in range(2):
        sid, token = new_session(client, {**CONFIG, "optimizer": "momentum"})
        with connect(client, sid, token) as peer:
            peer.call(type="select", example=3)
            state, _ = peer.call(type="step", unit="iteration", count=50)
            states.append({k: v for k, v in state.items() if k not in ("seq", "re")})
    assert states[0] == states[1]
