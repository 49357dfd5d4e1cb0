"""Diagnostics on networks built so that the answer is known before the code runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import Architecture, data_loss, parse_config
from app.engine.activations import ACTIVATIONS
from app.engine.diagnostics import (CHECKPOINT_EVERY, EXPLODING_RATIO, LATCH_MEMORY, PLATEAU_ACCURACY,
                                    PLATEAU_ACCURACY_OFF, PLATEAU_GAIN, PLATEAU_OFF_GAIN,
                                    PLATEAU_WINDOW, VANISHING_OFF, VANISHING_RATIO, Reading, Trend,
                                    diagnose, judge, plateau_checkpoint, trend_window)
from app.presets import PRESETS
from app.run import Run, run_view

from .helpers import central_difference

RNG = np.random.default_rng(7)
X = RNG.normal(0.0, 1.0, (40, 2))
LABELS = (X[:, 0] * X[:, 1] > 0).astype(int)
T = LABELS.reshape(-1, 1).astype(float)


def run_diagnose(arch, params, X=X, T=T, **kw):
    defaults = {"accuracy": 0.5, "loss": 0.7, "loss_then": None, "diverged_at": None}
    return diagnose(arch, params, X, T, **{**defaults, **kw})


def relu_net(width: int = 8):
    arch = Architecture((2, width, 1), "relu", "bce")
    params = {"W1": RNG.normal(0, 1, (2, width)), "b1": np.full(width, 0.5),
              "W2": RNG.normal(0, 1, (width, 1)), "b2": np.zeros(1)}
    return arch, params


def test_a_relu_below_zero_on_every_point_is_dead_and_one_that_fires_once_is_not():
    arch, params = relu_net()
    # z = b for units 1, 4, 6: −1 and 0 never fire (0 counts: relu'(0) = 0)
    for j, b in ((1, -1.0), (4, 0.0), (6, -0.2)):
        params["W1"][:, j] = 0.0
        params["b1"][j] = b
    # unit 3 fires on exactly one training point: alive
    params["W1"][:, 3] = [1.0, 0.0]
    params["b1"][3] = -X[:, 0].max() + 1e-3
    d = run_diagnose(arch, params)
    assert d.dead == ["h1_1", "h1_4", "h1_6"]
    assert d.findings[0].kind == "dead"
    assert "3 of 8 ReLUs in layer 1 never fire on any training point" in d.findings[0].text


def test_dead_applies_to_relu_and_leaky_relu_only():
    arch, params = relu_net(3)
    params["b1"][:] = -50.0
    assert run_diagnose(Architecture((2, 3, 1), "leaky_relu", "bce"), params).dead == ["h1_0", "h1_1", "h1_2"]
    assert run_diagnose(Architecture((2, 3, 1), "tanh", "bce"), params).dead == []
    text = run_diagnose(arch, params).findings[0].text
    assert text.startswith("All 3 ReLUs in layer 1 are dead")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturation_needs_the_flat_region_on_at_least_90_percent_of_points(activation):
    limit = ACTIVATIONS[activation].flat_beyond
    # unit j sees z = x1 exactly; x1 is past the limit on 9, 8 and 10 of 10 points
    Xs = np.zeros((10, 2))
    arch = Architecture((2, 3, 1), activation, "bce")
    params = {"W1": np.zeros((2, 3)), "b1": np.array([0.0, 0.0, 0.0]), "W2": np.ones((3, 1)), "b2": np.zeros(1)}
    params["W1"][0, :] = 1.0
    Xs[:, 0] = [limit + 0.01] * 9 + [0.0]
    assert run_diagnose(arch, params, Xs, T[:10]).saturated == ["h1_0", "h1_1", "h1_2"]
    Xs[:, 0] = [-(limit + 0.01)] * 8 + [0.0, 0.0]
    assert run_diagnose(arch, params, Xs, T[:10]).saturated == []
    Xs[:, 0] = [limit - 0.01] * 10  # just inside the limit: not flat enough
    assert run_diagnose(arch, params, Xs, T[:10]).saturated == []


def test_gradient_norms_are_the_norms_of_the_finite_difference_gradients():
    arch = Architecture((2, 4, 3, 1), "tanh", "bce")
    params = {"W1": RNG.normal(0, 1, (2, 4)), "b1": RNG.normal(0, 1, 4), "W2": RNG.normal(0, 1, (4, 3)),
              "b2": RNG.normal(0, 1, 3), "W3": RNG.normal(0, 1, (3, 1)), "b3": RNG.normal(0, 1, 1)}
    d = run_diagnose(arch, params)
    assert list(d.grad_norms) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    numeric = {name: np.linalg.norm(central_difference(lambda: data_loss(arch, params, X, T), params[name]))
               for name in params}
    for name in params:
        assert d.grad_norms[name] == pytest.approx(numeric[name], rel=1e-6)
    for l in (1, 2, 3):
        assert d.layer_norms[l - 1] == pytest.approx(math.hypot(numeric[f"W{l}"], numeric[f"b{l}"]), rel=1e-6)
    assert d.ratio == pytest.approx(d.layer_norms[0] / d.layer_norms[2])


@pytest.mark.parametrize("scale, vanishing, exploding", [(1e-5, True, False), (1.0, False, False), (1e5, False, True)])
def test_vanishing_and_exploding_follow_the_first_to_last_layer_ratio(scale, vanishing, exploding):
    # linear units: layer 1's gradient is layer 2's weight times the output's, so scaling the
    # second weight by s scales the ratio by about s (its own gradient does not depend on it)
    arch = Architecture((2, 1, 1), "linear", "mse")
    params = {"W1": np.array([[1e-3 / scale], [0.0]]) if scale > 1 else np.array([[0.5], [0.0]]),
              "b1": np.array([0.1]), "W2": np.array([[scale]]) if scale > 1 else np.array([[0.3 * scale]]),
              "b2": np.array([0.0])}
    d = run_diagnose(arch, params)
    assert (d.ratio < VANISHING_RATIO, d.ratio > EXPLODING_RATIO) == (vanishing, exploding)
    assert (d.vanishing, d.exploding) == (vanishing, exploding)
    assert any(f.kind == "vanishing" for f in d.findings) == vanishing
    assert any(f.kind == "exploding" for f in d.findings) == exploding


def test_a_single_layer_has_no_ratio():
    arch = Architecture((2, 1), "tanh", "bce")
    d = run_diagnose(arch, {"W1": np.ones((2, 1)), "b1": np.zeros(1)})
    assert d.ratio is None and not d.vanishing and not d.exploding


@pytest.mark.parametrize("loss_then, loss, accuracy, plateau", [
    (1.0, 0.995, 0.6, True),   # 0.5% better: stalled
    (1.0, 0.98, 0.6, False),   # 2% better: still learning
    (1.0, 1.2, 0.6, True),     # worse: stalled too
    (1.0, 0.995, 0.95, False),  # accurate already: converged, not stuck
    (None, 0.995, 0.6, False),  # no loss from 200 iterations ago
])
def test_plateau_is_under_one_percent_better_over_the_window_below_90_percent_accuracy(loss_then, loss, accuracy,
                                                                                      plateau):
    arch, params = relu_net(3)
    d = run_diagnose(arch, params, loss_then=loss_then, loss=loss, accuracy=accuracy)
    assert d.plateau == plateau
    assert any(f.kind == "plateau" for f in d.findings) == plateau


@pytest.mark.parametrize("per_epoch, window", [(10, 200), (1, 200), (4, 200), (3, 210), (7, 210), (25, 200),
                                               (30, 210), (64, 320), (500, 200)])
def test_the_window_is_whole_epochs_and_checkpoints_from_200_on(per_epoch, window):
    assert trend_window(per_epoch) == window
    if window != PLATEAU_WINDOW:
        assert window % per_epoch == 0 and window % CHECKPOINT_EVERY == 0


def test_the_plateau_window_reaches_back_at_least_200_iterations():
    assert plateau_checkpoint(PLATEAU_WINDOW - 1) is None
    assert plateau_checkpoint(PLATEAU_WINDOW) == 0
    assert plateau_checkpoint(PLATEAU_WINDOW + 9) == 0
    assert plateau_checkpoint(PLATEAU_WINDOW + 10) == 10


def test_a_run_that_cannot_move_is_on_a_plateau_once_the_window_has_passed():
    run = Run(parse_config({"lr": 0.0, "dataset": {"name": "circle", "n": 60}}))
    window = trend_window(run.trainer.batches_per_epoch)
    assert window == 210  # 3 batches per epoch: 21 whole epochs, 21 checkpoints
    run.run("iteration", window - 1)
    assert run_view(run).diagnostics.gain is None and not run_view(run).diagnostics.plateau
    run.run("iteration", 1)
    view = run_view(run)
    assert view.accuracy < 0.9
    assert view.diagnostics.gain == 0.0 and view.diagnostics.plateau


def test_the_plateau_compares_with_the_loss_the_run_had_200_iterations_back():
    config = parse_config({"dataset": {"name": "circle", "n": 60}, "lr": 0.01})
    run = Run(config)
    run.run("iteration", 30)
    then = run_view(run).loss
    run.run("iteration", trend_window(run.trainer.batches_per_epoch))  # the same place in the epoch
    view = run_view(run)
    assert view.diagnostics.gain == pytest.approx((then - view.loss) / then, rel=1e-12)


def test_units_with_the_same_weights_in_and_out_are_copies_and_stay_copies():
    run = Run(parse_config({"hidden": [4, 3], "optimizer": "adam", "lr": 0.05, "dataset": {"n": 60}}))
    p = run.trainer.params
    W1, b1, W2 = p["W1"].copy(), p["b1"].copy(), p["W2"].copy()
    W1[:, 2], b1[2], W2[2, :] = W1[:, 0], b1[0], W2[0, :]  # h1_2 made a copy of h1_0
    run.set_params({"W1": W1.tolist(), "b1": b1.tolist(), "W2": W2.tolist()})
    assert run_view(run).diagnostics.symmetric == [["h1_0", "h1_2"]]
    run.run("iteration", 50)
    assert run_view(run).diagnostics.symmetric == [["h1_0", "h1_2"]]
    W2[2, 0] += 1e-9  # different weights out: no longer copies
    run.set_params({"W2": W2.tolist()})
    assert run_view(run).diagnostics.symmetric == []


def test_zero_init_makes_every_layer_one_group_of_copies():
    run = Run(parse_config({"hidden": [4, 3], "init": "zeros", "activation": "sigmoid", "dataset": {"n": 60}}))
    run.run("iteration", 20)
    d = run_view(run).diagnostics
    assert d.symmetric == [["h1_0", "h1_1", "h1_2", "h1_3"], ["h2_0", "h2_1", "h2_2"]]
    assert "All 4 units of layer 1 and all 3 units of layer 2 have exactly the same weights" in \
        next(f.text for f in d.findings if f.kind == "symmetric")


def test_diverged_at_is_the_first_iteration_with_a_non_finite_value():
    config = parse_config({"dataset": {"name": "circle", "n": 60}, "hidden": [4, 4], "loss": "mse", "lr": 10.0})
    # find it independently: step a trainer and look at every number each iteration produces
    run = Run(config)
    trainer = run.trainer
    first = None
    with np.errstate(all="ignore"):
        for i in range(400):
            fwd, bwd = trainer.gradients()
            batch_loss = trainer.arch.loss_fn.per_example(fwd.Z[-1], trainer.batch().T)
            trainer.apply(bwd.grads)
            values = [*trainer.params.values(), *bwd.grads.values(), batch_loss]
            if not all(np.isfinite(v).all() for v in values):
                first = i
                break
    assert first is not None
    run = Run(config)
    run.run("iteration", first)
    assert run_view(run).diagnostics.diverged_at is None
    run.run("iteration", 1)
    d = run_view(run).diagnostics
    assert d.diverged_at == first
    assert d.findings[0].kind == "diverged" and f"iteration {first}" in d.findings[0].text


# --- hysteresis: on at the threshold, off only clearly past it -------------------------------

def judged_along(values, make) -> list[Trend]:
    """The trend at each of a run of checkpoints from PLATEAU_WINDOW on, the k-th reading made
    by `make(value)`; every loss a window back is 1, so the gain at each is 1 − its loss."""
    readings = {k: Reading(1.0, 0.6, 1.0) for k in range(0, PLATEAU_WINDOW, CHECKPOINT_EVERY)}
    out = []
    for i, value in enumerate(values):
        k = PLATEAU_WINDOW + i * CHECKPOINT_EVERY
        readings[k] = make(value)
        out.append(judge(readings, k + 7))  # judged at the checkpoint, seven iterations on
    return out


def test_plateau_turns_on_below_one_percent_and_off_only_above_two():
    gains = [0.05, 0.01001, 0.0099, 0.015, 0.0199, 0.01999, 0.0201, 0.015, 0.0099]
    trends = judged_along(gains, lambda g: Reading(1.0 - g, 0.6, 1.0))
    assert [t.plateau for t in trends] == [False, False, True, True, True, True, False, False, True]
    assert [t.gain for t in trends] == pytest.approx(gains)
    assert PLATEAU_OFF_GAIN == 2 * PLATEAU_GAIN


def test_an_accurate_run_is_never_on_a_plateau():
    trends = judged_along([0.0, 0.0, 0.015], lambda g: Reading(1.0 - g, 0.95, 1.0))
    assert not any(t.plateau for t in trends)


def test_a_plateau_found_below_90_percent_is_called_off_by_accuracy_only_at_92():
    accuracies = [0.9, 0.89, 0.9, 0.91, 0.92, 0.91, 0.89]
    trends = judged_along(accuracies, lambda a: Reading(1.0, a, 1.0))  # the loss never moves
    assert [t.plateau for t in trends] == [False, True, True, True, False, False, True]
    assert (PLATEAU_ACCURACY, PLATEAU_ACCURACY_OFF) == (0.9, 0.92)


def test_vanishing_turns_on_below_1e_3_and_off_only_above_3e_3():
    ratios = [2e-3, 1e-3, 9.9e-4, 2.9e-3, 3e-3, 3.01e-3, 2e-3, 5e-4]
    trends = judged_along(ratios, lambda r: Reading(0.7, 0.6, r))
    assert [t.vanishing for t in trends] == [False, False, True, True, True, False, False, True]
    assert (VANISHING_RATIO, VANISHING_OFF) == (1e-3, 3e-3)


def test_exploding_turns_on_above_1e3_and_off_only_below_a_third_of_it():
    ratios = [500.0, 1000.0, 1001.0, 400.0, 1000 / 3, 333.0, 500.0]
    trends = judged_along(ratios, lambda r: Reading(0.7, 0.6, r))
    assert [t.exploding for t in trends] == [False, False, True, True, True, False, False]


def test_a_unit_is_saturated_from_90_percent_of_points_until_below_80():
    shares = [0.85, 0.9, 0.85, 0.8, 0.79, 0.85, 0.95]
    trends = judged_along(shares, lambda s: Reading(0.7, 0.6, 1.0, {"h1_0": s, "h1_1": 0.0}))
    assert [t.saturated for t in trends] == [frozenset({"h1_0"}) if on else frozenset()
                                             for on in (False, True, True, True, False, False, True)]


def test_the_hysteresis_remembers_at_most_its_memory():
    # on at the first checkpoint, then inside the band for longer than LATCH_MEMORY: replayed from off
    # (a derived memory: the kept checkpoints are all it needs, so nothing more is saved)
    inside = LATCH_MEMORY // CHECKPOINT_EVERY
    trends = judged_along([5e-4] + [2e-3] * (inside + 1), lambda r: Reading(0.7, 0.6, r))
    assert all(t.vanishing for t in trends[:inside + 1]) and not trends[inside + 1].vanishing


def test_a_run_passes_the_judged_trend_to_the_findings():
    arch, params = relu_net(3)
    trend = Trend(at=400, plateau=True, gain=0.004, loss=0.36, accuracy=0.75, vanishing=True, exploding=False,
                  ratio=5e-4)
    d = run_diagnose(arch, params, trend=trend)
    assert (d.plateau, d.vanishing, d.gain) == (True, True, 0.004)
    by_kind = {f.kind: f for f in d.findings}
    assert by_kind["plateau"].short == "plateau at 75% accuracy, loss 0.36"
    assert "fell only 0.4% over the 200 iterations up to iteration 400 (now 0.36)" in by_kind["plateau"].text
    assert by_kind["vanishing"].short == "gradient at layer 1 2,000 times smaller than at the output"


@pytest.mark.parametrize("kind, unit", [("plateau", "iteration"), ("vanishing", "op")])
def test_back_and_fork_reproduce_the_judged_state_exactly(kind, unit):
    # the hysteresis is replayed from the kept checkpoints: after `back` (within an iteration, and
    # across checkpoints) and in a fork it has to come out exactly as it was first seen
    run = Run(parse_config(next(p for p in PRESETS if p["id"] == "vanishing-sigmoid")["config"]))
    run.run("iteration", 590)
    seen = []
    for _ in range(25):
        run.run(unit, 1 if unit == "iteration" else 37)
        seen.append(repr(run_view(run).diagnostics))
    fork = run.fork()
    for expected in reversed(seen[:-1]):
        run.back(len(run.ops) if unit == "iteration" else 37)  # a whole iteration's ops, or the 37 stepped
        assert repr(run_view(run).diagnostics) == expected
    assert repr(run_view(fork).diagnostics) == seen[-1]
    assert kind in {f.kind for f in run_view(fork).diagnostics.findings}
