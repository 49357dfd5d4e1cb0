"""Regression: the plane, multi_gauss and curve datasets, given points, the config's refusals and R²."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import ConfigError, config_to_dict, forward, make_dataset, merge_config, parse_config
from app.engine.config import COORD_LIMIT, REGRESSION_DATASETS, TARGET_LIMIT
from app.engine.data import CURVE_AMPLITUDE, CURVE_FREQUENCY, NOISE_SCALE
from app.engine.training import Trainer, evaluate, r_squared


def regression(name: str, **dataset) -> dict:
    return {"dataset": {"name": name, **dataset}, "loss": "mse", "features": ["x1"] if name == "curve" else ["x1", "x2"]}


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
@pytest.mark.parametrize("n", [4, 37, 2000])
def test_sizes_ranges_and_real_targets(name, n):
    data = make_dataset(parse_config(regression(name, n=n, noise=1.0)).dataset)
    assert data.points.shape == (n, 2) and data.labels.shape == (n,) and data.labels.dtype == np.float64
    assert np.abs(data.points).max() <= COORD_LIMIT and np.abs(data.labels).max() <= TARGET_LIMIT
    assert sorted([*data.train, *data.test]) == list(range(n))
    assert len(np.unique(data.labels)) > n // 2  # real numbers, not a handful of classes
    if name == "curve":
        assert not data.points[:, 1].any()  # one input: x2 is not part of the data


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
def test_same_seed_same_data_other_seed_other_data(name):
    first, again, other = (make_dataset(parse_config(regression(name, seed=s)).dataset) for s in (3, 3, 4))
    assert np.array_equal(first.points, again.points) and np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.train, again.train)
    assert not np.array_equal(first.labels, other.labels)


def test_noise_moves_the_target_not_the_inputs():
    clean, noisy = (make_dataset(parse_config(regression("curve", noise=v)).dataset) for v in (0.0, 0.2))
    assert np.array_equal(clean.points, noisy.points)
    x = clean.points[:, 0]
    np.testing.assert_allclose(clean.labels, CURVE_AMPLITUDE * np.sin(CURVE_FREQUENCY * x), rtol=0, atol=1e-12)
    spread = np.std(noisy.labels - clean.labels)
    assert 0.5 * 0.2 * NOISE_SCALE < spread < 1.5 * 0.2 * NOISE_SCALE


def test_the_plane_is_a_plane():
    data = make_dataset(parse_config(regression("plane", noise=0.0)).dataset)
    np.testing.assert_allclose(data.labels, data.points.sum(axis=1) / 2, atol=1e-12)


def test_given_points_replace_the_generated_ones():
    cfg = parse_config(regression("curve", points=[[-1, 2.5], [0.5, -1], [3, 0], [4, 4]], test_fraction=0.0))
    data = make_dataset(cfg.dataset)
    assert data.points.tolist() == [[-1, 0], [0.5, 0], [3, 0], [4, 0]] and data.labels.tolist() == [2.5, -1, 0, 4]
    plane = parse_config(regression("plane", points=[[1, 2, -0.25], [2, 1, 5.5]], test_fraction=0.0))
    data = make_dataset(plane.dataset)
    assert data.points.tolist() == [[1, 2], [2, 1]] and data.labels.tolist() == [-0.25, 5.5]
    assert config_to_dict(plane)["dataset"]["points"] == [[1.0, 2.0, -0.25], [2.0, 1.0, 5.5]]


def test_points_are_kept_while_the_dataset_stays_and_dropped_when_it_changes():
    cfg = parse_config(regression("plane", points=[[1, 2, -0.25], [2, 1, 5.5]], test_fraction=0.0))
    assert merge_config(cfg, {"dataset": {"noise": 0.3}}).dataset.points == cfg.dataset.points
    assert merge_config(cfg, {"dataset": {"name": "multi_gauss"}}).dataset.points is None


@pytest.mark.parametrize("patch,field,words", [
    (regression("plane") | {"loss": "bce"}, "loss", ["'bce'", "plane", "mse"]),
    (regression("curve") | {"loss": "cross_entropy"}, "loss", ["cross_entropy", "mse"]),
    (regression("curve") | {"features": ["x1", "x1*x2"]}, "features", ["x1*x2", "one input", "sin(x1)"]),
    (regression("multi_gauss", classes=3), "dataset.classes", ["3"]),
    (regression("curve", points=[[0, 1, 2]]), "dataset.points[0]", ["[x1, y]", "curve"]),
    (regression("plane", points=[[0, 1]]), "dataset.points[0]", ["[x1, x2, y]"]),
    (regression("plane", points=[[0, 1, 6.5]]), "dataset.points[0]", ["y = 6.5", "-6 to 6"]),
    (regression("curve", points=[[-7, 1]]), "dataset.points[0]", ["x1 = -7", "-6 to 6"]),
    (regression("curve", points=[[0, float("nan")]]), "dataset.points[0]", ["finite"]),
    (regression("curve", points=[[0, "1"]]), "dataset.points[0]", ["not a number"]),
    (regression("curve", points=[]), "dataset.points", ["0 rows", "1 to 2000"]),
    ({"dataset": {"name": "xor", "points": [[0, 1, 0]]}}, "dataset.points", ["custom", "regression", "xor"]),
])
def test_refusals_name_the_field_and_what_is_allowed(patch, field, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(patch)
    assert caught.value.field == field
    for word in words:
        assert word in caught.value.reason, caught.value.reason


def test_one_linear_output_whatever_the_classes_field_says():
    assert parse_config(regression("plane")).layer_sizes == [2, 4, 4, 1]
    assert parse_config(regression("curve") | {"hidden": []}).layer_sizes == [1, 1]


def test_r2_is_one_minus_the_residual_share_of_the_variance():
    rng = np.random.default_rng(5)
    y = rng.normal(size=50)
    guess = y + rng.normal(scale=0.5, size=50)
    direct = 1 - np.mean((y - guess) ** 2) / np.var(y)
    assert r_squared(guess, y) == pytest.approx(direct, rel=1e-12)
    assert r_squared(y, y) == 1.0 and r_squared(np.full(50, y.mean()), y) == pytest.approx(0.0, abs=1e-12)
    assert r_squared(guess, np.ones(50)) is None  # no variance to explain


def test_a_trained_fits_r2_is_computed_from_its_own_predictions_and_accuracy_is_none():
    trainer = Trainer(parse_config(regression("curve") | {"hidden": [6], "activation": "relu", "init": "he",
                                                           "lr": 0.01}))
    trainer.train_iterations(300)
    train, test = trainer.evaluate()
    assert train.accuracy is None and test.accuracy is None
    for split, ev in ((trainer.train, train), (trainer.test, test)):
        predicted = forward(trainer.arch, trainer.params, split.X).output[:, 0]
        y = split.labels
        assert ev.r2 == pytest.approx(1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum(), rel=1e-12)
        assert ev.loss == pytest.approx(np.mean((predicted - y) ** 2), rel=1e-12)
    assert train.r2 > 0.5  # it learned something in 300 steps
    assert evaluate(trainer.arch, trainer.params, trainer.test.rows(slice(0, 0))) is None
