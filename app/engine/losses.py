"""The losses (docs/protocol.md), each fixing its output layer and saying how it is written.

Every loss is a mean over the batch, so each example's own loss contributes 1/N of the
batch loss and 1/N of its gradient. `output_grad` returns dL/dZ of the output layer for the
batch-mean loss: the place where backprop starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .activations import sigmoid, softplus


def softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)  # shift so the largest exponent is e^0
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class Loss(ABC):
    """A loss and the output function it fixes, with how the explanations write both."""

    name: str
    output_activation: str  # what turns the last layer's z into its a
    output_symbol: str  # the output unit's a in a formula: p (a probability) or ŷ (a prediction)
    output_formula: str  # a from z ({j}: the output unit)
    formula: str  # the example's loss in symbols (one output unit)
    grad_a_formula: str  # dL/da of output unit {j} (of {k})
    grad_z_formula: str  # dL/dz of an output unit, where the chain rule comes to
    # the same in an exported script ({z}: the output layer's z, {a}: its a, {t}: the targets):
    # "<library> output" and "<library> loss" (each example's loss) for numpy, torch and jax, and
    # for numpy's backprop by hand dL/dz and dL/da of the batch-mean loss ("numpy dz", "numpy da");
    # "torch loss of a", "jax loss of a": each example's loss written from the output's a, so
    # autograd reaches dL/da
    code: dict[str, str]

    def targets(self, labels: np.ndarray, n_outputs: int) -> np.ndarray:
        """Class labels as the (N, n_outputs) array the loss compares against."""
        if n_outputs == 1:
            return labels.astype(np.float64).reshape(-1, 1)
        return np.eye(n_outputs)[labels]

    @abstractmethod
    def output(self, z: np.ndarray) -> np.ndarray:
        """The output layer's a from its z."""

    @abstractmethod
    def per_example(self, z: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Each example's own loss, shape (N,)."""

    @abstractmethod
    def output_grad(self, z: np.ndarray, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        """dL/dZ of the output layer for the batch-mean loss, shape (N, n_outputs)."""

    @abstractmethod
    def output_grad_a(self, z: np.ndarray, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        """dL/dA of the output layer (the derivative of the loss with respect to its input)."""

    def predict(self, a: np.ndarray) -> np.ndarray:
        return (a[:, 0] >= 0.5).astype(np.int64) if a.shape[1] == 1 else a.argmax(axis=1)


class BinaryCrossEntropy(Loss):
    """L = −[y log p + (1 − y) log(1 − p)] with p = σ(z), computed as softplus(z) − y·z."""

    name, output_activation = "bce", "sigmoid"
    output_symbol, output_formula = "p", "σ(z)"
    formula, grad_a_formula, grad_z_formula = "−[y·log p + (1 − y)·log(1 − p)]", "−y/p + (1 − y)/(1 − p)", "p − y"
    code = {"numpy output": "0.5 * (1.0 + np.tanh({z} / 2))", "numpy loss": "(np.logaddexp(0.0, {z}) - {t} * {z})[:, 0]",
            "numpy dz": "({a} - {t}) / len({z})", "numpy da": "({a} - {t}) * (2.0 + 2.0 * np.cosh({z})) / len({z})",
            "torch output": "torch.sigmoid({z})",
            "torch loss": "(torch.logaddexp({z}, torch.zeros_like({z})) - {t} * {z})[:, 0]",
            "torch loss of a": "-({t} * torch.log({a}) + (1.0 - {t}) * torch.log1p(-{a}))[:, 0]",
            "jax output": "jax.nn.sigmoid({z})", "jax loss": "(jnp.logaddexp(0.0, {z}) - {t} * {z})[:, 0]",
            "jax loss of a": "-({t} * jnp.log({a}) + (1.0 - {t}) * jnp.log1p(-{a}))[:, 0]"}

    def output(self, z):
        return sigmoid(z)

    def per_example(self, z, t):
        return (softplus(z) - t * z)[:, 0]

    def output_grad(self, z, a, t):
        # dL/dp · dp/dz = (p − y)/(p(1 − p)) · p(1 − p): the sigmoid's slope cancels.
        return (a - t) / len(z)

    def output_grad_a(self, z, a, t):
        # (p − y) / (p(1 − p)), with 1/(p(1 − p)) = 2 + 2·cosh(z) so no 0/0 when p rounds to 0 or 1
        with np.errstate(over="ignore"):
            return (a - t) * (2.0 + 2.0 * np.cosh(z)) / len(z)


class CrossEntropy(Loss):
    """L = −log p_y with p = softmax(z), computed from the logits."""

    name, output_activation = "cross_entropy", "softmax"
    output_symbol, output_formula = "p", "e^z{j} / Σₖ e^zₖ"
    formula, grad_a_formula, grad_z_formula = "−log p_y", "−1/p{j}", "p − y"
    code = {"numpy output": "np.exp({z} - {z}.max(1, keepdims=True)) / np.exp({z} - {z}.max(1, keepdims=True)).sum(1, keepdims=True)",
            "numpy loss": "-(({z} - {z}.max(1, keepdims=True) - np.log(np.exp({z} - {z}.max(1, keepdims=True))"
                          ".sum(1, keepdims=True))) * {t}).sum(1)",
            "numpy dz": "({a} - {t}) / len({z})", "numpy da": "np.where({t} > 0, -1.0 / {a}, 0.0) / len({z})",
            "torch output": "torch.softmax({z}, dim=1)", "torch loss": "-(torch.log_softmax({z}, dim=1) * {t}).sum(1)",
            "torch loss of a": "-({t} * torch.log({a})).sum(1)",
            "jax output": "jax.nn.softmax({z}, axis=1)", "jax loss": "-(jax.nn.log_softmax({z}, axis=1) * {t}).sum(1)",
            "jax loss of a": "-({t} * jnp.log({a})).sum(1)"}

    def output(self, z):
        return softmax(z)

    def per_example(self, z, t):
        return -(log_softmax(z) * t).sum(axis=1)

    def output_grad(self, z, a, t):
        return (a - t) / len(z)

    def output_grad_a(self, z, a, t):
        # only p_y appears in the loss: dL/dp_y = −1/p_y, every other dL/dp_k = 0
        with np.errstate(divide="ignore"):
            return np.where(t > 0, -1.0 / np.where(t > 0, a, 1.0), 0.0) / len(z)


class MeanSquaredError(Loss):
    """L = mean over examples and output units of (ŷ − t)², as PyTorch's MSELoss()."""

    name, output_activation = "mse", "linear"
    output_symbol, output_formula = "ŷ", "z"
    formula, grad_a_formula, grad_z_formula = "(ŷ − t)²", "2·(ŷ − t)/{k}", "dL/dŷ · 1"
    code = {"numpy output": "{z}", "numpy loss": "(({z} - {t}) ** 2).mean(1)", "numpy dz": "2.0 * ({a} - {t}) / {a}.size",
            "numpy da": "2.0 * ({a} - {t}) / {a}.size", "torch output": "{z}", "torch loss": "(({z} - {t}) ** 2).mean(1)",
            "torch loss of a": "(({a} - {t}) ** 2).mean(1)",
            "jax output": "{z}", "jax loss": "(({z} - {t}) ** 2).mean(1)", "jax loss of a": "(({a} - {t}) ** 2).mean(1)"}

    def output(self, z):
        return z

    def per_example(self, z, t):
        return ((z - t) ** 2).mean(axis=1)

    def output_grad(self, z, a, t):
        return 2.0 * (a - t) / a.size  # the mean runs over N·K terms

    def output_grad_a(self, z, a, t):
        return self.output_grad(z, a, t)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (BinaryCrossEntropy(), CrossEntropy(), MeanSquaredError())}
