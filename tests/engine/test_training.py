"""Runs built from a Config: determinism, minibatches, optimisers."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import Trainer, backward, forward, optimizer_step, OptimizerState, parse_config


def trained(config: dict, iterations: int) -> Trainer:
    trainer = Trainer(parse_config(config))
    trainer.train_iterations(iterations)
    return trainer


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_same_config_same_run_bit_for_bit(optimizer):
    config = {"dataset": {"name": "spiral", "classes": 3}, "loss": "cross_entropy", "optimizer": optimizer,
              "hidden": [6, 5], "activation": "relu", "init": "he", "weight_seed": 42}
    a, b = trained(config, 100), trained(config, 100)
    for name in a.params:
        assert a.params[name].tobytes() == b.params[name].tobytes()
    assert a.evaluate() == b.evaluate()


def test_weight_seed_and_data_seed_are_apart():
    base = Trainer(parse_config({"weight_seed": 1, "dataset": {"seed": 1}}))
    other_weights = Trainer(parse_config({"weight_seed": 2, "dataset": {"seed": 1}}))
    other_data = Trainer(parse_config({"weight_seed": 1, "dataset": {"seed": 2}}))
    assert np.array_equal(base.dataset.points, other_weights.dataset.points)
    assert not np.array_equal(base.params["W1"], other_weights.params["W1"])
    assert np.array_equal(base.params["W1"], other_data.params["W1"])
    assert not np.array_equal(base.dataset.points, other_data.dataset.points)


def test_training_learns_xor():
    trainer = trained({"dataset": {"n": 400}, "hidden": [8, 8], "lr": 0.1, "batch_size": 20}, 1000)
    train, test = trainer.evaluate()
    assert train.accuracy > 0.95 and test.accuracy > 0.9


def test_minibatches_walk_the_training_set_in_order_and_wrap():
    trainer = Trainer(parse_config({"dataset": {"n": 25, "test_fraction": 0}, "batch_size": 10}))
    assert trainer.batches_per_epoch == 3
    assert [trainer.batch_rows(i) for i in range(4)] == [slice(0, 10), slice(10, 20), slice(20, 25), slice(0, 10)]
    trainer.train_iterations(3)
    assert trainer.epoch == 1


def test_full_batch_is_the_training_set_in_stored_order():
    trainer = Trainer(parse_config({"dataset": {"n": 30}, "batch_size": 2000}))
    assert np.array_equal(trainer.batch().X, trainer.train.X)


def test_zero_init_keeps_hidden_units_identical():
    trainer = trained({"init": "zeros", "hidden": [4], "lr": 0.3}, 50)
    W1 = trainer.params["W1"]
    assert np.allclose(W1, W1[:, :1]), "symmetry: every hidden unit got the same update"


def _params():
    return {"W1": np.array([[1.0, -2.0]]), "b1": np.array([0.5, 0.0])}


def test_sgd_and_momentum_steps():
    g1, g2 = {"W1": np.array([[0.2, -0.4]]), "b1": np.array([1.0, 0.0])}, {"W1": np.array([[0.1, 0.1]]), "b1": np.array([0.0, 2.0])}
    p, s = optimizer_step("sgd", _params(), g1, OptimizerState(), 0.1, 0.9)
    np.testing.assert_allclose(p["W1"], [[0.98, -1.96]])
    p, s = optimizer_step("momentum", _params(), g1, OptimizerState(), 0.1, 0.9)
    p, s = optimizer_step("momentum", p, g2, s, 0.1, 0.9)
    # second step moves by lr·(μ·g1 + g2) after the first moved by lr·g1
    np.testing.assert_allclose(p["W1"], _params()["W1"] - 0.1 * g1["W1"] - 0.1 * (0.9 * g1["W1"] + g2["W1"]))


def test_adam_first_step_moves_each_weight_by_about_lr():
    g = {"W1": np.array([[0.003, -40.0]]), "b1": np.array([1e-3, 0.0])}
    p, s = optimizer_step("adam", _params(), g, OptimizerState(), 0.01, 0.9)
    # bias-corrected m̂/√v̂ = g/|g| on the first step, whatever the gradient's size
    np.testing.assert_allclose(p["W1"] - _params()["W1"], [[-0.01, 0.01]], rtol=1e-5)
    assert p["b1"][1] == 0.0 and s.steps == 1


def test_trainer_step_applies_the_batch_gradient():
    trainer = Trainer(parse_config({"optimizer": "sgd", "lr": 0.5, "l2": 0.1}))
    before = {k: v.copy() for k, v in trainer.params.items()}
    batch = trainer.batch()
    bwd = backward(trainer.arch, before, forward(trainer.arch, before, batch.X), batch.T, 0.1, 0.0)
    trainer.step()
    for name in before:
        np.testing.assert_array_equal(trainer.params[name], before[name] - 0.5 * bwd.grads[name])
