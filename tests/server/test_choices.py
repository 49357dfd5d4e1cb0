"""`hello.choices` and the minimums in `hello.limits`: what the page offers is exactly what the server takes."""

from __future__ import annotations

import pytest

from app.engine.config import REGRESSION_DATASETS, Config, DatasetConfig
from app.server.commands import Step, View

from .conftest import connect, new_session

CONFIG = {"hidden": [3], "dataset": {"n": 40}, "batch_size": 10}
# three classes' worth of points, so the custom dataset can be asked for more than two
POINTS = [[-2.0, -2.0, 0], [-1.5, -2.5, 0], [2.0, 2.0, 1], [2.5, 1.5, 1], [0.0, 3.0, 2], [0.5, 3.5, 2]]
CHOICE_KEYS = {"datasets", "multiclass_datasets", "regression_datasets", "one_input_datasets", "one_input_features",
               "features", "activations", "losses", "optimizers", "inits", "step_units", "views"}


@pytest.fixture
def peer(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        yield peer


def enum(model, field: str) -> list:
    """The values pydantic itself lets through for a choice field, read from the model's schema."""
    schema = model.model_json_schema()["properties"][field]
    return schema.get("enum") or schema["items"]["enum"]


def dataset(name: str, classes: int = 2) -> dict:
    points = [p for p in POINTS if p[2] < classes]
    return {"name": name, "classes": classes, **({"points": points} if name == "custom" else {})}


def dataset_patch(name: str) -> dict:
    """Everything a dataset needs to be accepted: a regression dataset takes mse, a one-input one x1 alone."""
    if name in REGRESSION_DATASETS:
        return {"dataset": dataset(name), "loss": "mse", "features": ["x1"]}
    return {"dataset": dataset(name), "loss": "bce", "features": ["x1", "x2"]}


def test_hello_lists_every_choice_the_models_accept(client):
    sid, token = new_session(client, CONFIG)
    for role_token in (token, None):  # a viewer's page draws the same menus, disabled
        with connect(client, sid, role_token) as peer:
            choices = peer.hello["hello"]["choices"]
            assert set(choices) == CHOICE_KEYS
            assert choices["datasets"] == enum(DatasetConfig, "name")
            assert choices["features"] == enum(Config, "features")
            assert choices["activations"] == enum(Config, "activation")
            assert choices["losses"] == enum(Config, "loss")
            assert choices["optimizers"] == enum(Config, "optimizer")
            assert choices["inits"] == enum(Config, "init")
            assert choices["step_units"] == enum(Step, "unit") == ["op", "layer", "pass", "iteration", "epoch"]
            assert choices["views"] == enum(View, "view") == ["neuron", "gate"]
            assert set(choices["multiclass_datasets"]) < set(choices["datasets"])
            assert set(choices["one_input_datasets"]) <= set(choices["regression_datasets"]) < set(choices["datasets"])
            assert set(choices["one_input_features"]) < set(choices["features"])


@pytest.mark.parametrize("key,field,patch,wrong", [
    ("activations", "activation", lambda v: {"activation": v}, "swish"),
    ("losses", "loss", lambda v: {"loss": v}, "hinge"),
    ("optimizers", "optimizer", lambda v: {"optimizer": v}, "rmsprop"),
    ("inits", "init", lambda v: {"init": v}, "glorot"),
    ("features", "features[0]", lambda v: {"features": [v]}, "x3"),
    ("datasets", "dataset.name", dataset_patch, "blobs"),
])
def test_every_listed_value_is_accepted_and_others_refused(peer, key, field, patch, wrong):
    listed = peer.hello["hello"]["choices"][key]
    for value in listed:
        answer, _ = peer.call(type="configure", config=patch(value))
        assert answer["type"] == "state", f"{key}: {value!r} is listed but refused: {answer}"
    assert wrong not in listed
    error, _ = peer.call(type="configure", config=patch(wrong))
    assert error["type"] == "error" and error["code"] == "invalid_config" and error["field"] == field
    assert repr(wrong) in error["message"] and listed[-1] in error["message"]


def test_exactly_the_multiclass_datasets_take_more_than_two_classes(peer):
    choices = peer.hello["hello"]["choices"]
    for name in choices["datasets"]:
        answer, _ = peer.call(type="configure", config={"dataset": dataset(name, classes=3), "loss": "cross_entropy"})
        if name in choices["multiclass_datasets"]:
            assert answer["type"] == "state", f"{name} is listed as multiclass but refused 3 classes: {answer}"
        else:
            assert answer["type"] == "error" and answer["field"] == "dataset.classes", name


def test_exactly_the_regression_datasets_take_a_real_target_and_the_one_input_ones_only_x1(peer):
    choices = peer.hello["hello"]["choices"]
    for name in choices["datasets"]:
        as_classes, _ = peer.call(type="configure", config={"dataset": dataset(name), "loss": "bce",
                                                            "features": ["x1", "x2"]})
        regression = name in choices["regression_datasets"]
        assert (as_classes["type"], as_classes.get("field")) == (("error", "loss") if regression else ("state", None))
        if not regression:
            continue
        two_inputs, _ = peer.call(type="configure", config={"dataset": dataset(name), "loss": "mse",
                                                            "features": ["x1", "x2"]})
        one_input = name in choices["one_input_datasets"]
        assert (two_inputs["type"], two_inputs.get("field")) == (("error", "features") if one_input else ("state", None))
        for feature in choices["one_input_features"]:
            answer, _ = peer.call(type="configure", config={"dataset": dataset(name), "loss": "mse",
                                                            "features": [feature]})
            assert answer["type"] == "state", f"{name} refused one-input feature {feature}: {answer}"


def test_every_listed_step_unit_and_view_is_accepted_and_others_refused(peer):
    choices = peer.hello["hello"]["choices"]
    for unit in choices["step_units"]:
        answer, _ = peer.call(type="step", unit=unit)
        assert answer["type"] == "state", f"step unit {unit!r} is listed but refused: {answer}"
    for unit in ("batch", "gate", "Iteration"):
        error, _ = peer.call(type="step", unit=unit)
        assert error["code"] == "invalid_message" and error["field"] == "unit"
    for view in choices["views"]:
        answer, _ = peer.call(type="view", view=view)
        assert answer["type"] == "state" and answer["view"] == view
    error, _ = peer.call(type="view", view="matrix")
    assert error["code"] == "invalid_message" and error["field"] == "view"


def test_limits_keep_their_contract_keys_and_state_the_minimums(peer):
    limits = peer.hello["hello"]["limits"]
    assert {"hidden_layers": 6, "width": 16, "points": 2000, "classes": 5, "coordinate": 6, "seed": 2**32 - 1,
            "lr": 10, "l1": 10, "l2": 10, "noise": 1, "test_fraction": 0.9, "momentum": 0.999,
            "batch_size": 2000}.items() <= limits.items()
    for key in ("message_bytes", "speed", "step_count", "step_iterations", "fps", "unacked_frames", "gates",
                "back_iterations", "sweep_seeds", "sweep_iterations"):
        assert key in limits
    assert (limits["points_min"], limits["width_min"], limits["classes_min"], limits["batch_size_min"]) == (4, 1, 2, 1)
    edges = [  # (the smallest value accepted, the field the one below it is refused under)
        (lambda v: {"dataset": {"n": v}}, limits["points_min"], "dataset.n"),
        (lambda v: {"hidden": [v]}, limits["width_min"], "hidden[0]"),
        (lambda v: {"dataset": {"name": "gauss", "classes": v}, "loss": "cross_entropy"}, limits["classes_min"],
         "dataset.classes"),
        (lambda v: {"batch_size": v}, limits["batch_size_min"], "batch_size"),
    ]
    for patch, lowest, field in edges:
        answer, _ = peer.call(type="configure", config=patch(lowest))
        assert answer["type"] == "state", f"{field} = {lowest} is the stated minimum but refused: {answer}"
        error, _ = peer.call(type="configure", config=patch(lowest - 1))
        assert error["type"] == "error" and error["field"] == field
