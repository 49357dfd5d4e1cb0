"""A run built from one Config: the data, the network, the optimiser and the minibatch clock.

This is the fast path (whole iterations, no cursor). The step-through stepper in `app.run`
builds on the same pieces, so both produce the same numbers bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .data import Dataset, feature_matrix, make_dataset
from .initializers import init_params
from .mlp import Architecture, Backward, Forward, Params, backward, forward
from .optim import OptimizerState, optimizer_step


@dataclass(frozen=True)
class Split:
    X: np.ndarray  # features, (n, d)
    labels: np.ndarray  # (n,)
    T: np.ndarray  # targets as the loss wants them, (n, outputs)
    points: np.ndarray  # raw (x1, x2), (n, 2)

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self, index: np.ndarray | slice) -> "Split":
        return Split(self.X[index], self.labels[index], self.T[index], self.points[index])


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float | None  # classes: the share predicted right; None for regression
    r2: float | None = None  # regression: the share of the targets' variance the fit explains

    @property
    def score(self) -> float | None:
        """How good the fit is, in the task's own terms: accuracy for classes, R² for regression."""
        return self.r2 if self.accuracy is None else self.accuracy


def architecture(config: Config) -> Architecture:
    return Architecture(tuple(config.layer_sizes), config.activation, config.loss, config.regression)


def r_squared(prediction: np.ndarray, y: np.ndarray) -> float | None:
    """1 − Σ(y − ŷ)² / Σ(y − ȳ)²: 1 for a perfect fit, 0 for predicting the mean, below 0 for worse;
    None when every target is the same (there is no variance to explain)."""
    spread = float(((y - y.mean()) ** 2).sum())
    if spread == 0.0:
        return None
    return 1.0 - float(((y - prediction) ** 2).sum()) / spread


def make_split(config: Config, arch: Architecture, dataset: Dataset, index: np.ndarray) -> Split:
    points, labels = dataset.points[index], dataset.labels[index]
    X = feature_matrix(points, config.features) if len(index) else np.zeros((0, len(config.features)))
    return Split(X, labels, arch.loss_fn.targets(labels, arch.sizes[-1]), points)


def evaluate(arch: Architecture, params: Params, split: Split, fwd: Forward | None = None) -> Evaluation | None:
    """Data loss (no regularisation) and accuracy, or R² for regression, over a whole split; None
    if it is empty. `fwd`, if given, is the forward pass of `params` over the split, already computed."""
    if not len(split):
        return None
    fwd = forward(arch, params, split.X) if fwd is None else fwd
    loss = float(arch.loss_fn.per_example(fwd.Z[-1], split.T).mean())
    if arch.regression:
        with np.errstate(all="ignore"):  # a diverged fit's R² is not finite, and the view says null
            return Evaluation(loss, None, r_squared(fwd.output[:, 0], split.labels))
    accuracy = float((arch.loss_fn.predict(fwd.output) == split.labels).mean())
    return Evaluation(loss, accuracy)


class Trainer:
    """Owns one network and its data; `step()` is one whole iteration on the next minibatch.

    Minibatches are consecutive slices of the training set in stored order (the generator
    already shuffled the points), wrapping round at the end of each epoch."""

    def __init__(self, config: Config):
        self.config = config
        self.arch = architecture(config)
        self.dataset = make_dataset(config.dataset)
        self.train = make_split(config, self.arch, self.dataset, self.dataset.train)
        self.test = make_split(config, self.arch, self.dataset, self.dataset.test)
        self.params: Params = init_params(self.arch.sizes, config.init, config.weight_seed)
        self.opt_state = OptimizerState()
        self.iteration = 0

    @property
    def batch_size(self) -> int:
        return min(self.config.batch_size, len(self.train))

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.train) // self.batch_size)

    @property
    def epoch(self) -> int:
        return self.iteration // self.batches_per_epoch

    def batch_rows(self, iteration: int | None = None) -> slice:
        k = (self.iteration if iteration is None else iteration) % self.batches_per_epoch
        return slice(k * self.batch_size, min((k + 1) * self.batch_size, len(self.train)))

    def batch(self, iteration: int | None = None) -> Split:
        return self.train.rows(self.batch_rows(iteration))

    def gradients(self, params: Params | None = None, batch: Split | None = None) -> tuple[Forward, Backward]:
        """Forward and backward on a batch (default: the current one at the current params)."""
        params = self.params if params is None else params
        batch = self.batch() if batch is None else batch
        fwd = forward(self.arch, params, batch.X)
        return fwd, backward(self.arch, params, fwd, batch.T, self.config.l2, self.config.l1)

    def apply(self, grads: Params) -> None:
        self.params, self.opt_state = optimizer_step(
            self.config.optimizer, self.params, grads, self.opt_state, self.config.lr, self.config.momentum)
        self.iteration += 1

    def step(self) -> None:
        _, bwd = self.gradients()
        self.apply(bwd.grads)

    def train_iterations(self, count: int) -> None:
        for _ in range(count):
            self.step()

    def evaluate(self) -> tuple[Evaluation, Evaluation | None]:
        return evaluate(self.arch, self.params, self.train), evaluate(self.arch, self.params, self.test)
