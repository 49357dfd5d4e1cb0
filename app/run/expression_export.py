"""The playground's expression as a script you can run and read in a minute.

numpy: the forward pass one gate per line, then the backward pass one gate per line by its local
derivative (add passes the gradient on, mul swaps its inputs, …), exactly as the playground steps
it. jax and PyTorch: the same forward lines, and autograd finds the gradients: an independent
check. Each prints {"value": …, "grads": {variable: …}} as JSON on its last line (null for a
number that is not finite). The gate names are the playground's (g1, c1, L), so a line of the
script can be found on the page. Each activation is written by its own definition's code.
"""

from __future__ import annotations

import builtins
import keyword

from app.engine.activations import ACTIVATIONS
from app.engine.scalar import Value

from .playground import Parsed

LIBRARY = {"numpy": "np", "pytorch": "torch", "jax": "jnp"}  # what each script calls its library
_TAKEN = {"np", "jnp", "jax", "torch", "json", "grad", "grads", "value", "f", "finite"}


def _identifiers(parsed: Parsed) -> dict[int, str]:
    """Each value's name in the script: its playground id, with a trailing _ where that would be a
    Python keyword, a builtin or one of the script's own names (a variable may be called `lambda`)."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for v in parsed.tape.values:
        name = parsed.ids[v.serial]
        while keyword.iskeyword(name) or keyword.issoftkeyword(name) or hasattr(builtins, name) or name in _TAKEN \
                or name in used:
            name += "_"
        used.add(name)
        names[v.serial] = name
    return names


def _forward(v: Value, name: dict[int, str], library: str) -> str:
    """One gate's forward formula in the library's own terms."""
    xp, args = LIBRARY[library], [name[p.serial] for p in v.parents]
    if v.op in ("+", "*"):
        return f" {v.op} ".join(args)
    if v.op.startswith("^"):
        return f"{args[0]} ** {float(v.op[1:])!r}"
    if v.op in ("exp", "log", "sin"):
        return f"{xp}.{v.op}({args[0]})"
    return ACTIVATIONS[v.op].in_code("torch" if library == "pytorch" else library, z=args[0])


def _local_derivatives(v: Value, name: dict[int, str]) -> list[str]:
    """numpy: ∂v/∂(each input), as the playground's backward step writes it."""
    args, out = [name[p.serial] for p in v.parents], name[v.serial]
    if v.op == "+":
        return ["1.0", "1.0"]
    if v.op == "*":
        return [args[1], args[0]]  # mul swaps its inputs
    if v.op.startswith("^"):
        n = float(v.op[1:])
        return [f"{n!r} * {args[0]} ** {n - 1!r}"]
    if v.op == "exp":
        return [out]  # e^a is its own slope
    if v.op == "log":
        return [f"1.0 / {args[0]}"]
    if v.op == "sin":
        return [f"np.cos({args[0]})"]
    return [ACTIVATIONS[v.op].in_code("numpy'", z=args[0], a=out)]


def _header(parsed: Parsed, text: str, how: str) -> str:
    shown = " ".join(text.split())  # one line, whatever whitespace was typed
    values = ", ".join(f"{n} = {v.data!r}" for n, v in parsed.variables.items())
    return (f'"""Backprop Lab, the gate playground: L = {shown}\nat {values}.\n'
            f'{how}\nPrints {{"value": L, "grads": {{variable: dL/dvariable}}}} as JSON on its last line."""\n')


def _leaves(parsed: Parsed, name: dict[int, str], wrap: str) -> list[str]:
    """The variables and the expression's numbers, each as `wrap` makes a number of the library."""
    return [f"{name[v.serial]} = {wrap.format(repr(float(v.data)))}" for v in parsed.tape.values if not v.op]


def export_numpy(parsed: Parsed, text: str) -> str:
    name = _identifiers(parsed)
    lines = [_header(parsed, text, "Forward gate by gate, then backward gate by gate by each gate's local derivative."),
             "import json", "", "import numpy as np", "",
             'np.seterr(all="ignore")  # log(0) is -inf and 1/0 is inf, as in the playground, without warnings', "",
             "# the variables and the numbers in the expression", *_leaves(parsed, name, "np.float64({})"), "",
             "# forward, one gate per line",
             *(f"{name[g.serial]} = {_forward(g, name, 'numpy')}" for g in parsed.tape.gates), "",
             "# backward: every gradient starts at 0 and dL/dL = 1; then each gate, the last first, adds its local",
             "# derivative times its own gradient to each input's gradient (where a value is used twice, both add)",
             f"grad = dict.fromkeys({[parsed.ids[v.serial] for v in parsed.tape.values]!r}, 0.0)",
             f'grad["{parsed.ids[parsed.tape.root.serial]}"] = 1.0']
    for g in reversed(parsed.tape.gates):
        out = parsed.ids[g.serial]
        for p, local in zip(g.parents, _local_derivatives(g, name)):
            if p.op or p.serial in {v.serial for v in parsed.variables.values()}:  # a number's gradient feeds nothing
                lines.append(f'grad["{parsed.ids[p.serial]}"] += {local} * grad["{out}"]')
    grads = ", ".join(f'"{n}": finite(grad["{parsed.ids[v.serial]}"])' for n, v in parsed.variables.items())
    return "\n".join([*lines, "", "", "def finite(number):", "    return float(number) if np.isfinite(number) else None", "", "",
                      f'print(json.dumps({{"value": finite({name[parsed.tape.root.serial]}), "grads": {{{grads}}}}}))',
                      ""])


def export_jax(parsed: Parsed, text: str) -> str:
    name = _identifiers(parsed)
    args = [name[v.serial] for v in parsed.variables.values()]
    numbers = [v for v in parsed.tape.values if not v.op and v.serial not in {x.serial for x in parsed.variables.values()}]
    body = [f"    {name[v.serial]} = jnp.float64({float(v.data)!r})" for v in numbers]
    body += [f"    {name[g.serial]} = {_forward(g, name, 'jax')}" for g in parsed.tape.gates]
    grads = ", ".join(f'"{n}": finite(g)' for n in parsed.variables)
    return "\n".join([
        _header(parsed, text, "The forward pass gate by gate; jax's autograd finds every gradient."),
        "import json", "", "import jax", "", 'jax.config.update("jax_enable_x64", True)  # float64, as the playground',
        "import jax.numpy as jnp  # noqa: E402 (after float64 is switched on)", "", "",
        f"def f({', '.join(args)}):", *body, f"    return {name[parsed.tape.root.serial]}", "", "",
        "def finite(number):", "    return float(number) if jnp.isfinite(number) else None", "", "",
        f"value, grads = jax.value_and_grad(f, argnums={tuple(range(len(args)))!r})"
        f"({', '.join(repr(float(v.data)) for v in parsed.variables.values())})",
        "grads = [finite(g) for g in grads]",
        f'print(json.dumps({{"value": finite(value), "grads": dict(zip({list(parsed.variables)!r}, grads))}}))', ""])


def export_pytorch(parsed: Parsed, text: str) -> str:
    name = _identifiers(parsed)
    variables = {v.serial for v in parsed.variables.values()}
    leaves = [f"{name[v.serial]} = torch.tensor({float(v.data)!r}" + (", requires_grad=True)" if v.serial in variables else ")")
              for v in parsed.tape.values if not v.op]
    root = name[parsed.tape.root.serial]
    grads = ", ".join(f'"{n}": finite({name[v.serial]}.grad)' for n, v in parsed.variables.items())
    return "\n".join([
        _header(parsed, text, "The forward pass gate by gate; PyTorch's autograd finds every gradient."),
        "import json", "", "import torch", "", "torch.set_default_dtype(torch.float64)  # float64, as the playground", "",
        "# the variables (each asks for its gradient) and the numbers in the expression", *leaves, "",
        "# forward, one gate per line", *(f"{name[g.serial]} = {_forward(g, name, 'pytorch')}" for g in parsed.tape.gates),
        "", f"{root}.backward()  # autograd: every gradient, into each variable's .grad", "", "",
        "def finite(number):", "    return number.item() if torch.isfinite(number) else None", "", "",
        f'print(json.dumps({{"value": finite({root}), "grads": {{{grads}}}}}))', ""])


EXPORTS = {"numpy": export_numpy, "pytorch": export_pytorch, "jax": export_jax}
FORMATS = tuple(EXPORTS)


def export_expression(parsed: Parsed, text: str, format: str) -> str:  # noqa: A002 - the protocol's name
    return EXPORTS[format](parsed, text)
