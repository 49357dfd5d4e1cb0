"""Dataset generators, the split and the feature maps."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import feature_matrix, grid_points, make_dataset, parse_config

GENERATED = [("circle", 2), ("xor", 2), ("moons", 2), ("gauss", 2), ("gauss", 5), ("spiral", 2), ("spiral", 3), ("spiral", 5)]


def dataset(**fields):
    return make_dataset(parse_config({"dataset": fields, "loss": "cross_entropy"}).dataset)


@pytest.mark.parametrize("name,classes", GENERATED)
@pytest.mark.parametrize("n", [4, 7, 333])
def test_size_labels_and_plane(name, classes, n):
    ds = dataset(name=name, classes=classes, n=n, noise=0.5)
    assert ds.points.shape == (n, 2) and ds.labels.shape == (n,)
    assert np.all(np.abs(ds.points) <= 6.0)
    assert set(ds.labels.tolist()) <= set(range(classes))
    if n >= classes:
        assert set(ds.labels.tolist()) == set(range(classes)), "every class is drawn"
    counts = np.bincount(ds.labels, minlength=classes)
    assert counts.max() - counts.min() <= 1, "classes are balanced"


@pytest.mark.parametrize("name,classes", GENERATED)
def test_same_seed_same_points_other_seed_other_points(name, classes):
    a, b = dataset(name=name, classes=classes, seed=5), dataset(name=name, classes=classes, seed=5)
    c = dataset(name=name, classes=classes, seed=6)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.train, b.train)
    assert not np.array_equal(a.points, c.points)


def test_noise_zero_gives_clean_xor_labels():
    ds = dataset(name="xor", noise=0.0, n=300)
    assert np.array_equal(ds.labels, (ds.points[:, 0] * ds.points[:, 1] > 0).astype(int))


@pytest.mark.parametrize("fraction,n_test", [(0.0, 0), (0.25, 50), (0.5, 100), (0.9, 180)])
def test_split_sizes_are_disjoint_and_ordered(fraction, n_test):
    ds = dataset(name="circle", n=200, test_fraction=fraction)
    assert len(ds.test) == n_test and len(ds.train) == 200 - n_test
    assert not set(ds.train.tolist()) & set(ds.test.tolist())
    assert np.all(np.diff(ds.train) > 0), "the training set keeps the stored order"


def test_custom_points_keep_their_order_without_a_test_set():
    rows = [[1.0, 2.0, 1], [-3.0, 0.5, 0], [6.0, -6.0, 2]]
    ds = make_dataset(parse_config({"dataset": {"name": "custom", "points": rows, "classes": 3, "test_fraction": 0},
                                    "loss": "cross_entropy"}).dataset)
    assert ds.points.tolist() == [r[:2] for r in rows] and ds.labels.tolist() == [1, 0, 2]
    assert ds.train.tolist() == [0, 1, 2] and ds.test.size == 0


def test_feature_maps():
    p = np.array([[0.5, -2.0], [3.0, 1.0]])
    X = feature_matrix(p, ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"])
    expected = [[0.5, -2.0, 0.25, 4.0, -1.0, np.sin(0.5), np.sin(-2.0)], [3.0, 1.0, 9.0, 1.0, 3.0, np.sin(3.0), np.sin(1.0)]]
    np.testing.assert_allclose(X, expected)


def test_grid_covers_the_plane_top_row_first():
    g = grid_points(4)
    assert g.shape == (16, 2)
    assert g[0].tolist() == [-4.5, 4.5] and g[-1].tolist() == [4.5, -4.5]


@pytest.mark.parametrize("weight_seed", [0, 1, 2])
def test_the_three_class_spiral_is_learnt_and_generalises_with_the_defaults(weight_seed):
    # Everything but the dataset and the loss is the default config (2-4-4 tanh, sgd, lr 0.03,
    # batch 10, noise 0.1, n 200, half held out); 2000 iterations is 200 epochs of the 100 points.
    from app.engine import Trainer

    trainer = Trainer(parse_config({"dataset": {"name": "spiral", "classes": 3}, "loss": "cross_entropy",
                                    "weight_seed": weight_seed}))
    trainer.train_iterations(2000)
    train, test = trainer.evaluate()
    assert train.accuracy >= 0.85, "the default network learns the spiral"
    assert test.accuracy >= 0.8, "well above chance (1/3) on points it never saw"
    assert train.accuracy - test.accuracy <= 0.1, "what it learnt is the spiral, not the training points"


def test_two_arm_spiral_is_still_the_classic_one():
    # the two-class spiral is unchanged: 1.75 turns from the origin (presets rely on how hard it is)
    ds = dataset(name="spiral", classes=2, n=4, noise=0.0, test_fraction=0)
    radii = np.sort(np.hypot(ds.points[:, 0], ds.points[:, 1]))
    np.testing.assert_allclose(radii, [0.0, 0.0, 2.5, 2.5], atol=1e-12)
