"""Config validation: one exception type naming the field, the value and what is allowed."""

from __future__ import annotations

import math

import pytest

from app.engine import ConfigError, config_to_dict, merge_config, parse_config

BAD = [
    ({"activation": "swish"}, "activation", ["'swish'", "relu", "leaky_relu"]),
    ({"hidden": [4, 0]}, "hidden[1]", ["0", "between 1 and 16"]),
    ({"hidden": [17]}, "hidden[0]", ["17", "between 1 and 16"]),
    ({"hidden": [2] * 7}, "hidden", ["7", "at most 6"]),
    ({"lr": math.nan}, "lr", ["nan", "finite"]),
    ({"lr": -0.1}, "lr", ["-0.1", "between 0.0 and 10.0"]),
    ({"lr": math.inf}, "lr", ["inf", "finite"]),
    ({"lr": "0.1"}, "lr", ["'0.1'", "number"]),
    ({"dataset": {"name": "custom", "points": [[0.0, 6.5, 0]]}}, "dataset.points[0]", ["6.5", "-6 to 6"]),
    ({"dataset": {"name": "custom", "points": [[0.0, 1.0, 2]]}}, "dataset.points[0]", ["label 2", "0 to 1"]),
    ({"dataset": {"name": "custom", "points": [[0.0, 1.0, -1]]}}, "dataset.points[0]", ["-1", "from 0"]),
    ({"dataset": {"name": "custom", "points": [[0.0, 1.0]]}}, "dataset.points[0]", ["[x1, x2, label]"]),
    ({"dataset": {"name": "custom"}}, "dataset.points", ["required"]),
    ({"dataset": {"name": "moons", "classes": 3}}, "dataset.classes", ["3", "gauss, spiral"]),
    ({"dataset": {"name": "gauss", "classes": 3}}, "loss", ["bce", "3", "cross_entropy"]),
    ({"dataset": {"n": 3}}, "dataset.n", ["3", "between 4 and 2000"]),
    ({"dataset": {"seed": 2**32}}, "dataset.seed", [str(2**32), "4294967295"]),
    ({"weight_seed": -1}, "weight_seed", ["-1", "between 0"]),
    ({"batch_size": 1.5}, "batch_size", ["1.5", "whole number"]),
    ({"features": ["x1", "x3"]}, "features[1]", ["'x3'", "sin(x2)"]),
    ({"features": []}, "features", ["at least one"]),
    ({"init": "glorot"}, "init", ["'glorot'", "xavier"]),
    ({"hidden_layers": [2]}, "hidden_layers", ["not a known field", "hidden"]),
    ({"dataset": {"nosie": 0.2}}, "dataset.nosie", ["not a known field", "noise"]),
    ({"hidden": [True]}, "hidden[0]", ["True"]),
]


@pytest.mark.parametrize("config,field,words", BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)])
def test_bad_config_names_field_value_and_allowed(config, field, words):
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    assert info.value.field == field
    message = str(info.value)
    assert message.startswith(field)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_defaults_are_the_protocol_defaults():
    data = config_to_dict(parse_config())
    assert data == {
        "dataset": {"name": "xor", "n": 200, "noise": 0.1, "classes": 2, "seed": 0, "test_fraction": 0.5},
        "features": ["x1", "x2"], "hidden": [4, 4], "activation": "tanh", "loss": "bce",
        "optimizer": "sgd", "lr": 0.03, "momentum": 0.9, "batch_size": 10, "l2": 0.0, "l1": 0.0,
        "init": "xavier", "weight_seed": 0,
    }


def test_merge_keeps_what_the_patch_does_not_name():
    base = parse_config({"hidden": [3], "dataset": {"name": "spiral", "noise": 0.3}})
    merged = merge_config(base, {"dataset": {"seed": 9}, "lr": 0.1})
    assert (merged.hidden, merged.dataset.name, merged.dataset.noise, merged.dataset.seed, merged.lr) == ([3], "spiral", 0.3, 9, 0.1)


def test_merge_drops_custom_points_when_leaving_custom():
    custom = parse_config({"dataset": {"name": "custom", "points": [[1, 1, 0], [-1, -1, 1]], "test_fraction": 0}})
    assert config_to_dict(custom)["dataset"]["points"] == [[1.0, 1.0, 0], [-1.0, -1.0, 1]]
    assert "points" not in config_to_dict(merge_config(custom, {"dataset": {"name": "xor"}}))["dataset"]


def test_a_refused_merge_leaves_the_current_config_alone():
    base = parse_config({"lr": 0.5})
    with pytest.raises(ConfigError):
        merge_config(base, {"lr": -1})
    assert base.lr == 0.5


def test_round_trip_through_json_dict():
    config = parse_config({"dataset": {"name": "custom", "points": [[0.5, -0.5, 1], [1, 2, 0]], "test_fraction": 0},
                           "hidden": [], "loss": "mse"})
    assert parse_config(config_to_dict(config)) == config
