"""Scalar expressions typed by a learner, parsed by hand (never `eval`) into the scalar engine's gates.

    tanh(x*w + b)          relu(x1*w1 + x2*w2 + b) ** 2          mse(relu(x*w + b))

Grammar, loosest first (`**` binds tighter than a unary minus, as in Python: -x**2 = -(x**2)):

    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | power
    power   := atom ("**" "-"? number)*     (the exponents are numbers, folded from the right)
    atom    := number | name | name "(" sum ("," sum)* ")" | "(" sum ")"

Names are variables given values by the learner; a name followed by "(" is one of FUNCTIONS.
Every refusal is an `ExpressionError` with the 1-based column it points at. Each operation
becomes the scalar engine's own gate, so `a / b` is `a · b⁻¹` and a value used twice feeds
two gates whose gradients add.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .activations import ACTIVATIONS
from .scalar import Value

MAX_LENGTH = 200  # characters: a gate graph a learner can still read
MAX_GATES = 120
MAX_VARIABLES = 12
NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class ExpressionError(ValueError):
    def __init__(self, message: str, column: int):
        super().__init__(f"column {column}: {message}")
        self.reason, self.column = message, column


@dataclass(frozen=True)
class Token:
    kind: str  # number | name | op | end
    text: str
    column: int  # 1-based


def _mse(args: list[Value], parser: "_Parser", column: int) -> Value:
    """(a − t)²: the squared error of a against a target, given or the variable t."""
    if len(args) == 2:
        return (args[0] - args[1]) ** 2
    if "t" not in parser.values:
        raise ExpressionError("mse(a) compares a with the target t: give t a value, or write mse(a, target)", column)
    return (args[0] - parser.variable(Token("name", "t", column))) ** 2


# name → (how many arguments, how to build it from gates)
FUNCTIONS = {
    "exp": ((1,), lambda args, parser, column: args[0].exp()),
    "log": ((1,), lambda args, parser, column: args[0].log()),
    "sin": ((1,), lambda args, parser, column: args[0].sin()),
    "mse": ((1, 2), _mse),
    **{name: ((1,), (lambda act: lambda args, parser, column: args[0].activate(act))(act))
       for name, act in ACTIVATIONS.items() if name != "linear"},
}


def tokens(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed",
                              MAX_LENGTH + 1)
    out, k = [], 0
    while k < len(text):
        ch = text[k]
        if ch.isspace():
            k += 1
        elif text.startswith("**", k):
            out.append(Token("op", "**", k + 1))
            k += 2
        elif ch in "+-*/(),":
            out.append(Token("op", ch, k + 1))
            k += 1
        elif (m := NUMBER.match(text, k)) is not None:
            out.append(Token("number", m.group(0), k + 1))
            k = m.end()
        elif (m := NAME.match(text, k)) is not None:
            out.append(Token("name", m.group(0), k + 1))
            k = m.end()
        else:
            raise ExpressionError(f"{ch!r} is not part of an expression (use numbers, names, + - * / **, "
                                  "brackets and functions)", k + 1)
    out.append(Token("end", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str, values: dict[str, float]):
        self.tokens = tokens(text)
        self.k = 0
        self.values = values
        self.variables: dict[str, Value] = {}  # one leaf per name: a value used twice feeds two gates

    @property
    def here(self) -> Token:
        return self.tokens[self.k]

    def take(self, text: str | None = None) -> Token | None:
        if self.here.kind == "op" and (text is None or self.here.text == text):
            token = self.here
            self.k += 1
            return token
        return None

    def expect(self, text: str, what: str) -> None:
        if self.take(text) is None:
            found = "the end" if self.here.kind == "end" else repr(self.here.text)
            raise ExpressionError(f"expected {what}, found {found}", self.here.column)

    def parse(self) -> Value:
        if self.here.kind == "end":
            raise ExpressionError("the expression is empty", 1)
        value = self.sum()
        if self.here.kind != "end":
            raise ExpressionError(f"unexpected {self.here.text!r}: an operator (+ - * / **) or the end was expected",
                                  self.here.column)
        return value

    def sum(self) -> Value:
        value = self.product()
        while (op := self.take("+") or self.take("-")) is not None:
            right = self.product()
            value = value + right if op.text == "+" else value - right
        return value

    def product(self) -> Value:
        value = self.unary()
        while (op := self.take("*") or self.take("/")) is not None:
            right = self.unary()
            value = value * right if op.text == "*" else value / right
        return value

    def unary(self) -> Value:
        if self.take("-") is not None:
            return -self.unary()
        return self.power()

    def power(self) -> Value:
        base = self.atom()
        chain: list[tuple[float, float, int]] = []  # (sign, number, column) of each exponent
        while self.take("**") is not None:
            sign = -1.0 if self.take("-") is not None else 1.0
            token = self.here
            if token.kind != "number":
                raise ExpressionError("an exponent must be a number, such as 2 or -1 (a power gate's n is fixed)",
                                      token.column)
            self.k += 1
            chain.append((sign, self.number(token), token.column))
        if not chain:
            return base
        # 2 ** -2 ** 2 is 2 ** -(2 ** 2), as in Python: each minus covers the powers to its right
        n = None
        for sign, x, column in reversed(chain):
            try:
                power = x if n is None else x ** n
            except OverflowError:
                power = math.inf
            if isinstance(power, complex) or not math.isfinite(power):
                raise ExpressionError("this exponent is not a finite real number", column)
            n = sign * power
        return base ** n

    def number(self, token: Token) -> float:
        value = float(token.text)
        if not math.isfinite(value):
            raise ExpressionError(f"{token.text} is too large a number", token.column)
        return value

    def atom(self) -> Value:
        token = self.here
        if token.kind == "number":
            self.k += 1
            return Value(self.number(token), label=token.text)
        if token.kind == "name":
            self.k += 1
            if self.take("(") is not None:
                return self.call(token)
            return self.variable(token)
        if self.take("(") is not None:
            value = self.sum()
            self.expect(")", "a closing bracket ')'")
            return value
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"expected a number, a name or '(', found {found}", token.column)

    def variable(self, token: Token) -> Value:
        name = token.text
        if name in FUNCTIONS:
            raise ExpressionError(f"{name} is a function: write {name}(…)", token.column)
        if name not in self.values:
            raise ExpressionError(f"{name} has no value: give it one (every name is a variable)", token.column)
        if name not in self.variables:
            self.variables[name] = Value(float(self.values[name]), label=name)
        return self.variables[name]

    def call(self, token: Token) -> Value:
        name = token.text
        if name not in FUNCTIONS:
            raise ExpressionError(f"{name} is not a function here; there are {', '.join(sorted(FUNCTIONS))}",
                                  token.column)
        counts, build = FUNCTIONS[name]
        args = [self.sum()]
        while self.take(",") is not None:
            args.append(self.sum())
        self.expect(")", f"')' closing {name}(")
        if len(args) not in counts:
            raise ExpressionError(f"{name} takes {' or '.join(map(str, counts))} argument(s), got {len(args)}",
                                  token.column)
        return build(args, self, token.column)


def parse_expression(text: str, values: dict[str, float]) -> tuple[Value, dict[str, Value]]:
    """The expression's output gate and its variables' leaves. Raises ExpressionError."""
    if len(values) > MAX_VARIABLES:
        raise ExpressionError(f"at most {MAX_VARIABLES} variables, got {len(values)}", 1)
    for name, value in values.items():
        if not NAME.fullmatch(name) or name in FUNCTIONS:
            raise ExpressionError(f"{name!r} cannot be a variable's name", 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ExpressionError(f"{name} must be given a finite number, got {value!r}", 1)
    parser = _Parser(text, values)
    out = parser.parse()
    gates = _count_gates(out)
    if gates > MAX_GATES:
        raise ExpressionError(f"the expression makes {gates} gates; at most {MAX_GATES} can be drawn", 1)
    return out, parser.variables


def _count_gates(root: Value) -> int:
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.extend(v.parents)
    return len(seen)
