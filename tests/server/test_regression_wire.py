"""Regression over the wire: R² in place of accuracy, the points as [x1, x2, y] or [x1, y], the
fitted surface in the grid frame, the curve and its pieces in the state, refusals by field."""

from __future__ import annotations

import numpy as np

from app.engine import forward, parse_config
from app.engine.config import TARGET_LIMIT
from app.engine.data import feature_matrix, grid_points
from app.engine.training import Trainer

from .conftest import connect, new_session, parse_grid

CURVE = {"dataset": {"name": "curve", "n": 60, "seed": 2}, "loss": "mse", "features": ["x1", "sin(x1)"],
         "hidden": [5], "activation": "relu", "init": "he", "lr": 0.01, "batch_size": 10}
PLANE = {"dataset": {"name": "multi_gauss", "n": 60}, "loss": "mse", "hidden": [4], "batch_size": 10}


def test_a_curve_state_has_r2_no_accuracy_and_pieces_that_sum_to_the_prediction(client):
    sid, token = new_session(client, CURVE)
    with connect(client, sid, token) as peer:
        dataset = peer.hello["dataset"]
        assert dataset["task"] == "regression"
        assert all(len(row) == 2 for row in dataset["train"] + dataset["test"])  # [x1, y]
        state, _ = peer.call(type="step", unit="iteration", count=50)
        assert state["accuracy"] is None and state["test_accuracy"] is None
        trainer = Trainer(parse_config(CURVE))
        trainer.train_iterations(50)
        train, test = trainer.evaluate()
        assert state["r2"] == train.r2 and state["test_r2"] == test.r2
        curve = state["curve"]
        x = np.linspace(curve["x0"], curve["x1"], len(curve["prediction"]))
        X = feature_matrix(np.column_stack([x, np.zeros_like(x)]), CURVE["features"])
        expected = forward(trainer.arch, trainer.params, X).output[:, 0]
        np.testing.assert_allclose(curve["prediction"], expected, atol=5e-4)  # three decimals
        pieces = np.array(curve["pieces"])
        assert pieces.shape == (5, len(x))  # one piece per unit of the last hidden layer
        np.testing.assert_allclose(pieces.sum(axis=0) + curve["bias"], curve["prediction"], atol=6 * 5e-4)
        np.testing.assert_allclose(pieces[2], forward(trainer.arch, trainer.params, X).A[1][:, 2]
                                   * trainer.params["W2"][2, 0], atol=5e-4)


def test_the_surface_is_the_prediction_from_minus_6_to_6_and_classes_keep_probabilities(client):
    sid, token = new_session(client, PLANE)
    with connect(client, sid, token) as peer:
        grid = parse_grid(peer.hello["grid"])
        assert grid["channels"] == 1
        trainer = Trainer(parse_config(PLANE))
        r = grid["resolution"]
        predicted = forward(trainer.arch, trainer.params, feature_matrix(grid_points(r), ["x1", "x2"])).output[:, 0]
        expected = np.round((np.clip(predicted, -TARGET_LIMIT, TARGET_LIMIT) + TARGET_LIMIT) / (2 * TARGET_LIMIT) * 255)
        assert np.abs(grid["boundary"][0].ravel().astype(float) - expected).max() <= 1
        assert "curve" not in peer.state()  # a surface, not a line
        rows = peer.hello["dataset"]["train"]
        assert all(len(row) == 3 for row in rows) and any(not float(row[2]).is_integer() for row in rows)


def test_points_given_to_a_regression_dataset_come_back_as_its_rows(client):
    sid, token = new_session(client, CURVE)
    with connect(client, sid, token) as peer:
        points = [[-2.5, 1.25], [0.0, -3.0], [4.0, 5.5], [1.0, 0.5]]
        state, before = peer.call(type="configure", config={"dataset": {"name": "curve", "points": points,
                                                                         "test_fraction": 0.0}})
        assert state["type"] == "state"
        dataset = next(m for m in before if isinstance(m, dict) and m["type"] == "dataset")
        assert dataset["train"] == points


def test_refusals_name_the_field_and_leave_the_session_as_it_was(client):
    sid, token = new_session(client, CURVE)
    with connect(client, sid, token) as peer:
        peer.call(type="step", unit="iteration", count=3)
        before = peer.state()
        for patch, field in [({"loss": "bce"}, "loss"), ({"features": ["x1", "x2"]}, "features"),
                             ({"dataset": {"points": [[0.0, 9.0]]}}, "dataset.points[0]"),
                             ({"dataset": {"points": [[0.0, 1.0, 2.0]]}}, "dataset.points[0]")]:
            error, _ = peer.call(type="configure", config=patch)
            assert error["type"] == "error" and error["field"] == field, error
        after = peer.state()
        assert {k: v for k, v in after.items() if k not in ("seq", "re")} == \
            {k: v for k, v in before.items() if k not in ("seq", "re")}
